"""The parts of README.md and docs/ that are made from the repository, never typed by hand:
the results tables (from each committed folder's results.csv, through act-bench's own report
code, so a page's numbers are the folder's), the plots they show (copied into docs/img/) and
the CLI reference (from the argument parsers).

    python scripts/docs_tables.py           # rewrite every generated block and plot
    python scripts/docs_tables.py --check   # exit 1 naming each block or plot that is stale

A generated block sits between `<!-- generated: NAME -->` and `<!-- end generated -->`; the
text around it is written by hand. tests/test_docs.py runs --check.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["COLUMNS"] = "100"  # argparse wraps help at the terminal's width: fix it

import pandas as pd  # noqa: E402

from act_bench.report.cell_tables import summary_tables  # noqa: E402
from act_bench.report.results import md_table, read_results_csv  # noqa: E402
from act_bench.report.sweep import sweep_tables  # noqa: E402
from act_bench.report.sweep_stats import mean_table  # noqa: E402

RESULTS = ROOT / "results"

# The headline: the current reference (scripted and human-like folders), its chunk size and its
# tasks (transfer cube, insertion). A new reference changes only these.
HEADLINE = {"folder": "reference-v2", "human": "reference-v2-human", "chunk": 50,
            "tasks": ("transfer_cube_v2", "insertion_v2")}

# The ACT paper's Table I (its simulated tasks, success % per stage), keyed by our -v2 stage
# names: its transfer-cube Touched / Lifted / Transfer and insertion Grasp / Contact / Insert
# are the release's rewards 1 / 2 / 4 and 2 / 3 / 4.
PAPER = {
    ("ACT", "scripted"): {"touch": 97, "lift": 90, "transfer": 86, "grasp": 93, "contact": 90, "insert": 32},
    ("BC-ConvMLP", "scripted"): {"touch": 34, "lift": 17, "transfer": 1, "grasp": 5, "contact": 1, "insert": 1},
    ("ACT", "human"): {"touch": 82, "lift": 60, "transfer": 50, "grasp": 76, "contact": 66, "insert": 20},
    ("BC-ConvMLP", "human"): {"touch": 3, "lift": 1, "transfer": 0, "grasp": 0, "contact": 0, "insert": 0},
}
PAPER_STAGES = (("touch", "lift", "transfer"), ("grasp", "contact", "insert"))  # per headline task
# The trained methods, then the bounds (no training: the scripted expert above, the arms held
# still below) where a reference scored them.
HEADLINE_METHODS = ("act", "act-no-te", "bc", "scripted", "still")

# The plots the docs show, copied so that the site (built from docs/ alone) has them.
PLOTS = {
    "reference-v3/success.png": "img/reference-v3-success.png",
    "reference-v2/success.png": "img/reference-v2-success.png",
    "reference-v1/success.png": "img/reference-v1-success.png",
    "sweep-chunk-all/sweep.png": "img/sweep-chunk-all.png",
    "sweep-decoder/sweep.png": "img/sweep-decoder.png",
    "sweep-te-m/sweep.png": "img/sweep-te-m.png",
    "sweep-open-loop/sweep.png": "img/sweep-open-loop.png",
}


# ---------------------------------------------------------------- results tables
def _results(folder: str) -> pd.DataFrame:
    return read_results_csv(RESULTS / folder / "results.csv")


def run_tables(folder: str) -> str:
    """A run folder's summary tables (as its summary.md has them), one per task."""
    parts = []
    for task, table in summary_tables(_results(folder)).items():
        parts += [f"**{task}** (`results/{folder}`)", "", md_table(table), ""]
    return "\n".join(parts)


def _swept(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.split(".")[0] in ("model", "data", "train", "eval")]


