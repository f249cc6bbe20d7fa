"""The Gymnasium environments: API, stages, seeding, rendering, end-effector control."""
import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import act_bench
from act_bench.envs import make_env
from act_bench.envs.ee_control import EndEffectorActionWrapper
from act_bench.sim import poses as P
from act_bench.sim.render import CameraRenderer
from act_bench.tasks import get_task, load_task, task_names

SMALL = (48, 64)


@pytest.mark.parametrize("env_id", sorted(get_task(t).env_id for t in task_names()))
def test_check_env_with_images(env_id):
    env = gym.make(env_id, cameras=["top", "left_wrist"], image_size=SMALL)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=1)
    assert obs["images"]["top"].shape == (*SMALL, 3) and obs["images"]["top"].dtype == np.uint8
    assert obs["qpos"].shape == (14,) and obs["qvel"].shape == (14,)
    assert set(info) >= {"stage", "max_stage", "is_success"}
    env.close()


def test_no_cameras_means_no_images_and_render_mode():
    env = make_env("transfer_cube", cameras=(), render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    assert "images" not in obs
    frame = env.render()
    assert frame.ndim == 3 and frame.dtype == np.uint8 and frame.std() > 0


def test_unknown_camera_is_refused():
    with pytest.raises(ValueError, match="unknown camera"):
        make_env("transfer_cube", cameras=("nosuchcam",), image_size=SMALL)


def test_bad_actions():
    env = make_env("transfer_cube", cameras=())
    obs, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN or inf"):
        env.step(np.full(14, np.nan))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3))
    env.step(np.full(14, 100.0))  # out of range: clipped, not an error
    assert np.all(env.data.ctrl <= env.model.actuator_ctrlrange[:, 1] + 1e-12)


def test_truncates_at_episode_len():
    env = make_env("insertion", cameras=())
    obs, _ = env.reset(seed=0)
    n = 0
    while True:
        obs, reward, terminated, truncated, info = env.step(obs["qpos"])
        n += 1
        if terminated or truncated:
            break
    assert n == load_task("insertion").episode_len and truncated and not terminated
    assert info["stage"] == 0 and not info["is_success"]


@pytest.mark.parametrize("task", ["transfer_cube", "insertion"])
def test_same_seed_same_actions_same_trajectory(task):
    env = make_env(task, cameras=("top",), image_size=SMALL)
    base = env.reset(seed=7)[0]["qpos"]
    actions = base + np.random.default_rng(0).normal(0, 0.05, (30, 14))
    runs = []
    for _ in range(2):
        obs, _ = env.reset(seed=7)
        traj = [obs] + [env.step(a)[0] for a in actions]
        runs.append(traj)
    for o1, o2 in zip(*runs):
        assert np.array_equal(o1["qpos"], o2["qpos"]) and np.array_equal(o1["qvel"], o2["qvel"])
        assert np.array_equal(o1["images"]["top"], o2["images"]["top"])
    assert not np.array_equal(runs[0][0]["qpos"], runs[0][-1]["qpos"])  # the actions did move the arms


@pytest.mark.parametrize("task", ["transfer_cube", "insertion"])
def test_objects_stay_within_their_ranges(task):
    env = make_env(task, cameras=())
    cfg = load_task(task)
    seen = {name: [] for name in cfg.objects}
    for seed in range(200):
        env.reset(seed=seed)
        for name, pose in env.object_poses.items():
            seen[name].append(pose[:3])
    for name, rng in cfg.objects.items():
        pts = np.array(seen[name])
        assert np.all(pts >= np.array(rng.low) - 1e-12) and np.all(pts <= np.array(rng.high) + 1e-12)
        spread = pts.max(0) - pts.min(0)
        width = np.array(rng.high) - np.array(rng.low)
        assert np.all(spread >= 0.9 * width)  # the whole range is used
    # The same seed gives the same layout, another seed another one.
    env.reset(seed=1)
    first = dict(env.object_poses)
    env.reset(seed=1)
    assert all(np.array_equal(first[k], env.object_poses[k]) for k in first)
    env.reset(seed=2)
    assert all(not np.array_equal(first[k], env.object_poses[k]) for k in first)


