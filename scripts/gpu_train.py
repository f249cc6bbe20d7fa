"""Train several runs at once on one lent GPU machine, then bring them home to be evaluated.

A GPU machine is lent to us for minutes, not hours, and it cannot reach the network. So this
script does only the training there: one `act-bench train` process per run, each pinned to its
own cores (so each sets its own thread count, as in the local pool), all sharing the GPU; past
--deadline-s it stops whatever is still running. `pack` then puts each finished run's best
checkpoint and its small files (config, metrics, done marker, log) into a folder that comes back
in a few files. At home, `unpack` lays them out under a runs root, where `act-bench run` finds
them trained and only evaluates (on our CPUs, with the same renderer the demos were made with).

    python scripts/gpu_train.py train --tasks transfer_cube,insertion --policy act --profile cpu \
        --seeds 0,1,2 --demos-root /work/jobs/demos --runs-root /work/jobs/runs --deadline-s 480
    python scripts/gpu_train.py pack --runs-root /work/jobs/runs --out $OUT
    python scripts/gpu_train.py unpack --packed DIR --runs-root /work/jobs/runs-v1
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

SMALL_FILES = ("config.json", "done.json", "metrics.csv", "checkpoints/best.json", "train.log")
CLI = "import sys; from act_bench.cli import main; sys.exit(main())"


def run_dirs(runs_root: Path):
    """Every run folder under runs_root (one holding config.json)."""
    return sorted(p.parent for p in runs_root.glob("*/*/*/seed*/config.json"))


def last_step(run: Path) -> int:
    try:
        rows = list(csv.DictReader(open(run / "metrics.csv", newline="")))
        return int(rows[-1]["step"]) if rows else 0
    except (OSError, KeyError, ValueError):
        return 0


def train(args) -> int:
    tasks, seeds = args.tasks.split(","), [int(s) for s in args.seeds.split(",")]
    cores = sorted(os.sched_getaffinity(0))
    slots = [set(cores[i * args.cores_per_job:(i + 1) * args.cores_per_job]) for i in range(args.parallel)]
    if any(len(s) < args.cores_per_job for s in slots):
        sys.exit(f"gpu_train: {args.parallel} jobs x {args.cores_per_job} cores > {len(cores)} cores")
    queue = [(t, s) for s in seeds for t in tasks]  # seed-major: whole seeds finish first
    running, finished = {}, {}
    start = time.monotonic()
    while queue or running:
        for slot in slots:  # fill free slots
            if queue and not any(slot is sl for _, sl in running.values()):
                task, seed = queue.pop(0)
                running[(task, seed)] = (_launch(args, task, seed, slot), slot)
        time.sleep(10)
        for key, (proc, _) in list(running.items()):
            if proc.poll() is not None:
                finished[key] = running.pop(key)[0]
        elapsed = time.monotonic() - start
        print(f"[{elapsed:4.0f} s] " + "  ".join(f"{t[:6]}/s{s}:{last_step(_out(args, t, s))}" for t, s in running),
              flush=True)
        if elapsed > args.deadline_s:
            for proc, _ in running.values():
                proc.terminate()
            for key, (proc, _) in running.items():
                proc.wait()
                finished[key] = proc
            break
    ok = 0
    for (task, seed), proc in finished.items():
        out = _out(args, task, seed)
        done = (out / "done.json").is_file()
        ok += done
        print(f"{task} seed{seed}: rc {proc.returncode}, {'done' if done else 'unfinished'} at step {last_step(out)}")
        if not done:
            print((out / "train.log").read_text()[-1500:])
    print(f"{ok}/{len(tasks) * len(seeds)} runs finished in {time.monotonic() - start:.0f} s")
    return 0 if ok == len(tasks) * len(seeds) else 1


def _out(args, task: str, seed: int) -> Path:
    return Path(args.runs_root) / task / args.policy / args.profile / f"seed{seed}"


def _launch(args, task: str, seed: int, cores: set[int]) -> subprocess.Popen:
    """One `act-bench train` process, pinned to `cores` (it takes its thread count from them)."""
    out = _out(args, task, seed)
    out.mkdir(parents=True, exist_ok=True)
    data = next(Path(args.demos_root).glob(f"{task}_*"))
    cmd = [sys.executable, "-c", CLI, "train", "--task", task, "--policy", args.policy, "--profile", args.profile,
           "--seed", str(seed), "--data", str(data), "--out", str(out), "--device", args.device, "--no-progress"]
    log = open(out / "train.log", "w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=lambda: os.sched_setaffinity(0, cores))


def pack(args) -> int:
    """Finished runs -> OUT/{task}.{method}.{profile}.seed{S}.safetensors + OUT/runs-meta.tar.gz."""
    root, out = Path(args.runs_root), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / "runs-meta.tar.gz", "w:gz") as tar:
        for run in run_dirs(root):
            rel = run.relative_to(root)
            for name in SMALL_FILES:
                if (run / name).is_file():
                    tar.add(run / name, arcname=str(rel / name))
            best = run / "checkpoints" / "best.safetensors"
            if (run / "done.json").is_file() and best.is_file():
                shutil.copy(best, out / (".".join(rel.parts) + ".safetensors"))
    print(sorted(p.name for p in out.iterdir()))
    return 0


def unpack(args) -> int:
    """The reverse of pack: runs with a checkpoint get their folders back under --runs-root."""
    src, root = Path(args.packed), Path(args.runs_root)
    runs = {ckpt.name.removesuffix(".safetensors").replace(".", "/"): ckpt for ckpt in src.glob("*.safetensors")}
    with tarfile.open(src / "runs-meta.tar.gz") as tar:  # only finished runs: the rest train here
        tar.extractall(root, members=[m for m in tar.getmembers() if str(Path(m.name).parent).removesuffix(
            "/checkpoints") in runs], filter="data")
    for rel, ckpt in runs.items():
        shutil.copy(ckpt, root / rel / "checkpoints" / "best.safetensors")
        print(f"{root / rel}: trained to step {last_step(root / rel)}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--tasks", required=True)
    t.add_argument("--policy", "--method", dest="policy", default="act", help="the policy to train (--method: its older name)")
    t.add_argument("--profile", default="cpu")
    t.add_argument("--seeds", default="0,1,2")
    t.add_argument("--demos-root", required=True)
    t.add_argument("--runs-root", required=True)
    t.add_argument("--device", default="cuda")
    t.add_argument("--cores-per-job", type=int, default=2)
    t.add_argument("--parallel", type=int, default=6, help="runs trained at once")
    t.add_argument("--deadline-s", type=float, default=480)
    p = sub.add_parser("pack")
    p.add_argument("--runs-root", required=True)
    p.add_argument("--out", required=True)
    u = sub.add_parser("unpack")
    u.add_argument("--packed", required=True)
    u.add_argument("--runs-root", required=True)
    args = ap.parse_args()
    return {"train": train, "pack": pack, "unpack": unpack}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
