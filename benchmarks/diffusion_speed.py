"""What the diffusion policy costs beside ACT: one training step of each cpu profile, and the
evaluation time per episode, printed.

Training: the real training step (batch sampling from uint8 frames in memory, AdamW, clipping,
and the diffusion policy's EMA update) on synthetic 96x128 data, ACT and diffusion steps timed
in alternating rounds in one process, so both see the same machine load; the printed ratio sizes
the diffusion cpu profile's train.steps (equal cost: ACT's steps x the ratio of step times).

Evaluation: untrained cpu-profile policies (speed does not depend on the weights; they never
succeed, so every episode runs its full length) through the lockstep evaluator on the real task,
the same episodes for each method: act (a query every step, temporal ensembling), act-no-te
(a query per chunk) and diffusion (a query per eval.n_action_steps, each query
model.inference_steps denoising passes).

Queries: the batched predict_chunk call the evaluator makes (lockstep batch B), timed for each
method in alternating rounds; queries per episode x its time / B is the policy's share of an
episode, the part that differs between methods (the env steps are the same for all), and less
sensitive to the machine's load than whole episodes.

Other processes' CPU use during each measurement is printed (in cores), with the load average.

    PYTHONPATH=. MUJOCO_GL=egl python -m benchmarks.diffusion_speed [--rounds 5] [--episodes 4]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from act_bench.data.dataset import ChunkDataset, batch_to_torch
from act_bench.data.normalization import NormStats
from act_bench.evaluation.evaluate import EvalSpec, evaluate_policy
from act_bench.policies import build_policy, load_profile
from act_bench.policies.registry import get_method
from act_bench.training.train import autocast_context, make_optimizer, train_step

from benchmarks.load_monitor import LoadMonitor


def synthetic_dataset(prof, frames: int = 400, seed: int = 0) -> ChunkDataset:
    rng = np.random.default_rng(seed)
    h, w = prof.data.image_size
    half = frames // 2
    ends = np.concatenate([np.full(half, half), np.full(frames - half, frames)])
    return ChunkDataset(rng.normal(size=(frames, 14)).astype(np.float32),
                        rng.normal(size=(frames, 14)).astype(np.float32),
                        rng.integers(0, 256, size=(frames, len(prof.data.cameras), h, w, 3), dtype=np.uint8),
                        ends, prof.model.chunk_size, prof.data.cameras, prof.model.observation_steps())


class Trainer:
    """A policy of `profile` and its optimiser, stepping on synthetic data."""

    def __init__(self, policy_name: str, profile: str, overrides: list[str]):
        self.prof = load_profile(policy_name, profile, overrides)
        torch.manual_seed(0)
        self.data = synthetic_dataset(self.prof)
        self.policy = build_policy(self.prof, NormStats.from_arrays([self.data.qpos], [self.data.actions])).train()
        self.optimizer = make_optimizer(self.policy, self.prof.train)
        # the profile's amp as a run on this machine resolves it ("auto": bf16 only where native)
        from act_bench.training.train import resolve_amp
        self.amp = resolve_amp(self.prof.train.amp, torch.device("cpu"))
        self.autocast = autocast_context(torch.device("cpu"), self.amp)
        self.rng = np.random.default_rng(0)

    def steps(self, n: int) -> float:
        """Seconds per step over n steps."""
        start = time.perf_counter()
        for _ in range(n):
            batch = batch_to_torch(self.data.sample(self.rng, self.prof.train.batch_size))
            train_step(self.policy, self.optimizer, batch, self.prof.train.grad_clip, self.autocast)
        return (time.perf_counter() - start) / n


def train_comparison(rounds: int, steps: int, overrides: list[str]) -> None:
    act, diffusion = Trainer("act", "cpu", []), Trainer("diffusion", "cpu", overrides)
    for t in (act, diffusion):
        t.steps(2)  # first-call costs
    times: dict[str, list[float]] = {"act": [], "diffusion": []}
    monitor = LoadMonitor()
    monitor.start()
    for _ in range(rounds):
        times["act"].append(act.steps(steps))
        times["diffusion"].append(diffusion.steps(steps))
    other = monitor.stop()
    t_act, t_diff = statistics.median(times["act"]), statistics.median(times["diffusion"])
    print(f"training, cpu profiles, batch {act.prof.train.batch_size} / {diffusion.prof.train.batch_size}, "
          f"{torch.get_num_threads()} torch threads, amp {act.amp} / {diffusion.amp}, "
          f"{rounds} alternating rounds of {steps} steps (median)")
    for name, t in (("act", act), ("diffusion", diffusion)):
        params = sum(p.numel() for p in t.policy.parameters()) / 1e6
        per_step = statistics.median(times[name])
        print(f"  {name:<10} {1e3 * per_step:8.1f} ms/step   {params:6.2f} M params   "
              f"profile steps {t.prof.train.steps:6d} -> {t.prof.train.steps * per_step / 60:6.1f} min")
    print(f"  diffusion / act step time: {t_diff / t_act:.2f}; the ACT cpu training's cost buys "
          f"{act.prof.train.steps * t_act / t_diff:.0f} diffusion steps")
    print(f"  other processes: {other if other is None else round(other, 2)} cores; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def query_comparison(episode_len: int, batch: int, rounds: int, methods: list[str], overrides: list[str]) -> None:
    policies, queries = {}, {}
    for method in methods:
        name = get_method(method).policy
        torch.manual_seed(0)
        prof = load_profile(name, "cpu", overrides if name == "diffusion" else [])
        policy = build_policy(prof).eval()
        data = synthetic_dataset(prof, frames=64)
        sample = data.get_batch(np.arange(batch))
        policies[method] = policy, torch.as_tensor(sample["qpos"]), torch.as_tensor(sample["images"])
        execution = get_method(method).execution
        per_query = 1 if execution in ("ensemble", "single") else (prof.eval.n_action_steps or prof.model.chunk_size)
        queries[method] = -(-episode_len // per_query)
    times: dict[str, list[float]] = {m: [] for m in methods}
    for method, (policy, qpos, images) in policies.items():
        with torch.inference_mode():
            policy.predict_chunk(qpos, images)  # first-call costs
    monitor = LoadMonitor()
    monitor.start()
    for _ in range(rounds):
        for method, (policy, qpos, images) in policies.items():
            n = 3 if method == "diffusion" else 20
            start = time.perf_counter()
            with torch.inference_mode():
                for _ in range(n):
                    policy.predict_chunk(qpos, images)
            times[method].append((time.perf_counter() - start) / n)
    other = monitor.stop()
    print(f"queries, cpu profiles at 96x128, batch {batch}, {torch.get_num_threads()} torch threads, "
          f"{rounds} alternating rounds (median); an episode of {episode_len} steps")
    for method in methods:
        t = statistics.median(times[method])
        print(f"  {method:<10} {1e3 * t:8.1f} ms/query   {queries[method]:4d} queries/episode   "
              f"policy {queries[method] * t / batch:6.2f} s/episode")
    print(f"  other processes: {other if other is None else round(other, 2)} cores; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def eval_comparison(task: str, episodes: int, batch: int, methods: list[str], overrides: list[str]) -> None:
    print(f"evaluation, {task} at 96x128, untrained cpu-profile policies, {episodes} episodes at lockstep batch "
          f"{batch}, {torch.get_num_threads()} torch threads")
    with tempfile.TemporaryDirectory() as tmp:
        for method in methods:
            name = get_method(method).policy
            torch.manual_seed(0)
            prof = load_profile(name, "cpu", overrides if name == "diffusion" else [])
            policy = build_policy(prof)
            spec = EvalSpec(task, method, 0, episodes, Path(tmp) / method, videos=0, batch=batch)
            monitor = LoadMonitor()
            monitor.start()
            start = time.perf_counter()
            summary = evaluate_policy(policy, spec, progress=False)
            seconds = time.perf_counter() - start
            other = monitor.stop()
            print(f"  {method:<10} {seconds / episodes:7.2f} s/episode   {summary['mean_length']:.0f} steps, "
                  f"{summary['mean_queries']:.0f} queries per episode   other processes "
                  f"{other if other is None else round(other, 2)} cores")
    print(f"  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5, help="alternating training rounds")
    p.add_argument("--steps", type=int, default=10, help="training steps per round and policy")
    p.add_argument("--episodes", type=int, default=4)
    p.add_argument("--batch", type=int, default=4, help="episodes stepped together in evaluation")
    p.add_argument("--task", default="transfer_cube_v3")
    p.add_argument("--methods", default="act,act-no-te,diffusion", help="methods evaluated")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: a shared machine)")
    p.add_argument("--only", choices=("train", "queries", "eval"), action="append", default=None,
                   help="run only these parts (repeatable; default: all three)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a diffusion cpu-profile field (repeatable)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    parts = args.only or ["train", "queries", "eval"]
    methods = args.methods.split(",")
    if "train" in parts:
        train_comparison(args.rounds, args.steps, args.overrides)
    if "queries" in parts:
        from act_bench.tasks.registry import get_task
        query_comparison(get_task(args.task).config().episode_len, args.batch, args.rounds, methods, args.overrides)
    if "eval" in parts:
        eval_comparison(args.task, args.episodes, args.batch, methods, args.overrides)


if __name__ == "__main__":
    main()
