"""`act-bench remote`: a grid's trainings on a borrowed GPU machine, evaluated at home.

A GPU machine may be had for minutes only and may not reach the network, and evaluation belongs on the
machine the demos were recorded on. So `remote` splits `act-bench run` (or a sweep's trainings) in two:

    act-bench remote train --tasks T --methods act,bc --seeds 0,1,2 --profile cpu \\
        --demos-root D --runs-root R [--parallel 6] [--deadline-s 480]     # there: trains only
    act-bench remote pack --runs-root R --out runs.tar.gz                   # there: finished runs
    act-bench remote unpack runs.tar.gz --runs-root R                       # here
    act-bench run --tasks T --methods act,bc --seeds 0,1,2 --runs-root R ...  # finds them trained: evaluates

A sweep's trainings: `remote train ... --param model.chunk_size=1,10,100` trains every point's runs
in the folders `act-bench sweep` uses (same --param), and `sweep` at home then only evaluates.

`train` plans like `act-bench run` (same run folders, same checks of an existing run's config
and demos; missing demos are recorded first, but carry the home ones: the run's config records
their hash and `run` here checks it) and runs up to --parallel `act-bench train` processes at
once, each pinned to its own share of the cores and on CUDA when present. Past --deadline-s it
interrupts those still training; they resume where they stopped when the command is rerun.
Packing: act_bench/grid/run_pack.py.
"""
from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from act_bench.errors import ActBenchError
from act_bench.grid.plan import DEFAULT_DEMOS, Grid, Plan, TrainJob, make_plan, parse_list, parse_seeds
from act_bench.grid.run import ActBackend
from act_bench.grid.run_pack import pack_runs, unpack_runs
from act_bench.grid.sweep import plan_sweep
from act_bench.grid.sweep_params import parse_params
from act_bench.runtime.device import DEVICES
from act_bench.runtime.threads import ENV as THREADS_ENV
from act_bench.runtime.threads import machine_cores
from act_bench.storage.layout import RUN_METRICS

