"""What a results folder's methods cost: minutes per training and per evaluation, per task and
method, from the records the folder already holds.

A training's minutes are the last `elapsed_s` of its metrics.csv copy (training/{task}/{policy}/
seed{S}/: wall time, summed over resumes); an evaluation's are summary.json's `wall_s` scaled
from the episodes that invocation timed to the evaluation's episodes (older evaluations did not
record it: blank). Both are wall minutes of one job at the thread count results.csv names, so
CPU minutes are at most minutes x threads. Methods that share a trained model (act and
act-no-te) show the same training; the bounds train nothing.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from act_bench.policies.registry import get_method
from act_bench.storage import layout

COLUMNS = ["task", "method", "seeds", "train_min", "train_threads", "eval_min", "eval_episodes", "eval_threads"]
TITLE = "Cost"
CAPTION = ("Wall minutes per training (its metrics.csv, resumes summed) and per evaluation (its summary.json), "
           "mean over the seeds that recorded them, at the thread counts shown; minutes x threads bound the "
           "CPU minutes. act-no-te evaluates act's model, so it shows act's training. Blank: not recorded.")


def training_minutes(out_dir: Path, task: str, policy: str, seed: int) -> float:
    path = layout.training_metrics_copy(out_dir, task, policy, seed)
    try:
        elapsed = pd.read_csv(path, usecols=["elapsed_s"])["elapsed_s"].dropna()
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return math.nan
    return float(elapsed.iloc[-1]) / 60 if len(elapsed) else math.nan


def evaluation_minutes(out_dir: Path, task: str, method: str, seed: int) -> float:
    """The evaluation's wall minutes for all its episodes, from the episodes its last invocation timed."""
    try:
        summary = json.loads((layout.eval_dir(out_dir, task, method, seed) / layout.EVAL_SUMMARY).read_text())
        timed, wall, episodes = int(summary["timed_episodes"]), float(summary["wall_s"]), int(summary["episodes"])
    except (OSError, ValueError, KeyError, TypeError):
        return math.nan
    return wall / timed * episodes / 60 if timed > 0 else math.nan


def _mean(values) -> float:
    values = [v for v in values if math.isfinite(v)]
    return sum(values) / len(values) if values else math.nan


def _threads(rows: pd.DataFrame, column: str) -> str:
    if column not in rows.columns:
        return ""
    return ",".join(str(int(t)) for t in sorted(rows[column].dropna().unique()))


def _episodes(rows: pd.DataFrame) -> str:
    # A failed cell has no episodes (NaN): blank rather than a crash that loses the whole report.
    episodes = pd.to_numeric(rows["episodes"], errors="coerce").dropna()
    return str(int(episodes.max())) if len(episodes) else ""


def cost_table(out_dir, results: pd.DataFrame) -> pd.DataFrame | None:
    """One row per task and method of results (results.csv's rows); None when nothing was timed."""
    out_dir, rows = Path(out_dir), []
    for (task, method), g in results.groupby(["task", "method"], sort=False):
        spec, seeds = get_method(method), sorted(int(s) for s in g["seed"].unique())
        train = _mean([training_minutes(out_dir, task, spec.policy, s) for s in seeds]) if spec.trained else math.nan
        rows.append({"task": task, "method": method, "seeds": len(seeds), "train_min": train,
                     "train_threads": _threads(g, "train_threads") if spec.trained else "",
                     "eval_min": _mean([evaluation_minutes(out_dir, task, method, s) for s in seeds]),
                     "eval_episodes": _episodes(g), "eval_threads": _threads(g, "eval_threads")})
    table = pd.DataFrame(rows, columns=COLUMNS)
    if table[["train_min", "eval_min"]].isna().all().all():
        return None
    for column in ("train_min", "eval_min"):
        table[column] = table[column].map(lambda v: "" if not math.isfinite(v) else f"{v:.1f}")
    return table
