"""layout.py: the one reader of a run's config.json (absent: None; damaged: a one-line error
naming the file, wherever it is read), checkpoint look-up and the iterators the report walks."""
import json

import pytest

from act_bench.errors import ActBenchError
from act_bench.evaluation.setup import run_facts, trained_on
from act_bench.runtime.threads import recorded_threads, run_threads
from act_bench.storage import layout


def test_run_config_absent_or_damaged(tmp_path):
    assert layout.read_run_config(tmp_path) is None and trained_on(tmp_path) == {}
    (tmp_path / layout.RUN_CONFIG).write_text('{"task": "insertion", "seed": 3, "threads": 2}')
    assert recorded_threads(tmp_path) == 2 and run_threads(tmp_path, 5) == 2  # the recorded count wins
    assert run_facts(tmp_path, None) == {"task": "insertion", "seed": 3}
    (tmp_path / layout.RUN_CONFIG).write_text('{"task": ')
    for read in (layout.read_run_config, recorded_threads, trained_on, lambda d: run_facts(d, None)):
        with pytest.raises(ActBenchError, match=f"{layout.RUN_CONFIG}: unreadable") as err:
            read(tmp_path)
        assert "\n" not in str(err.value)
    (tmp_path / layout.RUN_CONFIG).write_text("[1]")
    with pytest.raises(ActBenchError, match="not a JSON object"):
        layout.read_run_config(tmp_path)


def test_checkpoint_lookup(tmp_path):
    ckpt = tmp_path / layout.RUN_CHECKPOINTS
    ckpt.mkdir()
    assert layout.find_checkpoint(tmp_path) is None
    (ckpt / "last.json").write_text("{}")
    assert layout.find_checkpoint(tmp_path) == ckpt / "last.json"  # best, else last
    (ckpt / "best.json").write_text("{}")
    assert layout.find_checkpoint(tmp_path) == ckpt / "best.json"
    assert layout.find_checkpoint(ckpt / "last.safetensors") == ckpt / "last.json"
    assert layout.find_checkpoint(ckpt / "nope") is None
    assert layout.split_checkpoint_path(ckpt / "last") == (tmp_path, "last")


def test_report_iterators(tmp_path):
    ev = layout.eval_dir(tmp_path, "insertion", "act", 1)
    (ev / layout.EVAL_VIDEOS).mkdir(parents=True)
    (ev / layout.EVAL_SUMMARY).write_text(json.dumps({"episodes": 3}))
    layout.video_path(ev, 0).write_bytes(b"")
    metrics = layout.training_metrics_copy(tmp_path, "insertion", "act", 1)
    metrics.parent.mkdir(parents=True)
    metrics.write_text("step\n")
    assert list(layout.eval_summaries(tmp_path)) == [ev / layout.EVAL_SUMMARY]
    assert list(layout.results_videos(tmp_path)) == [("insertion", "act", "seed1", layout.video_path(ev, 0))]
    assert list(layout.training_metrics(tmp_path)) == [("insertion", "act", "seed1", metrics)]
    assert layout.summary_is_complete(ev, 3) and not layout.summary_is_complete(ev, 4)
