"""Seeds for demonstrations and evaluation episodes.

Each episode's seed derives from a base seed and the episode index only, so the number of
workers never changes the data. Demo and evaluation seeds come from disjoint streams (a
different spawn key), so a policy is never evaluated on a layout it was shown.
"""
from __future__ import annotations

import numpy as np

_DEMO_STREAM = 0
_EVAL_STREAM = 1


def _episode_seed(base_seed: int, *key: int) -> int:
    ss = np.random.SeedSequence(entropy=int(base_seed), spawn_key=tuple(int(k) for k in key))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def demo_seed(base_seed: int, index: int, attempt: int = 0) -> int:
    """Seed of demonstration `index`, try number `attempt`, under `base_seed`.

    A failed scripted episode is retried with the next attempt, so each episode's data
    depends only on (base_seed, index), never on which other episodes failed.
    """
    return _episode_seed(base_seed, _DEMO_STREAM, index, attempt)


def eval_seed(base_seed: int, index: int) -> int:
    """Seed of evaluation episode `index` under `base_seed` (disjoint from demo seeds)."""
    return _episode_seed(base_seed, _EVAL_STREAM, index)
