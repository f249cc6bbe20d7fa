"""The whole benchmark: `act-bench run`.

For every task it makes the demonstrations (once per data setting), trains every
(task, policy, seed) once (act and act-no-te share the trained ACT), evaluates every
(task, method, seed), then writes results.csv, summary.md, plots and report.html into --out
and prints the summary table. Finished pieces have done markers (the demo manifest, a run's
done.json, an evaluation's summary.json), so a rerun skips them and an interrupted run
resumes. Training and evaluation jobs run inline, in a local process pool (--jobs) or on Ray.

Layout: {demos_root}/{task}_{H}x{W}_{cameras}/, {runs_root}/{task}/{policy}/{profile}/seed{S}/ (as
`act-bench train` lays runs out, so runs trained by hand are reused),
{out}/evals/{task}/{method}/seed{S}/, {out}/training/{task}/{policy}/seed{S}/metrics.csv.
Evaluation episodes of training seed S use eval_seed(S, i): all methods of one seed see the
same layouts, and different seeds see different ones.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import shutil
import sys
import time
import traceback
from pathlib import Path

from act_bench.atomic_io import atomic_path, write_csv, write_json
from act_bench.errors import ActBenchError
from act_bench.evaluate import (METHODS, check_method, check_task, config_value, resolve_device, run_identity,
                                summary_is_complete)
from act_bench.executors import EXECUTORS, make_executor
from act_bench.scripted.generate import demo_dir_name

DEFAULT_EPISODES = 50


class ActBackend:
    """The real pieces, imported lazily (tests pass a fake backend with the same methods)."""

    def load_profile(self, method, profile, overrides=None):
        from act_bench.train import load_profile

        return load_profile(method, profile, overrides)

    def check_run(self, run_dir, task, method, cfg, seed):
        from act_bench.train import check_run_dir

        check_run_dir(run_dir, task, method, cfg, seed)

    def generate_demos(self, *args, **kwargs):
        from act_bench.scripted.generate import generate_demos

        return generate_demos(*args, **kwargs)

    def train_policy(self, *args, **kwargs):
        from act_bench.train import train_policy

        return train_policy(*args, **kwargs)

    def load_policy(self, path, device="cpu"):
        from act_bench.policies import load_policy

        return load_policy(path, device=device)

    def make_env(self, *args, **kwargs):
        from act_bench.envs import make_env

        return make_env(*args, **kwargs)


# ---------------------------------------------------------------- jobs (run in workers)
def train_job(backend, spec: dict) -> str:
    run_dir = backend.train_policy(spec["task"], spec["policy"], spec["profile"], spec["seed"], spec["data_dir"],
                                   spec["run_dir"], overrides=spec["overrides"], resume=True,
                                   progress=spec["progress"], device=spec["device"])
    return str(run_dir or spec["run_dir"])


def eval_job(backend, spec: dict) -> dict:
    from act_bench.evaluate import evaluate_policy

    policy = backend.load_policy(spec["run_dir"], device=resolve_device(spec["device"]))
    # fresh: results of an older checkpoint of this run (retrained since) are discarded
    return evaluate_policy(policy, spec["task"], spec["method"], spec["episodes"], spec["seed"], spec["eval_dir"],
                           videos=spec["videos"], progress=spec["progress"], env_factory=backend.make_env,
                           policy_id=run_identity(spec["run_dir"]), fresh=True)


# ---------------------------------------------------------------- planning
def parse_list(text: str, kind: str) -> list[str]:
    items = [x.strip() for x in str(text).split(",") if x.strip()]
    if not items:
        raise ActBenchError(f"--{kind} is empty")
    return list(dict.fromkeys(items))


def parse_seeds(text: str) -> list[int]:
    try:
        return [int(x) for x in parse_list(text, "seeds")]
    except ValueError:
        raise ActBenchError(f"--seeds must be integers separated by commas, got {text!r}") from None


def _demos_complete(demo_dir: Path, episodes: int) -> bool:
    path = demo_dir / "manifest.json"
    if not path.exists():
        return False
    try:
        return int(json.loads(path.read_text()).get("episodes", 0)) >= episodes
    except ValueError:
        return False


def _trained_steps(run_dir: Path) -> int:
    """Steps a finished run was trained for (its done.json), 0 when unfinished."""
    try:
        return int(json.loads((Path(run_dir) / "done.json").read_text()).get("step", 0))
    except (OSError, ValueError):
        return 0


def _copy_metrics(run_dir: Path, dest: Path) -> None:
    src = Path(run_dir) / "metrics.csv"
    if src.exists():
        with atomic_path(dest) as tmp:
            shutil.copyfile(src, tmp)


def _record_invocation(path: Path, entry: dict) -> None:
    """run.json: this invocation's settings at the top, and every invocation that wrote into the
    folder under "history", since one results folder is often built up by several runs."""
    try:
        previous = json.loads(path.read_text()) if path.exists() else None
    except ValueError:  # never overwrite a history we cannot read
        raise ActBenchError(f"{path} is not valid JSON; repair or remove it") from None
    history = []
    if previous:
        history = previous.get("history") or [{k: v for k, v in previous.items() if k != "history"}]
    write_json(path, {**entry, "history": [*history, entry]})


def run_benchmark(methods, tasks, seeds, profile: str = "cpu", episodes: int | None = None,
                  out="results/run", demos_root="demos", runs_root="runs", jobs: int = 1, executor: str = "local",
                  videos: int = 3, device: str = "auto", demo_seed: int = 0, progress: bool = True,
                  videos_per_cell: int = 1, demos: int = DEFAULT_EPISODES, overrides=None, backend=None) -> dict:
    """Run the benchmark grid; returns {"results": DataFrame, "failures": [...], "report": {...}}.

    `overrides` ("section.key=value" strings) apply to every trained policy's profile.
    """
    from tqdm import tqdm

    from act_bench.report import build_report, collect_results, summary_markdown

    for m in methods:
        check_method(m)
    for t in tasks:
        check_task(t)
    if executor not in EXECUTORS:
        raise ActBenchError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    backend = backend or ActBackend()
    out, demos_root, runs_root = Path(out), Path(demos_root), Path(runs_root)
    policies = list(dict.fromkeys(METHODS[m][0] for m in methods))
    overrides = list(overrides or [])
    cfgs = {p: backend.load_profile(p, profile, overrides or None) for p in policies}
    if episodes is None:
        episodes = int(config_value(cfgs[policies[0]], "eval.episodes", DEFAULT_EPISODES))
    worker_progress = progress and jobs == 1 and executor == "local"
    _record_invocation(out / "run.json", {"methods": ",".join(methods), "tasks": ",".join(tasks),
                                          "seeds": ",".join(map(str, seeds)), "profile": profile,
                                          "overrides": " ".join(overrides), "episodes": episodes,
                                          "updated": time.strftime("%Y-%m-%d %H:%M:%S")})

    # 1. demonstrations, once per (task, data setting), in this process
    data_dirs = {}
    for task in tasks:
        for p in policies:
            cams = list(config_value(cfgs[p], "data.cameras", ["top"]))
            size = list(config_value(cfgs[p], "data.image_size", [480, 640]))
            n_demos = int(demos)
            demo_dir = demos_root / demo_dir_name(task, size, cams)
            data_dirs[(task, p)] = demo_dir
            if not _demos_complete(demo_dir, n_demos):
                print(f"generating {n_demos} {task} demos in {demo_dir}", file=sys.stderr)
                backend.generate_demos(task, n_demos, demo_dir, seed=demo_seed, cameras=tuple(cams),
                                       image_size=tuple(size), workers=jobs, progress=progress)

    # 2. plan: which trainings and evaluations are still to do
    run_dirs = {(t, p, s): runs_root / t / p / profile / f"seed{s}" for t in tasks for p in policies for s in seeds}
    for (t, p, s), run_dir in run_dirs.items():  # a run of another config must not be skipped as done
        backend.check_run(run_dir, t, p, cfgs[p], s)
    evals = {}
    for t in tasks:
        for m in methods:
            for s in seeds:
                evals[(t, m, s)] = {"task": t, "method": m, "seed": s, "episodes": episodes, "videos": videos,
                                    "device": device, "progress": worker_progress,
                                    "run_dir": str(run_dirs[(t, METHODS[m][0], s)]),
                                    "eval_dir": str(out / "evals" / t / m / f"seed{s}")}
    def train_key(eval_key):
        return eval_key[0], METHODS[eval_key[1]][0], eval_key[2]

    # train while done.json reports fewer steps than the profile asks; a new checkpoint makes
    # its evaluations stale, so those are redone too
    trainings = {key: {"task": key[0], "policy": key[1], "profile": profile, "seed": key[2],
                       "progress": worker_progress, "overrides": overrides or None, "device": device,
                       "data_dir": str(data_dirs[key[:2]]), "run_dir": str(run_dir)}
                 for key, run_dir in run_dirs.items()
                 if _trained_steps(run_dir) < int(config_value(cfgs[key[1]], "train.steps", 1))}
    pending_evals = {k: v for k, v in evals.items() if train_key(k) in trainings
                     or not summary_is_complete(v["eval_dir"], episodes, run_identity(v["run_dir"]))}

    # 3. run: evaluations start as soon as their policy is trained
    failures: list[str] = []
    total = len(trainings) + len(pending_evals)
    pool = make_executor(executor, jobs)
    futures: dict[cf.Future, tuple[str, tuple]] = {}
    bar = tqdm(total=total, desc="benchmark jobs", unit="job", disable=not progress or total == 0, dynamic_ncols=True)

    def submit_evals(trained):
        for key, spec in pending_evals.items():
            if train_key(key) == trained:
                futures[pool.submit(eval_job, backend, spec)] = ("eval", key)

    def handle(fut):
        kind, key = futures.pop(fut)
        bar.update(1)
        label = f"{kind} {'/'.join(map(str, key))}"
        exc = fut.exception()
        if exc is not None:
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            failures.append(f"{label}: {detail}")
            bar.write(f"FAILED {label}: {detail}")
            if kind == "train":
                skipped = [k for k in pending_evals if train_key(k) == key]
                bar.update(len(skipped))
                failures.extend(f"eval {'/'.join(map(str, k))}: skipped (training failed)" for k in skipped)
        elif kind == "train":
            submit_evals(key)

    try:
        for key, spec in trainings.items():
            fut = pool.submit(train_job, backend, spec)
            futures[fut] = ("train", key)
            if fut.done():  # inline: evaluate each policy as soon as it is trained
                handle(fut)
        for key in run_dirs:
            if key not in trainings:
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

    # 4. collect everything evaluated under --out, and report
    for (t, p, s), run_dir in run_dirs.items():
        _copy_metrics(run_dir, out / "training" / t / p / f"seed{s}" / "metrics.csv")
    results = collect_results(out)
    report = {}
    if results.empty:
        failures.append("no evaluation finished; nothing to report")
    else:
        write_csv(out / "results.csv", results)
        report = build_report(out, videos_per_cell)
        print(summary_markdown(results))
        print(f"report: {report['html']}")
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    return {"results": results, "failures": failures, "report": report}


# ---------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--methods", default="act,act-no-te,bc", help=f"comma-separated, from {', '.join(METHODS)}")
    parser.add_argument("--tasks", default="transfer_cube,insertion")
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
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="training and evaluation device (default: cuda when present)")
    parser.add_argument("--demos", type=int, default=DEFAULT_EPISODES,
                        help="scripted demonstrations per task")
    parser.add_argument("--demo-seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")


def main(args) -> int:
    result = run_benchmark(parse_list(args.methods, "methods"), parse_list(args.tasks, "tasks"), parse_seeds(args.seeds),
                           profile=args.profile, episodes=args.episodes, out=args.out, demos_root=args.demos_root,
                           runs_root=args.runs_root, jobs=args.jobs, executor=args.executor, videos=args.videos,
                           device=args.device, demos=args.demos, overrides=args.overrides, demo_seed=args.demo_seed, progress=not args.no_progress,
                           videos_per_cell=args.videos_per_cell)
    return 1 if result["failures"] else 0
