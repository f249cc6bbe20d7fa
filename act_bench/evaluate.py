"""Roll a trained policy out and score it: `act-bench eval`.

Each episode uses seed eval_seed(seed, i), a stream disjoint from the demonstration seeds.
Per episode we record the best stage reached, success and length; per run the success rate
of every stage with a 95% Wilson interval. Results go to out_dir/episodes.csv (one row per
episode, appended as they finish, so an interrupted evaluation resumes where it stopped),
out_dir/summary.json (the done marker) and out_dir/videos/episode_XXX.mp4 for the first few.
`--policy module:factory` evaluates a policy trained elsewhere the same way (the interface it
offers: act_bench.policies.external).

Episodes run `batch` at a time in lockstep (act_bench.lockstep: one batched policy query per
step), each with the actions it would get alone, so the batch size changes no outcome beyond
the float rounding of a batched forward pass, and rows are the same whatever it is.
"""
from __future__ import annotations

import argparse
import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from act_bench import layout
from act_bench.atomic_io import remove_stale_temps, write_csv, write_json
from act_bench.device import DEVICES, resolve_device
from act_bench.ensembling import Execution
from act_bench.env_slots import default_workers, make_slots
from act_bench.errors import ActBenchError
from act_bench.policies.registry import get_method, method_names
from act_bench.lockstep import run_lockstep
from act_bench.rollout import ChunkPolicy, policy_device
from act_bench.seeding import eval_seed
from act_bench.stats import stage_rates
from act_bench.tasks.registry import get_task
from act_bench.threads import torch_threads

VIDEO_SIZE = (240, 320)
DEFAULT_BATCH = 16  # episodes stepped together; more buys little once the envs dominate


@dataclass(frozen=True)
class EvalSpec:
    """One evaluation: which task and method, which seeds, where, and of which checkpoint
    (policy_id, from layout.run_identity; a different one is refused unless `fresh`).
    batch: episodes stepped in lockstep (one env each), which changes no outcome."""

    task: str
    method: str
    seed: int
    episodes: int
    out_dir: Path
    videos: int = 3
    policy_id: str | None = None
    fresh: bool = False
    batch: int = DEFAULT_BATCH
    trained_on: dict | None = None  # trained_on(run_dir): demos, threads, CPU; shown in eval.json and results
    env_workers: int = 0  # processes stepping the envs (0 or 1: in this process); changes no outcome


def evaluate_policy(policy: ChunkPolicy, spec: EvalSpec, execution: Execution | None = None,
                    env_factory=None, progress: bool = True) -> dict:
    """Evaluate `policy` and write episodes.csv, summary.json and videos; returns the summary.

    execution defaults to the method's registered mode with the policy's profile settings.
    Episodes already in episodes.csv of the same evaluation are kept and skipped."""
    get_task(spec.task)
    method = get_method(spec.method)
    if spec.episodes < 1:
        raise ActBenchError(f"--episodes must be >= 1, got {spec.episodes}")
    if spec.batch < 1:
        raise ActBenchError(f"--batch must be >= 1, got {spec.batch}")
    execution = execution or Execution.resolve(method.execution, int(policy.chunk_size), _eval_config(policy))
    out_dir = Path(spec.out_dir)
    _start(out_dir, {"task": spec.task, "method": spec.method, "seed": int(spec.seed), "policy_id": spec.policy_id,
                     **execution.settings()}, spec.fresh, _provenance(spec))
    for folder in (out_dir, out_dir / "videos"):  # what a kill -9 left half-written
        remove_stale_temps(folder)
    rows = _load_rows(out_dir / "episodes.csv", spec.seed)
    todo = [i for i in range(spec.episodes) if i not in rows]
    if env_factory is None:
        from act_bench.envs import make_env as env_factory
    # any env may get a video episode when a slot frees up, so all can render while one is due
    render_mode = "rgb_array" if any(i < spec.videos for i in todo) else None
    make = functools.partial(env_factory, spec.task, cameras=tuple(policy.camera_names),
                             image_size=tuple(policy.image_size), render_mode=render_mode)
    envs = make_slots(make, max(1, min(spec.batch, len(todo))), policy.camera_names, spec.env_workers)
    try:
        stage_names = envs.stage_names
        policy.eval()
        _run_episodes(policy, spec, execution, envs, stage_names, rows, todo, progress)
    finally:
        envs.close()
    return _write_summary(spec, method.execution, execution, stage_names, rows, int(policy.chunk_size))


def _eval_config(policy):
    profile = getattr(policy, "profile", None)
    return getattr(profile, "eval", None)


