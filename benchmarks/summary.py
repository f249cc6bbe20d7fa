"""Collect the headline performance figures from results/bench/*.csv into results/bench/summary.json.

Each figure is read from the CSV a benchmark wrote (never typed in); a figure whose benchmark has
not been run is null, with the command that produces it under "missing".

    python -m benchmarks.summary [--grid-run RESULTS_DIR]

--grid-run names an `act-bench run --seeds 0` output folder whose run.json holds the timing that
`act-bench run` records (wall seconds split into demos, jobs and report).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "results" / "bench"

from act_bench.evaluation.env_slots import default_workers


def rows(name: str) -> list[dict]:
    path = BENCH / name
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def pick(table: list[dict], column: str, **match) -> float | None:
    """The first matching row's value; rows timed on emulated bf16 kernels, rows of another chunk
    size than the profile has now (a profile=... match) and empty cells are no figure."""
    profile = match.get("profile")
    for row in table:
        if all(str(row.get(k)) == str(v) for k, v in match.items()) and row.get("kernels", "native") == "native" \
                and row.get(column) not in (None, "") and (profile is None or _same_chunk(row, profile)):
            return float(row[column])
    return None


def _same_chunk(row: dict, profile: str) -> bool:
    """Whether the row was timed at the profile's chunk size of today (a row without the column:
    written before it existed, taken as it is)."""
    from act_bench.policies.config import load_profile

    return row.get("chunk_size") in (None, "") or int(row["chunk_size"]) == load_profile("act", profile).model.chunk_size


def shipped_variant() -> str:
    """train_speedups.py's variant that is the cpu profile's training step on this machine."""
    import torch

    from act_bench.policies.config import load_profile
    from act_bench.training.train import resolve_amp

    amp = resolve_amp(load_profile("act", "cpu").train.amp, torch.device("cpu"))
    return "bf16" if amp == "bf16" else "baseline"


def grid_record(run_dir: Path | None) -> dict | None:
    """The grid's settings and timing from its run.json (the settings say what was timed)."""
    if run_dir is None:
        return None
    record = json.loads((run_dir / "run.json").read_text())
    if "timing" not in record:
        raise SystemExit(f"{run_dir}/run.json has no timing (made before act-bench recorded it)")
    keep = ("methods", "tasks", "seeds", "profile", "overrides", "episodes", "demos", "jobs", "timing")
    return {"dir": str(run_dir), **{k: record.get(k) for k in keep}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid-run", type=Path, default=None)
    args = p.parse_args()
    grid = grid_record(args.grid_run)
    peers, peers_bf16 = rows("vs_lerobot.csv"), rows("vs_lerobot_bf16.csv")
    evals, flops = rows("eval_speed.csv"), rows("flops.csv")
    figures = {
        "grid_1seed_wall_s": grid["timing"]["wall_s"] if grid else None,
        "act_paper_step_ratio_vs_lerobot_96x128": pick(peers, "ratio", what="train_step", image_size="96x128"),
        "act_paper_step_ratio_vs_lerobot_480x640": pick(peers, "ratio", what="train_step", image_size="480x640"),
        # the cpu profile as shipped, on this machine (train.amp "auto": bf16 where the CPU has it natively)
        "act_cpu_steps_per_s": pick(rows("train_speedups.csv"), "steps_per_s", variant=shipped_variant(),
                                    profile="cpu"),
        "act_cpu_steps_per_s_fp32": pick(rows("train_speedups.csv"), "steps_per_s", variant="baseline",
                                         profile="cpu"),
        # the configuration an evaluation job of `act-bench run` uses (batch 16, its default env workers)
        "eval_speedup_act_te": next((float(r["speedup"]) for r in evals if r["method"] == "act" and r["batch"] == "16"
                                     and int(r.get("env_workers") or 0) == default_workers(int(r["threads"]))
                                     and r.get("precision", "fp32") == "fp32"), None),
        # both sides in bf16 autocast (our train.amp=bf16, LeRobot's use_amp)
        "act_paper_step_ratio_vs_lerobot_96x128_bf16": pick(peers_bf16, "ratio", what="train_step",
                                                            image_size="96x128"),
        "act_paper_step_ratio_vs_lerobot_480x640_bf16": pick(peers_bf16, "ratio", what="train_step",
                                                             image_size="480x640"),
        # achieved GFLOP/s of a training step over what its kernels reach alone (benchmarks/flops.py)
        "act_cpu_fraction_of_attainable_bf16": pick(flops, "fraction_of_attainable", profile="cpu", precision="bf16"),
        "act_cpu_fraction_of_attainable_fp32": pick(flops, "fraction_of_attainable", profile="cpu", precision="fp32"),
        "act_paper_fraction_of_attainable_bf16": pick(flops, "fraction_of_attainable", profile="paper",
                                                      precision="bf16"),
        "act_paper_fraction_of_attainable_fp32": pick(flops, "fraction_of_attainable", profile="paper",
                                                      precision="fp32"),
    }
    commands = {
        "grid_1seed_wall_s": "act-bench run --seeds 0 --out DIR, then --grid-run DIR",
        "act_paper_step_ratio_vs_lerobot_96x128": "python benchmarks/vs_lerobot.py",
        "act_paper_step_ratio_vs_lerobot_480x640": "python benchmarks/vs_lerobot.py",
        "act_cpu_steps_per_s": "python -m benchmarks.train_speedups",
        "act_cpu_steps_per_s_fp32": "python -m benchmarks.train_speedups",
        "eval_speedup_act_te": "python benchmarks/eval_speed.py",
        "act_paper_step_ratio_vs_lerobot_96x128_bf16": "python benchmarks/vs_lerobot.py --precision bf16",
        "act_paper_step_ratio_vs_lerobot_480x640_bf16": "python benchmarks/vs_lerobot.py --precision bf16",
        **{f"act_{p}_fraction_of_attainable_{pr}": "python benchmarks/flops.py" for p in ("cpu", "paper")
           for pr in ("bf16", "fp32")},
    }
    out = {**figures, "grid_run": grid,
           "missing": {k: commands[k] for k, v in figures.items() if v is None}}
    tmp = BENCH / "summary.json.tmp"
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    tmp.replace(BENCH / "summary.json")
    for k, v in figures.items():
        print(f"{k:42s} {v if v is not None else '-'}")
    print(f"wrote {BENCH / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
