"""export-lerobot / import-lerobot: the LeRobotDataset v3.0 layout and the round trip (no lerobot needed;
scripts/verify_lerobot.sh checks the output with LeRobot itself)."""
import json

import h5py
import numpy as np
import pytest

pytest.importorskip("pyarrow", reason='needs the lerobot extra: pip install "act-bench[lerobot]"')
import pyarrow.parquet as pq  # noqa: E402

from act_bench.cli import main as cli  # noqa: E402
from act_bench.errors import ActBenchError, DataError  # noqa: E402
from act_bench.interop import lerobot_format as fmt  # noqa: E402
from act_bench.interop.lerobot_export import export_lerobot  # noqa: E402
from act_bench.interop.lerobot_import import import_lerobot  # noqa: E402
from act_bench.storage.atomic_io import write_json  # noqa: E402

from helpers_data import write_fake_demos  # noqa: E402

T, H, W = 30, 24, 32


@pytest.fixture
def demos(tmp_path):
    folder = write_fake_demos(tmp_path / "demos", episodes=2, T=T, cams=("top", "left_wrist"), H=H, W=W)
    rng = np.random.default_rng(0)
    for i in range(2):  # full-precision float64 values, velocities and stages, to see them survive exactly
        with h5py.File(folder / f"episode_{i}.hdf5", "r+") as f:
            f["observations/qpos"][...] = rng.normal(size=(T, 14))
            f["observations/qvel"][...] = rng.normal(size=(T, 14))
            f["action"][...] = rng.normal(size=(T, 14))
            f["stage"][...] = np.minimum(np.arange(T) // 8, 4)
            for cam in ("top", "left_wrist"):  # a background that changes every frame: a shift would show
                frames = f[f"observations/images/{cam}"][()]
                frames[frames[..., 1] != 40] = 0
                frames += (20 + 6 * np.arange(T, dtype=np.uint8))[:, None, None, None]
                f[f"observations/images/{cam}"][...] = frames
    settings = {"format_version": 1, "task": "transfer_cube", "seed": 0, "cameras": ["top", "left_wrist"],
                "image_size": [H, W], "noise": 0.0, "episode_len": T}
    write_json(folder / "settings.json", settings)
    write_json(folder / "manifest.json", {**settings, "episodes": 2})
    return folder


def _arrays(path):
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in ("observations/qpos", "observations/qvel", "action", "stage",
                                      "observations/images/top", "observations/images/left_wrist")}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_trip(demos, tmp_path, dtype):
    export_lerobot(demos, tmp_path / "lr", dtype=dtype, progress=False)
    manifest = import_lerobot(tmp_path / "lr", tmp_path / "back", progress=False)
    assert manifest["task"] == "transfer_cube" and manifest["episodes"] == 2
    assert manifest["cameras"] == ["top", "left_wrist"] and manifest["image_size"] == [H, W]
    for i in range(2):
        a, b = _arrays(demos / f"episode_{i}.hdf5"), _arrays(tmp_path / "back" / f"episode_{i}.hdf5")
        for key in ("observations/qpos", "observations/qvel", "action"):
            expected = a[key] if dtype == "float64" else a[key].astype(np.float32).astype(np.float64)
            np.testing.assert_array_equal(b[key], expected)  # exact (float32: exactly the float32 values)
        np.testing.assert_array_equal(b["stage"], a["stage"])
        for cam in ("top", "left_wrist"):
            x, y = a[f"observations/images/{cam}"].astype(int), b[f"observations/images/{cam}"].astype(int)
            assert x.shape == y.shape
            err = np.abs(x - y).mean(axis=(1, 2, 3))
            assert err.max() < 6  # codec error (tiny frames, sharp edges) ...
            shifted = np.abs(x[1:] - y[:-1]).mean(axis=(1, 2, 3))  # frame t+1 against the decoded t
            assert (err[1:] < shifted).all()  # ... and no frame shifted


