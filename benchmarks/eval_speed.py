"""Evaluation episodes per second, one episode at a time (batch 1) against lockstep batches.

For act (temporal ensembling: a query every step), act-no-te (a query per chunk) and bc (a
query every step), the cpu profile's policy at 96x128 (untrained: speed does not depend on the
weights) evaluates the same episodes at each batch size through evaluate_policy, and the rows
are checked to agree. Episodes are cut to --episode-len steps so a run stays short; the
untrained policies never succeed, so every episode runs that long. Other processes' CPU use
during each measurement is printed too: on a shared 2-core machine it explains slow numbers.

    PYTHONPATH=. python benchmarks/eval_speed.py [--episodes 8] [--episode-len 100] [--batches 1,16]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from act_bench.envs import AlohaEnv  # noqa: E402
from act_bench.evaluate import EvalSpec, evaluate_policy  # noqa: E402
from act_bench.policies import build_policy, load_profile  # noqa: E402
from act_bench.policies.registry import get_method  # noqa: E402
from act_bench.tasks.registry import get_task  # noqa: E402
from load_monitor import LoadMonitor  # noqa: E402

METHODS = ("act", "act-no-te", "bc")
OUTCOME = ["episode", "seed", "max_stage", "length", "queries"]


def env_factory(episode_len: int):
    def make(task, cameras=None, image_size=None, render_mode=None):
        return AlohaEnv(replace(get_task(task).config(), episode_len=episode_len), cameras=cameras,
                        image_size=image_size, render_mode=render_mode)
    return make


def measure(policy, method: str, batch: int, episodes: int, episode_len: int, out: Path) -> tuple[dict, pd.DataFrame]:
    spec = EvalSpec("transfer_cube", method, 0, episodes, out, videos=0, batch=batch)
    monitor = LoadMonitor()
    monitor.start()
    start = time.perf_counter()
    evaluate_policy(policy, spec, env_factory=env_factory(episode_len), progress=False)
    seconds = time.perf_counter() - start
    other = monitor.stop()
    rows = pd.read_csv(out / "episodes.csv")
    return {"method": method, "batch": batch, "episodes": episodes, "episode_len": episode_len,
            "seconds": round(seconds, 2), "episodes_per_s": round(episodes / seconds, 3),
            "steps_per_s": round(rows["length"].sum() / seconds, 1),
            "other_load_cores": None if other is None else round(other, 2)}, rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--episode-len", type=int, default=100)
    p.add_argument("--batches", default="1,16")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--out", default=str(ROOT / "results" / "bench" / "eval_speed.csv"))
    args = p.parse_args()
    torch.set_num_threads(1)  # the same single core for every batch size
    batches = [int(b) for b in args.batches.split(",")]
    policies = {}
    results = []
    print(f"{'method':<10} {'batch':>5} {'episodes/s':>11} {'steps/s':>8} {'speedup':>8} {'other load':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            name = get_method(method).policy
            if name not in policies:
                torch.manual_seed(0)
                policies[name] = build_policy(load_profile(name, "cpu"))
                measure(policies[name], method, 1, 1, 5, Path(tmp) / f"warmup_{name}")  # first-call costs
            base_rows = None
            for batch in batches:
                result, rows = measure(policies[name], method, batch, args.episodes, args.episode_len,
                                       Path(tmp) / f"{method}_b{batch}")
                base = next((r for r in results if r["method"] == method and r["batch"] == batches[0]), result)
                result["speedup"] = round(result["episodes_per_s"] / base["episodes_per_s"], 2)
                base_rows = rows if base_rows is None else base_rows
                result["same_outcomes"] = bool(rows[OUTCOME].equals(base_rows[OUTCOME]))
                results.append(result)
                print(f"{method:<10} {batch:>5} {result['episodes_per_s']:>11.3f} {result['steps_per_s']:>8.1f} "
                      f"{result['speedup']:>7.2f}x {result['other_load_cores']!s:>11}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(results).to_csv(out, index=False)
    print(f"({args.episodes} episodes of {args.episode_len} steps, transfer_cube, cpu profile at 96x128, "
          f"1 torch thread; other load = other processes' CPU use in cores)\nwritten {out}")


if __name__ == "__main__":
    main()
