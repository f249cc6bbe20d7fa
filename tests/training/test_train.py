"""train_policy: run-dir contents, resuming after a crash, skipping finished runs, CLI errors."""
import argparse
import csv
import json

import pytest
import torch

from act_bench.errors import ActBenchError, DataError
from act_bench.policies import load_policy
from act_bench.policies.checkpoint import read_tensors
from act_bench.storage import layout
from act_bench.training import train

from helpers_data import tiny_profile


def _train(demos, out, method="act", overrides=None, **kw):
    options = train.TrainOptions(data_dir=demos, out_dir=out, overrides=overrides, progress=False, device="cpu", **kw)
    return train.train_policy("transfer_cube", method, tiny_profile(method), 0, options)


def _opts(data_dir, out_dir, **kw):
    return train.TrainOptions(data_dir=data_dir, out_dir=out_dir, progress=False, **kw)


def _rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("method", ["act", "act-no-cvae", "bc"])
def test_run_dir_contents(fake_demos, tmp_path, method):
    run_dir = _train(fake_demos, tmp_path / "run", method)
    ck = run_dir / "checkpoints"
    for name in ("best.safetensors", "best.json", "last.safetensors", "last.json", "last_state.safetensors"):
        assert (ck / name).is_file(), name
    assert not list(run_dir.rglob("*.tmp*"))
    done = json.loads((run_dir / "done.json").read_text())
    assert done["step"] == 12 and done["best_step"] in (4, 8, 12) and done["best_val_loss"] > 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["method"] == method and config["config"]["train"]["steps"] == 12
    assert len(config["data"]["train_episodes"]) + len(config["data"]["val_episodes"]) == 3
    rows = _rows(run_dir)
    assert list(rows[0]) == train.metric_columns(load_policy(run_dir).loss_terms)
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8, 10, 12]
    assert all(r["val_loss"] for r in rows if int(r["step"]) % 4 == 0)
    last = json.loads((ck / "last.json").read_text())
    assert last["step"] == 12 and "rng" in last["train_state"] and last["policy"] == method
    policy = load_policy(run_dir)  # the best checkpoint
    assert policy.checkpoint_meta["step"] == done["best_step"]


def test_finished_run_is_skipped_and_extended(fake_demos, tmp_path):
    run_dir = _train(fake_demos, tmp_path / "run")
    stamp = (run_dir / "checkpoints" / "last.safetensors").stat().st_mtime_ns
    seen = []
    _train(fake_demos, run_dir, callback=lambda step, row: seen.append(step))
    assert seen == [] and (run_dir / "checkpoints" / "last.safetensors").stat().st_mtime_ns == stamp
    # asking for more steps continues the same run
    _train(fake_demos, run_dir, overrides={"train.steps": 16}, callback=lambda step, row: seen.append(step))
    assert seen == [13, 14, 15, 16]
    assert json.loads((run_dir / "done.json").read_text())["step"] == 16


