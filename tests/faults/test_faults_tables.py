"""A randomized campaign over the tables act-bench reads back (`pytest -m faults`): results.csv
(read by `report`), episodes.csv (by a resumed `eval`) and metrics.csv (by `report`'s loss
curves and a resumed `train`) are cut short, given impossible values (successes > episodes,
negative or fractional counts, rates outside [0, 1], text where a number goes) or lose a
column. Each must be refused in one line naming the file (and for a value its row and column),
exit 2, and change nothing; never a traceback or a number computed from it.

ACT_BENCH_CAMPAIGN_SEED and ACT_BENCH_CAMPAIGN_TRIALS change the seed and the number of trials.
"""
from __future__ import annotations

import csv
import io
import os
import random
import shutil
from pathlib import Path

import pytest
from cli_helpers import GEN, TINY, cli_here, cli_here_damaged, eval_args, grid_args, ok, snapshot

from act_bench.evaluation import table_checks

pytestmark = [pytest.mark.faults, pytest.mark.slow]
SEED = int(os.environ.get("ACT_BENCH_CAMPAIGN_SEED", "53"))
TRIALS = int(os.environ.get("ACT_BENCH_CAMPAIGN_TRIALS", "40"))
CELL = "grid/out/evals/transfer_cube/act-no-te/seed0"
CURVE = "grid/out/training/transfer_cube/act/seed0/metrics.csv"

# per table: column -> impossible values for it
IMPOSSIBLE = {
    "results.csv": {"successes": ["-1", "2.5", "x", "999"], "episodes": ["0", "-4", "1.5", "nan"],
                    "rate": ["1.5", "-0.1", "inf", "0.123"], "seed": ["0.5", "zero"], "stage_index": ["-1", "1.25"],
                    "ci_low": ["2", "-1"], "ci_high": ["1.01", "abc"]},
    "episodes.csv": {"episode": ["-1", "0.5", ""], "success": ["2", "-1", "yes"], "max_stage": ["99", "-2"],
                     "length": ["-5", "3.5"], "queries": ["-1", "100000"], "seconds": ["-1", "soon"],
                     "seed": ["-7", "1e-3"]},
    "metrics.csv": {"step": ["-1", "2.5", "-10", ""], "train_loss": ["abc", "inf", ""], "lr": ["-1", "x"],
                    "elapsed_s": ["-3", "nan"]},
}


def train_resume_args(data, out, steps):
    return ["train", "--task", "transfer_cube", "--policy", "act", "--profile", "ci", "--data", str(data),
            "--out", str(out), "--no-progress", *TINY, "--set", f"train.steps={steps}"]


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """A one-cell grid (results.csv, a loss curve), an evaluation and a training half done."""
    w = tmp_path_factory.mktemp("tables")
    ok(*GEN, "--out", "demos", cwd=w)
    (w / "grid/demos").mkdir(parents=True)
    shutil.copytree(w / "demos", w / "grid/demos/transfer_cube_48x64_top")
    ok(*grid_args("grid"), cwd=w)
    ok(*eval_args(w / "grid/runs/transfer_cube/act/ci/seed0", w / "ev"), cwd=w)
    ok(*train_resume_args("demos", "run", 10), cwd=w)  # resumed to 20 steps below: reads its metrics.csv
    return w


def _targets(w: Path) -> list[tuple[str, list[str]]]:
    """(a table, the command that reads it back)."""
    return [("grid/out/results.csv", ["report", str(w / "grid/out")]),
            (CURVE, ["report", str(w / "grid/out")]),
            ("ev/episodes.csv", eval_args(w / "grid/runs/transfer_cube/act/ci/seed0", w / "ev")),
            ("run/metrics.csv", train_resume_args("demos", "run", 20))]


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def _write_rows(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


def _damage(path: Path, data: bytes, rng: random.Random) -> tuple[bytes, str, list[str]]:
    """(damaged bytes, how, what the error line must name besides the file)."""
    rows = _rows(data)
    kind = rng.choice(["cut", "value", "value", "column"])
    if kind == "cut":  # inside a row (a cut at a line end leaves a shorter, valid table)
        offsets = [i for i in range(1, len(data) - 1) if data[i - 1:i] != b"\n"]
        cut = rng.choice(offsets)
        return data[:cut], f"cut at byte {cut}", []
    if kind == "column":
        required = {"results.csv": table_checks.RESULTS_REQUIRED, "episodes.csv": table_checks.EPISODES_REQUIRED,
                    "metrics.csv": ("step", "train_loss")}[path.name]
        j = rows[0].index(rng.choice(required))
        name = rows[0][j]
        return _write_rows([r[:j] + r[j + 1:] for r in rows]), f"column {name} removed", [name]
    column, values = rng.choice(list(IMPOSSIBLE[path.name].items()))
    j, i = rows[0].index(column), rng.randrange(1, len(rows))
    value = rng.choice(values)
    if column == "successes" and value == "999":  # more successes than its episodes
        value = str(int(float(rows[i][rows[0].index("episodes")])) + 1)
    rows[i][j] = value
    return _write_rows(rows), f"row {i + 1} {column}={value!r}", [f"row {i + 1}", repr(column)]


def test_table_campaign(tables):
    w, rng = tables, random.Random(f"{SEED}-tables")
    targets = _targets(w)
    watched = [w / "grid", w / "ev", w / "run", w / "demos"]
    before = {str(d): snapshot(d) for d in watched}
    for trial in range(TRIALS):
        rel, args = targets[trial % len(targets)]
        path = w / rel
        damaged, how, named = _damage(path, path.read_bytes(), rng)
        code, err, lines = cli_here_damaged(path, damaged, args, w)
        what = f"{rel}, {how}: {args[0]}"
        assert code == 2 and "Traceback" not in err and len(lines) == 1, f"{what}\n{err[-2000:]}"
        assert str(path.name) in lines[0] and all(n in lines[0] for n in named), f"{what}: {lines[0]}"
        assert {str(d): snapshot(d) for d in watched} == before, what
    code, err = cli_here(["report", str(w / "grid/out")], w)  # undamaged, all still reads
    assert code == 0, err


def test_successes_above_episodes_is_one_line_naming_row_and_column(tables, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(tables / "grid/out", out)
    rows = _rows((out / "results.csv").read_bytes())
    rows[2][rows[0].index("successes")] = "51"
    rows[2][rows[0].index("episodes")] = "2"
    (out / "results.csv").write_bytes(_write_rows(rows))
    code, err = cli_here(["report", str(out)], tables)
    assert code == 2 and "Traceback" not in err
    assert f"{out / 'results.csv'}, row 3, column 'successes': 51 successes in 2 episodes" in err


def test_unknown_column_is_refused(tables, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(tables / "grid/out", out)
    rows = _rows((out / "results.csv").read_bytes())
    (out / "results.csv").write_bytes(_write_rows([r + (["succes_rate"] if i == 0 else ["1"])
                                                   for i, r in enumerate(rows)]))
    code, err = cli_here(["report", str(out)], tables)
    assert code == 2 and "unknown column 'succes_rate'" in err


def test_committed_tables_pass():
    """Every table in the repository's results/ passes the checks (none is refused wrongly)."""
    root = Path(__file__).resolve().parents[2] / "results"
    readers = {"results.csv": table_checks.read_results, "episodes.csv": table_checks.read_episodes,
               "metrics.csv": table_checks.read_metrics}
    checked = 0
    for name, read in readers.items():
        for path in root.rglob(name):
            read(path)
            checked += 1
    if checked == 0:
        pytest.skip("no committed results in this checkout")
