"""`act-bench compare A B`: is B's success rate different from A's, with the training run as the
unit (seed_tests.py)?

A and B name results folders (`act-bench run` or `sweep` output, a sweep's point folder, or a
table combined from sweeps), each optionally narrowed to one method and one sweep point:
PATH[:METHOD][@POINT], POINT a point's name or part of it ("model.chunk_size=50"). Without a
method, every method both have is compared. Only tasks both have are compared (and, where a
task was trained on several demonstration folders, matching folders): each is a block, and with
several blocks their mean difference is tested too, blocked by setting.

Paired over seeds where A and B have the same training seeds, all of them, and evaluation starts
(the starts are read from each seed's episodes.csv where present), unpaired (label permutation)
otherwise: where one side has seeds the other lacks (10 against 3), pairing would leave those
runs out.
--mcnemar adds the exact McNemar test of each seed's two evaluations, episode by episode: a test
of those two particular trained models, not of the settings. --across-versions pairs each task
with the same task at another version (transfer_cube_v2 with transfer_cube_v3): the same
training and evaluation seeds start from the same layouts where the versions share their reset,
so what the new version changed is measured over the same seeds and starts.
"""
from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from act_bench.errors import ActBenchError
from act_bench.evaluation.seed_tests import Effect, mcnemar_p, paired_effect, unpaired_effect
from act_bench.report import failed_cells
from act_bench.report.results import collect_results, read_results_csv
from act_bench.report.sweep_results import load_sweep
from act_bench.storage import layout
from act_bench.tasks.registry import success_stage


@dataclass
class Side:
    spec: str
    folder: Path
    rows: pd.DataFrame  # per-seed rows of results.csv's form
    method: str | None


def parse_spec(spec: str) -> tuple[Path, str | None, str | None]:
    """"DIR:act-no-te@model.chunk_size=50" -> (DIR, "act-no-te", "model.chunk_size=50")."""
    path, _, point = spec.partition("@")
    folder, sep, method = path.rpartition(":")
    if not sep or "/" in method:  # no method named (or a colon inside the path itself)
        folder, method = path, ""
    return Path(folder), method or None, point or None


def _read_rows(folder: Path) -> pd.DataFrame:
    if (folder / layout.RESULTS).is_file():
        rows = read_results_csv(folder / layout.RESULTS)
    elif (folder / layout.SWEEP_RECORD).is_file():
        rows = load_sweep(folder)[0]
    else:
        rows = collect_results(folder)
    if rows.empty:
        raise ActBenchError(f"no results in {folder}")
    return failed_cells.evaluated(rows)


def _matches(point: str, wanted: str) -> bool:
    parts = point.split("+")
    return point == wanted or all(w in parts for w in wanted.split("+"))


def load_side(spec: str) -> Side:
    folder, method, point = parse_spec(spec)
    if not folder.is_dir():
        raise ActBenchError(f"results folder not found: {folder}")
    rows = _read_rows(folder)
    if method is not None:
        if method not in set(rows["method"]):
            raise ActBenchError(f"no method {method} in {folder} (it has {', '.join(dict.fromkeys(rows['method']))})")
        rows = rows[rows["method"] == method]
    if point is not None:
        if "point" not in rows.columns:
            raise ActBenchError(f"{folder} is not a sweep: it has no point {point}")
        rows = rows[rows["point"].map(lambda p: _matches(str(p), point))]
        if rows.empty:
            raise ActBenchError(f"no sweep point {point} in {folder}")
    if "point" in rows.columns and rows.groupby(["task", "method"])["point"].nunique().max() > 1:
        raise ActBenchError(f"{folder} has several sweep points ({', '.join(sorted(set(rows['point'])))}): "
                            "name one with PATH@POINT")
    return Side(spec, folder, rows, method)


def task_family(task: str) -> str:
    """"transfer_cube_v3" -> "transfer_cube": what --across-versions pairs tasks by."""
    return re.sub(r"_v\d+$", "", task)