def _run_episodes(policy, spec: EvalSpec, execution: Execution, envs, stage_names, rows: dict, todo, progress):
    import pandas as pd
    from tqdm import tqdm

    csv_path = Path(spec.out_dir) / "episodes.csv"
    bar = tqdm(total=len(todo), desc=f"eval {spec.task} {spec.method} seed{spec.seed}", unit="ep",
               disable=not progress, dynamic_ncols=True)

    def make_video(i: int):
        if i >= spec.videos:
            return None
        from act_bench.video import EpisodeVideo

        return EpisodeVideo(Path(spec.out_dir) / "videos" / f"episode_{i:03d}.mp4", stage_names, size=VIDEO_SIZE)

    def on_row(i: int, row: dict) -> None:
        # written as each episode ends (so an interrupted evaluation resumes), ordered by index
        rows[i] = {"episode": i, "seed": eval_seed(spec.seed, i), **row}
        write_csv(csv_path, pd.DataFrame([rows[j] for j in sorted(rows)]))
        done = [rows[j] for j in range(spec.episodes) if j in rows]
        bar.update(1)
        bar.set_postfix(success=f"{sum(r['success'] for r in done)}/{len(done)}")

    try:
        run_lockstep(envs, policy, execution, [(i, eval_seed(spec.seed, i)) for i in todo], stage_names, on_row,
                     make_video)
    finally:
        bar.close()


def _write_summary(spec: EvalSpec, mode: str, execution: Execution, stage_names, rows, chunk_size) -> dict:
    used = [rows[i] for i in range(spec.episodes)]
    out_dir = Path(spec.out_dir)
    summary = {
        "task": spec.task, "method": spec.method, "policy": get_method(spec.method).policy,
        "policy_id": spec.policy_id, "execution": mode, "seed": int(spec.seed),
        "episodes": spec.episodes, "stage_names": stage_names,
        "stages": stage_rates([r["max_stage"] for r in used], stage_names),
        "success_rate": float(np.mean([r["success"] for r in used])),
        "mean_length": float(np.mean([r["length"] for r in used])),
        "mean_queries": float(np.mean([r["queries"] for r in used])),
        "mean_seconds": float(np.mean([r["seconds"] for r in used])),
        "chunk_size": chunk_size,
        **execution.settings(),
        **_provenance(spec),
        "videos": sorted(str(p.relative_to(out_dir)) for p in (out_dir / "videos").glob("episode_*.mp4")),
    }
    write_json(out_dir / layout.EVAL_SUMMARY, summary)
    return summary


def trained_on(run_dir) -> dict:
    """What a run was trained on and where: its demos (provenance.run_demos), thread count,
    CPU and versions, from its config.json ({} when there is none)."""
    from act_bench.data.provenance import run_demos

    try:
        config = json.loads((Path(run_dir) / layout.RUN_CONFIG).read_text())
    except (OSError, ValueError):
        return {}
    return {"demos": run_demos(config), "threads": config.get("threads"), **(config.get("machine") or {}),
            "versions": config.get("versions")}


def _provenance(spec: EvalSpec) -> dict:
    """eval.json / summary.json fields: the training's record and this evaluation's machine."""
    import torch

    from act_bench import machine

    return {"trained_on": spec.trained_on or {},
            "evaluated_on": machine.record(torch.get_num_threads())}


def _start(out_dir: Path, meta: dict, fresh: bool, provenance: dict | None = None) -> None:
    """Check that out_dir holds (a part of) this same evaluation, or clear it when `fresh`.
    eval.json also carries `provenance` (not compared: it describes, it does not decide)."""
    path = out_dir / "eval.json"
    old = json.loads(path.read_text()) if path.exists() else None
    if old is not None:
        old = {k: v for k, v in old.items() if k not in ("trained_on", "evaluated_on")}
    if old is not None and not fresh:
        for key in ("task", "method", "seed"):
            if old.get(key) != meta[key]:
                raise ActBenchError(f"{out_dir} holds an evaluation of {key} {old.get(key)!r}, not "
                                    f"{meta[key]!r}; use another --out")
        if old.get("policy_id") != meta["policy_id"] and None not in (old.get("policy_id"), meta["policy_id"]):
            raise ActBenchError(f"{out_dir} holds an evaluation of another checkpoint "
                                f"({old.get('policy_id')}); use --fresh or another --out")
        for key in ("temporal_ensemble_m", "n_action_steps"):  # absent from eval.json before they were kept
            if key in old and old[key] != meta[key]:
                raise ActBenchError(f"{out_dir} holds an evaluation with {key} {old[key]!r}, not {meta[key]!r}; "
                                    "use --fresh or another --out")
    if fresh and old != meta:
        for name in ("episodes.csv", "summary.json"):
            (out_dir / name).unlink(missing_ok=True)
        for video in (out_dir / "videos").glob("episode_*.mp4"):
            video.unlink()
    write_json(path, {**meta, **(provenance or {})})


