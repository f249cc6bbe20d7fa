"""Errors the user can act on: the CLI prints them as one line and exits non-zero."""


class ActBenchError(Exception):
    """A user-facing error (bad input, missing file, broken data)."""


class DataError(ActBenchError):
    """A dataset file is missing, truncated or has the wrong keys, shapes or dtypes."""


class CheckpointError(ActBenchError):
    """A checkpoint is missing, not safetensors+JSON, or does not match its config."""


class RenderingUnavailable(ActBenchError):
    """No working OpenGL (EGL/OSMesa) stack for offscreen rendering."""


class DamagedFile(ActBenchError):
    """A record act-bench wrote (config.json, done.json, ...) exists but is not the JSON object it was."""
