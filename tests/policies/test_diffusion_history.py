"""What the diffusion policy needs from the rest of act-bench, tested without diffusers: samples
with an observation history (data.dataset), the evaluation handing a policy its last
observations (evaluation.lockstep), its profiles' validation, and the one-line error when the
optional extra is missing."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from act_bench.data.dataset import ChunkDataset, DataSpec, load_training_data
from act_bench.errors import ActBenchError
from act_bench.policies import build_policy, load_profile, method_names, policy_names
from act_bench.policies.registry import get_method
from cli_helpers import cli
from fakes import FakeEnv, FakePolicy, run_eval
from helpers_data import write_fake_demos

REPO = Path(__file__).resolve().parents[2]


def _dataset(obs_steps: int, chunk: int = 3) -> ChunkDataset:
    """Two episodes of 5 and 4 frames; qpos[:, 0] and actions[:, 0] are the frame's global index
    (actions + 100), images hold it in every pixel."""
    lengths = [5, 4]
    qpos = [np.zeros((n, 14), np.float32) for n in lengths]
    actions = [np.zeros((n, 14), np.float32) for n in lengths]
    images = [np.zeros((n, 1, 2, 2, 3), np.uint8) for n in lengths]
    start = 0
    for q, a, im, n in zip(qpos, actions, images, lengths):
        q[:, 0] = np.arange(start, start + n)
        a[:, 0] = 100 + np.arange(start, start + n)
        im[:] = np.arange(start, start + n)[:, None, None, None, None]
        start += n
    return ChunkDataset.from_episodes(qpos, actions, images, chunk, obs_steps=obs_steps)


def test_a_history_sample_holds_past_observations_and_actions():
    data = _dataset(obs_steps=2)
    # frames 0 (an episode's start), 3 (mid), 5 (the second episode's start), 8 (its last frame)
    batch = data.get_batch(np.array([0, 3, 5, 8]))
    assert batch["qpos"].shape == (4, 2, 14) and batch["images"].shape == (4, 2, 1, 2, 2, 3)
    assert batch["actions"].shape == (4, 4, 14) and batch["is_pad"].shape == (4, 4)
    # observations: the one before and the current one; an episode's first is repeated at its start
    np.testing.assert_array_equal(batch["qpos"][:, :, 0], [[0, 0], [2, 3], [5, 5], [7, 8]])
    np.testing.assert_array_equal(batch["images"][:, :, 0, 0, 0, 0], [[0, 0], [2, 3], [5, 5], [7, 8]])
    # actions from the oldest observation's step: one before, then the chunk of 3 from the current step
    np.testing.assert_array_equal(batch["actions"][:, :, 0] - 100,
                                  [[0, 0, 1, 2], [2, 3, 4, 4], [5, 5, 6, 7], [7, 8, 8, 8]])
    np.testing.assert_array_equal(batch["is_pad"], [[True, False, False, False], [False, False, False, True],
                                                    [True, False, False, False], [False, False, True, True]])


def test_without_history_a_sample_is_unchanged():
    data = _dataset(obs_steps=1)
    batch = data.get_batch(np.array([0, 3, 8]))
    assert batch["qpos"].shape == (3, 14) and batch["images"].shape == (3, 1, 2, 2, 3)
    np.testing.assert_array_equal(batch["actions"][:, :, 0] - 100, [[0, 1, 2], [3, 4, 4], [8, 8, 8]])
    np.testing.assert_array_equal(batch["is_pad"], [[False] * 3, [False, False, True], [False, True, True]])
    with pytest.raises(ValueError, match="obs_steps"):
        ChunkDataset(data.qpos, data.actions, data.images, data.episode_end, 3, obs_steps=0)


def test_loaded_training_data_follows_the_spec(tmp_path):
    demos = write_fake_demos(tmp_path / "demos", episodes=3, T=12)
    data = load_training_data(demos, DataSpec(("top",), (24, 32), 5, val_fraction=0.34, obs_steps=2))
    assert data.train.obs_steps == 2 and data.val.obs_steps == 2
    batch = data.train.get_batch(np.arange(len(data.train)))
    assert batch["qpos"].shape == (len(data.train), 2, 14) and batch["actions"].shape == (len(data.train), 6, 14)
    # an episode's first sample repeats its first frame; later ones hold the frame before
    first = data.train.episode_start == np.arange(len(data.train))
    np.testing.assert_array_equal(batch["qpos"][first, 0], batch["qpos"][first, 1])
    np.testing.assert_array_equal(batch["qpos"][~first, 0], data.train.qpos[np.arange(len(data.train))[~first] - 1])


class HistoryPolicy(FakePolicy):
    """Reads its last 2 observations; the chunk says which steps they were: action[0] = the
    older observation's step, action[1] = the newer one's (FakeEnv's qpos[0] is the step)."""

    obs_history = 2

    def __init__(self, chunk_size=4):
        super().__init__(chunk_size=chunk_size, name="history")
        self.seen = []

    def predict_chunk(self, qpos, images):
        b = qpos.shape[0]
        assert qpos.shape == (b, 2, 14) and tuple(images.shape) == (b, 2, 1, 24, 32, 3)
        assert not self.training and not torch.is_grad_enabled()
        # FakeEnv fills each frame with (7 * step) % 255: the frames must be those observations'
        assert torch.equal(images[:, :, 0, 0, 0, 0].long(), (7 * qpos[:, :, 0].long()) % 255)
        out = torch.zeros(b, self.chunk_size, 14)
        out[:, :, 0] = qpos[:, 0, 0, None]
        out[:, :, 1] = qpos[:, 1, 0, None]
        out[:, :, 2] = qpos[:, 1, 1, None]  # the episode's seed: a row gets its own episode's history
        return out


class Factory:
    def __init__(self):
        self.envs = []

    def __call__(self, task, cameras=("top",), image_size=(480, 640), render_mode=None):
        self.envs.append(FakeEnv(task, cameras, image_size, render_mode))
        return self.envs[-1]

    def actions(self):
        return {seed: np.stack(a) for env in self.envs for seed, a in env.by_seed.items()}


def test_the_evaluation_hands_a_policy_its_last_observations(tmp_path):
    """Queried every 3 steps: at step 0 it sees the first observation twice, then at step t
    the observations of steps t - 1 and t; the same at lockstep batch 1 and 4."""
    runs = {}
    for batch in (1, 4):
        make = Factory()
        run_eval(HistoryPolicy(), "transfer_cube", "act-no-te", 6, 3, tmp_path / f"b{batch}", videos=0,
                 n_action_steps=3, env_factory=make, batch=batch)
        runs[batch] = make.actions(), pd.read_csv(tmp_path / f"b{batch}" / "episodes.csv")
    actions, rows = runs[1]
    assert len(actions) == 6
    for seed, a in actions.items():
        query_steps = (np.arange(len(a)) // 3) * 3
        np.testing.assert_array_equal(a[:, 0], np.maximum(query_steps - 1, 0))
        np.testing.assert_array_equal(a[:, 1], query_steps)
        assert np.all(a[:, 2] == seed % 1000)
    batched, batched_rows = runs[4]
    assert batched.keys() == actions.keys()
    for seed in actions:
        np.testing.assert_array_equal(batched[seed], actions[seed])
    columns = ["episode", "seed", "max_stage", "success", "length", "queries"]
    pd.testing.assert_frame_equal(batched_rows[columns], rows[columns])


def test_an_external_policy_declares_its_history_too():
    from act_bench.policies.external import ExternalPolicy
    from act_bench.tasks.registry import get_task

    wrapped = ExternalPolicy(HistoryPolicy(), get_task("transfer_cube").config())
    assert wrapped.obs_history == 2
    qpos = torch.zeros(1, 2, 14)
    images = torch.zeros(1, 2, 1, 24, 32, 3, dtype=torch.uint8)
    with torch.no_grad():
        assert wrapped.eval().predict_chunk(qpos, images).shape == (1, 4, 14)


def test_registered_with_its_profiles():
    assert "diffusion" in policy_names() and "diffusion" in method_names()
    assert get_method("diffusion").execution == "open_loop"
    act = load_profile("act", "cpu")
    for name in ("ci", "cpu", "paper"):
        prof = load_profile("diffusion", name)
        assert prof.model.observation_steps() == 2 and prof.model.horizon % 4 == 0
        assert 1 <= prof.eval.n_action_steps <= prof.model.chunk_size
        assert prof.model.clip_sample == 0  # a clip at the paper's 1 would cut z-scored actions
    cpu, paper = load_profile("diffusion", "cpu"), load_profile("diffusion", "paper")
    # the paper's horizon 16, 8 actions run per query; the backbones and frames of ACT's profiles
    assert (cpu.model.horizon, cpu.eval.n_action_steps) == (paper.model.horizon, paper.eval.n_action_steps) == (16, 8)
    assert (cpu.model.backbone, cpu.model.cnn_channels, cpu.model.cnn_kernel, cpu.data.image_size) == \
        (act.model.backbone, act.model.cnn_channels, act.model.cnn_kernel, act.data.image_size)
    act_paper = load_profile("act", "paper")
    assert (paper.model.backbone, paper.model.backbone_norm, paper.data.image_size) == \
        (act_paper.model.backbone, act_paper.model.backbone_norm, act_paper.data.image_size)
    assert (paper.model.down_dims, paper.model.train_timesteps, paper.model.sampler, paper.model.inference_steps) == \
        ((512, 1024, 2048), 100, "ddpm", 100)
    assert load_profile("act", "cpu").model.observation_steps() == 1


@pytest.mark.parametrize("override,match", [
    ({"model.chunk_size": 6}, "multiple of 2"),  # horizon 7 with the ci U-Net's one halving
    ({"model.sampler": "euler"}, "model.sampler must be one of ddpm, ddim"),
    ({"model.inference_steps": 101}, "inference_steps must be between 1 and model.train_timesteps"),
    ({"model.down_dims": [30, 60]}, "multiples of model.n_groups"),
    ({"model.crop_fraction": 0.0}, "crop_fraction"),
    ({"model.ema_max_decay": 1.0}, "ema_max_decay"),
    ({"model.n_obs_steps": 0}, "n_obs_steps"),
    ({"eval.n_action_steps": 8}, "n_action_steps must be in"),
])
def test_bad_settings_are_refused(override, match):
    with pytest.raises(ActBenchError, match=match):
        load_profile("diffusion", "ci", override)


def test_built_ins_keep_their_order_whichever_is_imported_first():
    code = ("import act_bench.policies.diffusion\n"
            "from act_bench.policies import method_names, policy_names\n"
            "print(','.join(policy_names())); print(','.join(method_names()))")
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["act,act-no-cvae,bc,diffusion", "act,act-no-te,act-no-cvae,bc,diffusion,scripted,still,random"]


def test_missing_extra_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # an import of it now fails, as when absent
    with pytest.raises(ActBenchError, match=r"pip install 'act-bench\[diffusion\]'") as e:
        build_policy(load_profile("diffusion", "ci"))
    assert "\n" not in str(e.value)


def test_missing_extra_from_the_cli(tmp_path):
    hidden = tmp_path / "hide" / "diffusers"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('not installed')\n")
    demos = write_fake_demos(tmp_path / "demos", episodes=2, T=12)
    env = {"PYTHONPATH": f"{hidden.parent}:{REPO}", "PATH": "/usr/bin:/bin", "MUJOCO_GL": "egl",
           "OMP_NUM_THREADS": "1"}
    done = cli("train", "--task", "transfer_cube", "--policy", "diffusion", "--profile", "ci", "--data", demos,
               "--out", tmp_path / "run", "--no-progress", "--set", "data.image_size=[24,32]",
               env=env, cwd=tmp_path, timeout=300)
    assert done.returncode != 0
    assert "act-bench[diffusion]" in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