def _load_rows(csv_path: Path, seed: int) -> dict[int, dict]:
    if not csv_path.exists():
        return {}
    import pandas as pd

    rows = {int(r["episode"]): r for r in pd.read_csv(csv_path).to_dict("records")}
    for i, r in rows.items():
        if int(r["seed"]) != eval_seed(seed, i):
            raise ActBenchError(f"{csv_path} holds episodes of another evaluation seed; use another --out")
    return rows


def format_summary(summary: dict) -> str:
    lines = [f"{summary['task']} / {summary['method']} / seed {summary['seed']}: {summary['episodes']} episodes"]
    for s in summary["stages"]:
        lines.append(f"  {s['stage_index']} {s['stage_name']:<16} {s['successes']:>4}/{s['episodes']:<4} "
                     f"{100 * s['rate']:5.1f}%  [{100 * s['ci_low']:.1f}, {100 * s['ci_high']:.1f}]")
    return "\n".join(lines)


# ---------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--run", help="run directory (or checkpoint) to evaluate")
    what.add_argument("--policy", metavar="MODULE:FACTORY",
                      help="evaluate the policy factory(**policy args) returns (any policy offering act(obs) or "
                           "predict_chunk; see act_bench.policies.external), or a plugin's registered NAME; "
                           "needs --task and --out")
    parser.add_argument("--policy-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword argument for the --policy factory (repeatable; values are strings)")
    parser.add_argument("--episodes", type=int, default=None, help="episodes (default: the profile's eval.episodes)")
    parser.add_argument("--method", choices=method_names(), default=None,
                        help="how to execute the policy (default: the run's policy's first method)")
    parser.add_argument("--task", default=None, help="task (default: the run's task)")
    parser.add_argument("--seed", type=int, default=None, help="evaluation base seed (default: the run's seed)")
    parser.add_argument("--videos", type=int, default=3, help="record videos of the first N episodes")
    parser.add_argument("--m", dest="temporal_ensemble_m", type=float, default=None,
                        help="temporal-ensembling weight exp(-m*i) (default: the profile's eval.temporal_ensemble_m)")
    parser.add_argument("--n-action-steps", type=int, default=None,
                        help="actions executed per query without ensembling (default: the profile's eval.n_action_steps)")
    parser.add_argument("--out", default=None,
                        help="output folder (default: RUN/eval/METHOD_seedS, plus _mM or _nN when those are given)")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                        help=f"episodes stepped together, one batched policy query per step (default {DEFAULT_BATCH}); "
                             "changes no outcome")
    parser.add_argument("--env-workers", type=int, default=None,
                        help="processes stepping the envs while this one runs the policy (default: one per core "
                             "when the policy runs on a GPU, else 0: in this process); changes no outcome")
    parser.add_argument("--fresh", action="store_true", help="discard earlier results in the output folder")
    parser.add_argument("--no-progress", action="store_true")


def eval_threads(run_dir) -> int:
    """Evaluation uses the run's training thread count when recorded (one cell, one count),
    else the job's: never the machine's (threads.py)."""
    from act_bench.threads import job_threads
    from act_bench.train_state import recorded_threads

    try:
        return recorded_threads(run_dir) or job_threads()
    except ActBenchError:
        return job_threads()


def _run_facts(run_dir: Path, policy) -> dict:
    """task and seed of a run: its config.json over the checkpoint's own record."""
    meta = getattr(policy, "checkpoint_meta", None) or {}
    facts = {k: meta[k] for k in ("task", "seed") if k in meta}
    try:
        config = json.loads((run_dir / layout.RUN_CONFIG).read_text())
        facts.update({k: config[k] for k in ("task", "seed") if k in config})
    except (OSError, ValueError):
        pass
    return facts


def _choose_method(requested: str | None, policy_name: str) -> str:
    if requested is None:
        return next(m for m in method_names() if get_method(m).policy == policy_name)
    needed = get_method(requested).policy
    if needed != policy_name:
        raise ActBenchError(f"method {requested!r} needs a {needed!r} policy, but the run holds {policy_name!r}")
    return requested


