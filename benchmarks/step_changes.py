"""A change to the training step timed against the code before it, in one interleaved run.

The old code is the policy modules' source (transformer.py, act.py, backbones.py) and the training
step's (train.py's train_step and make_optimizer, with the bf16 weights it keeps where it has
them) at a git revision (default: where this branch left main): each old variant's modules get
their methods from that source, so old and new run the same weights, batches and dropout draws
in one process. Rounds alternate old and new (ABBA, so
neither always runs first); the ratio is the median over rounds of old time / new time within the
round, which a shared machine's load hits alike. Beside it: the loss after every variant's steps,
and whether old and new fp32 weights are bit-identical (a change meant to move nothing in fp32
must keep them so; in bf16 only rounding may move).

    python -m benchmarks.step_changes [--old REV] [--rounds 12] [--steps 4] [--set KEY=VALUE] --label "what changed"

With --threads 1 (the default) the CPU-time ratio is the work a step does, whatever the load.

Writes results/bench/step_changes.csv (one row per precision, with the load beside it).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import importlib
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

from act_bench.data.dataset import batch_to_torch
from act_bench.data.normalization import NormStats
from act_bench.policies.base import build_policy
from act_bench.policies.config import load_profile
from act_bench.training import train as current_train

from benchmarks.bf16_support import kernels_label, timed_precisions
from benchmarks.flops import autocast_for, write_csv
from benchmarks.load_monitor import LoadMonitor
from benchmarks.train_speed import synthetic_dataset

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "bench" / "step_changes.csv"
FILES = ("act_bench/policies/transformer.py", "act_bench/policies/act.py", "act_bench/policies/backbones.py")
TRAIN_FILE = "act_bench/training/train.py"
OLD_TRAIN_FILE = "act_bench/train.py"  # before the package was grouped into subpackages
# where an older revision's sources import the modules from (its name -> the module today)
OLD_NAMES = {**{f"act_bench.{m}": f"act_bench.storage.{m}" for m in ("layout", "atomic_io", "folder_lock", "paths",
                                                                      "interrupts")},
             **{f"act_bench.{m}": f"act_bench.runtime.{m}" for m in ("device", "threads", "machine", "seeding",
                                                                      "versions", "out_of_memory", "finite_guard")},
             **{f"act_bench.{m}": f"act_bench.training.{m}" for m in ("bf16_weights", "tensorboard_log")},
             "act_bench.train_state": "act_bench.training.state", "act_bench.train_step": "act_bench.training.step",
             "act_bench.video": "act_bench.sim.video"}


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


def old_namespaces(rev: str) -> dict[str, dict]:
    """{module name: namespace of that module's source at rev}, for the policy files."""
    from act_bench.policies import base, registry

    spaces, saved = {}, (registry.register_policy, registry.register_method)
    # the old classes are sources of methods only: they must not replace the registered policies
    registry.register_policy = lambda *a, **k: (lambda cls: cls)
    registry.register_method = lambda *a, **k: None
    registry.build_policy = base.build_policy  # where older revisions' train.py imports it from
    for old, new in OLD_NAMES.items():
        sys.modules.setdefault(old, importlib.import_module(new))
    try:
        for path in FILES:
            name = path.removesuffix(".py").replace("/", ".")
            module = types.ModuleType(f"old_{name}")
            sys.modules[module.__name__] = module  # dataclasses look their module up there
            exec(compile(git("show", f"{rev}:{path}"), f"{rev}:{path}", "exec"), module.__dict__)
            spaces[name] = module.__dict__
        module = types.ModuleType("old_act_bench.train")  # its functions, not classes: used as they are
        sys.modules[module.__name__] = module
        listed = git("ls-tree", "-r", "--name-only", rev, "act_bench").split()
        train_file = TRAIN_FILE if TRAIN_FILE in listed else OLD_TRAIN_FILE
        exec(compile(git("show", f"{rev}:{train_file}"), f"{rev}:{train_file}", "exec"), module.__dict__)
        spaces[TRAIN_FILE] = module.__dict__
    finally:
        registry.register_policy, registry.register_method = saved
        del registry.build_policy
        for old in OLD_NAMES:
            sys.modules.pop(old, None)
    return spaces


def make_old(policy: torch.nn.Module, spaces: dict[str, dict]) -> int:
    """Bind each module's methods to its class's old source (instances keep their weights)."""
    bound = 0
    for module in policy.modules():
        for cls in type(module).__mro__:
            old = spaces.get(cls.__module__, {}).get(cls.__name__)
            if old is None:
                continue
            for attr, fn in vars(old).items():
                if isinstance(fn, types.FunctionType) and attr != "__init__" and attr not in module.__dict__:
                    object.__setattr__(module, attr, types.MethodType(fn, module))
                    bound += 1
    return bound


def paired_ratios(old: list[float], new: list[float]) -> list[float]:
    """old / new time per round (each round times both twice)."""
    return [sum(old[i:i + 2]) / sum(new[i:i + 2]) for i in range(0, len(old), 2)]


class Variant:
    def __init__(self, name: str, prof, data, stats, precision: str, spaces: dict | None):
        torch.manual_seed(0)
        self.name, self.precision = name, precision
        self.policy = build_policy(prof, stats).train()
        if spaces is not None and make_old(self.policy, spaces) == 0:
            raise SystemExit("step_changes.py: no method of the policy was found in the old source")
        train = spaces[TRAIN_FILE] if spaces is not None else vars(current_train)
        self.train_step = train["train_step"]
        self.optimizer = train["make_optimizer"](self.policy, prof.train)
        # bf16 weights kept between steps, where that revision's training keeps them
        keeps = precision == "bf16" and "Bf16Weights" in train
        self.step_args = (train["Bf16Weights"](self.policy),) if keeps else ()
        self.prof, self.data, self.autocast = prof, data, autocast_for(precision)
        self.rng = np.random.default_rng(0)  # the same batches for every variant
        self.torch_rng = torch.get_rng_state()  # and the same dropout draws
        self.times: list[float] = []
        self.cpu_times: list[float] = []  # CPU seconds: under a heavy load, what the step cost rather than waited
        self.loss = float("nan")

    def run(self, steps: int, timed: bool = True) -> None:
        torch.set_rng_state(self.torch_rng)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            batch = batch_to_torch(self.data.sample(self.rng, self.prof.train.batch_size))
            metrics = self.train_step(self.policy, self.optimizer, batch, self.prof.train.grad_clip, self.autocast,
                                      *self.step_args)
        if timed:
            self.times.append((time.perf_counter() - t0) / steps)
            self.cpu_times.append((time.process_time() - c0) / steps)
        self.torch_rng = torch.get_rng_state()
        self.loss = float(metrics["loss"])

    def weights_hash(self) -> str:
        h = hashlib.sha256()
        for k, v in sorted(self.policy.state_dict().items()):
            h.update(k.encode() + v.detach().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]


def new_revision() -> str:
    """HEAD, marked +dirty when act_bench/ has uncommitted changes (read before the timing starts)."""
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if git("status", "--porcelain", "act_bench") else "")


