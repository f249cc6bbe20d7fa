"""Fingerprint what the code base measures, through the CLI only, and compare it with a record.

    python scripts/invariance.py --check  [--record tests/data/invariance.json]
    python scripts/invariance.py --write  (re-record; only when a change is meant to move numbers)

It records two tiny demo sets (content hashes), trains a ci-profile ACT and BC for a few dozen
steps (the loss curve, bit for bit as printed by metrics.csv) and evaluates them as act,
act-no-te and bc (per-episode stages, lengths and query counts). A refactor must leave every
one of these unchanged on the same machine. About a minute on 2 cores.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECORD = REPO / "tests" / "data" / "invariance.json"
TRAIN_SET = ["train.steps=40", "train.log_every=10", "train.val_every=20", "train.checkpoint_every=20",
             "train.num_threads=1"]
# the loss terms each policy logs (BC has no KL term)
METRIC_KEYS = {"act": ("step", "train_loss", "l1", "kl", "val_loss", "val_l1", "val_kl"),
               "bc": ("step", "train_loss", "val_loss")}
EPISODE_KEYS = ("episode", "seed", "max_stage", "success", "length", "queries")


def _cli(*args: str, cwd: Path) -> None:
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "act_bench.cli", *args]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")


def _rows(path: Path, keys) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: r[k] for k in keys} for r in csv.DictReader(f)]


def fingerprint(work: Path) -> dict:
    out: dict = {"demos": {}, "training": {}, "eval": {}}
    demo_dirs = {}
    for task in ("transfer_cube", "insertion"):
        demo_dirs[task] = work / "demos" / task
        _cli("generate-demos", "--task", task, "--episodes", "3", "--image-size", "48x64", "--workers", "1",
             "--out", str(demo_dirs[task]), cwd=work)
        manifest = json.loads((demo_dirs[task] / "manifest.json").read_text())
        out["demos"][task] = {"seeds": manifest["seeds"], "content_hashes": manifest["content_hashes"]}
    for policy, methods in (("act", ("act", "act-no-te")), ("bc", ("bc",))):
        run = work / "runs" / policy
        sets = [a for kv in TRAIN_SET for a in ("--set", kv)]
        _cli("train", "--task", "transfer_cube", "--method", policy, "--profile", "ci", "--data",
             str(demo_dirs["transfer_cube"]), "--out", str(run), "--no-progress", *sets, cwd=work)
        weights = json.loads((run / "checkpoints" / "last.json").read_text())["sha256"]
        out["training"][policy] = {"metrics": _rows(run / "metrics.csv", METRIC_KEYS[policy]),
                                   "last_weights_sha256": weights}
        for method in methods:
            ev = work / "evals" / method
            _cli("eval", "--run", str(run), "--method", method, "--episodes", "2", "--videos", "0",
                 "--out", str(ev), "--no-progress", cwd=work)
            out["eval"][method] = _rows(ev / "episodes.csv", EPISODE_KEYS)
    return out


def machine() -> dict:
    """What the fingerprint depends on besides the code: float results differ across CPU models
    and library versions, so a record is only compared on the machine kind that made it."""
    import platform
    from importlib.metadata import version

    import hashlib

    cpu, flags = platform.processor(), ""
    try:
        info = open("/proc/cpuinfo").read().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
        flags = next(line.split(":", 1)[1] for line in info if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    # the instruction sets decide which kernels torch and numpy pick, and so the rounding
    isa = hashlib.sha256(" ".join(sorted(flags.split())).encode()).hexdigest()[:16]
    return {"cpu": cpu, "cpu_flags_sha256": isa, **{p: version(p) for p in ("torch", "mujoco", "numpy")}}


def _differences(a, b, prefix=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            yield from _differences(a.get(k), b.get(k), f"{prefix}{k}.")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from _differences(x, y, f"{prefix}{i}.")
    elif a != b:
        yield f"{prefix.rstrip('.')}: recorded {a!r}, now {b!r}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--write", action="store_true")
    p.add_argument("--record", default=str(RECORD))
    args = p.parse_args(argv)
    record = Path(args.record)
    if args.check:
        recorded_on = json.loads(record.read_text()).get("machine")
        if recorded_on != machine():
            print(f"skipped: recorded on {recorded_on}, this is {machine()}")
            return 0
    with tempfile.TemporaryDirectory() as tmp:
        now = {"machine": machine(), **fingerprint(Path(tmp))}
    if args.write:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(now, indent=1) + "\n")
        print(f"recorded {record}")
        return 0
    diffs = list(_differences(json.loads(record.read_text()), now))
    for d in diffs[:20]:
        print(d)
    print("unchanged" if not diffs else f"{len(diffs)} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
