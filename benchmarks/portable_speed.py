"""What bit-identical CPU training across CPU models would cost: the speed of a tiny training
with the library defaults vs. with every CPU-specific code path pinned to the lowest common one
(MKL_CBWR=COMPATIBLE, ATEN_CPU_CAPABILITY=default, ONEDNN_MAX_CPU_ISA=SSE41, oneDNN off,
torch.use_deterministic_algorithms), alternating A/B rounds in one run, with the load of other
processes measured (LoadMonitor). Writes results/bench/portable_speed.csv.

    python -m benchmarks.portable_speed [--rounds 3] [--steps 60] [--threads 1]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.load_monitor import LoadMonitor

REPO = Path(__file__).resolve().parents[1]
PORTABLE = {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
            "ACT_BENCH_PORTABLE": "1"}
CHILD = r"""
import hashlib, json, os, sys, time
import torch
if os.environ.get("ACT_BENCH_PORTABLE"):
    torch.backends.mkldnn.enabled = False          # oneDNN picks kernels by CPU: off
    torch.use_deterministic_algorithms(True)
from act_bench.training.train import TrainOptions, train_policy
data, out, steps, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
marks = {}
def cb(step, row):
    if step in (5, steps):
        marks[step] = time.perf_counter()
from act_bench.policies.config import load_profile
prof = load_profile("act", "ci", [f"train.steps={steps}", f"train.num_threads={threads}",
                                  "train.checkpoint_every=100000", "train.val_every=100000"])
run = train_policy("transfer_cube", "act", prof, 0,
                   TrainOptions(data_dir=data, out_dir=out, progress=False, device="cpu", callback=cb))
digest = hashlib.sha256((run / "checkpoints" / "last.safetensors").read_bytes()).hexdigest()[:12]
print(json.dumps({"steps_per_s": (steps - 5) / (marks[steps] - marks[5]), "weights": digest,
                  "capability": torch.backends.cpu.get_cpu_capability()}))
"""


def _children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(REPO / "results" / "bench" / "portable_speed.csv"))
    args = ap.parse_args()
    from act_bench.runtime import machine
    from act_bench.demos.generate import DemoSettings, generate_demos

    work = Path(tempfile.mkdtemp())
    generate_demos("transfer_cube", 4, work / "demos", DemoSettings(image_size=(48, 64)), progress=False)
    rows = []
    for r in range(args.rounds):
        for mode in ("default", "portable"):
            env = {**os.environ, "PYTHONPATH": str(REPO), **(PORTABLE if mode == "portable" else {})}
            load, t0, c0 = LoadMonitor(), time.perf_counter(), _children_cpu()
            load.start()
            res = subprocess.run([sys.executable, "-c", CHILD, work / "demos", work / f"{mode}{r}", str(args.steps),
                                  str(args.threads)], env=env, capture_output=True, text=True, check=True)
            other = load.stop()  # LoadMonitor leaves out this process, not its children: take those out too
            if other is not None:
                other = max(0.0, other - (_children_cpu() - c0) / (time.perf_counter() - t0))
            rows.append({"round": r, "mode": mode, **json.loads(res.stdout.strip().splitlines()[-1]),
                         "other_load_cores": None if other is None else round(other, 2)})
            print(rows[-1], flush=True)
    mean = {m: sum(x["steps_per_s"] for x in rows if x["mode"] == m) / args.rounds for m in ("default", "portable")}
    info = machine.record(args.threads)
    for row in rows:
        row.update(cpu=info["cpu"], cpu_flags=info["cpu_flags"], threads=args.threads, torch=info["versions"]["torch"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(json.dumps({"portable/default speed": round(mean["portable"] / mean["default"], 3), **mean}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
