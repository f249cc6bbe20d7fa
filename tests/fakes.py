"""Small stand-ins with act-bench's interfaces (the env API, rollout.ChunkPolicy, run's backend), so the evaluation, run and
report tests need neither MuJoCo nor a trained network.

FakeEnv: the env API (obs dict, info with stage/max_stage/is_success, task_config). The best
stage an episode reaches is seed % 5, reached one stage every 3 steps, so success rates are
known in advance; qpos[0] is the step and qpos[1] the seed (mod 1000), and `by_seed` keeps the
actions of each episode. FakePolicy: predict_chunk returns chunks whose action[0] is the query
(call) number and action[1] the index inside the chunk, so tests can see what got executed;
`rows` counts the observations queried (a batched call queries several). ObsPolicy: chunks
that are a fixed function of the observation only, the same whatever the batch.
FakeBackend: generate_demos / load_profile / train_policy / load_policy / make_env for
act_bench.grid.run, logging each call to a file (calls can come from worker processes).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

STAGES = {"transfer_cube": ["touch", "lift", "handover_touch", "transfer"],
          "insertion": ["grasp", "lift", "contact", "insert"]}


class FakeEnv:
    def __init__(self, task="transfer_cube", cameras=("top",), image_size=(24, 32), render_mode=None,
                 episode_len=30):
        self.task, self.cameras, self.image_size, self.render_mode = task, tuple(cameras), tuple(image_size), render_mode
        self.unwrapped = self
        self.task_config = SimpleNamespace(episode_len=episode_len, max_stage=4, stage_names=STAGES[task])
        self.actions: list[np.ndarray] = []
        self.seeds: list[int] = []
        self.by_seed: dict[int, list[np.ndarray]] = {}
        self.renders = 0

    def _obs(self):
        h, w = self.image_size
        img = np.full((h, w, 3), (self.t * 7) % 255, np.uint8)
        qpos = np.zeros(14)
        qpos[:2] = self.t, int(self.seeds[-1]) % 1000
        return {"qpos": qpos, "qvel": np.zeros(14), "images": {c: img.copy() for c in self.cameras}}

    def _info(self):
        return {"stage": self.stage, "max_stage": self.max_stage, "is_success": self.max_stage == 4}

    def reset(self, seed=None):
        self.seeds.append(seed)
        self.t, self.stage, self.max_stage = 0, 0, 0
        self.cap = int(seed) % 5
        self.by_seed[seed] = []
        return self._obs(), self._info()

    def step(self, action):
        action = np.asarray(action, dtype=np.float64)
        assert action.shape == (14,)
        self.actions.append(action.copy())
        self.by_seed[self.seeds[-1]].append(action.copy())
        self.t += 1
        self.stage = min(self.cap, self.t // 3)
        self.max_stage = max(self.max_stage, self.stage)
        truncated = self.t >= self.task_config.episode_len
        return self._obs(), float(self.stage), False, truncated, self._info()

    def render(self):
        self.renders += 1
        return np.full((48, 64, 3), 120, np.uint8)

    def close(self):
        pass


def fake_make_env(task, cameras=("top",), image_size=(480, 640), render_mode=None):
    return FakeEnv(task, cameras, image_size, render_mode)


class FakePolicy(torch.nn.Module):
    def __init__(self, chunk_size=5, camera_names=("top",), image_size=(24, 32), name=None):
        super().__init__()
        self.name = name or ("bc" if chunk_size == 1 else "act")
        self.chunk_size, self.camera_names, self.image_size = chunk_size, list(camera_names), tuple(image_size)
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.queries = 0
        self.rows = 0

    def predict_chunk(self, qpos, images):
        b = qpos.shape[0]
        h, w = self.image_size
        assert qpos.shape == (b, 14) and qpos.dtype == torch.float32
        assert images.dtype == torch.uint8 and tuple(images.shape) == (b, len(self.camera_names), h, w, 3)
        assert not self.training and not torch.is_grad_enabled()
        out = torch.zeros(b, self.chunk_size, 14)
        out[:, :, 0] = self.queries
        out[:, :, 1] = torch.arange(self.chunk_size, dtype=torch.float32)
        self.queries += 1
        self.rows += b
        return out


class ObsPolicy(FakePolicy):
    """Chunks that depend on the observation only (step, seed and image), irregular enough that
    ensembling mixes distinct values; elementwise float32 maths, so batching changes nothing."""

    def predict_chunk(self, qpos, images):
        super().predict_chunk(qpos, images)  # the checks and counts
        i = torch.arange(self.chunk_size, dtype=torch.float32)[None, :, None]
        j = torch.arange(14, dtype=torch.float32)[None, None, :]
        t, seed = qpos[:, 0, None, None], qpos[:, 1, None, None]
        pixel = images[:, 0, 0, 0, 0].float()[:, None, None]
        return torch.sin(0.37 * t + 0.11 * seed + 0.5 * i + 0.013 * j * pixel) * (1 + 0.1 * j)


def _log(path, **event):
    with open(path, "a") as f:
        f.write(json.dumps({**event, "pid": os.getpid()}) + "\n")


class FakeBackend:
    """act_bench.grid.run's backend with fakes; `log` collects every generate/train/eval call."""

    def __init__(self, log, train_delay=0.0, fail_train=(), steps=4, interrupt_train=()):
        self.log, self.train_delay, self.fail_train, self.steps = str(log), train_delay, tuple(fail_train), steps
        self.interrupt_train = tuple(interrupt_train)

    def calls(self) -> list[dict]:
        p = Path(self.log)
        return [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []

    def load_profile(self, method, profile, overrides=None):
        from act_bench.policies.config import load_profile

        return load_profile(method, "ci", {"data.image_size": [24, 32], "train.steps": self.steps,
                                           "eval.episodes": 4})

    def check_run(self, run_dir, task, method, cfg, seed, data_dir=None, episodes=None):
        pass  # fake runs have no config to compare

    def generate_demos(self, task, episodes, out_dir, settings, workers=1, progress=True):
        cameras, image_size = settings.cameras, settings.image_size
        _log(self.log, kind="demos", task=task, out_dir=str(out_dir), style=settings.style)
        manifest = {"task": task, "episodes": episodes, "seeds": list(range(episodes)),
                    "cameras": list(cameras), "image_size": list(image_size), "scripted_success_rate": 1.0}
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "manifest.json").write_text(json.dumps(manifest))
        return manifest

    def train_policy(self, task, method, profile, seed, options):
        out, data_dir, overrides, device = Path(options.out_dir), options.data_dir, options.overrides, options.device
        if (out / "done.json").exists() and json.loads((out / "done.json").read_text())["step"] >= self.steps:
            return out
        if f"{task}/{method}/{seed}" in self.fail_train:
            raise RuntimeError(f"training {task}/{method}/{seed} failed on purpose")
        if f"{task}/{method}/{seed}" in self.interrupt_train:
            raise KeyboardInterrupt
        _log(self.log, kind="train", task=task, method=method, seed=seed, data_dir=str(data_dir),
             overrides=overrides, device=str(device))
        time.sleep(self.train_delay)
        out.mkdir(parents=True, exist_ok=True)
        chunk = 1 if method == "bc" else 5
        (out / "config.json").write_text(json.dumps({"task": task, "method": method, "seed": seed,
                                                     "chunk_size": chunk, "eval": {"temporal_ensemble_m": 0.01}}))
        steps = np.arange(0, 40, 4)
        loss = 1.0 / (1 + steps) + 0.01 * seed + (0.2 if method == "bc" else 0.0)
        rows = ["step,train_loss,l1,kl,val_loss"] + [
            f"{s},{l:.4f},{l:.4f},0.0,{(l * 1.1 if s % 8 == 0 else float('nan')):.4f}" for s, l in zip(steps, loss)]
        (out / "metrics.csv").write_text("\n".join(rows) + "\n")
        (out / "checkpoints").mkdir(exist_ok=True)
        (out / "checkpoints" / "last.json").write_text(json.dumps({"step": self.steps}))
        (out / "done.json").write_text(json.dumps({"step": self.steps, "best_step": self.steps, "finished_at": time.time()}))
        return out

    def load_policy(self, path, device="cpu"):
        """A run folder, or one of its named checkpoints (run/checkpoints/last)."""
        from act_bench.storage import layout

        run_dir, checkpoint = layout.split_checkpoint_path(path)
        cfg = json.loads((run_dir / "config.json").read_text())
        _log(self.log, kind="eval", run_dir=str(path), threads=torch.get_num_threads(),
             cores=len(os.sched_getaffinity(0)), device=str(device))
        policy = FakePolicy(cfg["chunk_size"], ["top"], (24, 32), cfg)
        if checkpoint:
            policy.checkpoint_meta = json.loads((run_dir / "checkpoints" / f"{checkpoint}.json").read_text())
        return policy

    def make_env(self, task, cameras=("top",), image_size=(480, 640), render_mode=None):
        return FakeEnv(task, cameras, image_size, render_mode)


