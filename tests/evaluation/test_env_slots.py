"""Envs stepped in worker processes give exactly what the same envs give in this process: the
same observations bit for bit, the same rows and videos; a worker's failure is a one-line error."""
import functools
import os
import signal
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from act_bench.evaluation.env_slots import InlineSlots, WorkerSlots, make_slots
from act_bench.errors import ActBenchError
from fakes import ObsPolicy, fake_make_env, run_eval

OUTCOME = ["episode", "seed", "max_stage", "success", "length", "queries"]


def short_aloha(task, cameras=("top",), image_size=(48, 64), render_mode=None):
    """The real env, 40 steps long (module level, so a worker process can build it)."""
    from act_bench.envs import AlohaEnv
    from act_bench.tasks.registry import get_task

    return AlohaEnv(replace(get_task(task).config(), episode_len=40), cameras=cameras, image_size=image_size,
                    render_mode=render_mode)


def failing_env(task, **kw):
    raise ActBenchError("offscreen rendering failed (MUJOCO_GL=nothing): install an EGL stack")


def broken_env(task, **kw):
    return {}["no such key"]


@pytest.mark.parametrize("method", ["act", "act-no-te", "bc"])
def test_fake_envs_in_workers_give_the_same_rows_and_videos(tmp_path, method):
    chunk = 1 if method == "bc" else 5
    for workers in (0, 2):
        run_eval(ObsPolicy(chunk_size=chunk), "transfer_cube", method, 9, 3, tmp_path / f"w{workers}", videos=2,
                 env_factory=fake_make_env, batch=4, env_workers=workers)
    inline, workers = (pd.read_csv(tmp_path / f"w{w}" / "episodes.csv") for w in (0, 2))
    pd.testing.assert_frame_equal(workers[OUTCOME], inline[OUTCOME])
    for w in (0, 2):
        assert sorted(p.name for p in (tmp_path / f"w{w}" / "videos").iterdir()) == ["episode_000.mp4",
                                                                                     "episode_001.mp4"]


def test_real_envs_in_workers_match_bit_for_bit():
    """3 slots of the real env over 2 workers against the same slots here: every observation,
    reward flag, stage and video frame equal after resets and 40 steps of the same actions."""
    make = functools.partial(short_aloha, "insertion", cameras=("top",), image_size=(48, 64),
                             render_mode="rgb_array")
    rng = np.random.default_rng(0)
    here, there = InlineSlots(make, 3, ["top"]), WorkerSlots(make, 3, ["top"], workers=2)
    try:
        assert there.stage_names == here.stage_names
        for j in range(3):
            (obs_a, frame_a), (obs_b, frame_b) = here.reset(j, 100 + j, record=j == 1), there.reset(j, 100 + j, record=j == 1)
            _assert_same(obs_a, obs_b)
            assert (frame_a is None) == (frame_b is None) == (j != 1)
        for t in range(40):
            moves = [(j, rng.uniform(-0.3, 0.3, 14), j == 1 and t % 10 == 0) for j in range(3)]
            for a, b in zip(here.step(moves), there.step(moves)):
                _assert_same(a[0], b[0])
                assert a[1:3] == b[1:3] and a[3]["stage"] == b[3]["stage"]
                assert (a[4] is None) == (b[4] is None)
                if a[4] is not None:
                    np.testing.assert_array_equal(a[4], b[4])
        assert a[2]  # the 40th step is the time limit
    finally:
        here.close()
        there.close()


def _assert_same(a: dict, b: dict) -> None:
    np.testing.assert_array_equal(a["qpos"], b["qpos"])
    np.testing.assert_array_equal(a["images"]["top"], b["images"]["top"])


def test_a_workers_error_comes_back_as_one_line():
    with pytest.raises(ActBenchError, match=r"^offscreen rendering failed \(MUJOCO_GL=nothing\)"):
        WorkerSlots(functools.partial(failing_env, "transfer_cube"), 2, ["top"], workers=2)
    with pytest.raises(ActBenchError, match=r"^env worker failed: KeyError: 'no such key'$"):
        WorkerSlots(functools.partial(broken_env, "transfer_cube"), 2, ["top"], workers=2)


def test_a_dead_worker_ends_the_evaluation_with_one_line():
    slots = WorkerSlots(functools.partial(fake_make_env, "transfer_cube"), 4, ["top"], workers=2)
    try:
        slots.reset(0, 1)
        os.kill(slots._procs[1].pid, signal.SIGKILL)
        slots._procs[1].join(timeout=10)
        with pytest.raises(ActBenchError, match=r"^env worker 1 died \(exit code -9\)$"):
            slots.step([(j, np.zeros(14), False) for j in range(4)])
    finally:
        slots.close()


def test_one_slot_or_one_worker_stays_in_this_process():
    make = functools.partial(fake_make_env, "transfer_cube")
    assert isinstance(make_slots(make, 1, ["top"], workers=2), InlineSlots)
    assert isinstance(make_slots(make, 4, ["top"], workers=1), InlineSlots)
    slots = make_slots(make, 4, ["top"], workers=2)
    try:
        assert isinstance(slots, WorkerSlots) and slots.workers == 2
    finally:
        slots.close()


def test_workers_by_default_only_beside_a_gpu_policy():
    from act_bench.evaluation.env_slots import default_workers

    assert default_workers(2, "cpu") == 0 and default_workers(16, "cpu") == 0
    assert default_workers(16, "cuda:0") == 16 and default_workers(1, "cuda") == 0