def sweep_blocks(folder: str) -> str:
    """A sweep folder's tables, one per task and data style, and the mean over settings."""
    df = _results(folder)
    fields = _swept(df)
    tables = sweep_tables(df, fields)
    parts = []
    for name, table in tables.items():
        parts += [f"**{name}** (`results/{folder}`)", "", md_table(table), ""]
    if len(tables) > 1:
        parts += ["**Mean over the settings** (the final stage, each setting's mean over seeds "
                  "weighted equally)", "", md_table(mean_table(df, fields)), "",
                  "**Mean over the settings, each training seed alone** (final stage, %)", "",
                  md_table(_mean_per_seed(df, fields)), ""]
    return "\n".join(parts)


def _mean_per_seed(df: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """Per method and seed, a column per value of the first field: the final stage's rate
    averaged over the settings (task x demo folder)."""
    final = df[df["stage_index"] == df.groupby("task")["stage_index"].transform("max")]
    mean = final.groupby(["method", "seed", *fields], sort=False)["rate"].mean().mul(100).round(1)
    table = mean.unstack(fields[0])
    table.columns = [f"{fields[0]}={v}" for v in table.columns]
    return table.reset_index()


def _final(df: pd.DataFrame, task: str, method: str, stage: str) -> tuple[str, str, str]:
    """("mean", "[low, high]", "per-seed rates") of one stage, in %, as summary_tables writes them."""
    table = summary_tables(df)[task]
    row = table[table["method"] == method].iloc[0]
    mean, interval = row[stage].split(" [")
    per_seed = row[next(c for c in table.columns if c.endswith(" per seed"))]
    return mean, "[" + interval, per_seed


def headline() -> str:
    """README's table: the final stage of each task, the paper's Table I beside the reference."""
    scripted, human = _results(HEADLINE["folder"]), _results(HEADLINE["human"])
    cols = ["method", "data", *(f"{_task_label(t)}: {ss[-1]}" for t, ss in zip(HEADLINE["tasks"], PAPER_STAGES))]
    rows = []
    for (name, data), stages in PAPER.items():
        rows.append([f"{name} (paper, Table I)", data, *(str(stages[ss[-1]]) for ss in PAPER_STAGES)])
    for df, data in ((scripted, "scripted"), (human, "human-like")):
        for method in _methods(df):
            cells = []
            for task, stages in zip(HEADLINE["tasks"], PAPER_STAGES):
                mean, interval, per_seed = _final(df, task, method, stages[-1])
                cells.append(f"**{mean}** {interval} ({per_seed})")
            rows.append([method, data, *cells])
    caption = (f"Final stage, success (%): `results/{HEADLINE['folder']}` and `results/{HEADLINE['human']}`, "
               f"the `cpu` profile with chunk size {HEADLINE['chunk']}; **the mean over training seeds "
               f"{_seeds_text(scripted, human)}**, [a 95% interval that includes training noise: with fewer than "
               "five seeds the quasi-binomial one, its dispersion pooled over the table's cells "
               "([Statistics](docs/statistics.md))], (each seed's rate).")
    return caption + "\n\n" + md_table(pd.DataFrame(rows, columns=cols)) + "\n"


def _methods(df: pd.DataFrame) -> list[str]:
    """The headline's methods that this results table holds, in the headline's order."""
    return [m for m in HEADLINE_METHODS if m in set(df["method"])]


def _seeds_text(scripted: pd.DataFrame, human: pd.DataFrame) -> str:
    """"0, 1, 2", or each data style's seeds where they differ."""
    both = [", ".join(map(str, sorted(df["seed"].unique()))) for df in (scripted, human)]
    return both[0] if both[0] == both[1] else f"{both[0]} (scripted) and {both[1]} (human-like)"


def _task_label(task: str) -> str:
    """"transfer_cube_v2" -> "transfer cube"."""
    return re.sub(r"_v\d+$", "", task).replace("_", " ")


def paper_table_i() -> str:
    """Table I's stages, the paper's and ours, both data styles (mean over seeds, %)."""
    cols = ["method", "data", *(f"{_task_label(t)}: {s}" for t, ss in zip(HEADLINE["tasks"], PAPER_STAGES) for s in ss)]
    rows = []
    for (name, data), stages in PAPER.items():
        rows.append([f"{name} (paper)", data, *(str(stages[s]) for ss in PAPER_STAGES for s in ss)])
    for folder, data in ((HEADLINE["folder"], "scripted"), (HEADLINE["human"], "human-like")):
        df = _results(folder)
        tables = summary_tables(df)
        for method in _methods(df):
            cells = []
            for task, ss in zip(HEADLINE["tasks"], PAPER_STAGES):
                row = tables[task][tables[task]["method"] == method].iloc[0]
                cells += [row[s].split(" [")[0] for s in ss]
            rows.append([method, data, *cells])
    return md_table(pd.DataFrame(rows, columns=cols)) + "\n"


# ---------------------------------------------------------------- CLI reference
def _subcommands(parser: argparse.ArgumentParser):
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def cli_reference() -> str:
    from act_bench.cli import COMMANDS, build_parser

    parts = []

    def add(name: str, parser: argparse.ArgumentParser, level: int) -> None:
        parts.extend([f"{'#' * level} `{name}`", "", "```text", parser.format_help().rstrip(), "```", ""])
        for sub, p in _subcommands(parser):
            add(f"{name} {sub}", p, level + 1)

    for name, parser in _subcommands(build_parser(list(COMMANDS))):
        add(f"act-bench {name}", parser, 2)
    return "\n".join(parts)


GENERATORS = {
    "headline": headline,
    "paper-table-i": paper_table_i,
    "cli": cli_reference,
    **{f"run:{f}": (lambda f=f: run_tables(f)) for f in (
        "reference-v3", "reference-v2", "reference-v2-human", "ablation-cvae", "ablation-cvae-human", "one-change-v2/noshadow",
        "one-change-v2/v1grasp", "reference-v1", "reference-v1-fp32", "grid-1seed-bf16", "check-v1",
        "check-v1-demos100", "reference")},
    **{f"sweep:{f}": (lambda f=f: sweep_blocks(f)) for f in (
        "sweep-te-m", "sweep-open-loop", "sweep-chunk-all", "sweep-decoder")},
}
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w.:/-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


# ---------------------------------------------------------------- files
def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def render(text: str, cache: dict[str, str], skip: tuple[str, ...] = ()) -> str:
    def block(m: re.Match) -> str:
        name = m.group("name")
        if name not in GENERATORS:
            raise SystemExit(f"docs_tables: unknown generated block {name!r}")
        if name in skip:
            return m.group(0)
        if name not in cache:
            cache[name] = GENERATORS[name]().rstrip("\n") + "\n"
        return m.group(1) + cache[name] + m.group(4)
    return BLOCK.sub(block, text)


def stale(write: bool, skip: tuple[str, ...] = ()) -> list[str]:
    """What differs from what is committed (and, with write, rewrite it); skip: blocks left as they are."""
    cache, out = {}, []
    for page in pages():
        text = page.read_text()
        new = render(text, cache, skip)
        if new != text:
            out.append(str(page.relative_to(ROOT)))
            if write:
                page.write_text(new)
    for src, dst in PLOTS.items():
        src, dst = RESULTS / src, ROOT / "docs" / dst
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            out.append(str(dst.relative_to(ROOT)))
            if write:
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(src.read_bytes())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is stale")
    parser.add_argument("--skip", action="append", default=[], metavar="BLOCK",
                        help="leave this block as it is (e.g. cli: argparse's layout differs between Pythons)")
    args = parser.parse_args(argv)
    changed = stale(write=not args.check, skip=tuple(args.skip))
    if args.check and changed:
        print("stale (rerun python scripts/docs_tables.py): " + ", ".join(changed), file=sys.stderr)
        return 1
    for name in changed:
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
