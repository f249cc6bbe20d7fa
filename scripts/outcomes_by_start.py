"""Where a policy fails, by where the objects start: each evaluation episode's best stage against
its objects' start positions, pooled over the seeds of a results folder.

Every episode's layout is fixed by its seed (episodes.csv), so resetting the task's env with that
seed gives back where each object started; nothing is rendered. Prints, per method, how many
episodes ended at each best stage, then the final-stage successes in the quartiles of each
object's x and y.

    python scripts/outcomes_by_start.py RESULTS_DIR --task transfer_cube [--methods act,act-no-te]
        [--split cube_x=0.046]

--split OBJECT_AXIS=VALUE also prints the final-stage successes of the episodes whose object
started below VALUE on that axis and of the rest (e.g. the -v1 reference's transfer-cube
misses: a cube starting at x < 0.046 succeeded 21/38 times).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd


from act_bench.envs import make_env


def start_poses(task: str, seeds) -> list[dict[str, np.ndarray]]:
    env = make_env(task, cameras=(), image_size=(96, 128))
    try:
        out = []
        for seed in seeds:
            env.reset(seed=int(seed))
            out.append({k: np.asarray(v, dtype=float) for k, v in env.unwrapped.object_poses.items()})
        return out
    finally:
        env.close()


def table(results: Path, task: str, method: str) -> tuple[pd.DataFrame, list[str]] | None:
    frames = []
    for eval_dir in sorted((results / "evals" / task / method).glob("seed*")):
        csv = eval_dir / "episodes.csv"
        if csv.is_file():
            frames.append(pd.read_csv(csv).assign(train_seed=eval_dir.name))
    if not frames:
        return None
    rows = pd.concat(frames, ignore_index=True)
    poses = start_poses(task, rows["seed"])
    names = list(poses[0])
    for name in names:
        rows[f"{name}_x"] = [p[name][0] for p in poses]
        rows[f"{name}_y"] = [p[name][1] for p in poses]
    return rows, names


def report(rows: pd.DataFrame, names: list[str], stages: list[str], method: str) -> None:
    final = len(stages)
    counts = np.bincount(rows["max_stage"], minlength=final + 1)
    print(f"\n{method}: {len(rows)} episodes; ended at best stage: "
          + ", ".join(f"{(['none'] + stages)[k]} {counts[k]}" for k in range(final + 1)))
    print("| object | axis | quartile 1 | quartile 2 | quartile 3 | quartile 4 |")
    print("|---|---|---|---|---|---|")
    for name in names:
        for axis in ("x", "y"):
            values = rows[f"{name}_{axis}"].to_numpy()
            edges = np.quantile(values, [0, 0.25, 0.5, 0.75, 1])
            cells = []
            for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
                sel = (values >= lo) & ((values < hi) if k < 3 else (values <= hi))
                ok = int((rows["max_stage"][sel] >= final).sum())
                cells.append(f"[{lo:.3f}, {hi:.3f}{')' if k < 3 else ']'}: {ok}/{int(sel.sum())}")
            print(f"| {name} | {axis} | " + " | ".join(cells) + " |")


def split(rows: pd.DataFrame, column: str, value: float, final: int) -> str:
    below = rows[column] < value
    ok = rows["max_stage"] >= final
    return (f"{column} < {value:g}: {int(ok[below].sum())}/{int(below.sum())}; "
            f"{column} >= {value:g}: {int(ok[~below].sum())}/{int((~below).sum())}")


def _parse_split(text: str | None) -> tuple[str, float] | None:
    if text is None:
        return None
    column, sep, value = text.partition("=")
    try:
        return column, float(value)
    except ValueError:
        raise SystemExit(f"error: --split must be OBJECT_AXIS=NUMBER, e.g. cube_x=0.046, got {text!r}") from None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path, help="an `act-bench run` output folder")
    p.add_argument("--task", required=True)
    p.add_argument("--methods", default="act,act-no-te")
    p.add_argument("--split", default=None, metavar="OBJECT_AXIS=VALUE", help="e.g. cube_x=0.046")
    args = p.parse_args()
    cut = _parse_split(args.split)
    from act_bench.errors import ActBenchError
    from act_bench.tasks.registry import get_task

    try:
        stages = list(get_task(args.task).config().stage_names)
    except ActBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    found_any = False
    for method in args.methods.split(","):
        found = table(args.results, args.task, method)
        if found is None:
            print(f"{method}: no episodes.csv under {args.results / 'evals' / args.task / method}", file=sys.stderr)
            continue
        found_any = True
        report(*found, stages, method)
        if cut is not None:
            if cut[0] not in found[0]:
                print(f"error: --split names {cut[0]!r}; this task has {', '.join(c for c in found[0] if c.endswith(('_x', '_y')))}",
                      file=sys.stderr)
                return 2
            print(split(found[0], *cut, len(stages)))
    return 0 if found_any else 2


if __name__ == "__main__":
    sys.exit(main())
