"""act-bench compare: seed-level tests at their nominal rate where a pooled McNemar is not, and
the command on small results folders (hand-computed effects, one-line errors)."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from act_bench import cli
from act_bench.evaluation.seed_tests import paired_arrays, sign_flip_p, unpaired_arrays

STUDIES, SEEDS, EPISODES = 600, 3, 50


def _simulated_rates(rng, shape):
    """Success probabilities of trained models: a logit-normal spread between trainings (SD about
    20 points at 50%, as measured on transfer_cube_v2), no difference between the settings."""
    return 1 / (1 + np.exp(-rng.normal(0.0, 1.0, shape)))


def test_no_effect_seed_level_tests_hold_their_level_and_pooled_mcnemar_does_not():
    rng = np.random.default_rng(0)
    p_a, p_b = _simulated_rates(rng, (STUDIES, 1, SEEDS)), _simulated_rates(rng, (STUDIES, 1, SEEDS))
    # paired episodes: the same 50 starts for A and B (outcomes independent given each model's rate)
    ep_a = rng.random((STUDIES, 1, SEEDS, EPISODES)) < p_a[..., None]
    ep_b = rng.random((STUDIES, 1, SEEDS, EPISODES)) < p_b[..., None]
    rate_a, rate_b = ep_a.mean(axis=-1), ep_b.mean(axis=-1)

    paired_p = paired_arrays(rate_b - rate_a)[3]
    unpaired_p = unpaired_arrays(rate_a, rate_b)[3]
    flip_p, exact, least = sign_flip_p(rate_b - rate_a)
    # the pooled McNemar over the 150 paired episodes of the 3 seeds, as the README used to test
    only_a = (ep_a & ~ep_b).sum(axis=(-3, -2, -1))
    only_b = (~ep_a & ep_b).sum(axis=(-3, -2, -1))
    n = only_a + only_b
    mcnemar = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(only_a, only_b), n, 0.5))

    # 600 studies: a true 5% rate lands in [3.3%, 6.9%] 95% of the time
    assert 0.025 <= np.mean(paired_p < 0.05) <= 0.08
    assert 0.025 <= np.mean(unpaired_p < 0.05) <= 0.08
    assert exact and least == 0.25 and np.mean(flip_p < 0.05) == 0  # 3 seeds: 0.25 at best
    assert np.mean(mcnemar < 0.05) > 0.2  # episodes as the unit: several times too often


def test_blocked_paired_test_holds_its_level_over_four_settings():
    rng = np.random.default_rng(1)
    base = rng.normal(0.0, 1.5, (STUDIES, 4, 1))  # settings differ a lot; differences do not
    p_a = 1 / (1 + np.exp(-(base + rng.normal(0, 1.0, (STUDIES, 4, SEEDS)))))
    p_b = 1 / (1 + np.exp(-(base + rng.normal(0, 1.0, (STUDIES, 4, SEEDS)))))
    d = rng.binomial(EPISODES, p_b) / EPISODES - rng.binomial(EPISODES, p_a) / EPISODES
    effect, low, high, p, df = paired_arrays(d)
    assert np.all(df == 8) and 0.025 <= np.mean(p < 0.05) <= 0.08
    assert np.mean((low <= 0) & (0 <= high)) == pytest.approx(1 - np.mean(p < 0.05))  # interval and test agree


# ---------------------------------------------------------------- the command
def _folder(root, name, successes, task="transfer_cube", method="act", start=1000, point=None):
    """A results folder: results.csv (one stage) and each seed's episodes.csv (its starts)."""
    out = root / name
    rows = []
    for seed, k in enumerate(successes):
        rows.append(dict(task=task, method=method, seed=seed, stage_index=1, stage_name="transfer", successes=k,
                         episodes=50, rate=k / 50, ci_low=0.0, ci_high=1.0, **({"point": point} if point else {})))
        ev = out / "evals" / task / method / f"seed{seed}"
        ev.mkdir(parents=True)
        pd.DataFrame({"episode": range(50), "seed": range(start, start + 50),
                      "success": [int(i < k) for i in range(50)]}).to_csv(ev / "episodes.csv", index=False)
    pd.DataFrame(rows).to_csv(out / "results.csv", index=False)
    return out


