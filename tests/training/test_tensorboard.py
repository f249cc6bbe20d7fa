"""`act-bench train --tensorboard DIR`: metrics.csv's scalars as TensorBoard events too (an
optional extra: the event test skips without the tensorboard package)."""
from __future__ import annotations

import argparse
import csv
import sys

import pytest
from helpers_data import write_fake_demos

from act_bench.errors import ActBenchError
from act_bench.training import train
from act_bench.training.tensorboard_log import TensorBoardScalars

TINY = ["train.steps=12", "train.log_every=4", "train.val_every=8", "train.checkpoint_every=4", "model.d_model=32",
        "model.dim_feedforward=64", "model.n_heads=2", "train.num_threads=1", "train.batch_size=4"]


def _args(demos, out, tb, steps=12):
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    return parser.parse_args(["--task", "transfer_cube", "--policy", "act", "--profile", "ci", "--data", str(demos),
                              "--out", str(out), "--tensorboard", str(tb), "--no-progress", "--device", "cpu",
                              *(x for o in [*TINY, f"train.steps={steps}"] for x in ("--set", o))])


def test_without_the_package_it_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if absent
    with pytest.raises(ActBenchError, match=r"--tensorboard needs the tensorboard package: pip install tensorboard"):
        TensorBoardScalars("tb")


def test_events_hold_the_metrics_scalars_and_a_resume_writes_each_step_once(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    demos = write_fake_demos(tmp_path / "demos", episodes=3, T=30)
    run, tb = tmp_path / "run", tmp_path / "tb"
    assert train.main(_args(demos, run, tb, steps=8)) == 0
    assert train.main(_args(demos, run, tb, steps=12)) == 0  # resumed from step 8
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    events = EventAccumulator(str(tb))
    events.Reload()
    for column in ("train_loss", "l1", "kl", "val_loss", "lr"):
        logged = {int(r["step"]): float(r[column]) for r in rows if r[column] != ""}
        scalars = {e.step: e.value for e in events.Scalars(column)}
        assert scalars.keys() == logged.keys(), column
        assert all(scalars[s] == pytest.approx(v, rel=1e-5) for s, v in logged.items()), column
