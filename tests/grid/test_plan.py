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

    def evaluation(self, eval_dir, episodes, run_dir):
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
    with pytest.raises(ActBenchError, match="unknown task 'stack'"):
        Grid(methods=("act",), tasks=("stack",), seeds=(0,)).check()
    with pytest.raises(ActBenchError, match="--jobs"):
        Grid(methods=("act",), tasks=("insertion",), seeds=(0,), jobs=0).check()
