"""Many evaluation episodes stepped in lockstep, with one batched policy query per step.

Each of the N envs is a slot that runs one episode at a time. Every step, the live slots whose
selector wants a new chunk are queried together (one predict_chunk call), then every live env
steps with its own action (env_slots: in this process, or in worker processes at once). An episode that ends (time limit, or success) yields its row and
hands its slot to the next pending episode, so the batch stays full while episodes remain.

Each episode gets the actions it would get alone (tests/reference_eval.py's run_episode): the
batched selectors are bit-for-bit the single-episode ones, and episode seeds fix each env's layout. Only the policy's
batched forward pass may differ from a batch of one, by float rounding.

A policy that reads past observations (rollout.observation_steps n > 1) is given each episode's
last n, oldest first; an episode starts with its first observation repeated n times.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Sequence


from act_bench.evaluation.rollout import ChunkPolicy, episode_row, observation_steps, policy_device, query_batch


@dataclass
class _Episode:
    """The episode a slot is running."""

    index: int
    seed: int
    obs: dict
    video: Any = None
    max_stage: int = 0
    success: bool = False
    length: int = 0
    start: float = 0.0
    history: deque | None = None  # the last observations, for a policy that reads more than one

    def observe(self, obs: dict) -> None:
        self.obs = obs
        if self.history is not None:
            self.history.append(obs)

    def query_input(self):
        """What a query of this episode passes: its observation, or its last ones (oldest first)."""
        return self.obs if self.history is None else list(self.history)


def run_lockstep(envs, policy: ChunkPolicy, execution, episodes: Sequence[tuple[int, int]],
                 stage_names: Sequence[str], on_row: Callable[[int, dict], None],
                 make_video: Callable[[int], Any] | None = None) -> None:
    """Run `episodes` ((index, seed) pairs, started in this order) on the env slots in lockstep.

    envs: an env_slots.InlineSlots or WorkerSlots. on_row(index, row) is called as each episode
    ends; make_video(index) gives an EpisodeVideo to record that episode into, or None. A row's
    "seconds" is the episode's wall time, shared with the episodes stepped beside it."""
    cameras, device, history = list(policy.camera_names), policy_device(policy), observation_steps(policy)
    selector = execution.batch_selector(envs.n)
    pending = deque(episodes)
    slots: list[_Episode | None] = [None] * envs.n
    try:
        for j in range(envs.n):
            _start(envs, slots, j, selector, pending, make_video, history)
        while any(ep is not None for ep in slots):
            live = [j for j, ep in enumerate(slots) if ep is not None]
            wants = selector.needs_query()
            need = [j for j in live if wants[j]]
            if need:
                episodes = [(slots[j].seed, slots[j].length) for j in need]
                selector.add(query_batch(policy, [slots[j].query_input() for j in need], cameras, device, episodes),
                             need)
            moves = [(j, action, slots[j].video is not None) for j, action in zip(live, selector.pop(live))]
            for j, result in zip(live, envs.step(moves)):
                ep = slots[j]
                if _record(ep, result):
                    if ep.video is not None:
                        ep.video.hold()  # show the final state for a moment
                        ep.video.close(ok=True)
                        ep.video = None
                    slots[j] = None
                    on_row(ep.index, episode_row(ep.max_stage, ep.success, ep.length, selector.queries[j], stage_names,
                                                 ep.start))
                    _start(envs, slots, j, selector, pending, make_video, history)
    finally:
        for ep in slots:
            if ep is not None and ep.video is not None:
                ep.video.close(ok=False)  # an unfinished episode leaves no video


def _start(envs, slots: list, j: int, selector, pending: deque, make_video, history: int = 1) -> None:
    """Put the next pending episode (if any) in slot j: reset its env and its selector row."""
    if not pending:
        return
    index, seed = pending.popleft()
    start = time.perf_counter()
    video = make_video(index) if make_video is not None else None
    try:
        obs, frame = envs.reset(j, seed, record=video is not None)
    except BaseException:
        if video is not None:
            video.close(ok=False)  # not yet in a slot, so the caller's cleanup would miss it
        raise
    selector.reset([j])
    slots[j] = _Episode(index, seed, obs, video=video, start=start,
                        history=deque([obs] * history, maxlen=history) if history > 1 else None)
    if video is not None:
        video.add(frame, 0, 0, 0, force=True)


def _record(ep: _Episode, result) -> bool:
    """Take one step's result into the episode; True when it has ended: at the time limit, or
    once the env's info["decided"] says the outcome is final (the last stage reached: success,
    or a task's strict stage), so stopping early changes no outcome."""
    obs, terminated, truncated, info, frame = result
    ep.observe(obs)
    ep.length += 1
    stage, ep.max_stage = int(info["stage"]), max(ep.max_stage, int(info["max_stage"]))
    ep.success = bool(info["is_success"])
    done = bool(terminated or truncated or info.get("decided", ep.success))
    if ep.video is not None:
        ep.video.add(frame, ep.length, stage, ep.max_stage, force=done)
    return done
