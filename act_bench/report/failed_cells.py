"""Cells (task, method, seed) of `act-bench run` that failed: recorded, reported as failed, never as 0%.

`run` writes OUT/failed.json from its failure lines (a failed training fails every method that
evaluates it); a cell evaluated later leaves it. results.csv gets one row per failed cell with
`status` "failed: why" and no rate, summary.md and report.html a "failed" entry in the cell's
table and a section listing each with its reason. Evaluated rows have status "ok".
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

from act_bench.policies.registry import get_method
from act_bench.storage import layout
from act_bench.storage.atomic_io import write_json

FILE = layout.FAILED_CELLS
_LINE = re.compile(r"^(train|eval) ([^/]+)/([^/]+)/(-?\d+): (.*)$", re.S)
_EXC_PREFIX = re.compile(r"^[\w.]+(Error|Exception|Diverged|InUse|File|Unavailable): ")


def _reason(detail: str) -> str:
    return _EXC_PREFIX.sub("", detail.strip()).splitlines()[0] if detail.strip() else "failed"


def from_failures(plan, failures: list[str]) -> dict[tuple[str, str, int], str]:
    """(task, method, seed) -> why, from run.execute's failure lines."""
    trained: dict[tuple[str, str, int], str] = {}
    cells: dict[tuple[str, str, int], str] = {}
    for line in failures:
        m = _LINE.match(line)
        if m is None:
            continue
        kind, task, name, seed, detail = m.groups()
        key = (task, name, int(seed))
        if kind == "train":
            trained[key] = f"training failed: {_reason(detail)}"
        elif "skipped (training failed)" not in detail:
            cells[key] = f"evaluation failed: {_reason(detail)}"
    for key, job in plan.evals.items():
        task, method, seed = key
        why = trained.get((task, get_method(method).policy, seed))
        if why is not None:
            cells[key] = why
    return cells


def record(out: Path, attempted, failed: dict[tuple[str, str, int], str]) -> None:
    """Rewrite OUT/failed.json: cells attempted now take this run's outcome, others keep theirs."""
    path = Path(out) / FILE
    old = (layout.read_json_record(path) or {}).get("cells", [])
    keep = [c for c in old if (c.get("task"), c.get("method"), c.get("seed")) not in set(attempted)]
    new = [{"task": t, "method": m, "seed": s, "reason": why} for (t, m, s), why in failed.items()]
    if keep or new or path.exists():
        write_json(path, {"cells": keep + new})


def read(out: Path) -> list[dict]:
    return list((layout.read_json_record(Path(out) / FILE) or {}).get("cells", []))


def merge(results: pd.DataFrame, out: Path) -> pd.DataFrame:
    """results (evaluated rows) plus one failed row per failed cell; a failed cell's stale
    evaluation rows are dropped (its training failed since)."""
    cells = read(out)
    if not cells:  # no status column then: results.csv as before
        return results
    results = results.assign(status="ok")
    failed = {(c["task"], c["method"], int(c["seed"])) for c in cells}
    keys = zip(results["task"], results["method"], results["seed"].astype(int))
    results = results[pd.Series([k not in failed for k in keys], index=results.index, dtype=bool)]
    rows = pd.DataFrame([{"task": c["task"], "method": c["method"], "seed": int(c["seed"]),
                          "status": f"failed: {c['reason']}"} for c in cells])
    merged = pd.concat([results, rows], ignore_index=True)
    for col in ("stage_index", "successes", "episodes"):  # integers stay integers beside the empty cells
        merged[col] = merged[col].astype("Int64")
    return merged


def evaluated(results: pd.DataFrame) -> pd.DataFrame:
    """Only the evaluated rows (results.csv of older runs has no status column: all evaluated)."""
    if "status" not in results.columns:
        return results
    return results[results["status"].fillna("ok") == "ok"]


def failed_rows(results: pd.DataFrame) -> pd.DataFrame:
    if "status" not in results.columns:
        return results.iloc[0:0]
    return results[results["status"].fillna("ok") != "ok"]


def mark_tables(tables: dict[str, pd.DataFrame], results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each failed cell shows as "failed" in its table: in the per-seed column beside the other
    seeds, or as the method's whole row when none of its seeds was evaluated."""
    for (task, method), cells in failed_rows(results).groupby(["task", "method"], sort=False):
        seeds = sorted(int(s) for s in cells["seed"])
        table = tables.get(task)
        if table is None:
            table = tables[task] = pd.DataFrame(columns=["method", "status"])
        per_seed = next((c for c in table.columns if str(c).endswith(" per seed")), None)
        if method in set(table["method"]):
            if per_seed is not None:
                i = table.index[table["method"] == method][0]
                table.loc[i, per_seed] += " / " + " / ".join("failed" for _ in seeds)
            continue
        row = {c: "failed" for c in table.columns}
        row.update({"method": method, "seeds": 0, "episodes": 0} if "seeds" in table.columns else {"method": method})
        tables[task] = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    return tables


def markdown_section(results: pd.DataFrame) -> list[str]:
    rows = failed_rows(results)
    if rows.empty:
        return []
    lines = ["## Failed cells", "", "These cells have no result (not 0%): rerun after repairing the cause.", ""]
    lines += [f"- {r.task} / {r.method} / seed {r.seed}: {r.status[len('failed: '):]}" for r in rows.itertuples()]
    return lines + [""]


def html_section(results: pd.DataFrame) -> str:
    rows = failed_rows(results)
    if rows.empty:
        return ""
    items = "".join(f"<li>{html.escape(f'{r.task} / {r.method} / seed {r.seed}')}: "
                    f"{html.escape(r.status[len('failed: '):])}</li>" for r in rows.itertuples())
    return ("<h2>Failed cells</h2><p class='caption'>These cells have no result (not 0%): rerun after "
            f"repairing the cause.</p><ul class='caption'>{items}</ul>")
