"""gym-aloha-style observations (obs_type), render modes and the metadata LeRobot's env plugins read."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

import act_bench  # noqa: F401  (registers the env ids)
from act_bench.envs import make_env

SMALL = (48, 64)

# gym-aloha's documented layout (gym_aloha/env.py, AlohaEnv.__init__ and _format_raw_obs): images
# (H, W, 3) uint8 in [0, 255] per camera under "pixels"; agent_pos = qpos, 14 float64 in [-1000, 1000].
GYM_ALOHA_PIXELS_AGENT_POS = {
    "pixels": {"top": ((480, 640, 3), np.uint8, 0, 255)},
    "agent_pos": ((14,), np.float64, -1000.0, 1000.0),
}


def _layout(space):
    if isinstance(space, spaces.Dict):
        return {k: _layout(v) for k, v in space.spaces.items()}
    return (space.shape, space.dtype.type, float(space.low.flat[0]), float(space.high.flat[0]))


def test_pixels_agent_pos_matches_gym_aloha_layout():
    env = make_env("transfer_cube", obs_type="pixels_agent_pos", image_size=(480, 640))
    try:
        assert _layout(env.observation_space) == GYM_ALOHA_PIXELS_AGENT_POS
        obs, _ = env.reset(seed=0)
        assert set(obs) == {"pixels", "agent_pos"} and set(obs["pixels"]) == {"top"}
        assert obs["pixels"]["top"].shape == (480, 640, 3) and obs["pixels"]["top"].dtype == np.uint8
        assert obs["agent_pos"].shape == (14,) and obs["agent_pos"].dtype == np.float64
        assert obs in env.observation_space
    finally:
        env.close()


@pytest.mark.parametrize("obs_type", ["pixels", "pixels_agent_pos"])
@pytest.mark.parametrize("env_id", ["act_bench/TransferCube-v1", "act_bench/Insertion-v1"])
def test_gym_aloha_layouts_pass_check_env(env_id, obs_type):
    env = gym.make(env_id, obs_type=obs_type, cameras=["top", "left_wrist"], image_size=SMALL,
                   render_mode="rgb_array")
    try:
        check_env(env.unwrapped)
        obs, _ = env.reset(seed=1)
        expected = {"pixels"} | ({"agent_pos"} if obs_type == "pixels_agent_pos" else set())
        assert set(obs) == expected and set(obs["pixels"]) == {"top", "left_wrist"}
        assert env.render().shape == (240, 320, 3)
    finally:
        env.close()


def test_same_state_in_every_layout():
    envs = {t: make_env("insertion", obs_type=t, image_size=SMALL) for t in ("default", "pixels_agent_pos")}
    try:
        a, _ = envs["default"].reset(seed=3)
        b, _ = envs["pixels_agent_pos"].reset(seed=3)
        np.testing.assert_array_equal(a["qpos"], b["agent_pos"])
        np.testing.assert_array_equal(a["images"]["top"], b["pixels"]["top"])
    finally:
        for env in envs.values():
            env.close()


def test_metadata_for_lerobot():
    env = gym.make("act_bench/TransferCube-v1", cameras=(), obs_type="default")
    try:
        assert env.spec.max_episode_steps == 400
        u = env.unwrapped
        assert u.metadata["render_fps"] == 50 and "rgb_array" in u.metadata["render_modes"]
        assert u.metadata["task"] == "transfer_cube" and u._max_episode_steps == 400
        assert u.task_description.startswith("Pick up the red cube")
        assert u.metadata["task_description"] == u.task_description
    finally:
        env.close()


def test_bad_options_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="obs_type"):
        make_env("transfer_cube", obs_type="state")
    with pytest.raises(ValueError, match="needs at least one camera"):
        make_env("transfer_cube", obs_type="pixels", cameras=())
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ValueError, match="needs a display"):
        make_env("transfer_cube", cameras=(), render_mode="human")
