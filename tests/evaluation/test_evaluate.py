"""evaluate_policy with a fake env and policy: execution modes, scores, resume, videos, CLI."""
import argparse
import json
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from act_bench.errors import ActBenchError
from act_bench.evaluation import cli as eval_cli
from act_bench.runtime.seeding import eval_seed
from act_bench.storage import layout

from fakes import FakeEnv, FakePolicy, run_eval


class Factory:
    """make_env stand-in that remembers the envs it made and the seeds they were reset with, in
    the order of the resets (episodes start in this order)."""

    def __init__(self):
        self.envs, self.resets = [], []

    def __call__(self, task, cameras=("top",), image_size=(480, 640), render_mode=None):
        env = FakeEnv(task, cameras, image_size, render_mode)
        reset = env.reset
        env.reset = lambda seed=None: (self.resets.append(seed), reset(seed))[1]
        self.envs.append(env)
        return env


def _first_failing_seed(base=0):
    return next(s for s in range(100) if eval_seed(s, 0) % 5 != 4)


def test_act_queries_every_step_and_ensembles(tmp_path):
    seed = _first_failing_seed()  # runs the full 30 steps
    k, m = 5, 0.3
    policy, make = FakePolicy(chunk_size=k), Factory()
    s = run_eval(policy, "transfer_cube", "act", 1, seed, tmp_path, videos=0, progress=False,
                                 temporal_ensemble_m=m, env_factory=make)
    actions = np.stack(make.envs[0].actions)
    T = len(actions)
    assert T == 30 and policy.queries == T and s["mean_queries"] == T
    # query q made at step q predicts (q, i) for step q + i; oldest first weights exp(-m j)
    for t in range(T):
        qs = [q for q in range(T) if q <= t < q + k]
        w = np.exp(-m * np.arange(len(qs)))
        expect0 = (w * np.array(qs)).sum() / w.sum()
        expect1 = (w * np.array([t - q for q in qs])).sum() / w.sum()
        assert actions[t, 0] == pytest.approx(expect0) and actions[t, 1] == pytest.approx(expect1)
    assert s["temporal_ensemble_m"] == m and s["execution"] == "ensemble"