def _setting_keys(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """Blocks are tasks, or task and demonstration folder where either side has several per task;
    across versions, task families (the demonstration folders differ by version)."""
    if "family" in a.columns:
        return ["family"]
    several = any("demos" in d.columns and (d.groupby("task")["demos"].nunique() > 1).any() for d in (a, b))
    return ["task", "demos"] if several else ["task"]


def episodes_csv(side: Side, row) -> Path:
    base = side.folder
    if "point" in row and isinstance(row["point"], str) and (base / layout.SWEEP_POINTS / row["point"]).is_dir():
        base = base / layout.SWEEP_POINTS / row["point"]
    return layout.eval_dir(base, row["task"], row["method"], int(row["seed"])) / layout.EVAL_EPISODES


def _starts(path: Path) -> pd.Series | None:
    if not path.is_file():
        return None
    return pd.read_csv(path).set_index("seed")["success"].astype(bool)


@dataclass
class Comparison:
    label: str  # the block ("transfer_cube_v2") or "mean over N settings"
    a_rates: list[float]
    b_rates: list[float]
    effect: Effect | None  # None: too few seeds for any test
    starts: str  # "same" / "different" / "not checked"
    mcnemar: list[str]


def _final_stage(rows: pd.DataFrame, stage: str | None) -> pd.DataFrame:
    """The named stage's rows, or each task's success stage (its last, or the one before a
    strict stage)."""
    if stage is None:
        last = rows.groupby("task")["stage_index"].transform("max")
        return rows[rows["stage_index"] == [success_stage(t, m) for t, m in zip(rows["task"], last)]]
    if stage not in set(rows["stage_name"]):
        raise ActBenchError(f"no stage {stage} (stages: {', '.join(dict.fromkeys(rows['stage_name']))})")
    return rows[rows["stage_name"] == stage]


def compare_rows(a: Side, b: Side, stage: str | None = None, mcnemar: bool = False) -> list[Comparison]:
    """One Comparison per block both sides have, then one over all blocks when there are several.
    a.rows / b.rows hold one method each (and one point)."""
    keys = _setting_keys(a.rows, b.rows)
    fa, fb = _final_stage(a.rows, stage), _final_stage(b.rows, stage)
    blocks_a = {k: g for k, g in fa.groupby(keys, sort=False)}
    blocks_b = {k: g for k, g in fb.groupby(keys, sort=False)}
    common = [k for k in blocks_a if k in blocks_b]
    out, pairs, a_all, b_all, paired_all = [], [], [], [], True
    for key in common:
        ga, gb = blocks_a[key].set_index("seed").sort_index(), blocks_b[key].set_index("seed").sort_index()
        for side, g in ((a, ga), (b, gb)):
            if g.index.has_duplicates:  # e.g. a table combined from sweeps that ran the same cell twice
                raise ActBenchError(f"{side.spec}: several rows for one seed of {key}; narrow it (PATH:METHOD@POINT)")
        seeds = ga.index.intersection(gb.index)
        starts, lines, checked = "not checked", [], []
        for s in seeds:
            ea, eb = (_starts(episodes_csv(side, g.loc[s].to_dict() | {"seed": s}))
                      for side, g in ((a, ga), (b, gb)))
            if ea is None or eb is None:
                continue
            same = list(ea.index) == list(eb.index)
            checked.append(same)
            if mcnemar and same:
                only_a, only_b = int((ea & ~eb).sum()), int((~ea & eb).sum())
                lines.append(f"seed {s}: A {int(ea.sum())}, B {int(eb.sum())} of {len(ea)}; only A {only_a}, "
                             f"only B {only_b}; McNemar exact p = {mcnemar_p(only_a, only_b):.2g}")
        if checked:
            starts = "same" if all(checked) else "different"
        is_paired = len(seeds) >= 2 and len(seeds) == len(ga) == len(gb) and starts != "different" and \
            all(int(ga.loc[s, "episodes"]) == int(gb.loc[s, "episodes"]) for s in seeds)
        paired_all &= is_paired
        ra, rb = ga["rate"].to_numpy(float), gb["rate"].to_numpy(float)
        d = (gb.loc[seeds, "rate"] - ga.loc[seeds, "rate"]).to_numpy(float)
        pairs.append(d)
        a_all.append(ra)
        b_all.append(rb)
        effect = _effect([d] if is_paired else None, [ra], [rb])
        label = " / ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        if keys == ["family"]:
            label += f" ({ga['task'].iloc[0]} -> {gb['task'].iloc[0]})"
        out.append(Comparison(label, list(ra), list(rb), effect, starts, lines))
    if len(common) > 1:
        effect = _effect(pairs if paired_all and all(len(p) >= 1 for p in pairs) else None, a_all, b_all)
        out.append(Comparison(f"mean over {len(common)} settings", [], [], effect,
                              "same" if all(c.starts == "same" for c in out) else "", []))
    return out


def _effect(pairs, a_blocks, b_blocks) -> Effect | None:
    if pairs is not None:
        return paired_effect(pairs) if sum(len(p) for p in pairs) > len(pairs) else None
    if sum(len(x) for x in a_blocks) + sum(len(x) for x in b_blocks) > 2 * len(a_blocks):
        return unpaired_effect(a_blocks, b_blocks)
    return None


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def effect_text(e: Effect | None) -> str:
    """"+26.0 points [-21.9, +73.9], t p = 0.14 (2 df), sign-flip p = 0.25 (exact; >= 0.25 with 3 runs)"."""
    if e is None:
        return "no test: fewer than 2 training runs per setting"
    perm = "sign-flip" if e.design == "paired" else "label permutation"
    how = "exact" if e.perm_exact else "Monte Carlo"
    unit = f"{e.runs} paired runs" if e.design == "paired" else f"{e.runs} runs"
    p_t = "-" if math.isnan(e.p_t) else f"{e.p_t:.2g}"
    return (f"{_pts(e.effect)} points [{_pts(e.low)}, {_pts(e.high)}], {e.design} t p = {p_t} ({e.df} df), "
            f"{perm} p = {e.p_perm:.2g} ({how}; the smallest possible with {unit}: {e.perm_min:.2g})")


def _rates(rates: list[float]) -> str:
    mean = sum(rates) / len(rates)
    return f"{100 * mean:.1f}% ({' / '.join(f'{100 * r:.0f}' for r in rates)})"


def method_pairs(a: Side, b: Side) -> list[tuple[str, str]]:
    if a.method or b.method:
        return [(a.method or b.method, b.method or a.method)]
    common = [m for m in dict.fromkeys(a.rows["method"]) if m in set(b.rows["method"])]
    if not common:
        raise ActBenchError(f"{a.folder} and {b.folder} have no method in common: name them (PATH:METHOD)")
    return [(m, m) for m in common]


def compare(spec_a: str, spec_b: str, stage: str | None = None, mcnemar: bool = False,
            across_versions: bool = False) -> list[str]:
    """The report's lines."""
    a, b = load_side(spec_a), load_side(spec_b)
    key = "task"
    if across_versions:  # blocks by task family; each row keeps its own task (stages, episodes.csv)
        key = "family"
        for side in (a, b):
            side.rows = side.rows.assign(family=side.rows["task"].map(task_family))
    ta, tb = list(dict.fromkeys(a.rows[key])), list(dict.fromkeys(b.rows[key]))
    if not set(ta) & set(tb):
        raise ActBenchError(f"different tasks: {spec_a} has {', '.join(ta)}; {spec_b} has {', '.join(tb)}")
    lines = [f"A = {spec_a}", f"B = {spec_b}",
             f"{stage or 'success stage'}: B - A in points, the training run as the unit (95% interval, two-sided p)"]
    for ma, mb in method_pairs(a, b):
        sa = Side(a.spec, a.folder, a.rows[a.rows["method"] == ma], ma)
        sb = Side(b.spec, b.folder, b.rows[b.rows["method"] == mb], mb)
        if sa.rows.empty or sb.rows.empty:
            raise ActBenchError(f"no method {ma if sa.rows.empty else mb} in {(a if sa.rows.empty else b).folder}")
        sa.rows = sa.rows[sa.rows[key].isin(tb)]
        sb.rows = sb.rows[sb.rows[key].isin(ta)]
        comparisons = compare_rows(sa, sb, stage, mcnemar)
        if not comparisons:
            raise ActBenchError("no setting (task and demonstrations) in common")
        lines.append(f"{ma}" if ma == mb else f"A {ma}, B {mb}")
        for c in comparisons:
            seen = f"A {_rates(c.a_rates)}, B {_rates(c.b_rates)}; " if c.a_rates else ""
            starts = f" [starts: {c.starts}]" if c.starts else ""
            lines.append(f"  {c.label}: {seen}{effect_text(c.effect)}{starts}")
            lines += [f"    {m} (these two trained models, episodes as the unit)" for m in c.mcnemar]
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", metavar="A", help="PATH[:METHOD][@POINT]: a results folder, narrowed to a method and "
                        "sweep point if given")
    parser.add_argument("b", metavar="B", help="the same for the setting compared with A (B - A is reported)")
    parser.add_argument("--stage", help="a stage's name (default: each task's success stage)")
    parser.add_argument("--mcnemar", action="store_true",
                        help="also McNemar's exact test per seed: the two trained models, episode by episode")
    parser.add_argument("--across-versions", action="store_true",
                        help="pair each task with the same task at another version (transfer_cube_v2 with _v3)")


def main(args) -> int:
    print("\n".join(compare(args.a, args.b, args.stage, args.mcnemar, args.across_versions)))
    return 0
