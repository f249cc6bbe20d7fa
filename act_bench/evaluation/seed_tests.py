"""Is setting B's success rate different from A's? Tests with the training run as the unit.

Each training seed contributes one rate per setting (its evaluation's success rate), and the
tests see only those rates: the spread between trainings is part of the noise, as it is for
anyone who retrains the recipe. Settings may be measured in several blocks (task x data style);
the effect is then the mean over blocks of each block's difference, each block weighted equally
(as the mean over settings of a sweep is), and block differences are removed from the noise.

- paired (A and B share training seeds and evaluation starts, e.g. two evaluations of one
  trained model, or two sweep points trained from one seed): the seed's difference B - A is the
  unit; a t test on the differences (residual df: pairs - blocks) and an exact sign-flip test.
- unpaired (otherwise): a two-sample t test with the within-cell variance pooled over both
  settings and all blocks (df: runs - 2 x blocks), and an exact label permutation within blocks.

Arrays are vectorised over leading axes (many simulated studies at once): diffs (..., blocks,
seeds), NaN where a block has fewer seeds.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

EXACT_LIMIT = 1 << 16  # more arrangements than this: a Monte Carlo estimate
MONTE_CARLO = 20000
ROUND = 10  # rates are k / n: rounding removes float noise that would pass for spread (0.26 - 0.24 != 0.02)


@dataclass
class Effect:
    """B - A (rate units) with its 95% t interval and two p-values; perm_min: the smallest
    p-value the permutation test can give with these many runs (0.25 for 3 paired seeds)."""
    effect: float
    low: float
    high: float
    p_t: float
    p_perm: float
    perm_min: float
    perm_exact: bool
    design: str
    runs: int
    blocks: int
    df: int


def _blocks(x) -> np.ndarray:
    """A list of per-block arrays (lengths may differ) as one NaN-padded (blocks, seeds) array."""
    if isinstance(x, np.ndarray):
        return x.astype(float)
    width = max(len(b) for b in x)
    return np.array([list(map(float, b)) + [math.nan] * (width - len(b)) for b in x])


def _t_summary(effect, var_factor, ss, df, level):
    """p-value and interval of effect with variance (ss / df) * var_factor on df."""
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(ss / df * var_factor)
        t = effect / se
        # every run differing by the same amount: no spread to test against (the permutation p stands)
        p = np.where(se > 0, 2 * stats.t.sf(np.abs(t), df), np.nan)
        half = stats.t.ppf(0.5 + level / 2, df) * se
    return p, effect - half, effect + half


def paired_arrays(diffs, level: float = 0.95):
    """(effect, low, high, p_t, df) for differences shaped (..., blocks, seeds)."""
    d = np.round(np.asarray(diffs, dtype=float), ROUND)
    n_b = np.sum(~np.isnan(d), axis=-1)
    blocks = d.shape[-2]
    means = np.nanmean(d, axis=-1)
    effect = means.mean(axis=-1)
    ss = np.nansum((d - means[..., None]) ** 2, axis=(-2, -1))
    df = n_b.sum(axis=-1) - blocks
    p, low, high = _t_summary(effect, (1 / n_b).sum(axis=-1) / blocks**2, ss, np.maximum(df, 1), level)
    p = np.where(np.asarray(df) > 0, p, np.nan)
    return effect, low, high, p, df


def _signs(units: int, rng) -> tuple[np.ndarray, bool]:
    if 2**units <= EXACT_LIMIT:
        return np.array(list(itertools.product((1.0, -1.0), repeat=units))), True
    return rng.choice((1.0, -1.0), size=(MONTE_CARLO, units)), False


def sign_flip_p(diffs, seed: int = 0):
    """Two-sided sign-flip p of the mean over blocks of the blocks' mean differences, and
    whether it is exact. All studies along the leading axes share one pattern of missing seeds."""
    d = np.asarray(diffs, dtype=float)
    present = ~np.isnan(d.reshape(-1, *d.shape[-2:])[0])
    weights = (present / present.sum(axis=-1, keepdims=True) / d.shape[-2])[present]  # (units,)
    units = d[..., present]  # (..., units)
    signs, exact = _signs(len(weights), np.random.default_rng(seed))
    observed = units @ weights
    flipped = (units * weights) @ signs.T  # (..., arrangements)
    count = np.sum(np.abs(flipped) >= np.abs(observed)[..., None] - 1e-12, axis=-1)
    p = count / len(signs) if exact else (count + 1) / (len(signs) + 1)
    return p, exact, (2 / len(signs) if exact else 1 / (len(signs) + 1))


def unpaired_arrays(a, b, level: float = 0.95):
    """(effect, low, high, p_t, df) for rates shaped (..., blocks, seeds) per setting."""
    a, b = np.round(np.asarray(a, dtype=float), ROUND), np.round(np.asarray(b, dtype=float), ROUND)
    na, nb = np.sum(~np.isnan(a), axis=-1), np.sum(~np.isnan(b), axis=-1)
    blocks = a.shape[-2]
    ma, mb = np.nanmean(a, axis=-1), np.nanmean(b, axis=-1)
    effect = (mb - ma).mean(axis=-1)
    ss = np.nansum((a - ma[..., None]) ** 2, axis=(-2, -1)) + np.nansum((b - mb[..., None]) ** 2, axis=(-2, -1))
    df = (na + nb).sum(axis=-1) - 2 * blocks
    p, low, high = _t_summary(effect, (1 / na + 1 / nb).sum(axis=-1) / blocks**2, ss, np.maximum(df, 1), level)
    return effect, low, high, np.where(df > 0, p, np.nan), df


def _splits(na: int, nb: int) -> np.ndarray:
    """Every way to label na of na + nb runs as A: (arrangements, na + nb) of +1/nb (B), -1/na (A)."""
    n = na + nb
    rows = []
    for chosen in itertools.combinations(range(n), na):
        row = np.full(n, 1.0 / nb)
        row[list(chosen)] = -1.0 / na
        rows.append(row)
    return np.array(rows)


def label_permutation_p(a_blocks, b_blocks, seed: int = 0):
    """Two-sided p of the mean over blocks of (mean B - mean A) when labels are permuted within
    each block; exact when the arrangements number at most EXACT_LIMIT. Lists of 1-D arrays."""
    per_block, total = [], 1
    for a, b in zip(a_blocks, b_blocks):
        x = np.concatenate([np.asarray(a, float), np.asarray(b, float)])
        per_block.append((x, len(a), len(b)))
        total *= math.comb(len(x), len(a))
    blocks = len(per_block)
    observed = np.mean([np.mean(b) - np.mean(a) for a, b in zip(a_blocks, b_blocks)])
    if total <= EXACT_LIMIT:
        stat = np.zeros(1)
        for x, na, nb in per_block:  # every combination of every block's arrangements
            stat = (stat[:, None] + (_splits(na, nb) @ x)[None, :] / blocks).ravel()
        exact = True
    else:
        rng = np.random.default_rng(seed)
        stat = np.zeros(MONTE_CARLO)
        for x, na, nb in per_block:
            perm = np.argsort(rng.random((MONTE_CARLO, len(x))), axis=1)
            xs = x[perm]
            stat += (xs[:, na:].mean(axis=1) - xs[:, :na].mean(axis=1)) / blocks
        exact = False
    count = int(np.sum(np.abs(stat) >= abs(observed) - 1e-12))
    if not exact:
        return (count + 1) / (len(stat) + 1), False, 1 / (len(stat) + 1)
    return count / len(stat), True, float(np.mean(np.abs(stat) >= np.abs(stat).max() - 1e-12))


def paired_effect(diffs_by_block, level: float = 0.95) -> Effect:
    d = _blocks(diffs_by_block)
    effect, low, high, p, df = paired_arrays(d, level)
    p_perm, exact, least = sign_flip_p(d)
    return Effect(float(effect), max(-1.0, float(low)), min(1.0, float(high)), float(p), float(p_perm), least, exact,
                  "paired", int(np.sum(~np.isnan(d))), d.shape[0], int(df))


def unpaired_effect(a_by_block, b_by_block, level: float = 0.95) -> Effect:
    a, b = _blocks(a_by_block), _blocks(b_by_block)
    effect, low, high, p, df = unpaired_arrays(a, b, level)
    p_perm, exact, least = label_permutation_p(a_by_block, b_by_block)
    return Effect(float(effect), max(-1.0, float(low)), min(1.0, float(high)), float(p), float(p_perm), least, exact,
                  "unpaired", int(np.sum(~np.isnan(a)) + np.sum(~np.isnan(b))), a.shape[0], int(df))


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar test of two evaluations paired episode by episode: the discordant
    pairs against Binomial(n, 1/2). A test of two particular trained models, episodes the unit:
    it says nothing about the settings they were trained with."""
    n = only_a + only_b
    return float(stats.binomtest(min(only_a, only_b), n, 0.5).pvalue) if n else 1.0
