"""Fault injection (`pytest -m faults`): read-only folders, a full disk, kill -9 at random points
of generate-demos / train / eval / run, corrupt and truncated HDF5 and safetensors files,
edited episodes, absurd sizes, a missing GL library and a missing Ray. Each fault must give
one line and a non-zero exit, lose or overwrite nothing, and a rerun must complete to the
same bytes as an undisturbed run. All through the CLI, in subprocesses, on tiny settings.

Set ACT_BENCH_FAULT_LOG=path.md to get a table of every fault, its message and exit code.
"""
from __future__ import annotations

import contextlib
import ctypes.util
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import h5py
import pytest

from cli_helpers import (GEN, LOG, REPO, TINY, cli, cli_env, demos_fp, eval_fp, kill_at, ok, one_line, results_fp,
                         run_fp, sha, snapshot)

pytestmark = [pytest.mark.faults, pytest.mark.slow]
ROOT = os.geteuid() == 0


def _can_mount() -> bool:
    """Root with mount rights (not every container gives them): real read-only and tmpfs mounts."""
    if not ROOT or shutil.which("mount") is None:
        return False
    import tempfile

    d = tempfile.mkdtemp()
    try:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", d], capture_output=True).returncode:
            return False
        subprocess.run(["umount", d], check=True)
        return True
    finally:
        os.rmdir(d)


MOUNT = _can_mount()
RNG = random.Random(14)


# ---------------------------------------------------------------- the undisturbed runs
def _train_args(data, out):
    return ["train", "--task", "transfer_cube", "--method", "act", "--profile", "ci", "--data", data, "--out", out,
            "--no-progress", *TINY]


def _eval_args(run, out):
    return ["eval", "--run", run, "--method", "act-no-te", "--episodes", "2", "--videos", "0", "--out", out,
            "--no-progress", "--batch", "2"]


def _run_args(root):
    return ["run", "--methods", "act-no-te", "--tasks", "transfer_cube", "--profile", "ci", "--episodes", "2",
            "--demos", "2", "--videos", "0", "--out", f"{root}/out", "--demos-root", f"{root}/demos",
            "--runs-root", f"{root}/runs", "--no-progress", *TINY]


