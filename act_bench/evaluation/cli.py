"""`act-bench eval`: evaluate a trained run (--run), a policy made elsewhere (--policy
module:factory, the interface act_bench.policies.external describes) or a bound that needs no
training (--method scripted, still, random: policies.bounds) and print its success per stage.
The evaluation itself is evaluate.evaluate_policy; a run's set-up is setup.py's, the same
`act-bench run` uses.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from act_bench.errors import ActBenchError, CheckpointError
from act_bench.evaluation import film
from act_bench.evaluation.ensembling import Execution
from act_bench.evaluation.evaluate import DEFAULT_BATCH, EvalSpec, eval_config, evaluate_policy, format_summary
from act_bench.evaluation.setup import (eval_out_of_memory_explained, evaluate_bound, evaluate_run, run_facts,
                                       setup_for_run)
from act_bench.policies.registry import bound_names, get_method, method_names, policy_names, register_method
from act_bench.runtime import finite_guard
from act_bench.runtime.device import DEVICES, resolve_device
from act_bench.runtime.threads import torch_threads
from act_bench.storage import layout
from act_bench.tasks.registry import get_task


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group()  # or neither, for a bound (--method): checked in main
    what.add_argument("--run", help="run directory (or checkpoint) to evaluate")
    what.add_argument("--policy", metavar="MODULE:FACTORY",
                      help="evaluate the policy factory(**policy args) returns (any policy offering act(obs) or "
                           "predict_chunk; see act_bench.policies.external), or a plugin's registered NAME; "
                           "needs --task and --out")
    parser.add_argument("--policy-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword argument for the --policy factory (repeatable; values are strings)")
    parser.add_argument("--episodes", type=int, default=None, help="episodes (default: the profile's eval.episodes)")
    parser.add_argument("--method", choices=method_names(), default=None,
                        help="how to execute the policy (default: the run's policy's first method); a bound ("
                             f"{', '.join(bound_names())}) needs no --run: it is evaluated on --task into --out")
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
    parser.add_argument("--film", metavar="EPISODES", default=None,
                        help="roll these episodes (indices such as 3,17, or 'failed': the first --videos failed "
                             "episodes of the evaluation in the output folder) out again with a video of each, into "
                             "OUT/films; scores nothing and leaves the evaluation as it is")
    parser.add_argument("--no-progress", action="store_true")


def not_a_run(path: Path) -> str:
    """Why `path` is no run to evaluate: missing, or which other kind of path it is."""
    if not path.exists():
        return f"run folder or checkpoint not found: {path}"
    if path.is_file():
        return (f"{path} is a file, not a run: pass the run folder (e.g. runs/TASK/POLICY/PROFILE/seed0) or one of "
                "its checkpoints (RUN/checkpoints/best)")
    if (path / layout.RESULTS).exists() or (path / layout.RUN_RECORD).exists() or (path / "evals").is_dir():
        return (f"{path} is a results folder (tables and reports), not a run: the trained runs are under the "
                "--runs-root it was made with, runs/TASK/POLICY/PROFILE/seedS by default")
    seeds = sorted(p.name for p in path.glob("seed*") if layout.find_checkpoint(p) is not None)
    if seeds:
        return f"{path} holds the runs {', '.join(seeds)}: pass one of them, e.g. {path / seeds[0]}"
    return (f"no checkpoint in {path} (a run holds checkpoints/best.json or last.json once its training has "
            "saved one); runs are under runs/TASK/POLICY/PROFILE/seedS by default")


def _check_execution_flags(args, execution: str, method: str) -> None:
    """--m and --n-action-steps each tune one way of executing chunks: refused for another."""
    if args.temporal_ensemble_m is not None and execution != "ensemble":
        raise ActBenchError(f"--m weights temporal ensembling, which method {method} does not use; leave --m out "
                            "(or choose --method act)")
    if args.n_action_steps is not None and execution != "open_loop":
        raise ActBenchError(f"--n-action-steps sets open-loop chunk execution, which method {method} does not use "
                            f"({'temporal ensembling' if execution == 'ensemble' else 'one action per query'}); "
                            "leave it out (or choose --method act-no-te)")


def _choose_method(requested: str | None, policy_name: str) -> str:
    if requested is None:
        return next(m for m in method_names() if get_method(m).policy == policy_name)
    needed = get_method(requested).policy
    if needed != policy_name:
        raise ActBenchError(f"method {requested!r} needs a {needed!r} policy, but the run holds {policy_name!r}")
    return requested


@dataclass(frozen=True)
class ExternalRun:
    """Where and how long to evaluate a --policy: its task, base seed, episode count, output
    folder, videos, whether to discard earlier results, the lockstep batch and (for a policy
    that says nothing of it) the actions executed per query."""

    task: str
    seed: int
    episodes: int
    out: Path
    videos: int = 3
    fresh: bool = False
    batch: int = DEFAULT_BATCH
    n_action_steps: int | None = None


def evaluate_external(factory: str, kwargs: dict, run: ExternalRun, progress: bool = True) -> dict:
    """Evaluate the policy a --policy factory ("module:function" or a plugin's name) returns
    when called with kwargs; results as for a trained run."""
    from act_bench.envs import make_env
    from act_bench.policies.external import ExternalPolicy, load_external

    policy = ExternalPolicy(load_external(factory, kwargs), get_task(run.task).config())
    if run.n_action_steps is not None and policy.execution != "open_loop":
        raise ActBenchError(f"--n-action-steps sets open-loop chunk execution; policy {policy.name!r} executes "
                            f"{policy.execution!r}, as it says itself")
    try:  # the policy's name becomes a method of its own, executed as the policy says
        register_method(policy.name, policy.name, policy.execution)
    except ValueError as exc:
        raise ActBenchError(f"policy {policy.name!r}: {exc}; give it another name") from None
    n_action_steps = run.n_action_steps
    if n_action_steps is None:
        n_action_steps = getattr(policy.policy, "n_action_steps", None)
    execution = Execution.resolve(policy.execution, policy.chunk_size, None, n_action_steps=n_action_steps)
    policy_id = " ".join([f"external {factory}", *(f"{k}={v}" for k, v in sorted(kwargs.items()))])
    spec = EvalSpec(run.task, policy.name, run.seed, run.episodes, run.out, videos=run.videos, policy_id=policy_id,
                    fresh=run.fresh, batch=min(run.batch, policy.max_batch or run.batch))

    def env_factory(*a, **kw):
        return policy.wrap_env(make_env(*a, **kw))

    with eval_out_of_memory_explained(spec, policy):
        return evaluate_policy(policy, spec, execution, env_factory=env_factory, progress=progress)


def _main_external(args) -> int:
    from act_bench.policies.external import parse_policy_args

    if ":" not in args.policy and args.policy in policy_names():
        raise ActBenchError(f"--policy {args.policy} is a built-in policy: eval takes a trained one with --run RUN "
                            f"(e.g. runs/TASK/{args.policy}/PROFILE/seed0); --policy takes MODULE:FACTORY or a plugin's "
                            "policy")
    if args.policy in bound_names():
        raise ActBenchError(f"--policy {args.policy} is a bound, evaluated with --method {args.policy} (no --policy)")
    if args.task is None or args.out is None:
        raise ActBenchError("--policy needs --task and --out")
    if args.method is not None or args.temporal_ensemble_m is not None:
        raise ActBenchError("--method and --m apply to --run; a --policy says how it runs itself")
    if args.env_workers is not None or args.device != "auto":
        raise ActBenchError("--env-workers and --device apply to --run; a --policy runs where it puts itself, "
                            "beside the envs")
    get_task(args.task)
    run = ExternalRun(args.task, args.seed if args.seed is not None else 0,
                      args.episodes if args.episodes is not None else 50, Path(args.out), videos=args.videos,
                      fresh=args.fresh, batch=args.batch, n_action_steps=args.n_action_steps)
    summary = evaluate_external(args.policy, parse_policy_args(args.policy_arg), run, progress=not args.no_progress)
    print(format_summary(summary))
    print(f"results in {args.out}")
    return 0


def _main_bound(args) -> int:
    """A bound (a method that needs no training) on --task, into --out."""
    if args.task is None or args.out is None:
        raise ActBenchError(f"--method {args.method} (a bound, no training) needs --task and --out")
    if args.temporal_ensemble_m is not None or args.n_action_steps is not None or args.policy_arg:
        raise ActBenchError(f"--method {args.method} plans whole episodes; --m, --n-action-steps and --policy-arg "
                            "do not apply")
    if args.env_workers is not None or args.device != "auto":
        raise ActBenchError(f"--method {args.method} runs no network: --env-workers and --device do not apply")
    get_task(args.task)
    spec = EvalSpec(args.task, args.method, args.seed if args.seed is not None else 0,
                    args.episodes if args.episodes is not None else 50, Path(args.out), videos=args.videos,
                    fresh=args.fresh, batch=args.batch)
    summary = evaluate_bound(spec, progress=not args.no_progress)
    print(format_summary(summary))
    print(f"results in {args.out}")
    return 0


def _film(args, policy, run, task: str, method: str, seed: int, out: Path, execution: Execution) -> int:
    """--film: chosen episodes again, each with a video, beside the evaluation in `out`."""
    if args.episodes is not None or args.fresh:
        raise ActBenchError("--film rolls out the episodes it names: --episodes and --fresh do not apply")
    episodes = film.parse_episodes(args.film)
    setup = setup_for_run(run, policy, 0)
    meta = {"task": task, "method": method, "seed": seed, "policy_id": setup.policy_id, **execution.settings()}
    recorded = film.recorded_episodes(out, meta)
    chosen = film.choose(episodes, recorded, args.videos)
    with torch_threads(setup.threads):
        table = film.film_episodes(policy, film.FilmJob(task, seed, out, chosen, recorded), execution, batch=args.batch)
    print(film.describe(table, get_task(task).config().stage_names, out))
    return 0


def main(args) -> int:
    if args.film is not None and args.run is None:
        raise ActBenchError("--film rolls out episodes of a trained --run again")
    if args.policy is not None:
        return _main_external(args)
    bound = args.method is not None and not get_method(args.method).trained
    if args.run is None and bound:
        return _main_bound(args)
    if args.run is None:
        raise ActBenchError(f"eval needs --run RUN, --policy MODULE:FACTORY or a bound --method "
                            f"({', '.join(bound_names())})")
    if bound:
        raise ActBenchError(f"--method {args.method} is a bound: it needs no training, so no --run; leave --run out "
                            "and give --task and --out")
    if args.policy_arg:
        raise ActBenchError("--policy-arg goes with --policy")
    run = Path(args.run)
    if not run.is_dir() and layout.find_checkpoint(run) is None:
        raise ActBenchError(not_a_run(run))
    from act_bench.policies import load_policy

    run_dir, checkpoint = layout.split_checkpoint_path(run)
    if checkpoint is None:  # a diverged training's folder is no policy; a named checkpoint still is
        finite_guard.refuse_diverged(run_dir)
    try:
        policy = load_policy(str(run), device=resolve_device(args.device))
    except CheckpointError:
        if layout.find_checkpoint(run) is None:  # a folder, but of another kind: say which
            raise ActBenchError(not_a_run(run)) from None
        raise
    facts = run_facts(run_dir, policy)
    method = _choose_method(args.method, policy.name)
    if args.task is not None and facts.get("task") not in (None, args.task):
        raise ActBenchError(f"--task {args.task} contradicts the run, which was trained on {facts['task']}: a --run "
                            "is evaluated on its own task; leave --task out")
    task = args.task or facts.get("task")
    if task is None:
        raise ActBenchError("cannot tell the run's task; pass --task")
    seed = args.seed if args.seed is not None else int(facts.get("seed", 0))
    m, n_steps = args.temporal_ensemble_m, args.n_action_steps
    if n_steps is not None and n_steps < 1:
        raise ActBenchError(f"--n-action-steps must be >= 1, got {n_steps}")
    _check_execution_flags(args, get_method(method).execution, method)
    execution = Execution.resolve(get_method(method).execution, policy.chunk_size, eval_config(policy), m, n_steps)
    suffix = ((f"_m{m:g}" if m is not None else "") + (f"_n{n_steps}" if n_steps is not None else "")
              + (f"_{checkpoint}" if checkpoint else ""))
    out = Path(args.out) if args.out else run_dir / "eval" / f"{method}_seed{seed}{suffix}"
    episodes = args.episodes if args.episodes is not None else getattr(eval_config(policy), "episodes", 50)
    if args.film is not None:
        return _film(args, policy, run, task, method, seed, out, execution)
    spec = EvalSpec(task, method, seed, episodes, out, videos=args.videos, fresh=args.fresh, batch=args.batch)
    summary = evaluate_run(policy, spec, run, args.env_workers, execution, progress=not args.no_progress)
    print(format_summary(summary))
    print(f"results in {out}")
    return 0