@pytest.mark.parametrize("n,k", [(2, 5), (None, 5), (5, 5), (1, 5)])
def test_act_no_te_executes_n_action_steps_per_query(tmp_path, n, k):
    seed = _first_failing_seed()
    policy, make = FakePolicy(chunk_size=k), Factory()
    s = run_eval(policy, "insertion", "act-no-te", 1, seed, tmp_path, videos=0, progress=False,
                                 n_action_steps=n, env_factory=make)
    actions = np.stack(make.envs[0].actions)
    steps = n or k
    T = len(actions)
    assert policy.queries == -(-T // steps)
    assert list(actions[:, 0]) == [t // steps for t in range(T)]
    assert list(actions[:, 1]) == [t % steps for t in range(T)]
    assert s["n_action_steps"] == steps


def test_bc_one_action_per_step(tmp_path):
    policy, make = FakePolicy(chunk_size=1), Factory()
    s = run_eval(policy, "transfer_cube", "bc", 2, 0, tmp_path, videos=0, progress=False,
                                 env_factory=make)
    df = pd.read_csv(tmp_path / "episodes.csv")
    assert (df["queries"] == df["length"]).all() and policy.rows == df["length"].sum()
    assert policy.queries == df["length"].max()  # both episodes in one batched query per step
    assert s["policy"] == "bc"


def test_scores_seeds_csv_and_resume(tmp_path):
    make = Factory()
    kw = dict(videos=0, progress=False, env_factory=make)
    run_eval(FakePolicy(), "transfer_cube", "act-no-te", 3, 7, tmp_path, **kw)
    s = run_eval(FakePolicy(), "transfer_cube", "act-no-te", 8, 7, tmp_path, **kw)
    seeds = [eval_seed(7, i) for i in range(8)]
    # the second call ran only the 5 missing episodes, started in order, on the eval seeds
    assert make.resets == seeds
    df = pd.read_csv(tmp_path / "episodes.csv")
    assert list(df["episode"]) == list(range(8)) and list(df["seed"]) == seeds
    best = [x % 5 for x in seeds]
    assert list(df["max_stage"]) == best
    assert list(df["success"]) == [int(b == 4) for b in best]
    assert list(df["reached_lift"]) == [int(b >= 2) for b in best]
    # success stops the episode early (stage 4 at step 12); failures run to the limit
    assert list(df["length"]) == [12 if b == 4 else 30 for b in best]
    for st in s["stages"]:
        assert st["successes"] == sum(b >= st["stage_index"] for b in best) and st["episodes"] == 8
    assert json.loads((tmp_path / "summary.json").read_text())["episodes"] == 8
    assert layout.summary_is_complete(tmp_path, 8) and not layout.summary_is_complete(tmp_path, 9)
    # a smaller request reuses the first episodes only
    s4 = run_eval(FakePolicy(), "transfer_cube", "act-no-te", 4, 7, tmp_path, **kw)
    assert make.resets == seeds and s4["stages"][0]["episodes"] == 4
    with pytest.raises(ActBenchError, match="evaluation of seed 7, not 8"):
        run_eval(FakePolicy(), "transfer_cube", "act-no-te", 2, 8, tmp_path, **kw)
    with pytest.raises(ActBenchError, match="of method 'act-no-te', not 'act'"):
        run_eval(FakePolicy(), "transfer_cube", "act", 2, 7, tmp_path, **kw)


def test_another_checkpoint_is_refused_or_restarted(tmp_path):
    make = Factory()
    kw = dict(videos=1, progress=False, env_factory=make)
    run_eval(FakePolicy(), "insertion", "act", 3, 0, tmp_path, policy_id="a", **kw)
    assert layout.summary_is_complete(tmp_path, 3, "a") and not layout.summary_is_complete(tmp_path, 3, "b")
    with pytest.raises(ActBenchError, match="another checkpoint"):
        run_eval(FakePolicy(), "insertion", "act", 3, 0, tmp_path, policy_id="b", **kw)
    s = run_eval(FakePolicy(), "insertion", "act", 2, 0, tmp_path, policy_id="b", fresh=True, **kw)
    assert len(make.resets) == 3 + 2 and s["policy_id"] == "b"  # old episodes were dropped
    assert len(pd.read_csv(tmp_path / "episodes.csv")) == 2
    # same identity and fresh: nothing to discard, nothing rerun
    run_eval(FakePolicy(), "insertion", "act", 2, 0, tmp_path, policy_id="b", fresh=True, **kw)
    assert len(make.resets) == 5


def test_run_identity(tmp_path):
    assert layout.run_identity(tmp_path) is None
    (tmp_path / "done.json").write_text(json.dumps({"step": 10, "best_step": 8, "finished_at": 1.5}))
    assert layout.run_identity(tmp_path) == "step 10 best 8 finished 1.5"


def test_videos_of_first_episodes(tmp_path):
    make = Factory()
    s = run_eval(FakePolicy(), "transfer_cube", "act", 3, 0, tmp_path, videos=2, progress=False,
                                 env_factory=make)
    vids = sorted(p.name for p in (tmp_path / "videos").iterdir())
    assert vids == ["episode_000.mp4", "episode_001.mp4"] and s["videos"] == ["videos/" + v for v in vids]
    assert all((tmp_path / "videos" / v).stat().st_size > 1000 for v in vids)
    assert make.envs[0].render_mode == "rgb_array" and make.envs[0].renders > 0
    import imageio.v2 as imageio

    frame = imageio.get_reader(tmp_path / "videos" / vids[0]).get_data(0)
    assert frame.shape == (262, 320, 3)


def test_missing_ffmpeg_is_a_clear_error_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # makes `import imageio_ffmpeg` fail
    with pytest.raises(ActBenchError, match="imageio-ffmpeg"):
        run_eval(FakePolicy(), "transfer_cube", "act", 1, 0, tmp_path, videos=1, progress=False,
                                 env_factory=Factory())
    assert not list(tmp_path.rglob("*.mp4*"))


def test_bad_input():
    with pytest.raises(ActBenchError, match="unknown method"):
        run_eval(FakePolicy(), "transfer_cube", "nope", 1, 0, "/tmp/x", env_factory=Factory())
    with pytest.raises(ActBenchError, match="unknown task"):
        run_eval(FakePolicy(), "cube", "act", 1, 0, "/tmp/x", env_factory=Factory())


def _cli_args(**kw):
    parser = argparse.ArgumentParser()
    eval_cli.add_arguments(parser)
    argv = [x for k, v in kw.items() for x in (f"--{k}", str(v))]
    return parser.parse_args(argv + ["--no-progress"])


def test_cli_missing_run_dir(tmp_path):
    with pytest.raises(ActBenchError, match="not found"):
        eval_cli.main(_cli_args(run=tmp_path / "nope"))


def test_cli_end_to_end_with_fakes(tmp_path, monkeypatch, capsys):
    run = tmp_path / "runs" / "insertion" / "bc" / "seed2"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"task": "insertion", "seed": 2}))
    policy = FakePolicy(chunk_size=1)
    monkeypatch.setitem(sys.modules, "act_bench.policies", SimpleNamespace(load_policy=lambda p, device: policy))
    make = Factory()
    monkeypatch.setitem(sys.modules, "act_bench.envs", SimpleNamespace(make_env=make))
    assert eval_cli.main(_cli_args(run=run, episodes=3, videos=0, batch=2)) == 0
    out = run / "eval" / "bc_seed2"
    assert (out / "summary.json").exists() and "insertion / bc / seed 2" in capsys.readouterr().out
    assert len(make.envs) == 2 and len(make.resets) == 3  # --batch 2: two envs for three episodes
    with pytest.raises(ActBenchError, match="--batch must be >= 1"):
        eval_cli.main(_cli_args(run=run, episodes=4, videos=0, batch=0))
    with pytest.raises(ActBenchError, match="needs a 'act' policy"):
        eval_cli.main(_cli_args(run=run, episodes=3, videos=0, method="act"))


