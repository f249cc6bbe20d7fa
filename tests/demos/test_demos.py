"""`generate-demos`: the HDF5 format, determinism, resuming, refusing mixed folders."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from act_bench.cli import main as cli_main
from act_bench.demos.generate import DemoSettings, generate_demos
from act_bench.errors import ActBenchError

SMALL = (24, 32)
REPO = Path(__file__).resolve().parents[2]


def _hashes(folder):
    return json.loads((Path(folder) / "manifest.json").read_text())["content_hashes"]


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    out = tmp_path_factory.mktemp("demos")
    generate_demos("transfer_cube", 2, out, DemoSettings(0, ["top", "left_wrist"], SMALL), workers=1, progress=False)
    return out


def test_layout_matches_the_original_act_release(demos):
    manifest = json.loads((demos / "manifest.json").read_text())
    assert manifest["episodes"] == 2 and manifest["task"] == "transfer_cube"
    assert manifest["scripted_success_rate"] == 1.0 and len(manifest["seeds"]) == 2
    assert manifest["versions"]["mujoco"].startswith("3.")
    with h5py.File(demos / "episode_0.hdf5", "r") as f:
        assert f.attrs["sim"] == True  # noqa: E712 (numpy bool)
        assert f.attrs["task"] == "transfer_cube" and f.attrs["max_stage"] == 4
        assert f["observations/qpos"].shape == (400, 14) and f["observations/qpos"].dtype == np.float64
        assert f["observations/qvel"].shape == (400, 14) and f["observations/qvel"].dtype == np.float64
        assert f["action"].shape == (400, 14) and f["action"].dtype == np.float64
        for cam in ("top", "left_wrist"):
            ds = f[f"observations/images/{cam}"]
            assert ds.shape == (400, *SMALL, 3) and ds.dtype == np.uint8
            assert ds.chunks == (1, *SMALL, 3) and ds.compression == "gzip"
        assert f["stage"].shape == (400,) and f["stage"][()].max() == 4
        assert json.loads(f.attrs["object_poses"])["cube"][2] == pytest.approx(0.02)
        # The recorded actions are what the joint-space env executed: replaying them from the
        # same seed reproduces the recorded observations exactly.
        actions, qpos = f["action"][()], f["observations/qpos"][()]
        seed = int(f.attrs["seed"])
    from act_bench.envs import make_env

    env = make_env("transfer_cube", cameras=())
    obs, _ = env.reset(seed=seed)
    replayed = [obs["qpos"]]
    for a in actions[:-1]:
        replayed.append(env.step(a)[0]["qpos"])
    assert np.array_equal(np.array(replayed), qpos)


def test_same_arguments_same_data_whatever_the_workers(demos, tmp_path):
    generate_demos("transfer_cube", 2, tmp_path, DemoSettings(0, ["top", "left_wrist"], SMALL), workers=2,
                   progress=False)
    assert _hashes(tmp_path) == _hashes(demos)


def test_other_settings_are_refused(demos):
    with pytest.raises(ActBenchError, match="other settings"):
        generate_demos("transfer_cube", 2, demos, DemoSettings(1, ["top", "left_wrist"], SMALL), progress=False)


def test_bad_arguments_give_one_line_errors(tmp_path, capsys):
    for argv in (
        ["generate-demos", "--task", "transfer_cube", "--episodes", "0", "--out", str(tmp_path / "a")],
        ["generate-demos", "--task", "transfer_cube", "--image-size", "big", "--out", str(tmp_path / "b")],
        ["generate-demos", "--task", "transfer_cube", "--cameras", "top,nope", "--out", str(tmp_path / "c")],
    ):
        assert cli_main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("act-bench generate-demos: error:") and "\n" not in err


def test_interrupted_run_resumes_to_a_complete_valid_set(demos, tmp_path):
    """Kill a real run mid-way, leave a torn file behind, rerun: same data as a clean run."""
    out = tmp_path / "demos"
    cmd = [sys.executable, "-m", "act_bench.cli", "generate-demos", "--task", "transfer_cube",
           "--episodes", "2", "--out", str(out), "--cameras", "top,left_wrist", "--image-size", "24x32",
           "--workers", "1"]
    # prepend, not replace: packages may live on PYTHONPATH too
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "episode_0.hdf5").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()
    (out / ".episode_1.abc123.tmp.hdf5").write_bytes(b"half a file")  # what a crash mid-write leaves
    (out / "episode_1.hdf5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # a damaged file
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    assert _hashes(out) == _hashes(demos)
    assert not list(out.glob(".*.tmp*"))


def test_inspect_and_replay(demos, tmp_path, capsys):
    assert cli_main(["inspect", str(demos)]) == 0
    text = capsys.readouterr().out
    assert "episode_1.hdf5" in text and "success (stage 4) in 2/2" in text
    video = tmp_path / "ep0.mp4"
    assert cli_main(["replay", str(demos / "episode_0.hdf5"), "--out", str(video)]) == 0
    import imageio.v3 as iio

    frames = iio.imread(video)
    from act_bench.sim.video import BANNER_H

    # two 24x32 cameras side by side, scaled up 10x so that the banner's text fits (replay.video_size)
    assert frames.shape[0] == 400 and frames.shape[1:] == (10 * SMALL[0] + BANNER_H, 10 * 2 * SMALL[1], 3)


def test_truncated_or_wrong_shaped_files_get_a_one_line_error(demos, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    data = (demos / "episode_0.hdf5").read_bytes()
    (bad / "episode_0.hdf5").write_bytes(data[: len(data) // 2])
    assert cli_main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "episode_0.hdf5" in err and "\n" not in err
    with h5py.File(bad / "episode_0.hdf5", "w") as f:
        f.create_dataset("observations/qpos", data=np.zeros((400, 13)))
        f.create_dataset("action", data=np.zeros((400, 14)))
    assert cli_main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "episode_0.hdf5" in err and "observations/qpos" in err and "\n" not in err