def result_row(args, rev: str, new_rev: str, old: Variant, new: Variant, load, load0: float, load1: float) -> dict:
    """One CSV row: the paired ratios (wall and CPU time), the losses and whether fp32 weights match."""
    row = {"change": args.label, "old_rev": git("rev-parse", "--short", rev), "new_rev": new_rev,
           "profile": args.profile, "chunk_size": old.prof.model.chunk_size, "precision": old.precision,
           "kernels": kernels_label(old.precision), "threads": args.threads}
    for prefix, ratios in (("", paired_ratios(old.times, new.times)),
                           ("cpu_", paired_ratios(old.cpu_times, new.cpu_times))):
        row.update({f"{prefix}ratio_median": round(float(np.median(ratios)), 3),
                    f"{prefix}ratio_q1": round(float(np.quantile(ratios, 0.25)), 3),
                    f"{prefix}ratio_q3": round(float(np.quantile(ratios, 0.75)), 3)})
    # the step's own CPU time (1 thread: the work it does) beside the ratios, in ms
    row.update({"old_cpu_ms": round(1e3 * float(np.median(old.cpu_times)), 1),
                "new_cpu_ms": round(1e3 * float(np.median(new.cpu_times)), 1)})
    return {**row, "rounds": args.rounds, "steps": 2 + args.rounds * 2 * max(1, args.steps // 2),
            "loss_old": round(old.loss, 6), "loss_new": round(new.loss, 6),
            "weights_identical": old.weights_hash() == new.weights_hash(),
            "other_load_cores": None if load is None else round(load, 2),
            "loadavg_start": round(load0, 2), "loadavg_end": round(load1, 2)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", default=None, help="git revision of the old code (default: merge-base with main)")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a profile field, e.g. --set model.chunk_size=50 (repeatable)")
    p.add_argument("--precisions", default="bf16,fp32")
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--steps", type=int, default=4, help="steps per variant per round")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: CPU time is then the work done, whatever the load)")
    p.add_argument("--emulated-bf16", action="store_true",
                   help="time bf16 even on a CPU that only emulates it (its rows say kernels=emulated)")
    p.add_argument("--label", default="", help="what the change is, for the CSV")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args()
    rev = args.old or git("merge-base", "HEAD", "main")
    new_rev = new_revision()
    torch.set_num_threads(args.threads)
    prof = load_profile("act", args.profile, args.overrides)
    data = synthetic_dataset(prof, 400)
    stats = NormStats.from_arrays([data.qpos], [data.actions])
    spaces = old_namespaces(rev)
    pairs = [(Variant(f"old-{pr}", prof, data, stats, pr, spaces), Variant(f"new-{pr}", prof, data, stats, pr, None))
             for pr in timed_precisions([p for p in args.precisions.split(",") if p], args.emulated_bf16,
                                        "step_changes.py")]
    for pair in pairs:
        for v in pair:
            v.run(2, timed=False)  # warm-up
    load0, mon = os.getloadavg()[0], LoadMonitor()
    mon.start()
    for r in range(args.rounds):
        for old, new in pairs:
            for v in ((old, new, new, old) if r % 2 else (new, old, old, new)):
                v.run(max(1, args.steps // 2))
        print(f"round {r + 1}/{args.rounds}: " + "  ".join(
            f"{o.precision} old/new {sum(o.times[-2:]) / sum(n.times[-2:]):.3f} "
            f"(CPU {sum(o.cpu_times[-2:]) / sum(n.cpu_times[-2:]):.3f})" for o, n in pairs), flush=True)
    load, load1 = mon.stop(), os.getloadavg()[0]
    rows = [result_row(args, rev, new_rev, old, new, load, load0, load1) for old, new in pairs]
    for r in rows:
        print(f"{r['precision']}: old/new {r['ratio_median']} (IQR {r['ratio_q1']}-{r['ratio_q3']}; CPU time "
              f"{r['cpu_ratio_median']}, IQR {r['cpu_ratio_q1']}-{r['cpu_ratio_q3']}), loss "
              f"{r['loss_old']} vs {r['loss_new']}, weights identical: {r['weights_identical']}, other load "
              f"{r['other_load_cores']} cores (loadavg {r['loadavg_start']}->{r['loadavg_end']})")
    out = Path(args.out)
    if out.is_file():  # one row per change and precision: a rerun of a change replaces its rows
        with open(out, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["change"] != args.label] + rows
    write_csv(rows, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
