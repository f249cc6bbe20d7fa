"""Evaluation episodes per second: one episode at a time (the code before lockstep batching)
against lockstep batches, with the envs in this process or in worker processes.

For act (temporal ensembling: a query every step), act-no-te (a query per chunk) and bc (a
query every step), the cpu profile's policy at 96x128 (untrained: speed does not depend on the
weights) evaluates the same episodes in each configuration through evaluate_policy, and the rows
are checked to agree. A configuration is BATCH:ENV_WORKERS (0 workers: the envs step in this
process), or BATCH:ENV_WORKERS:bf16 to run the policy's queries under bf16 autocast (not what
`act-bench eval` does: it moves outcomes a little, so same_outcomes may be False there). Every configuration gets the same cores, as an evaluation job of `act-bench run` does:
--threads torch threads (default: the cores this process may use) and, with workers, that many
env processes beside it. Episodes are cut to --episode-len steps so a run stays short; the
untrained policies never succeed, so every episode runs that long. Other processes' CPU use
during each measurement is printed too: on a shared 2-core machine it explains slow numbers.

    python -m benchmarks.eval_speed [--episodes 16] [--episode-len 100] [--configs 1:0,16:0,16:2]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]

from act_bench.envs import AlohaEnv
from act_bench.evaluation.evaluate import EvalSpec, evaluate_policy
from act_bench.policies import build_policy, load_profile
from act_bench.policies.registry import get_method
from act_bench.runtime.threads import machine_cores
from act_bench.tasks.registry import get_task

from benchmarks.load_monitor import LoadMonitor

METHODS = ("act", "act-no-te", "bc")
OUTCOME = ["episode", "seed", "max_stage", "length", "queries"]


def short_env(task, cameras=None, image_size=None, render_mode=None, episode_len=100):
    """The task's env cut to episode_len steps (module level: env workers build it too)."""
    return AlohaEnv(replace(get_task(task).config(), episode_len=episode_len), cameras=cameras,
                    image_size=image_size, render_mode=render_mode)


def measure(policy, method: str, batch: int, workers: int, episodes: int, episode_len: int,
            out: Path, precision: str = "fp32") -> tuple[dict, pd.DataFrame]:
    spec = EvalSpec("transfer_cube", method, 0, episodes, out, videos=0, batch=batch, env_workers=workers)
    make = _Factory(episode_len)
    monitor = LoadMonitor()
    monitor.start()
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        evaluate_policy(policy, spec, env_factory=make, progress=False)
    seconds = time.perf_counter() - start
    other = monitor.stop()
    rows = pd.read_csv(out / "episodes.csv")
    return {"method": method, "batch": batch, "env_workers": workers, "precision": precision,
            "threads": torch.get_num_threads(),
            "episodes": episodes, "episode_len": episode_len, "seconds": round(seconds, 2),
            "episodes_per_s": round(episodes / seconds, 3), "steps_per_s": round(rows["length"].sum() / seconds, 1),
            "other_load_cores": None if other is None else round(other, 2)}, rows


class _Factory:
    """short_env with the length bound (a plain object, so it pickles into env workers)."""

    def __init__(self, episode_len: int):
        self.episode_len = episode_len

    def __call__(self, task, cameras=None, image_size=None, render_mode=None):
        return short_env(task, cameras, image_size, render_mode, self.episode_len)


def parse_config(text: str) -> tuple[int, int, str]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("fp32", "bf16")):
        raise SystemExit(f"error: a configuration is BATCH:ENV_WORKERS[:bf16], got {text!r}")
    return int(parts[0]), int(parts[1]), parts[2] if len(parts) == 3 else "fp32"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=16)
    p.add_argument("--episode-len", type=int, default=100)
    p.add_argument("--configs", default=None,
                   help="BATCH:ENV_WORKERS,... (default 1:0,16:0,16:T with T the threads); the first is the base")
    p.add_argument("--threads", type=int, default=machine_cores(), help="torch threads (default: the cores)")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--out", default=str(ROOT / "results" / "bench" / "eval_speed.csv"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    configs = [parse_config(c) for c in (args.configs or f"1:0,16:0,16:{args.threads}").split(",")]
    policies = {}
    results = []
    print(f"{'method':<10} {'batch':>5} {'workers':>7} {'precision':>9} {'episodes/s':>11} {'steps/s':>8} "
          f"{'speedup':>8} {'other load':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            name = get_method(method).policy
            if name not in policies:
                torch.manual_seed(0)
                policies[name] = build_policy(load_profile(name, "cpu"))
                measure(policies[name], method, 1, 0, 1, 5, Path(tmp) / f"warmup_{name}")  # first-call costs
            base = base_rows = None
            for batch, workers, precision in configs:
                result, rows = measure(policies[name], method, batch, workers, args.episodes, args.episode_len,
                                       Path(tmp) / f"{method}_b{batch}_w{workers}_{precision}", precision)
                base = base or result
                base_rows = rows if base_rows is None else base_rows
                result["speedup"] = round(result["episodes_per_s"] / base["episodes_per_s"], 2)
                result["same_outcomes"] = bool(rows[OUTCOME].equals(base_rows[OUTCOME]))
                results.append(result)
                print(f"{method:<10} {batch:>5} {workers:>7} {precision:>9} {result['episodes_per_s']:>11.3f} "
                      f"{result['steps_per_s']:>8.1f} {result['speedup']:>7.2f}x {result['other_load_cores']!s:>11}",
                      flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(f".{out.name}.tmp")
    pd.DataFrame(results).to_csv(tmp_out, index=False)
    os.replace(tmp_out, out)
    print(f"({args.episodes} episodes of {args.episode_len} steps, transfer_cube, cpu profile at 96x128, "
          f"{args.threads} torch threads; other load = other processes' CPU use in cores)\nwritten {out}")


if __name__ == "__main__":
    main()
