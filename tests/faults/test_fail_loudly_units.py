"""Unit tests of the fail-loudly pieces: the finite-loss guard, the folder lock, the
signal stages, the strict metadata reader, the demo-folder listing check and failed cells.
The CLI-level faults are in test_faults_never_numbers.py and test_faults_random_campaign.py."""
from __future__ import annotations

import gc
import json
import math
import os
import signal
import subprocess
import sys
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from act_bench.data.folder_check import check_listing
from act_bench.errors import DamagedFile, DataError
from act_bench.report import failed_cells
from act_bench.runtime import finite_guard
from act_bench.storage import folder_lock, interrupts
from act_bench.storage.layout import read_json_record


def test_guard_names_the_first_bad_step_and_the_last_finite_loss():
    guard = finite_guard.FiniteGuard(torch.device("cpu"))
    for step, loss in enumerate([3.0, 2.0, math.inf, 1.0, math.nan], start=1):
        guard.observe(step, torch.tensor(loss))
    with pytest.raises(finite_guard.TrainingDiverged, match=r"at step 3 \(last finite loss 1 at step 4\)") as e:
        guard.check(checkpoint_step=2, step=5)
    assert e.value.record == {"step": 3, "last_finite_loss": 1.0, "last_finite_step": 4, "checkpoint_step": 2}


def test_guard_checks_the_weights_before_a_checkpoint():
    guard = finite_guard.FiniteGuard(torch.device("cpu"))
    guard.observe(1, torch.tensor(0.5))
    good, bad = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    guard.check(0, 1, good.parameters())
    with torch.no_grad():
        bad.weight[0, 0] = math.nan
    with pytest.raises(finite_guard.TrainingDiverged, match="at step 1 .*no checkpoint was written"):
        guard.check(0, 1, bad.parameters())


def test_diverged_marker_refuses_the_folder(tmp_path):
    finite_guard.refuse_diverged(tmp_path)  # none: nothing to say
    exc = finite_guard.TrainingDiverged("x", {"step": 7, "last_finite_loss": None, "checkpoint_step": 5})
    finite_guard.mark(tmp_path, exc)
    with pytest.raises(finite_guard.TrainingDiverged, match="at step 7 .*no finite loss.*step 5"):
        finite_guard.refuse_diverged(tmp_path)


HOLD = ("import sys, time\nfrom act_bench.storage.folder_lock import hold\n"
        "with hold(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)\n")


def test_lock_refuses_a_second_process_and_dies_with_its_holder(tmp_path):
    folder = tmp_path / "a" / "b"
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(folder_lock.FolderInUse, match=rf"in use by pid {p.pid} on .*since"):
            with folder_lock.hold(folder):
                pass
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert (folder / folder_lock.LOCK_NAME).exists()  # left by the killed holder, but not held:
    with folder_lock.hold(folder), folder_lock.hold(folder):  # re-entrant in one process
        assert json.loads((folder / folder_lock.LOCK_NAME).read_text())["pid"] == os.getpid()
    assert not (folder / folder_lock.LOCK_NAME).exists()


def test_lock_removes_the_folders_it_made_when_nothing_was_written(tmp_path):
    with folder_lock.hold(tmp_path / "x" / "y"):
        pass
    assert not (tmp_path / "x").exists()
    with folder_lock.hold(tmp_path / "z", sibling=True):
        assert (tmp_path / ".z.act-bench.lock").exists() and not (tmp_path / "z").exists()


def test_interrupt_says_where_and_waits_for_deferred_writes():
    with interrupts.stage("run out"), interrupts.stage("train runs/x"):
        interrupts.note("after step 7 of 20 (it resumes from step 5)")
        with pytest.raises(interrupts.Interrupted) as e:
            with interrupts.deferred():
                interrupts.handle(signal.SIGTERM)  # held until the block ends
                written = True
        assert written
    assert e.value.exit_code == 143
    assert interrupts.message("act-bench run", e.value) == (
        "act-bench run: interrupted by SIGTERM in run out > train runs/x, after step 7 of 20 (it resumes from step 5); "
        "rerun the same command to resume")


@pytest.mark.parametrize("text", [b"", b'{"step": 2', b"[1, 2]", b'{"a": "\xff"}'])
def test_damaged_metadata_is_an_error_missing_is_none(tmp_path, text):
    assert read_json_record(tmp_path / "done.json") is None
    (tmp_path / "done.json").write_bytes(text)
    with pytest.raises(DamagedFile, match=r"done.json: (unreadable|not a JSON object).*; delete it and rerun the training"):
        read_json_record(tmp_path / "done.json")


