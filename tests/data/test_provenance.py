"""A run's identity includes its demonstrations: a changed demo set is refused, runs recorded
before demo hashes are compared on what they recorded, and results name the demos."""
import json
import shutil
from pathlib import Path

import pytest

from act_bench.data.provenance import demo_record
from act_bench.errors import ActBenchError
from act_bench.report import build as report
from act_bench.report.results import collect_results, summary_markdown
from act_bench.training import train

from helpers_data import tiny_profile, write_fake_demos, write_fake_episode


@pytest.fixture()
def demos(fake_demos, tmp_path):
    """A copy of the shared fake demos: these tests change an episode."""
    return Path(shutil.copytree(fake_demos, tmp_path / "demos"))


def _train(demos, out, **kw):
    options = train.TrainOptions(data_dir=demos, out_dir=out, progress=False, device="cpu", **kw)
    return train.train_policy("transfer_cube", "bc", tiny_profile("bc"), 0, options)


def test_changed_demos_are_refused_and_recorded(demos, tmp_path):
    run_dir = _train(demos, tmp_path / "run")
    config = json.loads((run_dir / "config.json").read_text())
    rec = config["data"]["demos"]
    assert rec["episodes"] == 3 and rec["content_hash"] == demo_record(demos)["content_hash"]
    assert config["threads"] >= 1 and config["machine"]["cpu"]
    with pytest.raises(ActBenchError, match=r"other demos \(demos.episodes: 3 there, 2 here\)"):
        _train(demos, run_dir, episodes=2)
    write_fake_episode(demos / "episode_2.hdf5", T=30, seed=7)  # same count, other content
    with pytest.raises(ActBenchError, match=r"other demos \(demos.content_hash: \w{12} there, \w{12} here\)"):
        _train(demos, run_dir)
    assert (run_dir / "done.json").is_file()  # a refusal changes nothing


def test_runs_recorded_before_demo_hashes_are_compared_on_what_they_recorded(demos, tmp_path):
    run_dir = _train(demos, tmp_path / "run")
    config = json.loads((run_dir / "config.json").read_text())
    del config["data"]["demos"]  # as runs trained before the record look
    (run_dir / "config.json").write_text(json.dumps(config))
    assert _train(demos, run_dir) == run_dir  # same episode count: reused
    more = write_fake_demos(tmp_path / "more", episodes=4, T=30)
    with pytest.raises(ActBenchError, match="demos.episodes: 3 there, 4 here"):
        _train(more, run_dir)


def test_results_name_the_demos(tmp_path):
    folder = tmp_path / "evals" / "transfer_cube" / "bc" / "seed0"
    folder.mkdir(parents=True)
    stages = [{"stage_index": i, "stage_name": n, "successes": 1, "episodes": 2, "rate": 0.5, "ci_low": 0.1,
               "ci_high": 0.9} for i, n in enumerate(["touch", "lift", "handover_touch", "transfer"], 1)]
    summary = {"task": "transfer_cube", "method": "bc", "seed": 0, "stages": stages,
               "trained_on": {"demos": {"dir": "/x/transfer_cube_48x64_top", "episodes": 6,
                                        "content_hash": "abcdef0123456789"}, "threads": 1, "cpu": "CPU X"},
               "evaluated_on": {"threads": 2, "cpu": "CPU Y"}}
    (folder / "summary.json").write_text(json.dumps(summary))
    results = collect_results(tmp_path)
    md = summary_markdown(results)
    assert "| transfer_cube | bc | 0 | transfer_cube_48x64_top | - | 6 | abcdef012345 | 1 | CPU X | 2 | CPU Y |" in md
    results.to_csv(tmp_path / "results.csv", index=False)
    page = report.build_report(tmp_path)["html"].read_text()
    assert "Demonstrations and machines" in page and "abcdef012345" in page
