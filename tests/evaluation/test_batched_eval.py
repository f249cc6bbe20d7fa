"""Batched (lockstep) evaluation gives every episode what it gets alone: the same actions, stages,
lengths and query counts at batch 1 and batch 16, with the fakes and with the real env and ACT."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from act_bench.evaluation.ensembling import Execution
from act_bench.runtime.seeding import eval_seed

from fakes import STAGES, FakeEnv, ObsPolicy, run_eval
from reference_eval import run_episode, selector

OUTCOME = ["episode", "seed", "max_stage", "success", "length", "queries"]  # every column but seconds


class Factory:
    """make_env stand-in keeping its envs, so the actions of every episode (by seed) can be read."""

    def __init__(self, env_class=FakeEnv, **kw):
        self.envs, self.env_class, self.kw = [], env_class, kw

    def __call__(self, task, cameras=("top",), image_size=(480, 640), render_mode=None):
        self.envs.append(self.env_class(task, cameras, image_size, render_mode, **self.kw))
        return self.envs[-1]

    def actions(self) -> dict[int, np.ndarray]:
        return {seed: np.stack(a) for env in self.envs for seed, a in env.by_seed.items()}


METHODS = [("act", dict(temporal_ensemble_m=0.3)), ("act", {}), ("act-no-te", dict(n_action_steps=2)),
           ("act-no-te", {}), ("bc", {})]


@pytest.mark.parametrize("method,kw", METHODS)
def test_fake_batch_1_and_16_give_the_same_actions_and_rows(tmp_path, method, kw):
    """20 episodes (some end early at success, so slots refill mid-batch): bit-for-bit the same
    actions per episode, and the same rows, at batch 1, 3 and 16."""
    chunk = 1 if method == "bc" else 5
    results = {}
    for batch in (1, 3, 16):
        make = Factory()
        run_eval(ObsPolicy(chunk_size=chunk), "transfer_cube", method, 20, 1, tmp_path / f"b{batch}", videos=0,
                 env_factory=make, batch=batch, **kw)
        results[batch] = (make.actions(), pd.read_csv(tmp_path / f"b{batch}" / "episodes.csv"))
        assert len(make.envs) == min(batch, 20)
    actions1, rows1 = results[1]
    assert sorted(set(rows1["length"])) == [12, 30]  # successes stop early, failures run to the limit
    for batch in (3, 16):
        actions, rows = results[batch]
        pd.testing.assert_frame_equal(rows[OUTCOME], rows1[OUTCOME])
        assert actions.keys() == actions1.keys()
        for seed, a in actions1.items():
            np.testing.assert_array_equal(actions[seed], a)


@pytest.mark.parametrize("method,kw", METHODS[::2])
def test_lockstep_repeats_the_single_episode_rollout(tmp_path, method, kw):
    """The batched path against run_episode, the single-episode path it replaces."""
    chunk = 1 if method == "bc" else 5
    make = Factory()
    run_eval(ObsPolicy(chunk_size=chunk), "insertion", method, 10, 5, tmp_path, videos=0, env_factory=make, **kw)
    rows = pd.read_csv(tmp_path / "episodes.csv")
    execution = Execution.resolve({"act": "ensemble", "act-no-te": "open_loop", "bc": "single"}[method], chunk,
                                  None, kw.get("temporal_ensemble_m"), kw.get("n_action_steps"))
    env, policy, batched = FakeEnv("insertion"), ObsPolicy(chunk_size=chunk).eval(), make.actions()
    for i in range(10):
        row = run_episode(env, policy, selector(execution), eval_seed(5, i), STAGES["insertion"])
        assert {k: row[k] for k in OUTCOME[2:]} == rows.loc[i, OUTCOME[2:]].to_dict()
        np.testing.assert_array_equal(np.stack(env.by_seed[eval_seed(5, i)]), batched[eval_seed(5, i)])


class StopAfter(FakeEnv):
    """A FakeEnv that interrupts the evaluation at its env's nth step (as Ctrl-C would)."""

    def __init__(self, *args, stop_at=None):
        super().__init__(*args)
        self.stop_at = stop_at

    def step(self, action):
        if self.stop_at is not None and len(self.actions) == self.stop_at:
            raise KeyboardInterrupt
        return super().step(action)