def _folder(tmp_path, names, manifest=True, settings=True):
    for n in names:
        (tmp_path / n).write_bytes(b"")
    meta = {"task": "transfer_cube", "image_size": [48, 64], "cameras": ["top"], "seed": 3, "noise": 0.0}
    if settings:
        (tmp_path / "settings.json").write_text(json.dumps(meta))
    if manifest:
        (tmp_path / "manifest.json").write_text(json.dumps({**meta, "episodes": 2,
                                                            "files": ["episode_0.hdf5", "episode_1.hdf5"]}))
    return sorted(tmp_path.glob("episode_*.hdf5"))


def test_listing_check(tmp_path):
    check_listing(tmp_path, _folder(tmp_path, ["episode_0.hdf5", "episode_1.hdf5"]))
    (tmp_path / "episode_1.hdf5").unlink()
    with pytest.raises(DataError, match=r"episode_1.hdf5 listed in manifest.json but missing; record them again with "
                                        r"`act-bench generate-demos --task transfer_cube --episodes 2 --image-size "
                                        r"48x64 --cameras top --seed 3 --out "):
        check_listing(tmp_path, sorted(tmp_path.glob("episode_*.hdf5")))
    paths = _folder(tmp_path, ["episode_1.hdf5", "episode_4.hdf5"])
    with pytest.raises(DataError, match=r"does not list: episode_4.hdf5; delete them, or .*--episodes 5 "):
        check_listing(tmp_path, paths)
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(DataError, match="the recording did not finish"):
        check_listing(tmp_path, paths)
    (tmp_path / "settings.json").unlink()
    check_listing(tmp_path, paths)  # made by hand: read as it is


def test_failed_cells_are_rows_without_a_rate(tmp_path):
    results = pd.DataFrame([{"task": "t", "method": m, "seed": 0, "stage_index": i, "stage_name": f"s{i}",
                             "successes": 1, "episodes": 2, "rate": 0.5, "ci_low": 0.1, "ci_high": 0.9}
                            for m in ("a", "b") for i in (1, 2)])
    failed_cells.record(tmp_path, [("t", "b", 0)], {("t", "b", 0): "training failed: diverged"})
    merged = failed_cells.merge(results, tmp_path)
    assert list(merged["status"]) == ["ok", "ok", "failed: training failed: diverged"]
    assert merged["rate"].isna().tolist() == [False, False, True]
    assert failed_cells.evaluated(merged)["method"].tolist() == ["a", "a"]
    failed_cells.record(tmp_path, [("t", "b", 0)], {})  # evaluated since: no longer failed
    assert "status" not in failed_cells.merge(results, tmp_path).columns


def test_files_written_together_land_together(tmp_path):
    from act_bench.storage.atomic_io import together, write_text

    write_text(tmp_path / "a.json", "old a")
    with together():
        write_text(tmp_path / "a.json", "new a")
        write_text(tmp_path / "b.json", "new b")
        assert (tmp_path / "a.json").read_text() == "old a" and not (tmp_path / "b.json").exists()
    assert (tmp_path / "a.json").read_text() == "new a" and (tmp_path / "b.json").read_text() == "new b"
    with pytest.raises(RuntimeError), together():
        write_text(tmp_path / "a.json", "newer a")
        raise RuntimeError("a failure before the block ends")
    assert (tmp_path / "a.json").read_text() == "new a"  # renamed nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]  # and left no temporary


def test_a_swallowed_interrupt_is_raised_again(monkeypatch, tmp_path):
    """The handler can run where Python swallows exceptions (an at-fork hook as a subprocess
    starts, a finalizer): the signal still ends the command at its next progress note, and an
    atomic folder being written is not committed."""
    from act_bench.storage.atomic_io import atomic_dir

    monkeypatch.setattr(sys, "unraisablehook", interrupts._unraisable)

    class Finalizer:
        def __del__(self):
            interrupts.handle(signal.SIGTERM)  # raises inside __del__: Python swallows it

    with interrupts.stage("export-lerobot out"):
        Finalizer()  # garbage at once
        with pytest.raises(interrupts.Interrupted) as e:
            interrupts.note("at episode 2 of 3")
    assert e.value.signum == signal.SIGTERM and "in export-lerobot out" in str(e.value)
    with pytest.raises(interrupts.Interrupted):
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "a").write_text("x")
            Finalizer()
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []
    Finalizer()
    assert interrupts.swallowed().signum == signal.SIGTERM and interrupts.swallowed() is None
    interrupts.note("nothing pending: no raise")