def _run(capsys, *argv):
    code = cli.main(["compare", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_paired_over_seeds_by_hand(tmp_path, capsys):
    a = _folder(tmp_path, "a", [10, 20, 30])  # 20 / 40 / 60%
    b = _folder(tmp_path, "b", [20, 25, 40])  # 40 / 50 / 80%
    code, out, err = _run(capsys, a, b, "--mcnemar")
    assert code == 0 and not err
    # differences 20 / 10 / 20 points: mean 16.7, SE 3.33, t = 5 on 2 df (p = 0.0377), half-width 4.303 * 3.33
    line = next(x for x in out.splitlines() if x.strip().startswith("transfer_cube:"))
    assert "A 40.0% (20 / 40 / 60), B 56.7% (40 / 50 / 80)" in line
    assert "+16.7 points [+2.3, +31.0], paired t p = 0.038 (2 df)" in line
    assert "sign-flip p = 0.25 (exact; the smallest possible with 3 paired runs: 0.25)" in line
    assert "[starts: same]" in line
    # McNemar per seed, labelled as a test of two trained models: seed 0, 10 vs 20 of the same starts
    assert "seed 0: A 10, B 20 of 50; only A 0, only B 10; McNemar exact p = 0.002" in out
    assert "these two trained models" in out


def test_compare_unpaired_when_starts_differ(tmp_path, capsys):
    a = _folder(tmp_path, "a", [10, 20, 30])
    b = _folder(tmp_path, "b", [20, 25, 40], start=5000)
    code, out, _ = _run(capsys, a, b)
    t = stats.ttest_ind([0.4, 0.5, 0.8], [0.2, 0.4, 0.6])
    assert code == 0 and "[starts: different]" in out
    assert f"unpaired t p = {t.pvalue:.2g} (4 df)" in out
    # of the 20 ways to split 20 40 40 50 60 80 into 3 + 3, 10 differ by 16.7 points or more
    assert "label permutation p = 0.5 (exact; the smallest possible with 6 runs: 0.1)" in out


def test_compare_unpaired_over_every_run_when_the_seeds_differ(tmp_path, capsys):
    a = _folder(tmp_path, "a", [10, 20, 30])
    b = _folder(tmp_path, "b", [20, 25, 40, 35, 30])  # seeds 0-4: 3 and 4 have no partner in A
    code, out, _ = _run(capsys, a, b)
    t = stats.ttest_ind([0.4, 0.5, 0.8, 0.7, 0.6], [0.2, 0.4, 0.6])
    assert code == 0 and "B 60.0% (40 / 50 / 80 / 70 / 60)" in out
    assert f"unpaired t p = {t.pvalue:.2g} (6 df)" in out and "8 runs" in out


def test_compare_cells_methods_and_points(tmp_path, capsys):
    a = _folder(tmp_path, "a", [10, 20, 30], method="act-no-te", point="model.chunk_size=50")
    b = _folder(tmp_path, "b", [20, 25, 40], point="model.chunk_size=100")
    code, out, _ = _run(capsys, f"{a}:act-no-te@model.chunk_size=50", f"{b}:act")
    assert code == 0 and "A act-no-te, B act" in out and "+16.7 points" in out


def test_compare_across_versions_pairs_a_task_with_its_next_version(tmp_path, capsys):
    a = _folder(tmp_path, "a", [10, 20, 30], task="transfer_cube_v2")
    b = _folder(tmp_path, "b", [20, 25, 40], task="transfer_cube_v3")
    code, _, err = _run(capsys, a, b)
    assert code == 2 and "different tasks" in err  # by name they are different tasks
    code, out, _ = _run(capsys, a, b, "--across-versions")
    line = next(x for x in out.splitlines() if "transfer_cube (" in x)
    assert code == 0 and line.strip().startswith("transfer_cube (transfer_cube_v2 -> transfer_cube_v3): A 40.0%")
    assert "+16.7 points [+2.3, +31.0], paired t p = 0.038 (2 df)" in line and "[starts: same]" in line


@pytest.mark.parametrize("make_b,message", [
    (lambda root: _folder(root, "b", [1, 2, 3], task="insertion"),
     r"^act-bench compare: error: different tasks: .* has transfer_cube; .* has insertion$"),
    (lambda root: root / "missing", r"^act-bench compare: error: results folder not found: .*missing$"),
    (lambda root: f"{_folder(root, 'b', [1, 2, 3])}:bc", r"^act-bench compare: error: no method bc in .*b "),
    (lambda root: f"{_folder(root, 'b', [1, 2, 3])}@model.chunk_size=5",
     r"^act-bench compare: error: .*b is not a sweep"),
])
def test_compare_errors_are_one_line(tmp_path, capsys, make_b, message):
    import re

    a = _folder(tmp_path, "a", [10, 20, 30])
    code, out, err = _run(capsys, a, make_b(tmp_path))
    assert code == 2 and not out and len(err.strip().splitlines()) == 1
    assert re.search(message, err.strip()), err


def test_equal_differences_leave_the_t_test_undefined_not_significant():
    from act_bench.evaluation.seed_tests import paired_effect

    # 34 / 26 / 42 against 32 / 24 / 40 of 50: -2 points on every seed (in floats, 0.26 - 0.24 != 0.02)
    e = paired_effect([[0.32 - 0.34, 0.24 - 0.26, 0.40 - 0.42]])
    assert np.isnan(e.p_t) and e.p_perm == 0.25 and e.low == e.high == pytest.approx(-0.02)


def test_sweep_report_compares_neighbouring_points_over_seeds():
    from act_bench.report.sweep_stats import final_stage, mean_over_settings, neighbour_effects

    rows = [dict(task="transfer_cube", method="act", seed=s, stage_index=1, stage_name="transfer", successes=k,
                 episodes=50, rate=k / 50, **{"model.chunk_size": c}, point=f"model.chunk_size={c}")
            for c, ks in ((10, [10, 20, 30]), (50, [20, 25, 40])) for s, k in enumerate(ks)]
    effects = neighbour_effects(pd.DataFrame(rows), ["model.chunk_size"])
    assert len(effects) == 1
    row = effects.iloc[0]
    assert row["model.chunk_size"] == "10 -> 50" and row["B - A (points) [95%]"] == "+16.7 [+2.3, +31.0]"
    assert row["p (t)"] == "0.038" and row["p (perm.)"] == "0.25" and row["design"] == "paired, 3 runs"
    mean = mean_over_settings(final_stage(pd.DataFrame(rows), ["model.chunk_size"]), ["model.chunk_size"])
    assert list(mean["rate_mean"]) == pytest.approx([0.4, 17 / 30]) and list(mean["settings"]) == [1, 1]
