"""Several sweeps of the same field as one table and plot, e.g. the chunk-size sweep on scripted
and on human-like demonstrations: the paper averages its chunk-size ablation over both data
styles and both tasks, and so does the plot's last panel here.

    python scripts/combine_sweeps.py --out results/sweep-chunk-all results/sweep-chunk results/sweep-chunk-human

Writes results.csv (the sweeps' rows together), cells.csv (per cell and stage, seed-level
statistics), summary.md and sweep.png into --out; every sweep must have swept the same fields
(read from its sweep.json). The points of the combined table are compared over training runs
as in a sweep's report, with the settings of all sweeps as blocks.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from act_bench.errors import ActBenchError
from act_bench.report.cell_tables import cells_of
from act_bench.report.results import CELLS
from act_bench.report.sweep import plot_sweep, sweep_markdown
from act_bench.report.sweep_results import load_sweep
from act_bench.storage import layout
from act_bench.storage.atomic_io import write_csv, write_text


def combine(folders: list[Path]) -> tuple[pd.DataFrame, list[str]]:
    frames, fields = [], None
    for folder in folders:
        results, swept, _ = load_sweep(folder)
        if fields is not None and swept != fields:
            raise ActBenchError(f"{folder} swept {', '.join(swept)}; {folders[0]} swept {', '.join(fields)}")
        fields = swept
        frames.append(results)
    return pd.concat(frames, ignore_index=True), fields


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweeps", nargs="+", type=Path, help="`act-bench sweep` output folders")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    try:
        results, fields = combine(args.sweeps)
    except ActBenchError as exc:
        print(f"combine_sweeps.py: error: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / layout.RESULTS, results)
    write_csv(args.out / CELLS, cells_of(results, fields))
    write_text(args.out / layout.SUMMARY_MD, sweep_markdown(results, fields))
    plot_sweep(results, fields, args.out / layout.SWEEP_PLOT)
    print(f"{len(args.sweeps)} sweeps, {len(results)} rows -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