def test_cli_checkpoint_path_uses_its_run(tmp_path, monkeypatch):
    """--run runs/.../seed1/checkpoints/last evaluates on seed 1's episodes (from the run's
    config.json, else the checkpoint's own seed) into its own folder of the run."""
    run = tmp_path / "runs" / "transfer_cube" / "act" / "cpu" / "seed1"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.json").write_text("{}")
    policy = FakePolicy(chunk_size=4)
    policy.checkpoint_meta = {"task": "transfer_cube", "seed": 1, "step": 7}
    monkeypatch.setitem(sys.modules, "act_bench.policies", SimpleNamespace(load_policy=lambda p, device: policy))
    monkeypatch.setitem(sys.modules, "act_bench.envs", SimpleNamespace(make_env=Factory()))
    eval_cli.main(_cli_args(run=run / "checkpoints" / "last", episodes=2, videos=0, method="act-no-te"))
    out = run / "eval" / "act-no-te_seed1_last"
    s = json.loads((out / "summary.json").read_text())
    assert (s["task"], s["seed"]) == ("transfer_cube", 1)
    assert "checkpoint last step 7" in json.loads((out / "eval.json").read_text())["policy_id"]


def test_cli_execution_settings(tmp_path, monkeypatch):
    """--m and --n-action-steps reach the rollout, name their own output folder, and are not mixed
    with episodes of other settings."""
    run = tmp_path / "runs" / "transfer_cube" / "act" / "seed0"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"task": "transfer_cube", "seed": 0}))
    policy = FakePolicy(chunk_size=4)
    make = Factory()
    monkeypatch.setitem(sys.modules, "act_bench.policies", SimpleNamespace(load_policy=lambda p, device: policy))
    monkeypatch.setitem(sys.modules, "act_bench.envs", SimpleNamespace(make_env=make))
    eval_cli.main(_cli_args(run=run, episodes=2, videos=0, m=0.5))
    s = json.loads((run / "eval" / "act_seed0_m0.5" / "summary.json").read_text())
    assert s["temporal_ensemble_m"] == 0.5 and s["mean_queries"] == s["mean_length"]  # a query per step
    eval_cli.main(_cli_args(run=run, episodes=2, videos=0, method="act-no-te", **{"n-action-steps": 2}))
    s = json.loads((run / "eval" / "act-no-te_seed0_n2" / "summary.json").read_text())
    assert s["n_action_steps"] == 2
    with pytest.raises(ActBenchError, match="temporal_ensemble_m 0.5, not 0.1"):
        eval_cli.main(_cli_args(run=run, episodes=2, videos=0, m=0.1, out=run / "eval" / "act_seed0_m0.5"))
    for bad, match in [(dict(m=-1), "m must be a finite number"), ({"n-action-steps": 0}, "--n-action-steps must be"),
                       ({"n-action-steps": 5, "method": "act-no-te"}, "between 1 and the policy's chunk size 4")]:
        with pytest.raises(ActBenchError, match=match):
            eval_cli.main(_cli_args(run=run, episodes=2, videos=0, **bad))
