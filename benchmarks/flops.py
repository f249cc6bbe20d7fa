"""FLOPs per ACT training step, the rate achieved, and the rate the same kernels reach alone.

For each profile: torch's FLOP counter on one training step (forward, backward; the optimizer
adds no matrix products) splits the step's FLOPs into convolutions and matrix products. Then,
interleaved over --rounds (so the machine's load hits all alike), it times
  - the training step in fp32 and in bf16 autocast (as `act-bench train` runs it),
  - a standalone 2048x2048 matmul and a convolution of the backbone's size (forward and both
    backward products, as training runs them), each in fp32 and bf16,
  - the step's own matrix products and convolutions replayed alone at their own shapes.
The attainable rate is what the step's own FLOP mix would reach at the standalone rates:
FLOPs / (conv FLOPs / conv rate + matrix FLOPs / matmul rate). The fraction is achieved over
attainable: what is lost to small kernels, casts, dropout masks and the rest of the step.
--ops adds the cpu profile's step by kind of op (profiler self time) to flops_ops.csv.
On a CPU without native bf16 the bf16 rows are skipped (--emulated-bf16 times them anyway,
labelled "emulated" in the kernels column, with no fraction of attainable: emulated kernels
would make it meaningless).

    python -m benchmarks.flops [--profiles cpu,paper] [--rounds 5] [--ops]
    python -m benchmarks.flops --threads 1 --clock cpu --ops   # on a shared, loaded machine

Writes results/bench/flops.csv (one row per profile and precision, with the load beside it).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from act_bench.data.dataset import batch_to_torch
from act_bench.data.normalization import NormStats
from act_bench.grid.executors import available_cores
from act_bench.policies.base import build_policy
from act_bench.policies.config import load_profile
from act_bench.training.bf16_weights import Bf16Weights
from act_bench.training.train import make_optimizer, train_step

from benchmarks.bf16_support import kernels_label, timed_precisions
from benchmarks.load_monitor import LoadMonitor
from benchmarks.train_speed import synthetic_dataset

OUT = Path(__file__).resolve().parents[1] / "results" / "bench" / "flops.csv"
OPS_OUT = OUT.with_name("flops_ops.csv")
# the step's time by kind of op (torch.profiler self time): what the attainable rate leaves out
KINDS = {"convolution": ("convolution_backward", "mkldnn_convolution", "convolution", "_convolution"),
         "matrix product": ("mm", "addmm", "bmm", "baddbmm"),
         "cast / copy": ("copy_", "_to_copy", "clone", "cat"),
         "dropout bits": ("random_", "randint", "ge", "clamp_"),
         "softmax": ("_softmax", "_softmax_backward_data"),
         "layer norm": ("native_layer_norm", "native_layer_norm_backward"),
         "optimizer": ("_fused_adamw_", "_foreach_add_", "_foreach_norm", "_foreach_mul_", "linalg_vector_norm")}
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}
CONV_OPS = ("convolution", "convolution_backward")
# per profile: steps per round and most rounds (the paper profile takes seconds a step on 2 cores)
STEPS = {"cpu": 10, "paper": 1}
MAX_ROUNDS = {"paper": 3}


def autocast_for(precision: str):
    if precision == "bf16":
        return lambda: torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext


class Step:
    """One profile's training step in one precision, fed the same synthetic batches (bf16 as
    `act-bench train` runs it: autocast, with the weights kept in bf16 between steps)."""

    def __init__(self, prof, data, stats, precision: str):
        torch.manual_seed(0)
        self.policy = build_policy(prof, stats).train()
        self.optimizer = make_optimizer(self.policy, prof.train)
        self.prof, self.data, self.autocast = prof, data, autocast_for(precision)
        self.weights = Bf16Weights(self.policy) if precision == "bf16" else None
        self.rng = np.random.default_rng(0)

    def batch(self):
        return batch_to_torch(self.data.sample(self.rng, self.prof.train.batch_size))

    def __call__(self) -> None:
        train_step(self.policy, self.optimizer, self.batch(), self.prof.train.grad_clip, self.autocast, self.weights)


def count_flops(step: Step) -> dict[str, float]:
    """{'conv': FLOPs, 'matrix': FLOPs} of one training step (counted in fp32: the count is the same)."""
    batch = step.batch()
    counter = FlopCounterMode(display=False)
    with counter:
        loss, _ = step.policy.compute_loss(batch)
        loss.backward()
    step.policy.zero_grad(set_to_none=True)
    by_op = {str(op).split(".")[-1]: n for op, n in counter.get_flop_counts()["Global"].items()}
    conv = sum(n for op, n in by_op.items() if op in CONV_OPS)
    return {"conv": float(conv), "matrix": float(sum(by_op.values()) - conv)}


def backbone_conv(prof) -> tuple[torch.nn.Conv2d, tuple[int, ...]]:
    """A convolution of the backbone's size and its input shape (the batch as trained)."""
    b, (h, w) = prof.train.batch_size, prof.data.image_size
    if prof.model.backbone == "small_cnn":  # the second layer: layers 2-4 have equal FLOPs
        c_in, c_out, k = prof.model.cnn_channels[0], prof.model.cnn_channels[1], prof.model.cnn_kernel
        return torch.nn.Conv2d(c_in, c_out, k, 2, k // 2), (b, c_in, h // 2, w // 2)
    # resnet18: a layer2 3x3 conv (128 channels at stride 8), the commonest shape of the trunk
    return torch.nn.Conv2d(128, 128, 3, 1, 1, bias=False), (b, 128, h // 8, w // 8)


class Kernel:
    """A standalone kernel: fn() runs it once, flops is what it computes."""

    def __init__(self, fn, flops: float):
        self.fn, self.flops = fn, flops


def matmul_kernel(dtype: torch.dtype, n: int = 2048) -> Kernel:
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    return Kernel(lambda: a @ b, 2.0 * n ** 3)


def conv_kernel(prof, dtype: torch.dtype) -> Kernel:
    conv, shape = backbone_conv(prof)
    conv = conv.to(dtype)
    x = torch.randn(shape).to(dtype).requires_grad_()
    out_shape = conv(x).shape
    # forward + grad input + grad weight: three products of the forward's size
    flops = 3 * 2.0 * out_shape.numel() * conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
    grad = torch.randn(out_shape).to(dtype)

    def fn():
        conv.zero_grad(set_to_none=True)
        x.grad = None
        conv(x).backward(grad)
    return Kernel(fn, flops)


KERNEL_OPS = ("mm", "addmm", "bmm", "baddbmm", "convolution", "convolution_backward")


class KernelRecorder(TorchDispatchMode):
    """Records every matrix product and convolution one step calls (op, arguments as specs)."""

    def __init__(self):
        super().__init__()
        self.calls: list = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ in KERNEL_OPS:
            spec = lambda a: ("tensor", a.shape, a.dtype) if isinstance(a, torch.Tensor) else a  # noqa: E731
            self.calls.append((func, [spec(a) for a in args], {k: spec(v) for k, v in (kwargs or {}).items()}))
        return func(*args, **(kwargs or {}))


def own_shape_kernels(step: Step):
    """A function that runs the step's own matrix products and convolutions alone (the same ops,
    shapes and dtypes, fresh contiguous operands, back to back): the step if nothing else cost."""
    with KernelRecorder() as rec:
        step()
    make = lambda a: torch.randn(a[1]).to(a[2]) if isinstance(a, tuple) and a[:1] == ("tensor",) else a  # noqa: E731
    calls = [(f, [make(a) for a in args], {k: make(v) for k, v in kw.items()}) for f, args, kw in rec.calls]

    def replay():
        for f, args, kw in calls:
            f(*args, **kw)
    return replay


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter  # --clock cpu: CPU seconds (with 1 thread, the work whatever the machine's load)


def timed(fn, reps: int) -> float:
    t0 = clock()
    for _ in range(reps):
        fn()
    return (clock() - t0) / reps


def measure_profile(name: str, rounds: int, precisions: list[str]) -> list[dict]:
    prof = load_profile("act", name, [])
    small = prof.data.image_size[0] * prof.data.image_size[1] <= 256 * 256
    data = synthetic_dataset(prof, 400 if small else 40)
    stats = NormStats.from_arrays([data.qpos], [data.actions])
    steps = {p: Step(prof, data, stats, p) for p in precisions}
    flops = count_flops(steps["fp32"])
    kernels = {(p, kind): k for p, dt in PRECISIONS.items() if p in steps
               for kind, k in (("matmul", matmul_kernel(dt)), ("conv", conv_kernel(prof, dt)))}
    own = {p: own_shape_kernels(step) for p, step in steps.items()}
    for fn in list(steps.values()) + [k.fn for k in kernels.values()] + list(own.values()):
        fn()  # warm-up: oneDNN builds its kernels on first use
    times: dict = {key: [] for key in list(steps) + list(kernels) + [("own", p) for p in steps]}
    n, rounds = STEPS.get(name, 1), min(rounds, MAX_ROUNDS.get(name, rounds))
    mon = LoadMonitor()
    mon.start()
    for r in range(rounds):
        for p, step in steps.items():
            times[p].append(timed(step, n))
        for key, k in kernels.items():
            times[key].append(timed(k.fn, 3))
        for p, replay in own.items():
            times[("own", p)].append(timed(replay, 1))
        print(f"{name} round {r + 1}/{rounds}: " + "  ".join(f"{p} {1e3 * times[p][-1]:.0f} ms" for p in steps),
              flush=True)
    load = mon.stop()
    total = flops["conv"] + flops["matrix"]
    rows = []
    for p in steps:
        t, alone = float(np.median(times[p])), float(np.median(times[("own", p)]))
        native = kernels_label(p) == "native"
        rate = {kind: kernels[(p, kind)].flops / float(np.median(times[(p, kind)])) for kind in ("matmul", "conv")}
        attainable = total / (flops["conv"] / rate["conv"] + flops["matrix"] / rate["matmul"])
        rows.append({"profile": name, "precision": p, "kernels": kernels_label(p),
                     "chunk_size": prof.model.chunk_size, "threads": torch.get_num_threads(),
                     "gflop_per_step": round(total / 1e9, 2), "conv_share": round(flops["conv"] / total, 3),
                     "ms_per_step": round(1e3 * t, 1), "steps_per_s": round(1 / t, 2),
                     "achieved_gflops": round(total / t / 1e9, 1),
                     "matmul2048_gflops": round(rate["matmul"] / 1e9, 1), "conv_gflops": round(rate["conv"] / 1e9, 1),
                     "attainable_gflops": round(attainable / 1e9, 1), "fraction_of_attainable": round(total / t / attainable, 3) if native else None,
                     # the step's own kernels alone: their rate, and their share of the step's time
                     "own_kernels_ms": round(1e3 * alone, 1), "own_kernels_gflops": round(total / alone / 1e9, 1),
                     "own_kernels_share_of_step": round(alone / t, 3),
                     "rounds": rounds, "steps_per_round": n, "clock": "cpu" if clock is time.process_time else "wall",
                     "other_load_cores": None if load is None else round(load, 2),
                     "loadavg": round(os.getloadavg()[0], 2), "torch": torch.__version__})
    return rows


def op_breakdown(name: str, precision: str, steps: int = 3) -> list[dict]:
    """Share of one profile's training step per kind of op (profiler self time over `steps` steps)."""
    from torch.profiler import ProfilerActivity, profile

    prof = load_profile("act", name, [])
    data = synthetic_dataset(prof, 400 if prof.data.image_size[0] <= 256 else 40)
    step = Step(prof, data, NormStats.from_arrays([data.qpos], [data.actions]), precision)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as p:
        for _ in range(steps):
            step()
    times: dict[str, float] = {}
    calls: dict[str, int] = {}
    for e in p.key_averages():
        op = e.key.removeprefix("aten::")
        kind = next((k for k, ops in KINDS.items() if op in ops), "other aten ops (elementwise, views, wrappers)")
        if not e.key.startswith("aten::"):
            kind = "autograd engine, optimizer loop, python"
        times[kind] = times.get(kind, 0.0) + e.self_cpu_time_total
        calls[kind] = calls.get(kind, 0) + (e.count if e.key.startswith("aten::") else 0)
    total = sum(times.values())
    return [{"profile": name, "precision": precision, "kernels": kernels_label(precision), "kind": k, "share": round(t / total, 3),
             "aten_calls_per_step": calls[k] // steps, "threads": torch.get_num_threads()}
            for k, t in sorted(times.items(), key=lambda kv: -kv[1])]


def write_csv(rows: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:  # every row's columns (rows written before a column was added lack it)
        w = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)), restval="")
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profiles", default="cpu,paper")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: one per core given)")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                   help="cpu: time by CPU seconds (use with --threads 1 on a loaded machine)")
    p.add_argument("--ops", action="store_true", help="also the cpu profile's step by kind of op (flops_ops.csv)")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--emulated-bf16", action="store_true",
                   help="time bf16 even on a CPU that only emulates it (labelled; no fraction of attainable)")
    args = p.parse_args()
    if args.rounds < 1:
        raise SystemExit("flops.py: --rounds must be >= 1")
    torch.set_num_threads(args.threads or available_cores())
    global clock
    clock = CLOCKS[args.clock]
    precisions = timed_precisions([p for p in args.precisions.split(",") if p], args.emulated_bf16, "flops.py")
    unknown = set(precisions) - set(PRECISIONS)
    if unknown or not precisions:
        raise SystemExit(f"flops.py: --precisions takes {', '.join(PRECISIONS)}")
    rows = [row for name in args.profiles.split(",") if name for row in measure_profile(name, args.rounds, precisions)]
    print(f"\n{'profile':8s} {'prec':5s} {'GFLOP':>6s} {'steps/s':>8s} {'GFLOP/s':>8s} {'attain':>7s} {'frac':>6s} "
          f"{'mm2048':>7s} {'conv':>6s} load")
    for r in rows:
        frac = "-" if r["fraction_of_attainable"] is None else f"{r['fraction_of_attainable']:.3f}"
        print(f"{r['profile']:8s} {r['precision']:5s} {r['gflop_per_step']:6.1f} {r['steps_per_s']:8.2f} "
              f"{r['achieved_gflops']:8.1f} {r['attainable_gflops']:7.1f} {frac:>6s} "
              f"{r['matmul2048_gflops']:7.1f} {r['conv_gflops']:6.1f} {r['other_load_cores']}")
    write_csv(rows, Path(args.out))
    print(f"wrote {args.out}")
    if args.ops:
        ops = [r for pr in precisions for r in op_breakdown("cpu", pr)]
        for r in ops:
            print(f"{r['precision']:5s} {r['kind']:32s} {100 * r['share']:5.1f}%  {r['aten_calls_per_step']} calls/step")
        write_csv(ops, Path(args.out).with_name(OPS_OUT.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