LOG = "remote-train.log"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    t = sub.add_parser("train", help="train a grid's runs here, several at once (no evaluation)")
    t.add_argument("--methods", default="act,act-no-te,bc")
    t.add_argument("--tasks", required=True)
    t.add_argument("--seeds", default="0")
    t.add_argument("--profile", default="cpu")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    t.add_argument("--demos-root", default="demos")
    t.add_argument("--runs-root", default="runs")
    t.add_argument("--demos", type=int, default=DEFAULT_DEMOS, help="scripted demonstrations per task")
    t.add_argument("--demo-seed", type=int, default=0)
    t.add_argument("--demo-style", default="scripted", help="scripted or human (human-like), as in `run`")
    t.add_argument("--param", dest="params", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a sweep's points, as in `act-bench sweep` (repeatable): their runs are trained")
    t.add_argument("--device", default="auto", choices=DEVICES)
    t.add_argument("--parallel", type=int, default=0, help="trainings at once (default: one per 2 cores)")
    t.add_argument("--deadline-s", type=float, default=0, help="interrupt what still trains after this (0: never)")
    p = sub.add_parser("pack", help="the finished runs under --runs-root as one tarball")
    p.add_argument("--runs-root", default="runs")
    p.add_argument("--out", required=True, help="the tarball to write (e.g. runs.tar.gz)")
    u = sub.add_parser("unpack", help="place a packed tarball's runs under --runs-root")
    u.add_argument("tarball")
    u.add_argument("--runs-root", default="runs")
    u.add_argument("--replace-unfinished", action="store_true",
                   help="a run folder here that never finished gives way to the finished one")


def main(args: argparse.Namespace) -> int:
    if args.stage == "pack":
        runs = pack_runs(args.runs_root, args.out)
        print(f"packed {len(runs)} finished runs into {args.out}")
        return 0
    if args.stage == "unpack":
        for rel, action in unpack_runs(args.tarball, args.runs_root, args.replace_unfinished).items():
            print(f"{rel}: {action}")
        return 0
    return train_grid(args)


def _grid(args) -> Grid:
    grid = Grid(methods=tuple(parse_list(args.methods, "methods")), tasks=tuple(parse_list(args.tasks, "tasks")),
                seeds=tuple(parse_seeds(args.seeds)), profile=args.profile, demos=args.demos,
                demo_seed=args.demo_seed, demos_root=Path(args.demos_root), runs_root=Path(args.runs_root),
                device=args.device, overrides=tuple(args.overrides), demo_style=args.demo_style)
    grid.check()
    return grid


def train_grid(args, backend=None) -> int:
    """Train every run of the grid that is not finished; 0 when all are, 1 otherwise."""
    if args.parallel < 0 or args.deadline_s < 0:
        raise ActBenchError("--parallel and --deadline-s must be >= 0")
    grid, backend = _grid(args), backend or ActBackend()
    plan = _plan(grid, args.params, backend)
    for job in plan.demos:
        from act_bench.demos.generate import DemoSettings

        print(f"generating {job.episodes} {job.task} demos in {job.data_dir}", file=sys.stderr)
        backend.generate_demos(job.task, job.episodes, job.data_dir, DemoSettings(job.seed, job.cameras, job.image_size),
                               machine_cores(), False)
    for key, run_dir in plan.run_dirs.items():  # another training in a run folder stops us here
        *_, t, p, s = key
        backend.check_run(run_dir, t, p, plan.profiles[key], s, plan.data_dirs[key[:-1]], grid.demos)
    jobs = list(plan.trainings.values())
    done = len(plan.run_dirs) - len(jobs)
    print(f"{len(jobs)} trainings to do, {done} already finished", flush=True)
    finished = run_jobs(jobs, args.parallel or max(1, machine_cores() // 2), args.deadline_s)
    print(f"{done + finished}/{len(plan.run_dirs)} runs finished; `act-bench remote pack` brings them home")
    return 0 if done + finished == len(plan.run_dirs) else 1


def _plan(grid: Grid, params: list[str], backend) -> Plan:
    """run's plan, or with --param the sweep's (every point's runs, in the sweep's folders)."""
    if params:
        return plan_sweep(grid, parse_params(params, grid.overrides), backend, progress=False)
    profiles = {p: backend.load_profile(p, grid.profile, list(grid.overrides) or None) for p in grid.policies}
    return make_plan(grid, profiles, progress=False)


def core_shares(parallel: int) -> list[set[int]]:
    """`parallel` disjoint sets of this process's cores (as even as they go)."""
    cores = sorted(os.sched_getaffinity(0))
    parallel = min(parallel, len(cores))
    per = len(cores) // parallel
    return [set(cores[i * per:(i + 1) * per]) for i in range(parallel)]


def train_command(job: TrainJob) -> list[str]:
    cmd = [sys.executable, "-m", "act_bench.cli", "train", "--task", job.task, "--policy", job.policy,
           "--profile", job.profile, "--seed", str(job.seed), "--data", str(job.data_dir), "--out", str(job.run_dir),
           "--device", job.device, "--episodes", str(job.episodes), "--no-progress"]
    for item in job.overrides:
        cmd += ["--set", item]
    return cmd


def _launch(job: TrainJob, cores: set[int]) -> subprocess.Popen:
    """One `act-bench train` on its own cores (its torch threads: as many), output to the run's log."""
    Path(job.run_dir).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, THREADS_ENV: str(len(cores)), "OMP_NUM_THREADS": str(len(cores))}
    with open(Path(job.run_dir) / LOG, "a") as log:
        return subprocess.Popen(train_command(job), stdout=log, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=lambda: os.sched_setaffinity(0, cores))


def run_jobs(jobs: list[TrainJob], parallel: int, deadline_s: float, poll_s: float = 2.0) -> int:
    """Run the trainings, `parallel` at a time; returns how many finished (exit 0)."""
    shares, queue, running = core_shares(parallel), list(jobs), {}
    start, finished, last_report = time.monotonic(), 0, 0.0
    while queue or running:
        for i, share in enumerate(shares):
            if queue and i not in running:
                job = queue.pop(0)
                running[i] = (job, _launch(job, share))
        time.sleep(poll_s)
        for i, (job, proc) in list(running.items()):
            if proc.poll() is not None:
                del running[i]
                finished += proc.returncode == 0
                print(f"{_label(job)}: {'finished' if proc.returncode == 0 else f'exit {proc.returncode}, see ' + str(Path(job.run_dir) / LOG)}",
                      flush=True)
        elapsed = time.monotonic() - start
        if elapsed - last_report >= 30 and running:
            last_report = elapsed
            print(f"[{elapsed:5.0f} s] " + "  ".join(f"{_label(j)}@{_last_step(j.run_dir)}" for j, _ in running.values()),
                  flush=True)
        if deadline_s and elapsed > deadline_s and (running or queue):
            _interrupt([proc for _, proc in running.values()])
            for job, _ in running.values():
                print(f"{_label(job)}: interrupted at step {_last_step(job.run_dir)} (rerun to resume)")
            print(f"deadline: {len(queue)} trainings not started", flush=True)
            break
    return finished


def _interrupt(procs: list[subprocess.Popen], grace_s: float = 30.0) -> None:
    """SIGINT (training stops as on Ctrl-C, resumable), then a kill for any that outlast the grace."""
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    end = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _label(job: TrainJob) -> str:
    return f"{job.task}/{job.policy}/seed{job.seed}"


def _last_step(run_dir: Path) -> int:
    try:
        with open(Path(run_dir) / RUN_METRICS, newline="") as f:
            rows = list(csv.DictReader(f))
        return int(rows[-1]["step"]) if rows else 0
    except (OSError, KeyError, ValueError):
        return 0
