"""How often the CI regression job fails a correct build, and how often it catches a broken one.

    python scripts/ci_false_alarm.py [--reference results/ci/reference.json] [--draws 100000]

The job holds one new training to the lower (1 - alpha) prediction bound of the reference's
trainings (act_bench.grid.regression). That bound assumes normal seed rates; a cell near 90%
is skewed, so this script measures the rate it really gives: it fits the between-training
spread of the committed trainings (their rates' variance less the binomial variance of their
episodes, method of moments), draws whole reference sets and one new training from a beta
distribution of true rates with that mean and spread, each evaluated on the cell's episodes,
and counts how often the new one falls below its reference set's bound. The same with the
new training's true rate lowered shows how large a drop the job catches.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from act_bench.evaluation.intervals import prediction_lower_bound  # noqa: E402
from act_bench.grid.regression import REFERENCE, load_reference, reference_base, reference_seed_rates  # noqa: E402

DROPS = (0.0, 0.1, 0.2, 0.3, 0.5)  # points (as fractions) taken off the new training's true rate


def training_spread(rates: np.ndarray, episodes: int) -> tuple[float, float]:
    """(mean, SD of the true rates between trainings): the observed variance less the episodes' share."""
    mean = float(rates.mean())
    between = float(rates.var(ddof=1)) - mean * (1 - mean) / episodes
    return mean, float(np.sqrt(max(between, 1e-6)))


def true_rates(rng, mean: float, sd: float, size) -> np.ndarray:
    """Beta-distributed true rates with this mean and SD (the SD capped where a beta cannot hold it)."""
    var = min(sd**2, 0.9 * mean * (1 - mean))
    strength = mean * (1 - mean) / var - 1
    return rng.beta(mean * strength, (1 - mean) * strength, size=size)


def failure_rates(rates, episodes: int, alpha: float, draws: int, seed: int = 0) -> dict[float, tuple[float, float]]:
    """Per drop in the new training's true rate, the fraction of simulated builds the job fails:
    (against a fresh reference set each time, against the committed trainings' own bound)."""
    rng = np.random.default_rng(seed)
    n_ref = len(rates)
    mean, sd = training_spread(np.asarray(rates, dtype=float), episodes)
    reference = rng.binomial(episodes, true_rates(rng, mean, sd, (draws, n_ref))) / episodes
    bounds = prediction_lower_bound(reference, alpha)
    committed = prediction_lower_bound(rates, alpha)
    new_true = true_rates(rng, mean, sd, draws)
    out = {}
    for drop in DROPS:
        new = rng.binomial(episodes, np.clip(new_true - drop, 0, 1)) / episodes
        out[drop] = (float(np.mean(new < bounds)), float(np.mean(new < committed)))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", default=str(ROOT / REFERENCE))
    p.add_argument("--draws", type=int, default=100_000)
    args = p.parse_args(argv)
    if args.draws < 1:
        p.error(f"--draws must be at least 1, not {args.draws}")
    ref = load_reference(Path(args.reference))
    policy, alpha = ref["policy"], ref["alpha"]
    if "reference_seeds" not in policy:
        raise SystemExit(f"{args.reference}: the cell lists no reference_seeds (the binomial rule has no spread to fit)")
    rates = reference_seed_rates(policy, reference_base(args.reference))
    mean, sd = training_spread(np.asarray(rates), policy["episodes"])
    bound = prediction_lower_bound(rates, alpha)
    print(f"{policy['method']} on {policy['task']}: {len(rates)} trainings, rates "
          f"{' / '.join(f'{r:.0%}' for r in rates)}; between-training SD of the true rate {sd:.1%} "
          f"(episodes aside); the job's bound {bound:.1%} at alpha {alpha}")
    print("fails a build (any reference set of this size / the committed one):")
    for drop, (fresh, committed) in failure_rates(rates, policy["episodes"], alpha, args.draws).items():
        what = "correct" if drop == 0 else f"{drop * 100:.0f} points worse"
        print(f"  {what}: {fresh:.2%} / {committed:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
