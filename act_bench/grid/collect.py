"""The last step of `act-bench run` and `act-bench sweep`: each training's loss curve copied into
the results folder, the failed cells recorded, results.csv and the report written."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd

from act_bench.errors import ActBenchError
from act_bench.grid.plan import Grid, Plan
from act_bench.report import failed_cells
from act_bench.report.build import build_report
from act_bench.report.results import collect_results, read_results_csv, summary_markdown
from act_bench.report.sweep import build_sweep_report
from act_bench.storage import layout
from act_bench.storage.atomic_io import atomic_path, write_csv


def collect(grid: Grid, plan: Plan, failures: list[str]) -> dict:
    """Gather every evaluation under grid.out into results.csv and the report."""
    for key in plan.run_dirs:  # every run folder: those found done too (a second copy of a fresh curve is cheap)
        copy_training_metrics(plan, grid.out, key)
    failed_cells.record(grid.out, plan.evals, failed_cells.from_failures(plan, failures))
    results = collect_results(grid.out)
    report = {}
    if results.empty:
        failures.append("no evaluation finished; nothing to report")
    else:
        write_csv(grid.out / layout.RESULTS, results)
        report = build_report(grid.out, grid.videos_per_cell, grid.link_media)
        print(summary_markdown(results))
        print(f"report: {report['html']}")
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    return {"results": results, "failures": failures, "report": report}


def copy_training_metrics(plan: Plan, out: Path, key: tuple) -> None:
    """Copy one training's loss curve into the results folder; key = (*variant prefix, task,
    policy, seed), as in plan.run_dirs (a sweep point's trainings are "policy+field=value")."""
    *prefix, t, p, s = key
    src = Path(plan.run_dirs[key]) / layout.RUN_METRICS
    dest = layout.training_metrics_copy(out, t, "+".join([p, *prefix]), s)
    if src.exists():
        with atomic_path(dest) as tmp:
            shutil.copyfile(src, tmp)


def collect_sweep(grid, plan, failures: list[str], points=()) -> dict:
    """run.run_plan's last step for a sweep: loss curves, results.csv and the report."""
    for key in plan.run_dirs:  # every run folder: those found done too (a second copy of a fresh curve is cheap)
        copy_training_metrics(plan, grid.out, key)
    report, results = {}, pd.DataFrame()
    try:
        report = build_sweep_report(grid.out, grid.videos_per_cell, grid.link_media)
        results = read_results_csv(report["results"])
        print(Path(report["summary"]).read_text())
        print(f"report: {report['html']}")
    except ActBenchError:
        failures.append("no evaluation finished; nothing to report")
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    return {"results": results, "failures": failures, "report": report}
