"""The CI regression job: runs whose success rates must not fall.

    python -m act_bench.grid.regression [--out ci-run] [--reference results/ci/reference.json] [--base .]

It records scripted demonstrations of every registered task (their success rate must stay at
or above the floors in the reference file), then trains one cell of a committed results table
from scratch (the file names it: act-no-te on transfer_cube_v3, cpu profile, seed 0, with the
overrides it lists pinning the recipe, chunk size 100, fp32 and 6000 steps, so the job stays the
same when the profile moves on and costs the same on a CPU without native bf16) and fails when
its success falls below what the reference allows. Two rules, by what the reference holds: with
`reference_seeds` (several trainings of the cell's recipe, `--train-reference` below), below the
lower (1 - alpha) prediction bound of those trainings' rates, so a correct build fails with
probability alpha whatever the spread between trainings; without it, a one-sided binomial test
against the one committed run, P(X <= k | n, p_ref) < alpha, which holds episode noise only. A
change meant to move the numbers updates the committed results. The reference file and the
results table it names live in the repository's results/ (a wheel does not ship them):
--reference defaults to results/ci/reference.json under the current folder, else under the
source checkout this module runs from; the table's path in it is relative to --base (default:
the folder holding that results/).

    python -m act_bench.grid.regression --train-reference results/ci-v3 [--jobs N]

trains and evaluates the cell's `reference_seeds` instead (resumable), so the trainings the
seed-level rule holds a build to come from the recipe the job itself runs.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from act_bench.evaluation.intervals import prediction_lower_bound
from act_bench.grid.run import Grid, run_benchmark
from act_bench.tasks.registry import task_names

if TYPE_CHECKING:  # pandas loads inside the functions that use it
    import pandas as pd

REFERENCE = Path("results") / "ci" / "reference.json"
_CHECKOUT = Path(__file__).resolve().parents[2]  # the repository, when running from a source checkout


def default_reference() -> Path | None:
    """results/ci/reference.json under the current folder, else under the source checkout."""
    for root in (Path.cwd(), _CHECKOUT):
        if (root / REFERENCE).is_file():
            return root / REFERENCE
    return None


def load_reference(path: Path | None) -> dict:
    """The reference file's content; a missing or unreadable one is a one-line SystemExit."""
    if path is None:
        raise SystemExit(f"no reference file: run from the repository root (it holds {REFERENCE}) or pass "
                         "--reference PATH; an installed wheel does not ship results/")
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{path}: unreadable reference file ({' '.join(str(exc).split())})") from None


def reference_base(reference: Path) -> Path:
    """The folder a reference file's paths are relative to: the one holding its results/."""
    return Path(reference).resolve().parents[len(REFERENCE.parts) - 1]


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def regressed(successes: int, episodes: int, reference_rate: float, alpha: float) -> tuple[bool, float]:
    """Whether `successes`/`episodes` is significantly below `reference_rate` (and the p-value)."""
    p_value = binomial_cdf(successes, episodes, reference_rate)
    return p_value < alpha, p_value


def _success_rows(policy: dict, base: Path, seeds) -> pd.DataFrame:
    """The committed results.csv rows of the policy's cell at its success stage, one per seed asked."""
    import pandas as pd

    from act_bench.tasks.registry import success_stage

    path = base / policy["reference_results"]
    if not path.is_file():
        raise SystemExit(f"{path}: the reference results table is missing; pass --base, the folder holding "
                         f"{policy['reference_results']}")
    df = pd.read_csv(path)
    cell = df[(df.task == policy["task"]) & (df.method == policy["method"])]
    rows = []
    for seed in seeds:
        at = cell[cell.seed == seed]
        if at.empty:
            raise SystemExit(f"no {policy['task']}/{policy['method']}/seed{seed} row in {policy['reference_results']}")
        rows.append(at[at.stage_index == success_stage(policy["task"], int(at.stage_index.max()))].iloc[0])
    return pd.DataFrame(rows)


def reference_success(policy: dict, base: Path) -> tuple[int, int]:
    """(successes, episodes) of the policy's cell (its success stage, its seed) in the committed results.csv."""
    row = _success_rows(policy, base, [policy["seed"]]).iloc[0]
    return int(row.successes), int(row.episodes)


def reference_seed_rates(policy: dict, base: Path) -> list[float]:
    """The success rates of the cell's trainings listed in reference_seeds (the spread between trainings)."""
    rows = _success_rows(policy, base, policy["reference_seeds"])
    return [float(k / n) for k, n in zip(rows.successes, rows.episodes)]


def below_trainings(rate: float, seed_rates, alpha: float) -> tuple[bool, float]:
    """Whether one new training's rate is below the lower prediction bound of the reference's
    trainings (a correct build falls there with probability alpha), and the bound."""
    bound = prediction_lower_bound(seed_rates, alpha)
    return rate < bound, bound


