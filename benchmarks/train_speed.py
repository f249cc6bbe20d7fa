"""Training steps/s, samples/s and batch-1 inference latency of each method and size profile.

Runs the real training step (batch sampling from uint8 frames in memory, AdamW, clipping) on
small synthetic data, so it needs no demos. The paper profile is slow on a CPU; skip it with
--profiles cpu,ci. Other processes' CPU use during each measurement is printed too: on a shared
2-core machine it explains slow numbers.

    python -m benchmarks.train_speed --profiles cpu,ci
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from act_bench.data.dataset import ChunkDataset, batch_to_torch
from act_bench.data.normalization import NormStats
from act_bench.grid.executors import available_cores
from act_bench.policies.base import build_policy
from act_bench.policies.config import load_profile
from act_bench.policies.registry import policy_names
from act_bench.runtime.device import resolve_device
from act_bench.training.bf16_weights import Bf16Weights
from act_bench.training.train import autocast_context, make_optimizer, resolve_amp, train_step

from benchmarks.load_monitor import LoadMonitor

# the bar set for the cpu profile on a 2-core machine
CPU_TARGET_STEPS_PER_S = 7.0
CPU_TARGET_INFER_MS = 10.0


def synthetic_dataset(prof, frames: int, seed: int = 0) -> ChunkDataset:
    rng = np.random.default_rng(seed)
    h, w = prof.data.image_size
    n_cam = len(prof.data.cameras)
    half = frames // 2
    ends = np.concatenate([np.full(half, half), np.full(frames - half, frames)])
    return ChunkDataset(rng.normal(size=(frames, 14)).astype(np.float32),
                        rng.normal(size=(frames, 14)).astype(np.float32),
                        rng.integers(0, 256, size=(frames, n_cam, h, w, 3), dtype=np.uint8),
                        ends, prof.model.chunk_size, prof.data.cameras, prof.model.observation_steps())


def measure(method: str, profile: str, device: torch.device, seconds: float, min_steps: int,
            overrides: list[str]) -> dict:
    prof = load_profile(method, profile, overrides)
    torch.manual_seed(0)
    small = prof.data.image_size[0] * prof.data.image_size[1] <= 256 * 256
    data = synthetic_dataset(prof, frames=400 if small else 100)  # 100 frames at 480x640: 92 MB
    stats = NormStats.from_arrays([data.qpos], [data.actions])
    policy = build_policy(prof, stats).to(device).train()
    optimizer = make_optimizer(policy, prof.train)
    amp = resolve_amp(prof.train.amp, device)  # as `act-bench train` runs the profile ("auto" resolved)
    precision = (autocast_context(device, amp), Bf16Weights(policy) if amp == "bf16" else None)
    rng = np.random.default_rng(0)
    b = prof.train.batch_size

    def step():
        train_step(policy, optimizer, batch_to_torch(data.sample(rng, b), device), prof.train.grad_clip, *precision)

    def sync():
        torch.cuda.synchronize() if device.type == "cuda" else None

    for _ in range(2):
        step()
    sync()
    mon = LoadMonitor()
    mon.start()
    t0, n = time.perf_counter(), 0
    while n < min_steps or time.perf_counter() - t0 < seconds:
        step()
        n += 1
        if n % 10 == 0:
            sync()
    sync()
    train_s = (time.perf_counter() - t0) / n
    train_load = mon.stop()

    policy.eval()
    h, w = prof.data.image_size
    first = data.get_batch(np.array([0]))  # with the policy's observation history, if it reads one
    qpos, images = torch.as_tensor(first["qpos"]), torch.as_tensor(first["images"])
    for _ in range(5):
        policy.predict_chunk(qpos, images)
    sync()
    lat = []
    mon.start()
    t_end = time.perf_counter() + max(2.0, seconds / 4)
    while len(lat) < 20 or (time.perf_counter() < t_end and len(lat) < 500):
        t = time.perf_counter()
        policy.predict_chunk(qpos, images)
        sync()
        lat.append(time.perf_counter() - t)
    infer_load = mon.stop()
    return {
        "profile": profile, "method": method, "device": str(device), "threads": torch.get_num_threads(), "amp": amp,
        "batch": b, "image_size": [h, w], "params_m": sum(p.numel() for p in policy.parameters()) / 1e6,
        "steps_timed": n, "steps_per_s": 1.0 / train_s, "samples_per_s": b / train_s,
        "steps_per_hour": 3600.0 / train_s, "infer_ms_median": 1e3 * float(np.median(lat)),
        "infer_ms_p90": 1e3 * float(np.percentile(lat, 90)), "other_load_cores": train_load,
        "other_load_cores_infer": infer_load, "configured_steps": prof.train.steps,
        "est_train_minutes": prof.train.steps * train_s / 60.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="cpu,ci,paper", help="comma-separated (default: cpu,ci,paper)")
    parser.add_argument("--methods", default=",".join(policy_names()), help="comma-separated policies (default: all)")
    parser.add_argument("--seconds", type=float, default=15.0, help="time spent training per measurement")
    parser.add_argument("--min-steps", type=int, default=3)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: one per core)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    torch.set_num_threads(args.threads or available_cores())
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, "
          f"{available_cores()} cores available")
    header = (f"{'profile':7s} {'method':12s} {'batch':>5s} {'steps/s':>8s} {'samples/s':>9s} {'steps/h':>8s} "
              f"{'infer ms':>8s} {'p90':>6s} {'params':>7s} {'train min':>9s} {'others':>6s}")
    print(header)
    results = []
    for profile in [p.strip() for p in args.profiles.split(",") if p.strip()]:
        for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
            r = measure(method, profile, device, args.seconds, args.min_steps, args.overrides)
            results.append(r)
            load = "-" if r["other_load_cores"] is None else f"{r['other_load_cores']:.2f}"
            flag = ""
            if profile == "cpu" and device.type == "cpu" and method.startswith("act"):
                ok = r["steps_per_s"] >= CPU_TARGET_STEPS_PER_S and r["infer_ms_median"] <= CPU_TARGET_INFER_MS
                flag = "  target met" if ok else "  BELOW TARGET (>= 7 steps/s, <= 10 ms)"
            print(f"{profile:7s} {method:12s} {r['batch']:5d} {r['steps_per_s']:8.2f} {r['samples_per_s']:9.1f} "
                  f"{r['steps_per_hour']:8.0f} {r['infer_ms_median']:8.2f} {r['infer_ms_p90']:6.2f} "
                  f"{r['params_m']:6.2f}M {r['est_train_minutes']:9.1f} {load:>6s}{flag}", flush=True)
    print("train min = the profile's train.steps at this speed; others = CPU cores used by other "
          "processes while timing training")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