def test_an_interrupted_demo_recording_closes_its_bar_before_the_message(monkeypatch, capsys):
    """The CLI prints its one line after the exception has left the command; the progress bar must
    be closed (its last render and a newline) by then, not by its finalizer after that line."""
    from act_bench.demos import generate

    calls = []

    def record(job):
        calls.append(job["index"])
        if len(calls) == 2:
            interrupts.handle(signal.SIGTERM)
        return {"ok": True, "index": job["index"]}

    monkeypatch.setattr(generate, "_record", record)
    todo = [{"index": i} for i in range(3)]
    with pytest.raises(interrupts.Interrupted) as e, interrupts.stage("generate-demos d"):
        generate._record_all(todo, 3, 1, "demos transfer_cube", progress=True)
    err = capsys.readouterr().err
    assert "1/3" in err and err.endswith("\n"), repr(err)
    line = interrupts.message("act-bench generate-demos", e.value)
    print(line, file=sys.stderr)
    del e  # the traceback held the bar: freeing it must draw nothing more
    gc.collect()
    assert capsys.readouterr().err == line + "\n"
    assert line.startswith("act-bench generate-demos: interrupted by SIGTERM in generate-demos d, after 1 of 3")


@pytest.mark.parametrize("argv", [["inspect", "--help"], ["inspect", "no-such-folder"]])
def test_a_signal_after_the_work_cannot_change_the_exit_status(argv, tmp_path):
    """Python gives handled signals their default action back while it shuts down: a SIGTERM
    landing after the command finished killed it (-15) instead of letting it exit with its own
    status. Here the signal comes right after main() returns, as the entry point runs it."""
    script = ("import os, signal, sys; from act_bench import cli; sys.argv = ['act-bench', *sys.argv[1:]]\n"
              "try:\n    code = cli.main()\nexcept SystemExit as e:\n    code = e.code\n"
              "os.kill(os.getpid(), signal.SIGTERM); os.kill(os.getpid(), signal.SIGINT); sys.exit(code)")
    alone = subprocess.run([sys.executable, "-c", script, *argv], cwd=tmp_path, capture_output=True, text=True)
    expected = 0 if "--help" in argv else 2
    assert alone.returncode == expected and "Traceback" not in alone.stderr, alone.stderr[-2000:]


def test_an_interrupt_inside_a_ctypes_call_is_still_an_interrupt(monkeypatch, capsys):
    """ctypes turns an exception raised while it converts an argument into its own ArgumentError
    (a signal landed in the EGL call a rendering env makes each step): the command must still end
    with its one line and the signal's status, not a traceback."""
    import ctypes

    from act_bench import cli

    class Landing:
        @classmethod
        def from_param(cls, value):
            interrupts.handle(signal.SIGTERM)  # the handler runs during the conversion

    labs = ctypes.CDLL(None).labs
    labs.argtypes = [Landing]

    def command(args):
        with interrupts.stage("eval out"):
            labs(3)

    with pytest.raises(ctypes.ArgumentError, match="argument 1: Interrupted: in eval out"):
        command(None)  # what the command raises: no KeyboardInterrupt left in it
    parser = SimpleNamespace(parse_args=lambda argv: SimpleNamespace(_module="fake"))
    monkeypatch.setattr(cli, "build_parser", lambda argv: parser)
    monkeypatch.setattr(cli.importlib, "import_module", lambda name: SimpleNamespace(main=command))
    monkeypatch.setattr(cli.interrupts, "install", lambda: None)
    assert cli.main(["eval"]) == 128 + signal.SIGTERM
    assert capsys.readouterr().err == "act-bench eval: interrupted by SIGTERM in eval out; rerun the same command to resume\n"
    labs.argtypes = [ctypes.c_long]
    monkeypatch.setattr(cli.importlib, "import_module", lambda name: SimpleNamespace(main=lambda args: labs("3")))
    with pytest.raises(ctypes.ArgumentError, match="TypeError"):  # any other ArgumentError is a bug, shown as one
        cli.main(["eval"])
