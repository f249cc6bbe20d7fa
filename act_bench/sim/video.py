"""Small annotated mp4 videos of evaluation episodes.

Frames are shrunk to a low resolution (sim.VIDEO_SIZE, 240x320, by default) and every other control step is
kept, so a 400-step episode is a few hundred kB: small enough to embed in report.html.
A banner on top shows the time, the current and best stage (as text and as a bar).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from act_bench.errors import ActBenchError
from act_bench.sim import VIDEO_SIZE
from act_bench.storage.atomic_io import atomic_path

BANNER_H = 22
_DONE, _CURRENT, _TODO = (46, 160, 67), (240, 180, 40), (70, 70, 70)


def _font():
    try:  # Pillow >= 10.1 ships a scalable default font
        return ImageFont.load_default(size=12)
    except TypeError:
        return ImageFont.load_default()


def annotate(frame: np.ndarray, t: int, stage: int, max_stage: int, stage_names: Sequence[str],
             size: tuple[int, int] = VIDEO_SIZE) -> np.ndarray:
    """Resize `frame` to `size` (H, W) and draw a stage banner across the top."""
    h, w = size
    img = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)).resize((w, h), Image.BILINEAR)
    canvas = Image.new("RGB", (w, h + BANNER_H), (20, 20, 20))
    canvas.paste(img, (0, BANNER_H))
    draw = ImageDraw.Draw(canvas)
    n = len(stage_names)
    # stage progress bar at the right: green = reached, amber = current stage
    seg, x0 = 14, w - len(stage_names) * 16 - 4
    for i in range(1, n + 1):
        colour = _DONE if i <= max_stage else _TODO
        if i == stage and stage > 0:
            colour = _CURRENT
        draw.rectangle([x0 + (i - 1) * 16, 5, x0 + (i - 1) * 16 + seg, BANNER_H - 6], fill=colour)
    name = stage_names[max_stage - 1] if max_stage > 0 else "-"
    text = f"t={t:3d}  stage {stage}  best {max_stage}/{n} {name}"
    draw.text((4, 4), text, fill=(255, 255, 255), font=_font())
    return np.asarray(canvas)


class EpisodeVideo:
    """Write annotated frames to an mp4, atomically (a temporary file, renamed on close)."""

    def __init__(self, path: str | Path, stage_names: Sequence[str], fps: int = 25, frame_stride: int = 2,
                 size: tuple[int, int] = VIDEO_SIZE):
        import imageio.v2 as imageio

        try:  # without it imageio silently picks another writer (e.g. tifffile) and fails obscurely
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise ActBenchError("mp4 videos need the imageio-ffmpeg package (pip install imageio-ffmpeg); "
                                "eval and run skip videos with --videos 0") from None
        self.path, self.stage_names, self.size, self.stride = Path(path), list(stage_names), size, frame_stride
        self.fps = fps
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        self._writer = imageio.get_writer(
            self._tmp, format="FFMPEG", fps=fps, codec="libx264", quality=None, macro_block_size=2,
            pixelformat="yuv420p", ffmpeg_log_level="error", output_params=["-crf", "30", "-preset", "veryfast", "-movflags", "+faststart"])
        self._last_frame = None

    def add(self, frame: np.ndarray, t: int, stage: int, max_stage: int, force: bool = False) -> None:
        """Add the frame of step t (kept if t is a multiple of the stride, or `force`)."""
        if force or t % self.stride == 0:
            self._last_frame = annotate(frame, t, stage, max_stage, self.stage_names, self.size)
            self._writer.append_data(self._last_frame)

    def hold(self, seconds: float = 0.5) -> None:
        """Repeat the last frame written (e.g. to linger on the end of an episode)."""
        if self._last_frame is not None:
            for _ in range(int(seconds * self.fps)):
                self._writer.append_data(self._last_frame)

    def close(self, ok: bool = True) -> Path | None:
        self._writer.close()
        if ok:
            self._ctx.__exit__(None, None, None)
            return self.path
        self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)
        return None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(ok=exc_type is None)
        return False
