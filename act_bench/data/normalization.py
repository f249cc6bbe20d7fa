"""Mean/std statistics of joint positions and actions, stored with every checkpoint."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from act_bench.errors import CheckpointError
from act_bench.sim import STATE_DIM

# The original ACT release clips std from below so near-constant joints do not blow up.
MIN_STD = 1e-2
_FIELDS = ("qpos_mean", "qpos_std", "action_mean", "action_std")


@dataclass
class NormStats:
    qpos_mean: np.ndarray
    qpos_std: np.ndarray
    action_mean: np.ndarray
    action_std: np.ndarray

    @classmethod
    def identity(cls, state_dim: int = STATE_DIM, action_dim: int = STATE_DIM) -> "NormStats":
        return cls(np.zeros(state_dim, np.float32), np.ones(state_dim, np.float32),
                   np.zeros(action_dim, np.float32), np.ones(action_dim, np.float32))

    @classmethod
    def from_arrays(cls, qpos: Iterable[np.ndarray], actions: Iterable[np.ndarray]) -> "NormStats":
        """Statistics over every timestep of the given episodes ((T, D) arrays)."""
        q = np.concatenate([np.asarray(a, np.float64) for a in qpos])
        a = np.concatenate([np.asarray(x, np.float64) for x in actions])
        return cls(q.mean(0).astype(np.float32), np.maximum(q.std(0), MIN_STD).astype(np.float32),
                   a.mean(0).astype(np.float32), np.maximum(a.std(0), MIN_STD).astype(np.float32))

    def to_dict(self) -> dict[str, list[float]]:
        return {name: [float(v) for v in getattr(self, name)] for name in _FIELDS}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "NormStats":
        try:
            arrays = {name: np.asarray(raw[name], np.float32) for name in _FIELDS}
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"bad normalisation statistics: {exc!r}") from None
        for name, arr in arrays.items():
            if arr.ndim != 1 or not np.all(np.isfinite(arr)):
                raise CheckpointError(f"bad normalisation statistics: {name} must be a finite vector")
        if np.any(arrays["qpos_std"] <= 0) or np.any(arrays["action_std"] <= 0):
            raise CheckpointError("bad normalisation statistics: std must be positive")
        return cls(**arrays)
