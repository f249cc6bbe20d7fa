"""`act-bench eval --policy module:factory`: any policy offering act(obs) or predict_chunk, in the real env."""
import json

import numpy as np
import pandas as pd
import pytest

from act_bench.cli import main as cli
from act_bench.errors import ActBenchError
from act_bench.evaluation.cli import ExternalRun, evaluate_external
from act_bench.policies.external import parse_policy_args
from act_bench.policies.registry import get_agent, register_agent
from act_bench.sim.robot import start_qpos

SIZE = (48, 64)


class HoldStill:
    """Stateful, one action per step, gym-aloha's observation layout: holds the start pose."""

    name = "hold-still"
    image_size = SIZE
    obs_type = "pixels_agent_pos"

    def __init__(self, log=None):
        self.resets, self.steps, self.log = 0, 0, log

    def reset(self):
        self.resets += 1

    def act(self, obs):
        assert set(obs) == {"pixels", "agent_pos"} and obs["pixels"]["top"].shape == (*SIZE, 3)
        self.steps += 1
        return start_qpos()


class ChunkOfStart:
    """Batched, stateless: chunks of the start pose."""

    name = "chunk-of-start"
    camera_names = ("top",)
    image_size = SIZE
    chunk_size = 10

    def __init__(self):
        self.calls = 0

    def predict_chunk(self, qpos, images):
        assert tuple(images.shape[1:]) == (1, *SIZE, 3)
        self.calls += 1
        return np.tile(start_qpos(), (qpos.shape[0], self.chunk_size, 1))


INSTANCES = {}


def make_hold(tag="a"):
    INSTANCES[tag] = HoldStill()
    return INSTANCES[tag]


def make_chunk():
    INSTANCES["chunk"] = ChunkOfStart()
    return INSTANCES["chunk"]


def make_nothing():
    return object()


def test_step_policy_through_the_cli(tmp_path, capsys):
    out = tmp_path / "eval"
    rc = cli(["eval", "--policy", f"{__name__}:make_hold", "--policy-arg", "tag=cli", "--task", "transfer_cube",
              "--episodes", "2", "--videos", "1", "--out", str(out), "--no-progress"])
    assert rc == 0
    policy = INSTANCES["cli"]
    assert policy.resets == 2 and policy.steps == 800  # one episode at a time, reset before each
    rows = pd.read_csv(out / "episodes.csv")
    assert list(rows["episode"]) == [0, 1] and set(rows["length"]) == {400} and rows["success"].sum() == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "hold-still" and summary["execution"] == "single"
    assert summary["videos"] == ["videos/episode_000.mp4"] and (out / "videos/episode_000.mp4").stat().st_size > 0
    assert "tag=cli" in json.loads((out / "eval.json").read_text())["policy_id"]
    assert "transfer_cube / hold-still / seed 0: 2 episodes" in capsys.readouterr().out


def test_chunk_policy_runs_open_loop_and_batched(tmp_path):
    summary = evaluate_external(f"{__name__}:make_chunk", {}, ExternalRun("insertion", 0, 2, tmp_path, videos=0, batch=2),
                                progress=False)
    assert summary["execution"] == "open_loop" and summary["n_action_steps"] == 10
    assert INSTANCES["chunk"].calls == 40  # 400 steps / 10 per chunk, both episodes in each call
    assert summary["mean_queries"] == 40


def test_registered_name_from_a_plugin(tmp_path):
    register_agent("test-hold", make_hold)
    assert get_agent("test-hold") is make_hold
    summary = evaluate_external("test-hold", {"tag": "named"}, ExternalRun("transfer_cube", 1, 1, tmp_path, videos=0),
                                progress=False)
    assert summary["episodes"] == 1 and INSTANCES["named"].resets == 1


@pytest.mark.parametrize("spec, message", [
    ("no_such_module_xyz:f", "cannot import"),
    (f"{__name__}:missing", "no callable"),
    (f"{__name__}:make_nothing", "neither act"),
    ("unregistered-name", "unknown policy"),
])
def test_bad_policies_are_one_line_errors(tmp_path, spec, message):
    with pytest.raises(ActBenchError, match=message):
        evaluate_external(spec, {}, ExternalRun("transfer_cube", 0, 1, tmp_path), progress=False)


def test_cli_needs_task_and_out(tmp_path, capsys):
    assert cli(["eval", "--policy", f"{__name__}:make_hold"]) == 2
    assert "--policy needs --task and --out" in capsys.readouterr().err
    assert cli(["eval", "--run", str(tmp_path), "--policy-arg", "a=b"]) == 2


def test_policy_args():
    assert parse_policy_args(["checkpoint=a=b", "device=cpu"]) == {"checkpoint": "a=b", "device": "cpu"}
    with pytest.raises(ActBenchError, match="KEY=VALUE"):
        parse_policy_args(["nokey"])


def test_lerobot_example_imports_lerobot_only_when_loading(tmp_path, monkeypatch):
    """examples/lerobot_policy is importable without lerobot; loading a checkpoint needs it (the
    real run is scripts/verify_lerobot.sh, in LeRobot's own venv)."""
    import importlib.util
    from pathlib import Path

    if importlib.util.find_spec("lerobot") is not None:
        pytest.skip("lerobot is installed here; this checks the error without it")
    monkeypatch.syspath_prepend(str(Path(__file__).parents[2] / "examples" / "lerobot_policy"))
    import act_bench_lerobot

    assert callable(act_bench_lerobot.load)
    with pytest.raises(ActBenchError, match="No module named 'lerobot'"):
        evaluate_external("act_bench_lerobot:load", {"checkpoint": str(tmp_path)},
                          ExternalRun("transfer_cube", 0, 1, tmp_path), progress=False)
