"""Top-camera frames of the original release beside act-bench's tasks (docs/fidelity.md).

Called by `scripts/fidelity_check.py render --release PATH [--version v3]`. For each task it
runs the release's end-effector expert (scripts/original_release.py) and our expert of that
version from the same object positions and renders the top camera of both at a few moments
(the objects settled after the drop, the grasp closed, and for -v3 the hand-over or the
insertion) at 480x640 and 96x128, with the same renderer settings (shadows and multisampling
as each model states). For -v3 the release runs with its welds' torquescale at 10, which on
current MuJoCo reproduces its behaviour on 2.3.7 (results/release-measure). Writes
docs/fidelity_{task}_{size}.png (-v2) or docs/fidelity_v3_{task}_{size}.png: the release on
the left, ours on the right, one row per moment.
"""
from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np

import act_bench  # noqa: F401
import mujoco
from act_bench.storage.atomic_io import atomic_path
from act_bench.demos.fidelity import expert_on_layout
from act_bench.sim.render import CameraRenderer
from original_release import JOINT_MODELS, OriginalEpisode

CASES = {"transfer_cube": ({"cube": [0.1, 0.5, 0.05]}, (20, 170)),
         "insertion": ({"peg": [0.15, 0.5, 0.05], "socket": [-0.15, 0.5, 0.05]}, (20, 220))}
LATER = {"transfer_cube": 300, "insertion": 360}  # -v3 also shows the hand-over / the insertion
SIZES = ((480, 640), (96, 128))


def _original_frames(release, task, positions, moments, torquescale=None):
    """The release records its images in its joint-space scene (no mocap markers): replay the
    end-effector episode's joint positions there."""
    ep = OriginalEpisode(release, task, positions, torquescale)
    model = mujoco.MjModel.from_xml_path(str(Path(release) / "assets" / JOINT_MODELS[task]))
    data = mujoco.MjData(model)
    renderers = {s: CameraRenderer(model, ("top",), *s) for s in SIZES}
    frames = {s: [] for s in SIZES}
    for t in moments:
        ep.run_until(t)
        data.qpos[:] = ep.data.qpos[: model.nq]  # same joint order: 16 arm joints, then the objects
        mujoco.mj_forward(model, data)
        for s, r in renderers.items():
            frames[s].append(r.render(data)["top"])
    return frames


def _our_frames(task, positions, moments, version="v2"):
    env, expert = expert_on_layout(f"{task}_{version}", positions)
    renderers = {s: CameraRenderer(env.model, ("top",), *s) for s in SIZES}
    frames, t = {s: [] for s in SIZES}, 0
    for when in moments:
        while t < when:
            env.step(expert())
            t += 1
        for s, r in renderers.items():
            frames[s].append(r.render(env.data)["top"])
    return frames


def render_all(release, out: Path, version: str = "v2") -> list[Path]:
    written = []
    for task, (positions, moments) in CASES.items():
        v3 = version == "v3"
        moments = (*moments, LATER[task]) if v3 else moments
        original = _original_frames(release, task, positions, moments, torquescale=10 if v3 else None)
        ours = _our_frames(task, positions, moments, version)
        for s in SIZES:
            gap = np.full((s[0], max(2, s[1] // 64), 3), 255, np.uint8)
            rows = [np.concatenate([a, gap, b], axis=1) for a, b in zip(original[s], ours[s])]
            grid = np.concatenate([np.concatenate([r, np.full((gap.shape[1], r.shape[1], 3), 255, np.uint8)])
                                   for r in rows])[: -gap.shape[1]]
            path = out / f"fidelity{'_v3' if v3 else ''}_{task}_{s[0]}x{s[1]}.png"
            with atomic_path(path) as tmp:  # no half-written PNG if interrupted
                iio.imwrite(tmp, grid, compress_level=9)
            written.append(path)
            print(path)
    return written
