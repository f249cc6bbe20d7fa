"""The tables act-bench reads back (results.csv, episodes.csv, metrics.csv), checked as the JSON
records are: a hand edit, a bad merge or a truncated write gives one line naming the file, the
row (its line in the file) and the column, never a traceback or a wrong number downstream.

Each reader returns the table as pandas reads it; the checks are those the numbers must satisfy
whatever produced them (counts are non-negative integers, successes <= episodes, rates in
[0, 1], steps increase), not the values of any one run.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from act_bench.errors import DamagedFile

# results.csv: its columns (report.COLUMNS), the provenance ones, failed cells' status and a
# sweep's point; a sweep's swept fields are named section.field (model.chunk_size)
RESULTS_REQUIRED = ("task", "method", "seed", "stage_index", "stage_name", "successes", "episodes", "rate",
                    "ci_low", "ci_high")
RESULTS_OPTIONAL = ("demos", "demo_style", "demo_episodes", "demo_hash", "train_threads", "train_cpu",
                    "eval_threads", "eval_cpu", "status", "point")
RESULTS_TEXT = {"task": str, "method": str, "stage_name": str, "demo_hash": str, "demos": str, "demo_style": str,
                "train_cpu": str, "eval_cpu": str, "status": str, "point": str}
EPISODES_REQUIRED = ("episode", "seed", "max_stage", "success", "length", "queries", "seconds")
METRICS_FIXED = ("step", "lr", "steps_per_s", "elapsed_s")
_TOLERANCE = 1e-6  # rates are written with float repr: equal to successes / episodes to far below this


class TableError(DamagedFile):
    """A table read back is not what act-bench writes."""


def _where(path: Path, row: int | None = None, column: str | None = None) -> str:
    parts = [str(path)]
    if row is not None:
        parts.append(f"row {row + 2}")  # the line in the file: the header is line 1
    if column is not None:
        parts.append(f"column {column!r}")
    return ", ".join(parts)


def _fail(path: Path, why: str, row: int | None = None, column: str | None = None, repair: str = "") -> TableError:
    return TableError(f"{_where(path, row, column)}: {why}" + (f"; {repair}" if repair else ""))


def _read(path: Path, dtype=None, repair: str = "") -> pd.DataFrame:
    """The CSV as a DataFrame; an unreadable, empty or ragged file is a TableError."""
    path = Path(path)
    data = path.read_bytes()
    if not data.strip():
        raise _fail(path, "empty file (no header)", repair=repair)
    if not data.endswith(b"\n"):  # every row act-bench writes ends with one: the file was cut short
        raise _fail(path, "cut short (its last row has no line end)", row=data.count(b"\n") - 1, repair=repair)
    try:
        lines = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    except UnicodeDecodeError as exc:
        raise _fail(path, f"not UTF-8 text (byte {exc.start})", repair=repair) from None
    except csv.Error as exc:
        raise _fail(path, f"not a CSV table ({exc})", repair=repair) from None
    width = len(lines[0])
    for i, line in enumerate(lines[1:]):  # a truncated last line or a pasted row of another table
        if line and len(line) != width:
            raise _fail(path, f"{len(line)} fields where the header has {width}", row=i, repair=repair)
    try:
        return pd.read_csv(path, dtype=dtype)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise _fail(path, f"not a readable table ({' '.join(str(exc).split())[:160]})", repair=repair) from None


def _numbers(df: pd.DataFrame, path: Path, column: str, *, rows=None, optional: bool = False, repair: str = "",
             **bounds) -> pd.Series:
    """df[column] as floats, each (in `rows`, default all) a finite number within `bounds`
    (integer=True, low=, high=); optional: an empty cell is allowed (NaN in the result)."""
    integer, low, high = bounds.get("integer", False), bounds.get("low"), bounds.get("high")
    values = pd.to_numeric(df[column], errors="coerce")
    at = np.arange(len(df)) if rows is None else df.index.get_indexer(rows)
    raw, v = df[column].to_numpy()[at], values.to_numpy(dtype=float)[at]  # numpy: a few cells, many tables
    empty = pd.isna(raw)
    if raw.dtype == object:
        empty |= np.array([isinstance(x, str) and not x.strip() for x in raw], dtype=bool)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(v)
        bad = ~empty & ~finite
        if not optional:
            bad |= empty
        if integer:
            bad |= finite & (v != np.round(v))
        if low is not None:
            bad |= finite & (v < low)
        if high is not None:
            bad |= finite & (v > high)
    if bad.any():  # found at once over the column; the first bad cell explained
        i = df.index[at[int(np.argmax(bad))]]
        _explain(path, (i, column), df.at[i, column], values.at[i], (integer, low, high), repair)
    return values


def _explain(path: Path, where: tuple, raw, v, bounds: tuple, repair: str) -> None:
    """One line for the first bad cell: where = (row, column), bounds = (integer, low, high)."""
    (i, column), (integer, low, high) = where, bounds
    raw = raw if isinstance(raw, str) else getattr(raw, "item", lambda: raw)()  # 51, not np.int64(51)
    if pd.isna(raw) or (isinstance(raw, str) and not raw.strip()):
        raise _fail(path, "empty", i, column, repair)
    if pd.isna(v) or not math.isfinite(v):
        raise _fail(path, f"{raw!r} is not a finite number", i, column, repair)
    if integer and v != int(v):
        raise _fail(path, f"{raw!r} is not an integer", i, column, repair)
    if low is not None and v < low:
        raise _fail(path, f"{raw!r} is below {low:g}", i, column, repair)
    raise _fail(path, f"{raw!r} is above {high:g}", i, column, repair)


def _require(df: pd.DataFrame, path: Path, columns, repair: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise _fail(path, f"lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)}", repair=repair)


def read_results(path) -> pd.DataFrame:
    """A results.csv (one row per task x method x seed x stage), checked."""
    path = Path(path)
    repair = "rebuild it from the evaluations: delete it and run `act-bench report` on its folder"
    df = _read(path, RESULTS_TEXT, repair)
    _require(df, path, RESULTS_REQUIRED, repair)
    unknown = [c for c in df.columns if c not in RESULTS_REQUIRED + RESULTS_OPTIONAL and "." not in str(c)]
    if unknown:
        raise _fail(path, f"unknown column {unknown[0]!r}", repair=repair)
    failed = df["status"].fillna("ok").astype(str).str.startswith("failed") if "status" in df else None
    rows = df.index if failed is None else df.index[~failed]
    for column in ("task", "method"):
        empty = df[column].isna() | df[column].astype(str).str.strip().eq("")
        if empty.any():
            raise _fail(path, "empty", empty.idxmax(), column, repair)
    _numbers(df, path, "seed", integer=True, repair=repair)
    _numbers(df, path, "stage_index", integer=True, low=0, rows=rows, repair=repair)
    successes = _numbers(df, path, "successes", integer=True, low=0, rows=rows, repair=repair)
    episodes = _numbers(df, path, "episodes", integer=True, low=1, rows=rows, repair=repair)
    rate = _numbers(df, path, "rate", low=0, high=1, rows=rows, repair=repair)
    low = _numbers(df, path, "ci_low", low=0, high=1, rows=rows, repair=repair)
    high = _numbers(df, path, "ci_high", low=0, high=1, rows=rows, repair=repair)
    s, n, r, lo, hi = (x.loc[rows] for x in (successes, episodes, rate, low, high))
    checks = [(s > n, "successes", lambda i: f"{int(s[i])} successes in {int(n[i])} episodes"),
              ((r - s / n).abs() > _TOLERANCE, "rate",
               lambda i: f"{float(r[i])!r} is not successes / episodes = {int(s[i])} / {int(n[i])}"),
              ((lo - _TOLERANCE > r) | (r > hi + _TOLERANCE), "ci_low",
               lambda i: f"the interval [{float(lo[i])!r}, {float(hi[i])!r}] does not hold the rate {float(r[i])!r}")]
    for bad, column, why in checks:
        if bad.any():
            i = bad.idxmax()
            raise _fail(path, why(i), i, column, repair)
    return df


def read_episodes(path) -> pd.DataFrame:
    """An evaluation's episodes.csv (one row per finished episode), checked."""
    path = Path(path)
    repair = "delete it to evaluate again, or give another --out"
    df = _read(path, None, repair)
    _require(df, path, EPISODES_REQUIRED, repair)
    stage_columns = [c for c in df.columns if str(c).startswith("reached_")]
    unknown = [c for c in df.columns if c not in EPISODES_REQUIRED and c not in stage_columns]
    if unknown:
        raise _fail(path, f"unknown column {unknown[0]!r}", repair=repair)
    episode = _numbers(df, path, "episode", integer=True, low=0, repair=repair)
    _numbers(df, path, "seed", integer=True, low=0, repair=repair)
    max_stage = _numbers(df, path, "max_stage", integer=True, low=0, high=len(stage_columns) or None, repair=repair)
    for column in ("success", *stage_columns):
        _numbers(df, path, column, integer=True, low=0, high=1, repair=repair)
    length = _numbers(df, path, "length", integer=True, low=0, repair=repair)
    _numbers(df, path, "queries", integer=True, low=0, high=None, repair=repair)
    _numbers(df, path, "seconds", low=0, repair=repair)
    duplicated = episode.duplicated()
    if duplicated.any():
        i = duplicated.idxmax()
        raise _fail(path, f"episode {int(episode.at[i])} appears twice", i, "episode", repair)
    for k, column in enumerate(stage_columns, start=1):  # reached_X says max_stage >= X's index
        bad = pd.to_numeric(df[column]) != (max_stage >= k).astype(int)
        if bad.any():
            i = bad.idxmax()
            raise _fail(path, f"{df.at[i, column]} but max_stage {int(max_stage.at[i])}", i, column, repair)
    bad = pd.to_numeric(df["queries"]) > length.clip(lower=1)
    if bad.any():
        i = bad.idxmax()
        raise _fail(path, f"{df.at[i, 'queries']} queries in {int(length.at[i])} steps", i, "queries", repair)
    return df


def read_metrics(path) -> pd.DataFrame:
    """A training's metrics.csv (one row per logged step), checked. Loss columns are those of the
    policy (train_loss, then its terms, then val_*); a validation column is empty between
    validations."""
    path = Path(path)
    repair = "delete the damaged rows (the training's checkpoints are unaffected)"
    df = _read(path, None, repair)
    _require(df, path, ("step", "train_loss"), repair)
    step = _numbers(df, path, "step", integer=True, low=0, repair=repair)
    for column in df.columns:
        if column == "step":
            continue
        optional = str(column).startswith("val_") or column in ("steps_per_s",)
        low = 0 if column in ("lr", "steps_per_s", "elapsed_s") else None
        _numbers(df, path, str(column), low=low, optional=optional, repair=repair)
    backwards = step.diff() <= 0
    if backwards.any():
        i = backwards.idxmax()
        raise _fail(path, f"step {int(step.at[i])} does not follow step {int(step.at[i - 1])}", i, "step", repair)
    return df