@pytest.mark.parametrize("amp", ["none", "bf16"])
def test_crash_then_resume_matches_uninterrupted(fake_demos, tmp_path, amp):
    """In fp32 and in bf16 (whose bf16 weight copies are rebuilt from the restored weights)."""
    overrides = [f"train.amp={amp}"]
    reference = _train(fake_demos, tmp_path / "reference", overrides=overrides)

    def crash(step, row):
        if step == 7:
            raise RuntimeError("simulated crash")

    crashed = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="simulated crash"):
        _train(fake_demos, crashed, overrides=overrides, callback=crash)
    assert not (crashed / "done.json").exists()
    assert json.loads((crashed / "checkpoints" / "last.json").read_text())["step"] == 5
    seen = []
    _train(fake_demos, crashed, overrides=overrides, callback=lambda step, row: seen.append(step))
    assert seen == list(range(6, 13))  # continues after the last checkpoint (step 5)
    assert [r["step"] for r in _rows(crashed)] == [r["step"] for r in _rows(reference)]
    # weights, optimizer and RNG were all restored: bit-identical to the uninterrupted run
    for name in ("last.safetensors", "last_state.safetensors", "best.safetensors"):
        a = read_tensors(reference / "checkpoints" / name)
        b = read_tensors(crashed / "checkpoints" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    ref_rows, new_rows = _rows(reference), _rows(crashed)
    assert [r["train_loss"] for r in ref_rows] == [r["train_loss"] for r in new_rows]


def test_fresh_and_mismatched_runs(fake_demos, tmp_path):
    run_dir = _train(fake_demos, tmp_path / "run")
    with pytest.raises(ActBenchError, match="different run") as e:
        _train(fake_demos, run_dir, overrides={"model.d_model": 64})
    assert "model.d_model" in str(e.value) and "\n" not in str(e.value)
    seen = []
    _train(fake_demos, run_dir, overrides={"model.d_model": 64}, resume=False, callback=lambda s, r: seen.append(s))
    assert seen[0] == 1 and json.loads((run_dir / "config.json").read_text())["config"]["model"]["d_model"] == 64


def test_check_run_dir_catches_stale_runs_and_tolerates_new_fields(fake_demos, tmp_path):
    run_dir = _train(fake_demos, tmp_path / "run")
    prof = tiny_profile("act")
    train.check_run_dir(run_dir, "transfer_cube", "act", prof, 0)  # the same run: fine
    with pytest.raises(ActBenchError, match="model.cnn_kernel"):
        train.check_run_dir(run_dir, "transfer_cube", "act", train.apply_overrides(prof, {"model.cnn_kernel": 5}), 0)
    # a run made before a config field existed matches when the field has its default
    config = json.loads((run_dir / "config.json").read_text())
    del config["config"]["model"]["cnn_kernel"]
    (run_dir / "config.json").write_text(json.dumps(config))
    train.check_run_dir(run_dir, "transfer_cube", "act", prof, 0)


def test_bad_input_is_a_one_line_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        train.train_policy("transfer_cube", "act", "ci", 0, _opts(tmp_path / "missing", tmp_path / "run"))
    with pytest.raises(ActBenchError, match="unknown task"):
        train.train_policy("stacking", "act", "ci", 0, _opts(tmp_path, tmp_path / "run"))
    with pytest.raises(ActBenchError, match="unknown profile"):
        train.train_policy("transfer_cube", "act", "huge", 0, _opts(tmp_path, tmp_path / "run"))
    with pytest.raises(ActBenchError, match="unknown config key"):
        train.train_policy("transfer_cube", "bc", "ci", 0, _opts(tmp_path, tmp_path / "run", overrides=["x.y=1"]))


def test_cli_arguments(tmp_path):
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    args = parser.parse_args(["--task", "insertion", "--method", "bc", "--set", "train.steps=5", "--set",
                              "model.mlp_hidden=32", "--fresh", "--data", str(tmp_path)])
    assert (args.profile, args.seed, args.resume, args.device, args.out) == ("cpu", 0, False, "auto", None)
    assert args.overrides == ["train.steps=5", "model.mlp_hidden=32"]
    assert parser.parse_args(["--task", "insertion", "--method", "act"]).resume is True
    assert parser.parse_args(["--task", "insertion", "--policy", "act"]).policy == "act"  # --method: its old name
    assert args.policy == "bc"
    assert layout.run_dir("insertion", "bc", "cpu", 3).as_posix() == "runs/insertion/bc/cpu/seed3"
    with pytest.raises(DataError, match="no episode"):
        train.main(args)


def test_bf16_autocast_trains_on_the_cpu(fake_demos, tmp_path):
    """train.amp = bf16 now autocasts on the CPU too: the same steps, other (finite) numbers."""
    fp32 = _rows(_train(fake_demos, tmp_path / "fp32"))
    bf16 = _rows(_train(fake_demos, tmp_path / "bf16", overrides=["train.amp=bf16"]))
    assert [r["step"] for r in bf16] == [r["step"] for r in fp32]
    losses = [float(r["train_loss"]) for r in bf16]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses != [float(r["train_loss"]) for r in fp32]  # autocast really ran in bf16


def test_bf16_on_a_cpu_without_native_bf16_says_so(monkeypatch, capsys):
    """bf16 autocast is emulated (slower than fp32) on CPUs without AVX-512 BF16 / AMX / ARM BF16."""
    from act_bench.runtime import machine
    from act_bench.training.train import autocast_context

    monkeypatch.setattr(machine, "_cpuinfo", lambda: ("laptop", "fpu sse2 avx2 fma"))
    assert machine.native_bf16() is False
    with autocast_context(torch.device("cpu"), "bf16")():
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert "without native bf16" in capsys.readouterr().err
    monkeypatch.setattr(machine, "_cpuinfo", lambda: ("server", "avx2 avx512f avx512_bf16"))
    assert machine.native_bf16() is True
    autocast_context(torch.device("cpu"), "bf16")
    autocast_context(torch.device("cpu"), "none")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(machine, "_cpuinfo", lambda: ("unknown", ""))
    assert machine.native_bf16() is None


def test_amp_auto_is_bf16_only_where_the_cpu_computes_it(monkeypatch):
    from act_bench.runtime import machine
    from act_bench.training.train import resolve_amp

    cpu = torch.device("cpu")
    monkeypatch.setattr(machine, "native_bf16", lambda: True)
    assert resolve_amp("auto", cpu) == "bf16"
    monkeypatch.setattr(machine, "native_bf16", lambda: False)
    assert resolve_amp("auto", cpu) == "none"
    monkeypatch.setattr(machine, "native_bf16", lambda: None)  # unknown: fp32, never a 12x slowdown
    assert resolve_amp("auto", cpu) == "none"
    assert resolve_amp("bf16", cpu) == "bf16" and resolve_amp("none", cpu) == "none"


def test_a_run_records_and_keeps_the_precision_auto_chose(tmp_path, fake_demos, monkeypatch):
    """config.json says what "auto" became; a resume keeps it even where auto would choose otherwise."""
    from act_bench.runtime import machine

    prof = tiny_profile("act", {"train.amp": "auto", "train.steps": 2})
    monkeypatch.setattr(machine, "native_bf16", lambda: True)
    run = train.train_policy("transfer_cube", "act", prof, 0, _opts(fake_demos, tmp_path / "run"))
    config = json.loads((run / "config.json").read_text())
    assert config["amp"] == "bf16" and config["config"]["train"]["amp"] == "auto"
    monkeypatch.setattr(machine, "native_bf16", lambda: False)
    longer = tiny_profile("act", {"train.amp": "auto", "train.steps": 3})
    train.train_policy("transfer_cube", "act", longer, 0, _opts(fake_demos, run))
    assert json.loads((run / "config.json").read_text())["amp"] == "bf16"