class SweepBackend(FakeBackend):
    """FakeBackend whose profiles take the overrides (a sweep's points differ by them; test_sweep, test_remote)."""

    def load_profile(self, method, profile, overrides=None):
        from act_bench.policies.config import load_profile, parse_overrides

        return load_profile(method, "ci", {"data.image_size": [24, 32], "train.steps": self.steps,
                                           "eval.episodes": 4, **parse_overrides(overrides)})


def make_results_dir(out, tasks=("transfer_cube", "insertion"), methods=("act", "bc"), seeds=(0, 1),
                     episodes=6, videos=1) -> Path:
    """A results folder as `act-bench run` leaves it, made with the fake env and policy."""
    from act_bench.report.results import collect_results
    from act_bench.training.train import TrainOptions

    out = Path(out)
    backend = FakeBackend(out / "calls.log")
    for task in tasks:
        for method in methods:
            for seed in seeds:
                policy = FakePolicy(chunk_size=1 if method == "bc" else 5)
                run_eval(policy, task, method, episodes, seed, out / "evals" / task / method / f"seed{seed}",
                         videos=videos)
                policy = "bc" if method == "bc" else "act"
                backend.train_policy(task, policy, "cpu", seed,
                                     TrainOptions(out_dir=out / "training" / task / policy / f"seed{seed}"))
    collect_results(out).to_csv(out / "results.csv", index=False)
    return out


