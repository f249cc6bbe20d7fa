"""Ablations with intervals: `act-bench sweep`.

    act-bench sweep --tasks transfer_cube --methods act,act-no-te --seeds 0,1,2 \\
        --param model.chunk_size=1,10,50,100 [--param ...]

Every combination of the --param values (any profile field; several --param make a product)
is a point; each point is the whole grid (tasks x methods x seeds) with those values on top of
the profile and --set. The plan is run's (plan.make_plan, once per point, merged), executed and
resumed the same way (run.run_plan: inline, a local pool or Ray; done markers skip finished
work). A point that changes only eval-only fields (sweep_params) evaluates the model trained
without them, so such a sweep trains nothing beyond the base run. Results: results.csv with a
column per swept field, summary.md, sweep.png and report.html (report/sweep.py) in --out
(default results/sweep-{fields}); each point's evaluations in --out/points/{point}/.
"""
from __future__ import annotations

import argparse
import functools
from pathlib import Path

from act_bench.errors import ActBenchError
from act_bench.grid.collect import collect_sweep
from act_bench.grid.plan import Grid, Plan, make_plan
from act_bench.grid.run import ActBackend, add_arguments as run_arguments, grid_from_args, run_plan
from act_bench.grid.sweep_params import Param, is_execution_only, parse_params, points, variant
from act_bench.storage import folder_lock, interrupts, layout


def plan_sweep(grid: Grid, params: tuple[Param, ...], backend, progress: bool = True, finished=None) -> Plan:
    """One plan for every point. Every point's profiles are loaded (so validated) here, before
    any work: a bad value stops the sweep with one line."""
    base = {p: backend.load_profile(p, grid.profile, list(grid.overrides) or None) for p in grid.policies}
    plan = None
    for point in points(params):
        profiles = {}
        for p in grid.policies:
            try:
                profiles[p] = backend.load_profile(p, grid.profile, [*grid.overrides, *point.overrides(False),
                                                                      *point.overrides(True)])
            except ActBenchError as exc:
                raise ActBenchError(f"--param {point.name} for {p}: {exc}") from None
        part = make_plan(grid, profiles, finished, progress, variant(point, base, profiles, grid.overrides))
        plan = part if plan is None else plan.merge(part)
    return plan


def run_sweep(grid: Grid, params: tuple[Param, ...], backend=None, progress: bool = True) -> dict:
    """Run the sweep; returns {"results": DataFrame, "failures": [...], "report": {...}}."""
    grid.check()
    if grid.bounds:  # the same at every point: a run's table is where they belong
        raise ActBenchError(f"{', '.join(grid.bounds)} need no training and have no profile fields to sweep; "
                            "evaluate them with act-bench run")
    if grid.keep_evaluated:  # points share trainings: keeping one point's evaluations could mix two trainings
        raise ActBenchError("--keep-evaluated is for act-bench run; a sweep retrains what its runs folder lacks")
    backend = backend or ActBackend()
    execution = fixed_execution(grid.out, grid.overrides)
    plan = plan_sweep(grid, params, backend, progress)
    invocation = {"execution": execution,
        "params": " ".join(f"{p.key}={','.join(p.texts)}" for p in params), "swept": [p.key for p in params],
        **grid.record(plan.episodes), "trainings": len(plan.trainings), "evaluations": len(plan.evals)}
    collect = functools.partial(collect_sweep, points=points(params))
    return run_plan(grid, plan, backend, progress, (grid.out / layout.SWEEP_RECORD, invocation), collect)


def fixed_execution(out: Path, overrides) -> list[str]:
    """The --set eval fields that change how every point runs (eval.episodes aside: more episodes
    extend an evaluation). A point's folder names only its swept values, so a later sweep into
    the same folder with other such settings would find its evaluations done: refused."""
    mine = sorted(o.replace(" ", "") for o in overrides
                  if is_execution_only(o.partition("=")[0].strip()) and o.partition("=")[0].strip() != "eval.episodes")
    before = (layout.read_json_record(Path(out) / layout.SWEEP_RECORD) or {}).get("execution", mine)
    if before != mine:
        raise ActBenchError(f"{out} holds a sweep evaluated with --set {' '.join(before) or '(no eval fields)'}, "
                            f"not {' '.join(mine) or '(no eval fields)'}; use another --out")
    return mine


def default_out(params) -> Path:
    """results/sweep-model.chunk_size(-eval.temporal_ensemble_m...): the folder names what is swept."""
    return Path("results") / ("sweep-" + "-".join(p.key for p in params))


# ---------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--param", dest="params", action="append", default=[], metavar="KEY=V1,V2,...",
                        help="a profile field and its values, e.g. model.chunk_size=1,10,50,100 (repeatable: the "
                             "product); eval.* fields reuse the trained model")
    run_arguments(parser)
    parser.set_defaults(out=None)


def main(args) -> int:
    params = parse_params(args.params, args.overrides)
    grid = grid_from_args(args, args.out or default_out(params))
    with folder_lock.hold(grid.out), interrupts.stage(f"sweep {grid.out}"):  # one sweep per results folder
        result = run_sweep(grid, params, progress=not args.no_progress)
    return 1 if result["failures"] else 0
