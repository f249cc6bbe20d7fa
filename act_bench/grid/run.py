"""The whole benchmark: `act-bench run`.

For every task it makes the demonstrations (once per data setting), trains every
(task, policy, seed) once (act and act-no-te share the trained ACT), evaluates every
(task, method, seed) (a bound, such as the scripted expert, at once: it needs no training),
then writes results.csv, summary.md, plots and report.html into --out and prints the summary
table. Finished pieces have done markers (see layout.py), so a rerun
skips them and an interrupted run resumes. Three steps: plan (plan.py, pure), execute (inline,
a local process pool or Ray: executors.py) and collect (collect.py).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import functools
import sys
import time
import traceback
from pathlib import Path

from act_bench.errors import ActBenchError
from act_bench.evaluation.evaluate import EvalSpec
from act_bench.evaluation.setup import evaluate_bound, evaluate_run
from act_bench.grid.collect import collect, copy_training_metrics
from act_bench.grid.executors import EXECUTORS, available_cores, make_executor
from act_bench.grid.plan import (CHECKPOINTS, DEFAULT_DEMOS, EvalJob, Grid, Plan, TrainJob, make_plan, parse_list,
                                 parse_seeds)
from act_bench.grid.sweep_params import execution_for
from act_bench.policies.config import load_profile
from act_bench.policies.registry import bound_names, method_names
from act_bench.runtime.device import DEVICES, resolve_device
from act_bench.storage import folder_lock, interrupts, layout
from act_bench.storage.atomic_io import write_bytes, write_json
from act_bench.tasks.registry import default_task_names, task_names


class ActBackend:
    """The real pieces, imported lazily (tests pass a fake backend with the same methods)."""

    def load_profile(self, policy, profile, overrides=None):
        return load_profile(policy, profile, overrides)

    def check_run(self, run_dir, task, policy, cfg, seed, data_dir=None, episodes=None):
        from act_bench.data.dataset import episode_paths
        from act_bench.data.provenance import demo_record
        from act_bench.training.state import check_run_dir

        check_run_dir(run_dir, task, policy, cfg, seed)  # the config first: it needs no demos read
        if data_dir is not None:  # a partial demo folder stops the run here, not cell by cell
            episode_paths(data_dir)
        if data_dir is not None and (Path(run_dir) / layout.RUN_CONFIG).is_file():
            check_run_dir(run_dir, task, policy, cfg, seed, demo_record(data_dir, episodes))

    def generate_demos(self, *args, **kwargs):
        from act_bench.demos.generate import generate_demos

        return generate_demos(*args, **kwargs)

    def train_policy(self, *args, **kwargs):
        from act_bench.training.train import train_policy

        return train_policy(*args, **kwargs)

    def load_policy(self, path, device="cpu"):
        from act_bench.policies import load_policy

        return load_policy(path, device=device)

    def make_env(self, *args, **kwargs):
        from act_bench.envs import make_env

        return make_env(*args, **kwargs)


# ---------------------------------------------------------------- jobs (run in workers)
def train_job(backend, job: TrainJob) -> str:
    from act_bench.training.train import TrainOptions

    options = TrainOptions(data_dir=job.data_dir, out_dir=job.run_dir, overrides=list(job.overrides) or None,
                           resume=True, progress=job.progress, device=job.device, episodes=job.episodes)
    run_dir = backend.train_policy(job.task, job.policy, job.profile, job.seed, options)
    return str(run_dir or job.run_dir)


def eval_job(backend, job: EvalJob) -> dict:
    if job.run_dir is None:  # a bound: no trained policy to load
        spec = EvalSpec(job.task, job.method, job.seed, job.episodes, job.eval_dir, videos=job.videos, fresh=True)
        return evaluate_bound(spec, env_factory=backend.make_env, progress=job.progress)
    policy = backend.load_policy(job.policy_path, device=str(resolve_device(job.device)))
    # fresh: results of an older checkpoint of this run (retrained since) are discarded
    spec = EvalSpec(job.task, job.method, job.seed, job.episodes, job.eval_dir, videos=job.videos, fresh=True)
    execution = None
    if job.execution:  # a sweep point's eval-only settings, over those the policy was trained with

        execution = execution_for(policy, job.method, job.execution)
    return evaluate_run(policy, spec, job.policy_path, execution=execution, env_factory=backend.make_env,
                        progress=job.progress)


def timed_job(fn, backend, job) -> tuple:
    """(fn's result, its wall seconds in the worker): the grid's time split by job kind."""
    start = time.perf_counter()
    return fn(backend, job), time.perf_counter() - start


# ---------------------------------------------------------------- the three steps
def run_benchmark(grid: Grid, backend=None, progress: bool = True) -> dict:
    """Run the benchmark grid; returns {"results": DataFrame, "failures": [...], "report": {...}}."""
    grid.check()
    backend = backend or ActBackend()
    profiles = {p: backend.load_profile(p, grid.profile, list(grid.overrides) or None) for p in grid.policies}
    plan = make_plan(grid, profiles, progress=progress)
    invocation = {**grid.record(plan.episodes),
                  **({"demo_style": grid.demo_style} if grid.demo_style != "scripted" else {})}
    return run_plan(grid, plan, backend, progress, (grid.out / layout.RUN_RECORD, invocation), collect)


def run_plan(grid: Grid, plan: Plan, backend, progress: bool, record: tuple[Path, dict], collect_fn) -> dict:
    """The steps after planning, shared by run and sweep: make the demos, check the run folders,
    execute, then collect_fn(grid, plan, failures); record = (the JSON file logging each
    invocation into this results folder, this invocation's settings)."""
    path, invocation = record
    pool = make_executor(grid.executor, grid.jobs)  # first: a missing Ray stops the run before it writes anything
    start = time.perf_counter()
    # A rerun that finds everything done leaves the folder's record as it was (a resumed study
    # reruns finished steps: their log would fill with empty entries, the real timing be lost).
    logged = bool(plan.demos or plan.trainings or plan.evals) or not path.exists()
    before = path.read_bytes() if path.exists() else None
    try:
        _record_invocation(path, {**invocation, "updated": time.strftime("%Y-%m-%d %H:%M:%S")}, write=logged)
        for job in plan.demos:  # in this process, before any training needs them: on every core
            print(f"generating {job.episodes} {job.task} demos ({job.style}) in {job.data_dir}", file=sys.stderr)
            from act_bench.demos.generate import DemoSettings

            backend.generate_demos(job.task, job.episodes, job.data_dir,
                                   DemoSettings(job.seed, job.cameras, job.image_size, style=job.style),
                                   available_cores(), progress)
        for key, run_dir in plan.run_dirs.items():  # a run of another config or demos must not be skipped as done
            t, p, s = key[-3:]
            backend.check_run(run_dir, t, p, plan.profiles[key], s, plan.data_dirs[key[:-1]], grid.demos)
    except BaseException as exc:
        pool.shutdown(cancel=True)
        if isinstance(exc, ActBenchError) and logged:  # refused: no trace of it in the folder's record
            write_bytes(path, before) if before is not None else path.unlink(missing_ok=True)
        raise
    demos_done = time.perf_counter()
    job_seconds: dict[str, float] = {"train": 0.0, "eval": 0.0}
    # each loss curve reaches the results folder as soon as its training ends: a run stopped
    # before collecting (killed, or its runs folder lost) keeps the curves of what it trained
    failures = execute(plan, backend, pool, progress, job_seconds,
                       on_trained=functools.partial(copy_training_metrics, plan, grid.out))
    jobs_done = time.perf_counter()
    timing = {"demos_s": round(demos_done - start, 1), "jobs_wall_s": round(jobs_done - demos_done, 1),
              "train_jobs_s": round(job_seconds["train"], 1), "eval_jobs_s": round(job_seconds["eval"], 1),
              "jobs": grid.jobs, "executor": grid.executor}
    if logged:  # before collecting, so that the report shows this run's timing (all but its own)
        _record_timing(path, timing)
    result = collect_fn(grid, plan, failures)
    end = time.perf_counter()
    if logged:
        _record_timing(path, {"wall_s": round(end - start, 1), **timing, "report_s": round(end - jobs_done, 1)},
                       finished=True)
    return result


def execute(plan: Plan, backend, pool, progress: bool = True, job_seconds: dict[str, float] | None = None,
            on_trained=None) -> list[str]:
    """Run the plan's trainings; each policy's evaluations start as soon as it is trained.
    Returns one line per failed (or skipped) job; adds each kind's job seconds to job_seconds;
    calls on_trained(key) after each training that succeeds."""
    from tqdm import tqdm

    failures: list[str] = []
    futures: dict[cf.Future, tuple[str, tuple]] = {}
    total = len(plan.trainings) + len(plan.evals)
    bar = tqdm(total=total, desc="benchmark jobs", unit="job", disable=not progress or total == 0, dynamic_ncols=True)

    def submit_evals(trained):
        for key, job in plan.evals.items():
            if job.train_key == trained:
                futures[pool.submit(timed_job, eval_job, backend, job)] = ("eval", key)

    def handle(fut):
        kind, key = futures.pop(fut)
        bar.update(1)
        label = f"{kind} {'/'.join(map(str, key))}"
        exc = fut.exception()
        if exc is None:
            if job_seconds is not None:
                job_seconds[kind] = job_seconds.get(kind, 0.0) + fut.result()[1]
            if kind == "train":
                if on_trained is not None:
                    on_trained(key)
                submit_evals(key)
            return
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        failures.append(f"{label}: {detail}")
        bar.write(f"FAILED {label}: {detail}")
        if kind == "train":
            skipped = [k for k, job in plan.evals.items() if job.train_key == key]
            bar.update(len(skipped))
            failures.extend(f"eval {'/'.join(map(str, k))}: skipped (training failed)" for k in skipped)

    try:
        for key, job in plan.trainings.items():
            fut = pool.submit(timed_job, train_job, backend, job)
            futures[fut] = ("train", key)
            if fut.done():  # inline: evaluate each policy as soon as it is trained
                handle(fut)
        for key in (*plan.run_dirs, None):  # None: the bounds, which wait for no training
            if key not in plan.trainings:
                submit_evals(key)
        while futures:
            done, _ = cf.wait(list(futures), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                handle(fut)
    except BaseException:
        pool.shutdown(cancel=True)
        raise
    finally:
        bar.close()
    pool.shutdown()
    return failures


_NOT_SETTINGS = ("updated", "timing", "finished")  # what differs between an invocation and its resume


def _record_invocation(path: Path, entry: dict, write: bool = True) -> None:
    """run.json: this invocation's settings at the top, and every invocation that wrote into the
    folder under "history", since one results folder is often built up by several runs. An entry
    is "finished": false until the invocation ends; the same settings run again (a resume)
    replace an unfinished entry, so a killed start that is resumed is logged once. The style and
    checkpoint checks run even when there is nothing to write."""
    previous = layout.read_json_record(path)  # never overwrite a history we cannot read
    history = []
    if previous:
        history = previous.get("history") or [{k: v for k, v in previous.items() if k != "history"}]
    styles = {h.get("demo_style", "scripted") for h in history} - {entry.get("demo_style", "scripted")}
    if styles:  # one results folder, one demo style: its tables must not pool the two
        raise ActBenchError(f"{path.parent} holds results on {', '.join(sorted(styles))} demos, not "
                            f"{entry.get('demo_style', 'scripted')}; use another --out")
    checkpoints = {h.get("checkpoint", "best") for h in history} - {entry.get("checkpoint", "best")}
    if checkpoints:  # nor evaluations of the best checkpoints with those of the last
        raise ActBenchError(f"{path.parent} holds evaluations of the {', '.join(sorted(checkpoints))} checkpoints, "
                            f"not the {entry.get('checkpoint', 'best')}; use another --out")
    if write:
        entry = {**entry, "finished": False}
        history = [h for h in history if h.get("finished", True) or _settings(h) != _settings(entry)]
        write_json(path, {**entry, "history": [*history, entry]})


def _settings(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in _NOT_SETTINGS}


def _record_timing(path: Path, timing: dict, finished: bool = False) -> None:
    """Add this invocation's wall-time split to run.json (top level and its history entry);
    finished: the invocation has ended (its report is written)."""
    record = layout.read_json_record(path) or {}
    record["timing"] = timing
    record["finished"] = finished
    if record.get("history"):
        record["history"][-1].update(timing=timing, finished=finished)
    write_json(path, record)


# ---------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    methods, tasks = method_names(), task_names()
    parser.add_argument("--methods", default="act,act-no-te,bc",
                        help=f"methods to evaluate, comma-separated, from {', '.join(methods)}: a method is a policy "
                             "and how it is executed (act-no-te: the act policy without temporal ensembling); "
                             f"each policy is trained once; the bounds {', '.join(bound_names())} need no training "
                             "(scripted: the task's scripted expert; still: the arms held still; random: random "
                             "joint targets)")
    parser.add_argument("--tasks", default=",".join(default_task_names()),
                        help=f"comma-separated, from {', '.join(tasks)} (default: the current versions)")
    parser.add_argument("--seeds", default="0", help="training seeds, comma-separated (also evaluation base seeds)")
    parser.add_argument("--profile", default="cpu", help="baseline profile (sizes): cpu, paper, ci, ...")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="profile override for every trained policy, e.g. --set train.steps=2000 (repeatable)")
    parser.add_argument("--episodes", type=int, default=None, help="evaluation episodes per run (default: profile, 50)")
    parser.add_argument("--out", default="results/run")
    parser.add_argument("--demos-root", default="demos")
    parser.add_argument("--runs-root", default="runs")
    parser.add_argument("--jobs", type=int, default=1, help="parallel training/evaluation jobs")
    parser.add_argument("--executor", choices=EXECUTORS, default="local")
    parser.add_argument("--videos", type=int, default=3, help="videos recorded per evaluation")
    parser.add_argument("--videos-per-cell", type=int, default=1, help="videos per task and method in report.html")
    parser.add_argument("--link-media", action="store_true",
                        help="report.html links the folder's plots and videos instead of embedding them "
                             "(a smaller page that works beside its folder: for results that are committed)")
    parser.add_argument("--device", default="auto", choices=DEVICES,
                        help="training and evaluation device (default: cuda when present)")
    parser.add_argument("--demos", type=int, default=DEFAULT_DEMOS, help="scripted demonstrations per task")
    parser.add_argument("--demo-seed", type=int, default=0)
    parser.add_argument("--demo-style", default="scripted",  # checked by Grid.check: a one-line error
                        help="demonstrations' style: scripted or human (human-like; own demo and run folders)")
    parser.add_argument("--checkpoint", default="best", choices=CHECKPOINTS,
                        help="each training's checkpoint to evaluate: best (lowest validation loss, the default) or "
                             "last (the final weights); a results folder holds one kind")
    parser.add_argument("--keep-evaluated", action="store_true",
                        help="(run only) a seed whose evaluations are all in --out but whose run folder is not under "
                             "--runs-root (trained on another machine, or the runs deleted) is kept as it stands "
                             "instead of being retrained and evaluated again")
    parser.add_argument("--no-progress", action="store_true")


def grid_from_args(args, out: Path) -> Grid:
    """The Grid that run's options (add_arguments) name; `sweep` takes the same options, so both
    build it here and neither can drop one."""
    return Grid(methods=tuple(parse_list(args.methods, "methods")), tasks=tuple(parse_list(args.tasks, "tasks")),
                seeds=tuple(parse_seeds(args.seeds)), profile=args.profile, episodes=args.episodes,
                demos=args.demos, demo_seed=args.demo_seed, out=Path(out), demos_root=Path(args.demos_root),
                runs_root=Path(args.runs_root), jobs=args.jobs, executor=args.executor, device=args.device,
                videos=args.videos, videos_per_cell=args.videos_per_cell, link_media=args.link_media,
                overrides=tuple(args.overrides), demo_style=args.demo_style, checkpoint=args.checkpoint,
                keep_evaluated=args.keep_evaluated)


def main(args) -> int:
    grid = grid_from_args(args, args.out)
    with folder_lock.hold(grid.out), interrupts.stage(f"run {grid.out}"):  # one run per results folder
        result = run_benchmark(grid, progress=not args.no_progress)
    return 1 if result["failures"] else 0