_EVAL_OPTIONS = {"progress": False, "temporal_ensemble_m": None, "n_action_steps": None, "env_factory": fake_make_env,
                 "policy_id": None, "fresh": False, "batch": 16, "env_workers": 0}


def run_eval(policy, task, method, episodes, seed, out_dir, videos=3, **options) -> dict:
    """evaluate_policy with the execution resolved as `act-bench eval` resolves it. options (by
    name, defaults in _EVAL_OPTIONS): progress, the execution's temporal_ensemble_m and
    n_action_steps, env_factory, and EvalSpec's policy_id, fresh, batch and env_workers."""
    from act_bench.evaluation.ensembling import Execution
    from act_bench.evaluation.evaluate import EvalSpec, evaluate_policy
    from act_bench.policies.registry import get_method

    unknown = set(options) - set(_EVAL_OPTIONS)
    if unknown:
        raise TypeError(f"run_eval: unknown options {sorted(unknown)}")
    o = {**_EVAL_OPTIONS, **options}
    execution = Execution.resolve(get_method(method).execution, policy.chunk_size, None, o["temporal_ensemble_m"],
                                  o["n_action_steps"])
    spec = EvalSpec(task, method, seed, episodes, out_dir, videos=videos, policy_id=o["policy_id"], fresh=o["fresh"],
                    batch=o["batch"], env_workers=o["env_workers"])
    return evaluate_policy(policy, spec, execution, env_factory=o["env_factory"], progress=o["progress"])
