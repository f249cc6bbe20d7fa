"""Load an exported dataset with LeRobot's own LeRobotDataset and compare it with our HDF5.

Runs in LeRobot's environment (Python >= 3.12, lerobot and h5py; act-bench itself is not needed):
    python scripts/verify_lerobot.py ROOT DEMOS [--stride N]
Prints one summary line per check and exits 1 if a check fails: states and actions equal to the
HDF5 values at the dataset's precision, every frame (or every Nth) within codec error of ours, and
no frame shifted (per episode, the decoded frames match ours better than ours one step earlier or later).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import h5py
import numpy as np

FRAME_MEAN_ERR_MAX = 4.0  # mean |decoded - ours| over a frame, in 0..255 levels
PSNR_MIN = 30.0  # dB, over all frames compared


def _frame_errors(got: np.ndarray, ours: np.ndarray, steps: list[int]) -> tuple[float, int, float, int]:
    """Decoded frames `got` (at `steps`) against ours: (sum of squared errors, pixels, worst frame
    mean error, how many one-step shifts of ours match better than no shift)."""
    err = np.abs(got - ours[steps].astype(np.int16)).astype(np.float64)
    # alignment: over the episode, our frames at the same step match better than one step off
    src, idx, shifted = ours.astype(np.int16), np.array(steps), 0
    for off in (-1, 1):
        ok = (idx + off >= 0) & (idx + off < len(ours))
        if np.abs(got[ok] - src[idx[ok] + off]).mean() <= err[ok].mean():
            shifted += 1
    return float((err ** 2).sum()), err.size, float(err.mean(axis=(1, 2, 3)).max()), shifted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="the exported LeRobotDataset folder")
    parser.add_argument("demos", help="the act-bench demo folder it was exported from")
    parser.add_argument("--stride", type=int, default=1, help="compare every Nth frame (default all)")
    parser.add_argument("--backend", default="pyav", help="LeRobot's video backend (default pyav)")
    args = parser.parse_args()

    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root, demos = Path(args.root), Path(args.demos)
    ours = json.loads((root / "meta/act_bench.json").read_text())
    ds = LeRobotDataset(f"act_bench/{ours['task']}", root=root, video_backend=args.backend)
    meta = ds.meta
    cams = list(meta.camera_keys)
    print(f"LeRobotDataset {meta.info.codebase_version if hasattr(meta.info, 'codebase_version') else '?'}: "
          f"{meta.total_episodes} episodes, {meta.total_frames} frames, fps {meta.fps}, cameras {cams}, "
          f"task {ds.meta.tasks.index[0]!r}")
    dtype = np.dtype(meta.features["observation.state"]["dtype"])
    state_err = action_err = vel_err = raw_err = 0.0
    sq_err, n_px, worst_mean, shifted, compared = 0.0, 0, 0.0, 0, 0
    hf = ds.hf_dataset.with_format("numpy")
    for ep in range(meta.total_episodes):
        lo, hi = int(meta.episodes[ep]["dataset_from_index"]), int(meta.episodes[ep]["dataset_to_index"])
        with h5py.File(demos / f"episode_{ep}.hdf5", "r") as f:
            qpos, qvel, action = (f[k][()] for k in ("observations/qpos", "observations/qvel", "action"))
            frames = {cam: f[f"observations/images/{cam.removeprefix('observation.images.')}"][()] for cam in cams}
        rows = hf[lo:hi]
        # the dataset's values are ours at its precision: compare after the same rounding
        state_err = max(state_err, np.abs(np.stack(rows["observation.state"]) - qpos.astype(dtype)).max())
        vel_err = max(vel_err, np.abs(np.stack(rows["observation.velocity"]) - qvel.astype(dtype)).max())
        action_err = max(action_err, np.abs(np.stack(rows["action"]) - action.astype(dtype)).max())
        raw_err = max(raw_err, np.abs(np.stack(rows["observation.state"]) - qpos).max(),
                      np.abs(np.stack(rows["action"]) - action).max())  # the rounding itself
        steps = list(range(0, hi - lo, args.stride))
        decoded = {cam: [] for cam in cams}
        for t in steps:
            item = ds[lo + t]  # LeRobot's own path: parquet row + video frame decoded at its timestamp
            for cam in cams:
                decoded[cam].append((item[cam].numpy().transpose(1, 2, 0) * 255.0).round().astype(np.int16))
        for cam in cams:
            sq, px, worst, off = _frame_errors(np.stack(decoded[cam]), frames[cam], steps)
            sq_err, n_px, shifted, compared = sq_err + sq, n_px + px, shifted + off, compared + len(steps)
            worst_mean = max(worst_mean, worst)
    psnr = 10 * np.log10(255.0 ** 2 / max(sq_err / max(n_px, 1), 1e-12))
    print(f"states: max|diff| {state_err:.3g}  velocities: max|diff| {vel_err:.3g}  actions: max|diff| "
          f"{action_err:.3g}  (stored as {dtype}, vs ours rounded to {dtype}; vs our float64 {raw_err:.3g})")
    print(f"frames: {compared} compared, PSNR {psnr:.1f} dB, worst frame mean|err| {worst_mean:.2f}/255, "
          f"episodes closer one frame off: {shifted}")
    ok = state_err == 0 and action_err == 0 and vel_err == 0 and worst_mean <= FRAME_MEAN_ERR_MAX \
        and psnr >= PSNR_MIN and shifted == 0 and compared > 0
    print("LOAD CHECK", "PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
