"""Reading demonstrations back: validation errors, chunk sampling with padding, resizing, stats."""
import h5py
import numpy as np
import pytest
import torch

from act_bench.data.dataset import (ChunkDataset, DataSpec, episode_paths, inspect_episode, load_training_data,
                                    resize_images, split_episodes)
from act_bench.data.normalization import MIN_STD, NormStats
from act_bench.errors import CheckpointError, DataError
from helpers_data import fake_episode_arrays, write_fake_demos, write_fake_episode


def _load(folder, progress=False, expected_hashes=None, **kw):
    args = dict(cameras=["top"], image_size=(24, 32), chunk_size=8, val_fraction=0.5, seed=0)
    args.update(kw)
    return load_training_data(folder, DataSpec(**args), progress, expected_hashes)


def test_load_split_stats_and_shapes(tmp_path):
    write_fake_demos(tmp_path, episodes=4, T=30, cams=("top", "angle"))
    data = _load(tmp_path, cameras=["top", "angle"], image_size=(12, 16))
    assert data.val is not None and len(data.train) == 60 and len(data.val) == 60
    assert data.train.images.shape == (60, 2, 12, 16, 3) and data.train.images.dtype == np.uint8
    assert data.train.qpos.dtype == np.float32 and data.train.actions.shape == (60, 14)
    assert set(data.info["train_episodes"]).isdisjoint(data.info["val_episodes"])
    assert len(data.info["train_episodes"]) == 2 and data.info["stored_image_size"]["top"] == [24, 32]
    # statistics come from the training episodes only
    train_ids = [int(n.split("_")[1].split(".")[0]) for n in data.info["train_episodes"]]
    arrays = [fake_episode_arrays(30, ("top",), 24, 32, seed=i) for i in train_ids]
    expected = NormStats.from_arrays([a[0] for a in arrays], [a[1] for a in arrays])
    np.testing.assert_allclose(data.stats.qpos_mean, expected.qpos_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(data.stats.action_std, expected.action_std, rtol=1e-5)


def test_split_by_episode_is_deterministic():
    assert split_episodes(1, 0.2, 0) == ([0], [])
    assert split_episodes(10, 0.0, 0) == (list(range(10)), [])
    train, val = split_episodes(10, 0.2, 3)
    assert len(val) == 2 and sorted(train + val) == list(range(10))
    assert split_episodes(10, 0.2, 3) == (train, val)
    assert len(split_episodes(2, 0.1, 0)[1]) == 1  # at least one validation episode


def test_chunks_pad_past_episode_end():
    T, k = 5, 4
    actions = np.arange(2 * T, dtype=np.float32)[:, None].repeat(14, 1)
    ds = ChunkDataset.from_episodes([np.zeros((T, 14))] * 2, [actions[:T], actions[T:]],
                                    [np.zeros((T, 1, 4, 4, 3), np.uint8)] * 2, chunk_size=k)
    b = ds.get_batch(np.array([0, 3, 4, 9]))
    assert b["actions"].shape == (4, k, 14) and b["is_pad"].shape == (4, k)
    np.testing.assert_array_equal(b["actions"][0, :, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(b["is_pad"][1], [False, False, True, True])
    np.testing.assert_array_equal(b["actions"][1, :, 0], [3, 4, 4, 4])  # last action repeated, flagged
    np.testing.assert_array_equal(b["is_pad"][2], [False, True, True, True])
    np.testing.assert_array_equal(b["actions"][3, :, 0], [9, 9, 9, 9])  # second episode stays in its own
    rng = np.random.default_rng(0)
    idx = ds.sample_indices(rng, 1000)
    assert idx.min() >= 0 and idx.max() < 2 * T


def test_resize_antialiased_numpy_and_torch_agree():
    checker = (np.indices((40, 40)).sum(0) % 2 * 255).astype(np.uint8)
    frames = np.repeat(checker[None, :, :, None], 3, axis=3)
    small = resize_images(frames, (8, 8))
    assert small.shape == (1, 8, 8, 3) and small.dtype == np.uint8
    assert abs(float(small.mean()) - 127.5) < 3 and small.std() < 10  # averaged, not aliased
    np.testing.assert_array_equal(resize_images(torch.from_numpy(frames), (8, 8)).numpy(), small)
    assert resize_images(frames, (40, 40)) is frames


def test_norm_stats_roundtrip_and_min_std():
    q = [np.ones((10, 14))]
    stats = NormStats.from_arrays(q, q)
    assert np.all(stats.qpos_std == np.float32(MIN_STD))
    again = NormStats.from_dict(stats.to_dict())
    np.testing.assert_array_equal(again.action_mean, stats.action_mean)
    with pytest.raises(CheckpointError):
        NormStats.from_dict({**stats.to_dict(), "qpos_std": [0.0] * 14})


# --- validation: one-line DataError naming the file (and the key) -------------------------
def _one_line_error(excinfo, *needles):
    msg = str(excinfo.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, msg
    return msg


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(DataError) as e:
        episode_paths(tmp_path / "nope")
    _one_line_error(e, "does not exist")
    with pytest.raises(DataError) as e:
        episode_paths(tmp_path)
    _one_line_error(e, "no episode_*.hdf5")


def test_episode_order_is_numeric(tmp_path):
    for i in (10, 2, 1):
        (tmp_path / f"episode_{i}.hdf5").touch()
    (tmp_path / "episode_3.hdf5.tmp").touch()
    assert [p.name for p in episode_paths(tmp_path)] == ["episode_1.hdf5", "episode_2.hdf5", "episode_10.hdf5"]
    assert len(episode_paths(tmp_path, max_episodes=2)) == 2


def test_truncated_file(tmp_path):
    path = write_fake_episode(tmp_path / "episode_0.hdf5", T=20)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as e:
        _load(tmp_path)
    _one_line_error(e, str(path))


@pytest.mark.parametrize("key,value,needle", [
    ("observations/qpos", np.zeros((20, 13)), "expected shape (T, 14)"),
    ("action", np.zeros((19, 14)), "has 19 steps"),
    ("action", np.zeros((20, 14), np.int32), "float dtype"),
    ("observations/images/top", np.zeros((20, 24, 32, 3), np.float32), "uint8"),
    ("observations/images/top", np.zeros((20, 24, 32), np.uint8), "(T, H, W, 3)"),
])
def test_wrong_shapes_and_dtypes(tmp_path, key, value, needle):
    path = write_fake_episode(tmp_path / "episode_0.hdf5", T=20)
    with h5py.File(path, "a") as f:
        del f[key]
        f.create_dataset(key, data=value)
    with pytest.raises(DataError) as e:
        _load(tmp_path)
    _one_line_error(e, str(path), key, needle)


def test_missing_camera_and_nan(tmp_path):
    path = write_fake_episode(tmp_path / "episode_0.hdf5", T=20)
    with pytest.raises(DataError) as e:
        inspect_episode(path, ["top", "left_wrist"])
    _one_line_error(e, str(path), "observations/images/left_wrist", "cameras in file: top")
    with h5py.File(path, "a") as f:
        f["action"][3, 2] = np.nan
    with pytest.raises(DataError) as e:
        _load(tmp_path)
    _one_line_error(e, str(path), "action", "NaN")


def test_wrong_task_refused(tmp_path):
    write_fake_demos(tmp_path, episodes=2, T=10, task="insertion")
    with pytest.raises(DataError) as e:
        _load(tmp_path, task="transfer_cube")
    _one_line_error(e, "insertion")
