"""Fast offscreen rendering of named cameras.

Shadows and multisampling follow the model (<quality shadowsize offsamples>): the -v1 scene
turns both off for speed, the -v2 scene keeps the original release's look (shadows show an
object's height from above). Reflections and the skybox are always off (neither scene has one). All renderers in a process share one GL context that lives until
exit: freeing a context (as mujoco.Renderer does when garbage-collected) resets the thread's
EGL state and made the next frame of every other renderer garbage.
"""
from __future__ import annotations

import os

import numpy as np

import act_bench.sim  # noqa: F401  (sets MUJOCO_GL)
import mujoco

from act_bench.errors import RenderingUnavailable

GL_HELP = (
    "offscreen rendering failed (MUJOCO_GL={gl}): install an EGL/OpenGL stack, e.g. on "
    "Debian/Ubuntu `apt-get install libegl1 libgl1 libgles2 libglvnd0 libgl1-mesa-dri`, "
    "or set MUJOCO_GL=osmesa with libosmesa6 installed; MUJOCO_GL must be set before "
    "mujoco is first imported ({err})"
)

_SHARED_GL = None


def _gl_context():
    """The process-wide GL context, created on first use and made current."""
    global _SHARED_GL
    if _SHARED_GL is None:
        try:
            from mujoco import gl_context

            _SHARED_GL = gl_context.GLContext(640, 480)
        except Exception as exc:  # ImportError, RuntimeError, EGL errors...
            raise RenderingUnavailable(GL_HELP.format(gl=os.environ.get("MUJOCO_GL"), err=exc)) from exc
    _SHARED_GL.make_current()
    return _SHARED_GL


def camera_id(model: mujoco.MjModel, name: str) -> int:
    """Camera id by public name; wrist cameras are exposed as left_wrist / right_wrist."""
    for candidate in (name, name.replace("_wrist", "/wrist")):
        cid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, candidate)
        if cid >= 0:
            return cid
    raise ValueError(f"unknown camera {name!r}; available: {', '.join(camera_names(model))}")


def camera_names(model: mujoco.MjModel) -> list[str]:
    return [model.camera(i).name.replace("/wrist", "_wrist") for i in range(model.ncam)]


class CameraRenderer:
    """Renders a fixed list of cameras at one size into uint8 (H, W, 3) arrays."""

    def __init__(self, model: mujoco.MjModel, cameras, height: int, width: int):
        self.cameras = tuple(cameras)
        self.height, self.width = int(height), int(width)
        if self.height <= 0 or self.width <= 0:
            raise ValueError(f"image size must be positive, got {height}x{width}")
        self._model = model
        self._cams = []
        for name in self.cameras:
            cam = mujoco.MjvCamera()
            cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
            cam.fixedcamid = camera_id(model, name)
            self._cams.append(cam)
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
        _gl_context()
        self._option = mujoco.MjvOption()
        self._scene = mujoco.MjvScene(model, maxgeom=1000)
        for flag in (mujoco.mjtRndFlag.mjRND_REFLECTION, mujoco.mjtRndFlag.mjRND_SKYBOX):
            self._scene.flags[flag] = False
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = bool(model.vis.quality.shadowsize > 0)
        self._context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._context)
        self._rect = mujoco.MjrRect(0, 0, self.width, self.height)
        self._buffer = np.empty((self.height, self.width, 3), dtype=np.uint8)

    def render(self, data: mujoco.MjData) -> dict[str, np.ndarray]:
        if self._context is None:
            raise RuntimeError("renderer is closed")
        _gl_context()
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._context)
        frames = {}
        for name, cam in zip(self.cameras, self._cams):
            mujoco.mjv_updateScene(self._model, data, self._option, None, cam, mujoco.mjtCatBit.mjCAT_ALL, self._scene)
            mujoco.mjr_render(self._rect, self._scene, self._context)
            mujoco.mjr_readPixels(self._buffer, None, self._rect, self._context)
            frames[name] = self._buffer[::-1].copy()  # OpenGL rows run bottom-up
        return frames

    def close(self) -> None:
        if getattr(self, "_context", None) is not None:
            _gl_context()
            self._context.free()
            self._context = None