def scripted_rates(out: Path, episodes: int) -> dict[str, float]:
    from act_bench.demos.generate import DemoSettings, generate_demos

    rates = {}
    for task in task_names():
        m = generate_demos(task, episodes, out / "scripted" / task, DemoSettings(cameras=[]), workers=2,
                           progress=False)
        rates[task] = m["scripted_success_rate"]
    return rates


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="act-bench CI regression job")
    p.add_argument("--out", default="ci-run", help="working folder (default ci-run)")
    p.add_argument("--reference", default=None,
                   help=f"reference file (default {REFERENCE} under the current folder or the source checkout)")
    p.add_argument("--base", default=None,
                   help="folder the reference's paths are relative to (default: the one holding its results/)")
    p.add_argument("--train-reference", metavar="DIR", default=None,
                   help="instead of the job: train and evaluate the cell's reference_seeds into the results "
                        "folder DIR (resumable; its results.csv is the table reference_results names)")
    p.add_argument("--jobs", type=int, default=1, help="with --train-reference: trainings at once (default 1)")
    args = p.parse_args(argv)
    reference = Path(args.reference) if args.reference else default_reference()
    ref = load_reference(reference)
    base = Path(args.base) if args.base else reference_base(reference)
    out = Path(args.out)
    if args.train_reference:
        return train_reference(ref["policy"], Path(args.train_reference), out, args.jobs)
    start = time.time()
    failures = []

    rates = scripted_rates(out, ref["scripted"]["episodes"])
    for task, rate in rates.items():
        floor = ref["scripted"]["min_success"].get(task)
        if floor is None:  # a task added since the reference was made: reported, not held
            print(f"scripted {task}: {rate:.1%} (no floor in the reference)")
            continue
        status = "ok" if rate >= floor else "REGRESSED"
        print(f"scripted {task}: {rate:.1%} over {ref['scripted']['episodes']} episodes (floor {floor:.0%}) {status}")
        if rate < floor:
            failures.append(f"scripted {task} success {rate:.1%} < {floor:.0%}")

    policy = ref["policy"]
    judge = cell_judge(policy, ref["alpha"], base)
    result = run_benchmark(cell_grid(policy, (policy["seed"],), out / "run", out), progress=False)
    if result["failures"]:
        failures += result["failures"]
    else:
        df = result["results"]
        row = df[df["stage_index"] == df["stage_index"].max()].iloc[0]
        k, n = int(row["successes"]), int(row["episodes"])
        line, failure = judge(k, n)
        print(line)
        failures += [failure] if failure else []
    print(f"regression job took {(time.time() - start) / 60:.1f} min")
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    return 1 if failures else 0


def cell_grid(policy: dict, seeds, results: Path, work: Path, jobs: int = 1) -> Grid:
    """The reference cell's recipe as a grid over `seeds`: tables into `results`, demos and
    trained runs under `work`."""
    return Grid(methods=(policy["method"],), tasks=(policy["task"],), seeds=tuple(seeds), profile=policy["profile"],
                episodes=policy["episodes"], demos=policy["demos"], overrides=tuple(policy["overrides"]), out=results,
                demos_root=work / "demos", runs_root=work / "runs", videos=1, jobs=jobs)


def train_reference(policy: dict, results: Path, work: Path, jobs: int) -> int:
    """Trains and evaluates the cell's reference_seeds (the spread a new build is held to)."""
    seeds = policy.get("reference_seeds")
    if not seeds:
        raise SystemExit("the reference's policy lists no reference_seeds: add the training seeds to train")
    result = run_benchmark(cell_grid(policy, seeds, results, work, jobs))
    for f in result["failures"]:
        print(f"FAILED {f}", file=sys.stderr)
    if not result["failures"]:
        print(f"{len(seeds)} trainings of {policy['method']} on {policy['task']}: {results / 'results.csv'}")
    return 1 if result["failures"] else 0


def cell_judge(policy: dict, alpha: float, base: Path):
    """Reads the cell's reference now (a bad one fails before the training) and returns
    judge(k, n) -> (the verdict's line, the failure or None). With reference_seeds the new
    training is held to the spread between the reference's trainings (below_trainings); else to
    its one committed run (a one-sided binomial test: episode noise only)."""
    cell = f"{policy['method']} on {policy['task']} ({policy['profile']} profile, seed {policy['seed']})"
    if "reference_seeds" in policy:
        rates = reference_seed_rates(policy, base)

        def judge(k: int, n: int):
            bad, bound = below_trainings(k / n, rates, alpha)
            line = (f"{cell}: {k}/{n}; the reference's {len(rates)} trainings {min(rates):.0%}-{max(rates):.0%} "
                    f"(mean {sum(rates) / len(rates):.1%}), lower {1 - alpha:.0%} prediction bound {bound:.1%} "
                    f"{'REGRESSED' if bad else 'ok'}")
            return line, (f"{cell} success {k}/{n} below the reference trainings' {1 - alpha:.0%} prediction "
                          f"bound {bound:.1%}" if bad else None)
        return judge
    ref_k, ref_n = reference_success(policy, base)

    def judge(k: int, n: int):
        bad, p_value = regressed(k, n, ref_k / ref_n, alpha)
        line = f"{cell}: {k}/{n}; reference {ref_k}/{ref_n}; P(X <= {k}) = {p_value:.3g} {'REGRESSED' if bad else 'ok'}"
        return line, (f"{policy['method']} {policy['task']} success {k}/{n} significantly below the reference "
                      f"{ref_k}/{ref_n} (p = {p_value:.3g})" if bad else None)
    return judge


if __name__ == "__main__":
    sys.exit(main())
