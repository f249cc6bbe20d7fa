"""Frames to mp4 and back, with the ffmpeg binary that imageio-ffmpeg ships (no PyAV needed).

H.264 in yuv420p with a keyframe every 2 frames: every player and LeRobot's decoders (torchcodec,
PyAV) read it, and a short GOP keeps LeRobot's random access to single frames cheap (it seeks
to the keyframe before each frame it wants; LeRobot's own encoder uses g=2 for the same reason).
"""
from __future__ import annotations

from pathlib import Path
import numpy as np

from act_bench.errors import ActBenchError, DataError

DEFAULT_CRF = 18  # visually lossless for these renders; the export's frame error is reported by verify


def _ffmpeg():
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ActBenchError("imageio-ffmpeg is missing: pip install imageio-ffmpeg") from None
    return imageio_ffmpeg


class Mp4Writer:
    """Append (H, W, 3) uint8 frames to one mp4 at a fixed rate: frame i has timestamp i / fps."""

    def __init__(self, path: str | Path, height: int, width: int, fps: int, crf: int = DEFAULT_CRF):
        if height % 2 or width % 2:  # yuv420p subsamples chroma 2x2
            raise ActBenchError(f"video frames must have even height and width, got {height}x{width}")
        self.path, self.shape, self.frames = Path(path), (height, width, 3), 0
        self._gen = _ffmpeg().write_frames(
            str(path), (width, height), fps=fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
            quality=None, macro_block_size=1, ffmpeg_log_level="error",
            output_params=["-crf", str(crf), "-g", "2", "-bf", "0", "-preset", "fast"])
        self._gen.send(None)

    def add(self, frames: np.ndarray) -> None:
        """frames: (H, W, 3) or (T, H, W, 3) uint8."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.shape[1:] != self.shape or frames.dtype != np.uint8:
            raise ActBenchError(f"{self.path.name}: expected uint8 frames of shape {self.shape}, "
                                f"got {frames.dtype} {frames.shape[1:]}")
        for frame in frames:
            self._gen.send(np.ascontiguousarray(frame))
        self.frames += len(frames)

    def close(self) -> None:
        self._gen.close()


def read_frames(path: str | Path, start: int = 0, count: int | None = None, fps: int = 50) -> np.ndarray:
    """Frames start .. start+count-1 of an mp4 as (count, H, W, 3) uint8 (all frames from start
    when count is None). Seeks half a frame before the wanted timestamp, so float rounding of
    timestamps never skips or repeats a frame."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"video {path} is missing")
    input_params = ["-ss", f"{max(0.0, (start - 0.5) / fps):.6f}"] if start > 0 else []
    output_params = ["-frames:v", str(int(count))] if count is not None else []
    try:
        gen = _ffmpeg().read_frames(str(path), pix_fmt="rgb24", input_params=input_params,
                                    output_params=output_params)
        meta = next(gen)
        w, h = meta["size"]
        frames = [np.frombuffer(buf, np.uint8).reshape(h, w, 3) for buf in gen]
    except (RuntimeError, OSError, StopIteration) as exc:
        raise DataError(f"{path}: cannot decode video: {' '.join(str(exc).split())[:200]}") from None
    if count is not None and len(frames) != count:
        raise DataError(f"{path}: expected {count} frames from frame {start}, decoded {len(frames)}")
    return np.stack(frames) if frames else np.zeros((0, 0, 0, 3), np.uint8)