def test_end_effector_control_grasps_and_lifts_the_cube():
    """Command the right gripper by pose: above the cube, down, close, up -> stage 2."""
    env = EndEffectorActionWrapper(make_env("transfer_cube", cameras=()))
    env.reset(seed=3)
    raw = env.unwrapped
    cube = raw.object_poses["cube"][:3]
    left_pos, left_quat = env.control.grip_pose("left")
    down = P.TOP_DOWN["right"]

    def act(right_pos, grip, steps):
        info = None
        for _ in range(steps):
            a = np.concatenate([left_pos, left_quat, [0.0], right_pos, down, [grip]])
            _, _, _, _, info = env.step(a)
        return info

    act(cube + [0, 0, 0.10], 1.0, 60)
    act(cube + [0, 0, 0.005], 1.0, 40)
    info = act(cube + [0, 0, 0.005], 0.0, 25)
    assert info["stage"] == 1  # fingers on the cube, cube still on the table
    info = act(cube + [0, 0, 0.15], 0.0, 50)
    assert info["stage"] == 2 and info["max_stage"] == 2
    assert raw.stage_rule.object_poses(raw.data)["cube"][2] > 0.1
    assert info["joint_action"].shape == (14,)


def _teleport(env, name, pos):
    adr = env.stage_rule.object_qpos[name]
    env.data.qpos[adr : adr + 7] = [*pos, 1, 0, 0, 0]
    env.data.qvel[:] = 0
    mujoco.mj_forward(env.model, env.data)


def test_transfer_cube_stage_logic():
    env = make_env("transfer_cube", cameras=())
    env.reset(seed=0)
    assert env.stage_rule.stage(env.data) == 0  # resting on the table, untouched
    _teleport(env, "cube", [0.1, 0.5, 0.3])
    assert env.stage_rule.stage(env.data) == 0  # in the air, untouched


def test_insertion_stage_logic():
    env = make_env("insertion", cameras=())
    env.reset(seed=0)
    assert env.stage_rule.stage(env.data) == 0
    socket = np.array([0.0, 0.5, 0.3])  # the socket frame's origin is the channel's centre
    _teleport(env, "socket", socket)
    # Peg 1 cm inside the mouth (x = 0.06), pressed against the side wall (inner face at
    # y = 0.018), short of the pin (its face at x = 0.04): stage 3.
    _teleport(env, "peg", socket + [0.06 + 0.06 - 0.01, 0.018 - 0.01 + 0.0003, 0])
    assert env.stage_rule.stage(env.data) == 3
    # Peg tip against the pin's face: stage 4.
    _teleport(env, "peg", socket + [0.04 + 0.06 - 0.0003, 0, 0])
    assert env.stage_rule.stage(env.data) == 4


@pytest.mark.parametrize("task", ["transfer_cube", "insertion"])
def test_scripted_expert_passes_every_stage(task):
    from act_bench.demos.recorder import record_episode

    env = make_env(task, cameras=())
    ep = record_episode(env, seed=11)
    assert ep.attrs["success"] and ep.stage.max() == 4
    first = [int(np.argmax(ep.stage >= s)) for s in (1, 2, 4)]
    assert first == sorted(first) and ep.stage[0] == 0


def test_renderer_survives_other_renderers_being_freed():
    """Freeing one renderer must not corrupt another's next frame (a shared-GL pitfall)."""
    env = make_env("transfer_cube", cameras=("top",), image_size=SMALL)
    ref = env.reset(seed=0)[0]["images"]["top"]
    other = CameraRenderer(env.model, ("angle",), *SMALL)
    other.render(env.data)
    other.close()
    del other
    assert np.array_equal(env.reset(seed=0)[0]["images"]["top"], ref)