def test_layout_is_lerobot_v3(demos, tmp_path):
    root = tmp_path / "lr"
    export_lerobot(demos, root, progress=False)
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 50 and info["robot_type"] == "aloha"
    assert info["total_episodes"] == 2 and info["total_frames"] == 2 * T and info["total_tasks"] == 1
    feats = info["features"]
    assert feats["observation.state"]["names"]["motors"][:7] == [
        "left_waist", "left_shoulder", "left_elbow", "left_forearm_roll", "left_wrist_angle", "left_wrist_rotate",
        "left_gripper"]
    assert feats["action"]["names"]["motors"][7] == "right_waist" and feats["action"]["dtype"] == "float32"
    assert feats["observation.images.top"]["dtype"] == "video" and feats["observation.images.top"]["shape"] == [H, W, 3]
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert key in feats
    data = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert data.num_rows == 2 * T and data.schema.field("action").type.list_size == 14
    assert data.column("index").to_pylist() == list(range(2 * T))
    assert data.column("timestamp").to_pylist()[T] == 0.0  # frame_index and timestamp restart per episode
    episodes = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [(e["dataset_from_index"], e["dataset_to_index"]) for e in episodes] == [(0, T), (T, 2 * T)]
    assert episodes[1]["videos/observation.images.top/from_timestamp"] == T / 50
    assert episodes[0]["tasks"] == ["Pick up the red cube with the right arm and hand it over to the left arm "
                                    "in mid-air."]
    tasks = pq.read_table(root / "meta/tasks.parquet").to_pandas()
    assert list(tasks.index) == episodes[0]["tasks"] and list(tasks["task_index"]) == [0]
    stats = json.loads((root / "meta/stats.json").read_text())
    assert np.shape(stats["observation.images.top"]["mean"]) == (3, 1, 1)
    assert 0 <= np.min(stats["observation.images.top"]["min"]) <= np.max(stats["observation.images.top"]["max"]) <= 1
    assert len(stats["action"]["q99"]) == 14 and stats["action"]["count"] == [2 * T]
    for cam in ("top", "left_wrist"):
        assert (root / f"videos/observation.images.{cam}/chunk-000/file-000.mp4").stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_image_stats_are_exact():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(5, 6, 7, 3), dtype=np.uint8)
    s = fmt.ImageStats()
    s.add(frames[:2])
    s.add(frames[2:])
    got = s.stats()
    x = frames.reshape(-1, 3) / 255.0
    np.testing.assert_allclose(got["mean"].reshape(3), x.mean(0))
    np.testing.assert_allclose(got["std"].reshape(3), x.std(0))
    np.testing.assert_allclose(got["max"].reshape(3), x.max(0))
    assert got["count"].tolist() == [5]


def test_cli_and_bad_input(demos, tmp_path, capsys):
    out = tmp_path / "lr"
    assert cli(["export-lerobot", str(demos), str(out), "--no-progress"]) == 0
    assert "2 episodes, 60 frames" in capsys.readouterr().out
    assert cli(["export-lerobot", str(demos), str(out), "--no-progress"]) == 2  # exists
    assert "already exists" in capsys.readouterr().err
    assert cli(["import-lerobot", str(out), str(tmp_path / "back"), "--no-progress"]) == 0
    assert "act-bench train --task transfer_cube" in capsys.readouterr().out
    with pytest.raises(DataError, match="not an act-bench demo folder"):
        export_lerobot(tmp_path / "back" / "..", tmp_path / "x", progress=False)
    with pytest.raises(DataError, match="not a LeRobotDataset"):
        import_lerobot(demos, tmp_path / "y", progress=False)
    (out / "meta/act_bench.json").unlink()  # a dataset from elsewhere: the task must be given
    with pytest.raises(ActBenchError, match="pass --task"):
        import_lerobot(out, tmp_path / "z", progress=False)
    info = json.loads((out / "meta/info.json").read_text())
    write_json(out / "meta/info.json", {**info, "codebase_version": "v2.1"})
    with pytest.raises(DataError, match="only v3.x"):
        import_lerobot(out, tmp_path / "z", task="transfer_cube", progress=False)