# each command killed: (its arguments for a copy named by tag, how many kills, its fingerprint)
KILLED = {
    "gen": (lambda tag: [*GEN, "--out", f"demos{tag}"], 3, lambda w, tag: demos_fp(w / f"demos{tag}")),
    "train": (lambda tag: _train_args("demos", f"run{tag}"), 2, lambda w, tag: run_fp(w / f"run{tag}")),
    "eval": (lambda tag: _eval_args("run", f"ev{tag}"), 2, lambda w, tag: eval_fp(w / f"ev{tag}")),
    "run": (lambda tag: _run_args(f"grid{tag}"), 2,
            lambda w, tag: (results_fp(w / f"grid{tag}/out"),
                            run_fp(w / f"grid{tag}/runs/transfer_cube/act/ci/seed0"))),
}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The four commands run undisturbed, in order (each reads the one before): their times and fingerprints."""
    w = tmp_path_factory.mktemp("faults")
    times, fingerprints = {}, {}
    for name, (args, _, fingerprint) in KILLED.items():
        t = time.perf_counter()
        ok(*args(""), cwd=w)
        times[name], fingerprints[name] = time.perf_counter() - t, fingerprint(w, "")
    yield {"w": w, "times": times, "fingerprints": fingerprints, "demos": fingerprints["gen"],
           "run": fingerprints["train"]}
    if os.environ.get("ACT_BENCH_FAULT_LOG"):
        rows = ["| fault | exit | message |", "|---|---|---|"]
        rows += [f"| {f} | {rc} | {msg.replace('|', '/')} |" for f, rc, msg in LOG]
        Path(os.environ["ACT_BENCH_FAULT_LOG"]).write_text("\n".join(rows) + "\n")


def _points(total: float, n: int) -> list[float]:
    """n random kill times spread over the undisturbed duration (start-up excluded)."""
    return [total * RNG.uniform(0.2 + 0.7 * i / n, 0.2 + 0.7 * (i + 1) / n) for i in range(n)]


# ---------------------------------------------------------------- kill -9
@pytest.mark.parametrize("command", list(KILLED))
def test_kill9_resumes_to_the_same_bytes(base, command):
    """kill -9 at random moments, then the same command again: what it wrote is what the undisturbed run wrote."""
    args, kills, fingerprint = KILLED[command]
    w = base["w"]
    for i, delay in enumerate(_points(base["times"][command], kills)):
        kill_at(args(i), w, delay)
        ok(*args(i), cwd=w)
        assert fingerprint(w, i) == base["fingerprints"][command]


# ---------------------------------------------------------------- read-only folders, a full disk
@contextlib.contextmanager
def read_only(folder: Path):
    """The folder read-only: a read-only bind mount as root (root ignores permissions), else chmod."""
    if ROOT and not MOUNT:
        pytest.skip("root without mount rights: permissions cannot make a folder read-only")
    folder.mkdir(parents=True, exist_ok=True)
    if ROOT:
        subprocess.run(["mount", "--bind", folder, folder], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", folder, folder], check=True)
    else:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
        for p in modes:
            p.chmod(modes[p] & ~0o222)
    try:
        yield folder
    finally:
        if ROOT:
            subprocess.run(["umount", folder], check=True)
        else:
            for p, mode in modes.items():
                p.chmod(mode)


def test_read_only_folders(base):
    w = base["w"]
    shutil.copytree(w / "demos", w / "ro_demos")
    before = snapshot(w / "ro_demos")
    with read_only(w / "ro_demos"):  # a finished demo folder: nothing to write, so it just works
        ok(*GEN, "--out", "ro_demos", cwd=w)
        ok("verify", "ro_demos", cwd=w)
        ok("inspect", "ro_demos", cwd=w)
    assert snapshot(w / "ro_demos") == before
    with read_only(w / "ro"):
        one_line("generate-demos into a read-only folder", cli(*GEN, "--out", "ro/demos", cwd=w))
        one_line("train into a read-only folder", cli(*_train_args("demos", "ro/run"), cwd=w))
        one_line("eval into a read-only folder", cli(*_eval_args("run", "ro/ev"), cwd=w))
        one_line("run into a read-only folder", cli(*_run_args("ro/grid"), cwd=w))
    assert not any((w / "ro").iterdir())
    ok(*_train_args("demos", "ro/run"), cwd=w)  # writable again: the same training
    assert run_fp(w / "ro/run") == base["run"]


def test_disk_full(base):
    w = base["w"]
    one_line("generate-demos, file size limit 64 KiB", cli(*GEN, "--out", "full_demos", cwd=w, fsize=64 * 1024))
    assert not list((w / "full_demos").glob(".*tmp*"))
    ok(*GEN, "--out", "full_demos", cwd=w)
    assert demos_fp(w / "full_demos") == base["demos"]
    one_line("train, file size limit 16 KiB", cli(*_train_args("demos", "full_run"), cwd=w, fsize=16 * 1024))
    ok(*_train_args("demos", "full_run"), cwd=w)
    assert run_fp(w / "full_run") == base["run"]
    if not MOUNT:
        return  # the size limit above stands in for a full disk
    tmpfs = w / "tmpfs"
    tmpfs.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", tmpfs], check=True)
    try:
        one_line("generate-demos on a full 300 KiB tmpfs", cli(*GEN, "--out", tmpfs / "demos", cwd=w))
        one_line("train on a full 300 KiB tmpfs", cli(*_train_args("demos", tmpfs / "run"), cwd=w))
        subprocess.run(["mount", "-o", "remount,size=64m", tmpfs], check=True)
        ok(*GEN, "--out", tmpfs / "demos", cwd=w)
        assert demos_fp(tmpfs / "demos") == base["demos"]
    finally:
        subprocess.run(["umount", tmpfs], check=True)


# ---------------------------------------------------------------- damaged demonstrations
def _corrupt_chunk(path: Path) -> None:
    with h5py.File(path, "r") as f:
        info = f["observations/images/top"].id.get_chunk_info(100)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        fh.write(b"\xff\x00\xff\x00\xff\x00\xff\x00")


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _edit_action(path: Path) -> None:
    with h5py.File(path, "r+") as f:
        f["action"][10, 3] += 0.01


@pytest.mark.parametrize("damage", [_corrupt_chunk, _truncate, _edit_action], ids=["corrupt chunk", "truncated",
                                                                                   "edited action"])
def test_damaged_episode_is_caught_and_re_recorded(base, damage):
    w, name = base["w"], damage.__name__.strip("_")
    d = w / f"dmg_{name}"
    shutil.copytree(w / "demos", d)
    damage(d / "episode_1.hdf5")
    before = snapshot(d)
    one_line(f"verify, {name} episode", cli("verify", d, cwd=w))
    one_line(f"inspect, {name} episode", cli("inspect", d, cwd=w))
    one_line(f"replay, {name} episode", cli("replay", d / "episode_1.hdf5", "--out", w / f"{name}.mp4", cwd=w))
    one_line(f"train, {name} episode", cli(*_train_args(d, f"dmg_run_{name}"), cwd=w))
    assert snapshot(d) == before and not (w / f"{name}.mp4").exists()
    ok(*GEN, "--out", d, cwd=w)  # the damaged episode is recorded again
    assert demos_fp(d) == base["demos"]


def test_changed_demos_refused_and_done_json_kept(base):
    w = base["w"]
    shutil.copytree(w / "run", w / "run_done")
    done = sha(w / "run_done/done.json")
    shutil.copytree(w / "demos", w / "demos_edit")
    _edit_action(w / "demos_edit/episode_0.hdf5")
    args = [a if a != "train.steps=20" else "train.steps=400" for a in _train_args("demos_edit", "run_done")]
    one_line("train --set train.steps=400 on a finished run, demos edited", cli(*args, cwd=w))
    assert sha(w / "run_done/done.json") == done
    ok(*GEN, "--out", "demos_edit", "--seed", "0", cwd=w)  # repaired, but recorded with another seed next:
    shutil.rmtree(w / "demos_other")if (w / "demos_other").exists() else None
    ok(*GEN, "--out", "demos_other", "--seed", "1", cwd=w)
    one_line("train on a finished run with other demos", cli(*_train_args("demos_other", "run_done"), cwd=w))
    assert snapshot(w / "run_done") == snapshot(w / "run")


# ---------------------------------------------------------------- damaged checkpoints
@pytest.mark.parametrize("how", ["corrupt", "truncated"])
def test_damaged_safetensors(base, how):
    w = base["w"]
    r = w / f"ck_{how}"
    shutil.copytree(w / "run", r)
    for name in ("last.safetensors", "best.safetensors"):
        p = r / "checkpoints" / name
        if how == "corrupt":
            data = bytearray(p.read_bytes())
            data[len(data) // 2: len(data) // 2 + 8] = b"\x00" * 8
            p.write_bytes(bytes(data))
        else:
            _truncate(p)
    before = snapshot(r)
    args = [a if a != "train.steps=20" else "train.steps=25" for a in _train_args("demos", r)]
    one_line(f"train resuming from a {how} safetensors", cli(*args, cwd=w))
    one_line(f"eval of a {how} safetensors", cli(*_eval_args(r, w / f"ck_ev_{how}"), cwd=w))
    assert snapshot(r) == before
    ok(*_train_args("demos", r), "--fresh", cwd=w)
    assert run_fp(r) == base["run"]


# ---------------------------------------------------------------- sizes, GL, Ray
def test_absurd_sizes(base):
    w = base["w"]
    one_line("generate-demos --image-size 5000x5000",
             cli("generate-demos", "--task", "transfer_cube", "--episodes", "2", "--image-size", "5000x5000",
                 "--out", "big", cwd=w))
    one_line("generate-demos --image-size 0x64",
             cli("generate-demos", "--task", "transfer_cube", "--image-size", "0x64", "--out", "big", cwd=w))
    one_line("generate-demos --episodes 0", cli(*GEN, "--episodes", "0", "--out", "big", cwd=w))
    one_line("train --set data.image_size=[20000,20000]",
             cli(*_train_args("demos", "big_run"), "--set", "data.image_size=[20000,20000]", cwd=w))
    one_line("train --episodes 99 (2 recorded)", cli(*_train_args("demos", "big_run"), "--episodes", "99", cwd=w))
    assert not (w / "big").exists() and not (w / "big_run").exists()


def test_missing_gl_library(base):
    w = base["w"]
    env = cli_env(MUJOCO_GL="egl", __EGL_VENDOR_LIBRARY_DIRS=str(w / "no-such-dir"))
    one_line("generate-demos, no EGL driver", cli(*GEN, "--out", "gl_egl", cwd=w, env=env))
    assert not (w / "gl_egl").exists()
    if ctypes.util.find_library("OSMesa") is None:
        one_line("generate-demos, MUJOCO_GL=osmesa without libOSMesa",
                 cli(*GEN, "--out", "gl_osmesa", cwd=w, env=cli_env(MUJOCO_GL="osmesa")))
        assert not (w / "gl_osmesa").exists()


def test_ray_missing(base, tmp_path):
    w = base["w"]
    fake = tmp_path / "no_ray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    env = cli_env(PYTHONPATH=os.pathsep.join([str(REPO), str(fake.parent)]))
    one_line("run --executor ray without Ray", cli(*_run_args("ray_grid"), "--executor", "ray", cwd=w, env=env))
    assert not (w / "ray_grid").exists()
