"""make_plan: a pure function from the grid, the profiles and what is finished to job records."""
from pathlib import Path

import pytest

from act_bench.errors import ActBenchError
from act_bench.grid.plan import Finished, Grid, make_plan
from act_bench.policies.config import load_profile


class Done(Finished):
    """Finished work given as sets instead of read from disk."""

    def __init__(self, demos=(), trained=None, evals=()):
        self.done_demos, self.trained, self.done_evals = set(demos), dict(trained or {}), set(evals)

    def demos(self, data_dir, episodes):
        return Path(data_dir).name in self.done_demos

    def trained_steps(self, run_dir):
        return self.trained.get(Path(run_dir).relative_to("runs").as_posix(), 0)

    def evaluation(self, eval_dir, episodes, run_dir, checkpoint="best"):
        return Path(eval_dir).relative_to("results/run/evals").as_posix() in self.done_evals


def _profiles(*policies):
    return {p: load_profile(p, "ci") for p in policies}


def test_nothing_done_plans_everything_and_shares_trained_policies():
    grid = Grid(methods=("act", "act-no-te", "bc"), tasks=("transfer_cube", "insertion"), seeds=(0, 1))
    plan = make_plan(grid, _profiles("act", "bc"), Done())
    assert len(plan.trainings) == 2 * 2 * 2  # act and bc per task and seed: act-no-te reuses act
    assert len(plan.evals) == 3 * 2 * 2 and plan.episodes == load_profile("act", "ci").eval.episodes
    assert plan.evals[("insertion", "act-no-te", 1)].run_dir == Path("runs/insertion/act/cpu/seed1")
    assert plan.evals[("insertion", "act-no-te", 1)].train_key == ("insertion", "act", 1)
    # act and bc share the ci data setting (48x64 top): one demo job per task
    assert [(d.task, d.data_dir.name) for d in plan.demos] == [("transfer_cube", "transfer_cube_48x64_top"),
                                                               ("insertion", "insertion_48x64_top")]


def test_finished_work_is_skipped_and_retraining_redoes_evaluations():
    grid = Grid(methods=("act", "act-no-te"), tasks=("transfer_cube",), seeds=(0,), profile="ci", episodes=5)
    steps = load_profile("act", "ci").train.steps
    done = Done(demos={"transfer_cube_48x64_top"}, trained={"transfer_cube/act/ci/seed0": steps},
                evals={"transfer_cube/act/seed0"})
    plan = make_plan(grid, _profiles("act"), done)
    assert plan.demos == [] and plan.trainings == {} and list(plan.evals) == [("transfer_cube", "act-no-te", 0)]
    done.trained["transfer_cube/act/ci/seed0"] = steps - 1  # shorter than the profile asks: retrain
    plan = make_plan(grid, _profiles("act"), done)
    assert list(plan.trainings) == [("transfer_cube", "act", 0)] and len(plan.evals) == 2


def test_grid_check():
    with pytest.raises(ActBenchError, match="unknown method 'dp'"):
        Grid(methods=("dp",), tasks=("insertion",), seeds=(0,)).check()
    with pytest.raises(ActBenchError, match="unknown method 'scripted-expert'; choose from .*scripted, still"):
        Grid(methods=("scripted-expert", "still"), tasks=("insertion",), seeds=(0,)).check()
    with pytest.raises(ActBenchError, match="unknown task 'stack'"):
        Grid(methods=("act",), tasks=("stack",), seeds=(0,)).check()
    with pytest.raises(ActBenchError, match="--jobs"):
        Grid(methods=("act",), tasks=("insertion",), seeds=(0,), jobs=0).check()


def test_bounds_get_evaluations_only_on_the_learned_methods_starts():
    """A bound (scripted, still) needs no demos, run folder or training: its evaluations wait for nothing."""
    grid = Grid(methods=("scripted", "still", "act"), tasks=("transfer_cube_v3",), seeds=(0, 1))
    assert grid.policies == ["act"] and grid.bounds == ["scripted", "still"]
    plan = make_plan(grid, _profiles("act"), Done())
    assert list(plan.trainings) == [("transfer_cube_v3", "act", 0), ("transfer_cube_v3", "act", 1)]
    assert set(plan.run_dirs) == set(plan.trainings) and [d.task for d in plan.demos] == ["transfer_cube_v3"]
    assert len(plan.evals) == 3 * 2
    for seed in (0, 1):
        bound, learned = plan.evals[("transfer_cube_v3", "scripted", seed)], plan.evals[("transfer_cube_v3", "act", seed)]
        assert bound.run_dir is None and bound.train_key is None and learned.train_key in plan.trainings
        # the same seed, so the same evaluation starts (eval_seed(seed, i)), and as many episodes
        assert (bound.seed, bound.episodes) == (learned.seed, learned.episodes)
        assert bound.eval_dir == Path(f"results/run/evals/transfer_cube_v3/scripted/seed{seed}")


def test_a_grid_of_bounds_alone_plans_no_training_and_skips_finished_evaluations():
    grid = Grid(methods=("scripted", "still"), tasks=("transfer_cube_v3", "insertion_v3"), seeds=(0,))
    plan = make_plan(grid, {}, Done(evals={"insertion_v3/still/seed0"}))
    assert plan.demos == [] and plan.trainings == {} and plan.run_dirs == {}
    assert plan.episodes == 50  # no profile to read it from: the evaluation default
    assert sorted(plan.evals) == [("insertion_v3", "scripted", 0), ("transfer_cube_v3", "scripted", 0),
                                  ("transfer_cube_v3", "still", 0)]
    assert make_plan(Grid(methods=("still",), tasks=("insertion_v3",), seeds=(0,), episodes=3), {}, Done()).episodes == 3


def test_kept_seeds_need_no_demos_training_or_evaluation():
    """--keep-evaluated with no run folders here: a seed every method evaluated is kept; a task
    whose seeds are all kept gets no demos; a seed with one method unevaluated is planned whole."""
    grid = Grid(methods=("act", "act-no-te", "still"), tasks=("transfer_cube", "insertion"), seeds=(0, 1),
                keep_evaluated=True)
    done = Done(evals={f"{t}/{m}/seed{s}" for t in ("transfer_cube", "insertion") for m in ("act", "act-no-te")
                       for s in (0, 1)} - {"insertion/act-no-te/seed1"})
    done.run_present = lambda run_dir: False
    plan = make_plan(grid, _profiles("act"), done)
    assert [d.task for d in plan.demos] == ["insertion"] and list(plan.trainings) == [("insertion", "act", 1)]
    assert sorted(k for k in plan.evals if k[1] != "still") == [("insertion", "act", 1), ("insertion", "act-no-te", 1)]
    assert len([k for k in plan.evals if k[1] == "still"]) == 2 * 2  # a bound is planned as ever
    done.run_present = lambda run_dir: True  # the runs are here: the usual rules (none is trained yet)
    assert len(make_plan(grid, _profiles("act"), done).trainings) == 2 * 2
