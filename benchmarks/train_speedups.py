"""Candidate training speed-ups, each timed as a ratio against the current code in the same run.

Variants (each its own policy and optimizer from the same seed, fed the same batches):
  baseline       the training step as `act-bench train` runs it
  bf16           bf16 as `act-bench train` runs it: autocast, the weights kept in bf16 between steps
                 (oneDNN uses AVX-512 BF16 where present)
  channels_last  the backbone's weights and inputs in NHWC
  compile        torch.compile of the loss (forward + backward through AOTAutograd)
  prefetch       the next batch sampled on a background thread while this step runs

Rounds are interleaved (every variant once per round), so a change in the machine's load hits
all of them alike; the ratio is the median step time of the baseline over the variant's. The
loss after the timed steps is printed beside it: a variant that changes the numbers (bf16)
shows it there, and is kept only if the reference is rerun with it.

    python -m benchmarks.train_speedups [--profile cpu] [--rounds 5] [--steps 10]

On a CPU without AVX-512 BF16 (most laptops) bf16 is emulated; to see what that costs here, cap
both oneDNN and ATen at AVX2:

    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python -m benchmarks.train_speedups \
        --variants baseline,bf16 --out results/bench/train_bf16_avx2.csv
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import os
import queue
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

from act_bench.data.dataset import batch_to_torch
from act_bench.data.normalization import NormStats
from act_bench.grid.executors import available_cores
from act_bench.policies.base import build_policy
from act_bench.policies.config import load_profile
from act_bench.training.bf16_weights import Bf16Weights
from act_bench.training.train import make_optimizer, train_step

from benchmarks.bf16_support import kernels_label
from benchmarks.load_monitor import LoadMonitor
from benchmarks.train_speed import synthetic_dataset

VARIANTS = ("baseline", "bf16", "channels_last", "compile", "prefetch")
OUT = Path(__file__).resolve().parents[1] / "results" / "bench" / "train_speedups.csv"


class Prefetcher:
    """Samples batch k+1 on a thread while step k runs; batches come out in the same order."""

    def __init__(self, data, rng, batch_size: int):
        self._q: queue.Queue = queue.Queue(maxsize=2)
        self._stop = False
        self._thread = threading.Thread(target=self._fill, args=(data, rng, batch_size), daemon=True)
        self._thread.start()

    def _fill(self, data, rng, b):
        while not self._stop:
            self._q.put(batch_to_torch(data.sample(rng, b)))

    def next(self):
        return self._q.get()


class Variant:
    def __init__(self, name: str, prof, data, stats, seed: int = 0):
        self.name = name
        torch.manual_seed(seed)
        self.policy = build_policy(prof, stats).train()
        self.optimizer = make_optimizer(self.policy, prof.train)
        self.clip = prof.train.grad_clip
        self.autocast, self.weights = contextlib.nullcontext, None
        if name == "bf16":
            self.autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16)
            self.weights = Bf16Weights(self.policy)
        if name == "channels_last":
            self.policy.to(memory_format=torch.channels_last)
        if name == "compile":
            self.policy.compute_loss = torch.compile(self.policy.compute_loss)
        rng = np.random.default_rng(seed)  # every variant sees the same batches
        if name == "prefetch":
            self._prefetch = Prefetcher(data, rng, prof.train.batch_size)
            self.batch = self._prefetch.next
        else:
            self.batch = lambda: batch_to_torch(data.sample(rng, prof.train.batch_size))
        self.times: list[float] = []
        self.loss = float("nan")
        self.torch_rng = torch.get_rng_state()  # its own dropout draws, however rounds interleave

    def run(self, steps: int, timed: bool = True) -> None:
        torch.set_rng_state(self.torch_rng)
        t0 = time.perf_counter()
        for _ in range(steps):
            metrics = train_step(self.policy, self.optimizer, self.batch(), self.clip, self.autocast, self.weights)
        self.torch_rng = torch.get_rng_state()
        self.loss = float(metrics["loss"]) if "loss" in metrics else float(next(iter(metrics.values())))
        if timed:
            self.times.append((time.perf_counter() - t0) / steps)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="act")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=10, help="steps per variant per round")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: one per core given)")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args()
    torch.set_num_threads(args.threads or available_cores())
    prof = load_profile(args.method, args.profile, [])
    data = synthetic_dataset(prof, 400)
    stats = NormStats.from_arrays([data.qpos], [data.actions])
    names = [v for v in args.variants.split(",") if v]
    variants = []
    for name in names:
        v = Variant(name, prof, data, stats)
        t0 = time.perf_counter()
        v.run(3, timed=False)  # warm-up; for compile, this is the compilation
        print(f"{name}: warm-up {time.perf_counter() - t0:.1f} s", flush=True)
        variants.append(v)
    mon = LoadMonitor()
    mon.start()
    for r in range(args.rounds):
        for v in variants:
            v.run(args.steps)
        print(f"round {r + 1}/{args.rounds}: " + "  ".join(f"{v.name} {1e3 * v.times[-1]:.0f} ms" for v in variants),
              flush=True)
    load = mon.stop()
    base = float(np.median(variants[0].times))
    rows = []
    print(f"\n{args.method}/{args.profile}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"other processes used {load if load is None else round(load, 2)} cores")
    print(f"{'variant':14s} {'ms/step':>8s} {'steps/s':>8s} {'ratio':>6s} {'loss':>10s}")
    for v in variants:
        med = float(np.median(v.times))
        row = {"variant": v.name, "method": args.method, "profile": args.profile, "chunk_size": prof.model.chunk_size,
               "threads": torch.get_num_threads(),
               "ms_per_step": round(1e3 * med, 1), "steps_per_s": round(1 / med, 2), "ratio": round(base / med, 3),
               "loss_after": round(v.loss, 6), "steps": len(v.times) * args.steps + 3,
               "other_load_cores": None if load is None else round(load, 2),
               # set to e.g. AVX2 to time a CPU without AVX-512 BF16 (oneDNN and ATen capped alike)
               "isa_cap": os.environ.get("ONEDNN_MAX_CPU_ISA", "none"),
               "kernels": kernels_label("bf16" if v.name == "bf16" else "fp32")}
        rows.append(row)
        print(f"{v.name:14s} {row['ms_per_step']:8.1f} {row['steps_per_s']:8.2f} {row['ratio']:6.2f} {v.loss:10.6f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