def evaluate_external(spec: str, kwargs: dict, task: str, seed: int, episodes: int, out: Path, videos: int = 3,
                      fresh: bool = False, batch: int = DEFAULT_BATCH, progress: bool = True,
                      n_action_steps: int | None = None) -> dict:
    """Evaluate the policy a --policy factory returns; results as for a trained run."""
    from act_bench.envs import make_env
    from act_bench.policies.external import ExternalPolicy, load_external
    from act_bench.policies.registry import register_method

    policy = ExternalPolicy(load_external(spec, kwargs), get_task(task).config())
    try:  # the policy's name becomes a method of its own, executed as the policy says
        register_method(policy.name, policy.name, policy.execution)
    except ValueError as exc:
        raise ActBenchError(f"policy {policy.name!r}: {exc}; give it another name") from None
    if n_action_steps is None:
        n_action_steps = getattr(policy.policy, "n_action_steps", None)
    execution = Execution.resolve(policy.execution, policy.chunk_size, None, n_action_steps=n_action_steps)
    policy_id = " ".join([f"external {spec}", *(f"{k}={v}" for k, v in sorted(kwargs.items()))])
    spec_ = EvalSpec(task, policy.name, seed, episodes, out, videos=videos, policy_id=policy_id, fresh=fresh,
                     batch=min(batch, policy.max_batch or batch))

    def env_factory(*a, **kw):
        return policy.wrap_env(make_env(*a, **kw))

    return evaluate_policy(policy, spec_, execution, env_factory=env_factory, progress=progress)


def _main_external(args) -> int:
    from act_bench.policies.external import parse_policy_args

    if args.task is None or args.out is None:
        raise ActBenchError("--policy needs --task and --out")
    if args.method is not None or args.temporal_ensemble_m is not None:
        raise ActBenchError("--method and --m apply to --run; a --policy says how it runs itself")
    get_task(args.task)
    summary = evaluate_external(args.policy, parse_policy_args(args.policy_arg), args.task,
                                args.seed if args.seed is not None else 0,
                                args.episodes if args.episodes is not None else 50, Path(args.out),
                                videos=args.videos, fresh=args.fresh, batch=args.batch, progress=not args.no_progress,
                                n_action_steps=args.n_action_steps)
    print(format_summary(summary))
    print(f"results in {args.out}")
    return 0


def main(args) -> int:
    if args.policy is not None:
        return _main_external(args)
    if args.policy_arg:
        raise ActBenchError("--policy-arg goes with --policy")
    run = Path(args.run)
    if not run.exists() and not any(run.parent.glob(run.name + ".*")):
        raise ActBenchError(f"run directory or checkpoint not found: {run}")
    run_dir, checkpoint = layout.split_checkpoint_path(run)
    from act_bench.policies import load_policy

    policy = load_policy(str(run), device=resolve_device(args.device))
    facts = _run_facts(run_dir, policy)
    method = _choose_method(args.method, policy.name)
    task = args.task or facts.get("task")
    if task is None:
        raise ActBenchError("cannot tell the run's task; pass --task")
    seed = args.seed if args.seed is not None else int(facts.get("seed", 0))
    m, n_steps = args.temporal_ensemble_m, args.n_action_steps
    if n_steps is not None and n_steps < 1:
        raise ActBenchError(f"--n-action-steps must be >= 1, got {n_steps}")
    execution = Execution.resolve(get_method(method).execution, policy.chunk_size, _eval_config(policy), m, n_steps)
    suffix = ((f"_m{m:g}" if m is not None else "") + (f"_n{n_steps}" if n_steps is not None else "")
              + (f"_{checkpoint}" if checkpoint else ""))
    out = Path(args.out) if args.out else run_dir / "eval" / f"{method}_seed{seed}{suffix}"
    policy_id = layout.run_identity(run_dir)
    if checkpoint:  # a named checkpoint is another policy than the run's default one
        policy_id = f"{policy_id or run_dir}: checkpoint {checkpoint} step {policy.checkpoint_meta.get('step')}"
    episodes = args.episodes if args.episodes is not None else getattr(_eval_config(policy), "episodes", 50)
    threads = eval_threads(run_dir)
    if args.env_workers is not None and args.env_workers < 0:
        raise ActBenchError(f"--env-workers must be >= 0, got {args.env_workers}")
    workers = default_workers(threads, str(policy_device(policy))) if args.env_workers is None else args.env_workers
    spec = EvalSpec(task, method, seed, episodes, out, videos=args.videos, policy_id=policy_id, fresh=args.fresh,
                    batch=args.batch, trained_on=trained_on(run_dir), env_workers=workers)
    with torch_threads(threads):
        summary = evaluate_policy(policy, spec, execution, progress=not args.no_progress)
    print(format_summary(summary))
    print(f"results in {out}")
    return 0
