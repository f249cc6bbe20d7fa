"""An `act-bench sweep` folder's rows: every point's evaluations with a column per swept field
(read back from the point names, so the table is a function of the folder, like run's), and the
order and names the sweep's plot and tables give the field's values and lines."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from act_bench.errors import ActBenchError
from act_bench.report.results import collect_results, method_order, order_key, task_order
from act_bench.storage import layout


def point_values(name: str) -> dict[str, str]:
    """"model.chunk_size=10+eval.n_action_steps=1" -> {"model.chunk_size": "10", ...}."""
    return dict(part.split("=", 1) for part in name.split("+") if "=" in part)


def _sortable(values: pd.Series):
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers if numbers.notna().all() else values.astype(str)


def collect_sweep_results(out_dir, swept=()) -> tuple[pd.DataFrame, list[str]]:
    """(every point's rows with a column per swept field and the point's name, the fields).
    swept: the fields in the order the sweep named them (others follow as found)."""
    frames, fields = [], list(swept)
    for folder in sorted(Path(out_dir).glob(f"{layout.SWEEP_POINTS}/*/")):
        df = collect_results(folder)
        if df.empty:
            continue
        values = point_values(folder.name)
        fields += [k for k in values if k not in fields]
        frames.append(df.assign(point=folder.name, **values))
    if not frames:
        return pd.DataFrame(), fields
    df = pd.concat(frames, ignore_index=True)
    for f in fields:
        df[f] = _sortable(df[f]) if df[f].notna().all() else df[f]
    first = ["task", "method", *fields]
    df = df[first + [c for c in df.columns if c not in first]]
    tasks, methods = task_order(), method_order()
    keys = df.assign(_t=df["task"].map(lambda t: order_key(tasks, t)), _m=df["method"].map(lambda m: order_key(methods, m)))
    keys = keys.sort_values(["_t", "_m", *fields, "seed", "stage_index"], kind="stable")
    return df.loc[keys.index].reset_index(drop=True), fields


def load_sweep(out_dir) -> tuple[pd.DataFrame, list[str], dict | None]:
    """results.csv (rebuilt from the points when absent), the swept fields, sweep.json."""
    out_dir = Path(out_dir)
    meta = layout.read_json_record(out_dir / layout.SWEEP_RECORD)
    results, fields = collect_sweep_results(out_dir, (meta or {}).get("swept") or ())
    if results.empty:
        raise ActBenchError(f"no evaluations under {out_dir / layout.SWEEP_POINTS}")
    return results, fields, meta


def line_label(line: tuple, others: list[str]) -> str:
    """"act-no-te eval.temporal_ensemble_m=0.1": a plotted line's method and other fields' values."""
    return " ".join([line[0], *(f"{f}={v}" for f, v in zip(others, line[1:]))])


# Fields whose value 0 stands for more than any other value (n_action_steps 0: the whole chunk):
# drawn as ordered categories with 0 last and named, not at x = 0 before 1.
ZERO_MEANS = {"eval.n_action_steps": "k (chunk)"}


def tick_label(value, field: str) -> str:
    if field in ZERO_MEANS and pd.to_numeric(value, errors="coerce") == 0:
        return ZERO_MEANS[field]
    return str(value)


def value_axis(values: list, field: str = "") -> tuple[dict, bool]:
    """x positions of the field's values and whether the axis is logarithmic: numbers on a log
    axis when all are positive and span 10x or more (chunk sizes), else as given; other values
    as evenly spaced categories, as are the values of a ZERO_MEANS field (0 last)."""
    nums = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    if field in ZERO_MEANS and nums.notna().all() and (nums == 0).any():
        order = sorted(range(len(values)), key=lambda i: (nums[i] == 0, nums[i]))
        return {values[i]: float(rank) for rank, i in enumerate(order)}, False
    if nums.notna().all():
        log = bool((nums > 0).all() and nums.max() >= 10 * nums.min())
        return dict(zip(values, nums.astype(float))), log
    return {v: float(i) for i, v in enumerate(values)}, False