def test_interrupted_batched_evaluation_resumes_to_the_same_rows(tmp_path):
    kw = dict(videos=0, temporal_ensemble_m=0.1, batch=4)
    run_eval(ObsPolicy(), "transfer_cube", "act", 11, 2, tmp_path / "whole", env_factory=Factory(), **kw)
    with pytest.raises(KeyboardInterrupt):  # slot 0 stops in its third episode
        run_eval(ObsPolicy(), "transfer_cube", "act", 11, 2, tmp_path / "cut", env_factory=Factory(StopAfter, stop_at=50), **kw)
    partial = pd.read_csv(tmp_path / "cut" / "episodes.csv")
    assert 0 < len(partial) < 11 and list(partial["episode"]) == sorted(partial["episode"])
    make = Factory()
    run_eval(ObsPolicy(), "transfer_cube", "act", 11, 2, tmp_path / "cut", env_factory=make, **kw)
    assert sum(len(e.seeds) for e in make.envs) == 11 - len(partial)  # only the missing ones ran
    whole, resumed = (pd.read_csv(tmp_path / d / "episodes.csv") for d in ("whole", "cut"))
    pd.testing.assert_frame_equal(resumed[OUTCOME], whole[OUTCOME])


def test_videos_of_episodes_that_wait_for_a_slot(tmp_path):
    """With 3 videos and 2 slots, episode 2 is recorded in whichever slot frees first."""
    run_eval(ObsPolicy(), "transfer_cube", "act", 5, 0, tmp_path, videos=3, batch=2, env_factory=Factory())
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == [f"episode_00{i}.mp4" for i in range(3)]


# ---------------------------------------------------------------- the real env and ACT
class RecordingAloha:
    """The real transfer_cube env, 60 steps long, keeping each episode's actions by seed."""

    def __new__(cls, task, cameras, image_size, render_mode=None):
        from act_bench.envs import AlohaEnv
        from act_bench.tasks.registry import get_task

        class Env(AlohaEnv):
            def reset(self, *, seed=None, options=None):
                self.by_seed[seed] = []
                return super().reset(seed=seed, options=options)

            def step(self, action):
                self.by_seed[next(reversed(self.by_seed))].append(np.array(action, dtype=np.float64))
                return super().step(action)

        env = Env(replace(get_task(task).config(), episode_len=60), cameras=cameras, image_size=image_size,
                  render_mode=render_mode)
        env.by_seed = {}
        return env


@pytest.mark.parametrize("method", ["act", "act-no-te"])
def test_real_env_and_act_batch_1_and_16_agree(tmp_path, method):
    """Untrained ACT (ci profile) on 5 short real episodes: same stages, lengths and queries at
    batch 1 and 16. Rounding is allowed here, in the actions only: a batched forward pass of the
    network may differ from batch 1 in the last float32 bits (the selectors add nothing), and the
    closed loop (action -> physics -> next observation) grows that over 60 steps: below 1e-4
    on our AMD EPYC, 1.04e-4 on an Intel Xeon (other CPU kernels). 1e-3 (0.06 degrees on a
    joint) still catches any real batching bug, and the outcomes must match exactly."""
    torch = pytest.importorskip("torch")
    from act_bench.policies import build_policy, load_profile

    torch.set_num_threads(1)
    torch.manual_seed(0)
    policy = build_policy(load_profile("act", "ci", {"data.image_size": [48, 64]}))
    assert tuple(policy.image_size) == (48, 64)
    results = {}
    for batch in (1, 16):
        make = Factory(RecordingAloha)
        run_eval(policy, "transfer_cube", method, 5, 0, tmp_path / f"b{batch}", videos=0, env_factory=make,
                 batch=batch)
        results[batch] = (make.actions(), pd.read_csv(tmp_path / f"b{batch}" / "episodes.csv"))
    (a1, rows1), (a16, rows16) = results[1], results[16]
    pd.testing.assert_frame_equal(rows16[OUTCOME], rows1[OUTCOME])
    assert a1.keys() == a16.keys() and all(len(a) == 60 for a in a1.values())
    for seed in a1:
        np.testing.assert_allclose(a16[seed], a1[seed], rtol=0, atol=1e-3)
