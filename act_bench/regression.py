"""The CI regression job: small, honest runs whose success rates must not fall.

    python -m act_bench.regression [--out ci-run] [--update]

It records scripted demonstrations of both tasks (their success rate must stay at or above
the floors in results/ci/reference.json), trains ACT on transfer cube with the settings in
that file, evaluates it, and fails when the measured success is significantly below the
committed reference: a one-sided binomial test, P(X <= k | n, p_ref) < alpha. `--update`
rewrites the reference from this run (after a change that is meant to move the numbers).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from act_bench.atomic_io import write_json

REFERENCE = Path(__file__).resolve().parents[1] / "results" / "ci" / "reference.json"


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def regressed(successes: int, episodes: int, reference_rate: float, alpha: float) -> tuple[bool, float]:
    """Whether `successes`/`episodes` is significantly below `reference_rate` (and the p-value)."""
    p_value = binomial_cdf(successes, episodes, reference_rate)
    return p_value < alpha, p_value


def scripted_rates(out: Path, episodes: int) -> dict[str, float]:
    from act_bench.scripted.generate import generate_demos

    rates = {}
    for task in ("transfer_cube", "insertion"):
        m = generate_demos(task, episodes, out / "scripted" / task, seed=0, cameras=[], workers=2, progress=False)
        rates[task] = m["scripted_success_rate"]
    return rates


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="act-bench CI regression job")
    p.add_argument("--out", default="ci-run", help="working folder (default ci-run)")
    p.add_argument("--reference", default=str(REFERENCE))
    p.add_argument("--update", action="store_true", help="write this run's figures as the new reference")
    args = p.parse_args(argv)
    ref_path = Path(args.reference)
    ref = json.loads(ref_path.read_text())
    out = Path(args.out)
    start = time.time()
    failures = []

    rates = scripted_rates(out, ref["scripted"]["episodes"])
    for task, rate in rates.items():
        floor = ref["scripted"]["min_success"][task]
        status = "ok" if rate >= floor else "REGRESSED"
        print(f"scripted {task}: {rate:.1%} over {ref['scripted']['episodes']} episodes (floor {floor:.0%}) {status}")
        if rate < floor:
            failures.append(f"scripted {task} success {rate:.1%} < {floor:.0%}")

    from act_bench.run import run_benchmark

    policy = ref["policy"]
    result = run_benchmark(
        methods=[policy["method"]], tasks=[policy["task"]], seeds=[policy["seed"]], profile=policy["profile"],
        episodes=policy["episodes"], demos=policy["demos"], overrides=policy["overrides"],
        out=out / "run", demos_root=out / "demos", runs_root=out / "runs", videos=1, progress=False,
    )
    if result["failures"]:
        failures += result["failures"]
    else:
        df = result["results"]
        row = df[df["stage_index"] == df["stage_index"].max()].iloc[0]
        k, n = int(row["successes"]), int(row["episodes"])
        bad, p_value = regressed(k, n, policy["reference_success"], ref["alpha"])
        print(f"{policy['method']} on {policy['task']} ({policy['profile']} profile, {' '.join(policy['overrides'])}): "
              f"{k}/{n} = {k / n:.0%}; reference {policy['reference_success']:.0%}; "
              f"P(X <= {k}) = {p_value:.3g} {'REGRESSED' if bad else 'ok'}")
        if bad:
            failures.append(f"{policy['method']} {policy['task']} success {k}/{n} significantly below "
                            f"{policy['reference_success']:.0%} (p = {p_value:.3g})")
        if args.update:
            policy["reference_success"] = k / n
            ref["measured"] = {"successes": k, "episodes": n, "date": time.strftime("%Y-%m-%d"),
                               "scripted": rates, "minutes": round((time.time() - start) / 60, 1)}
            write_json(ref_path, ref)
            print(f"updated {ref_path}")
    print(f"regression job took {(time.time() - start) / 60:.1f} min")
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
