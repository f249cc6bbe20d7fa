"""Roll a policy out and score it: the evaluation behind `act-bench eval` and `run`.

Each episode uses seed eval_seed(seed, i), a stream disjoint from the demonstration seeds.
Per episode we record the best stage reached, success and length; per run the success rate
of every stage with a 95% Wilson interval. Results go to out_dir/episodes.csv (one row per
episode, appended as they finish, so an interrupted evaluation resumes where it stopped),
out_dir/summary.json (the done marker) and out_dir/videos/episode_XXX.mp4 for the first few.

Episodes run `batch` at a time in lockstep (act_bench.evaluation.lockstep: one batched policy query per
step), each with the actions it would get alone, so the batch size changes no outcome beyond
the float rounding of a batched forward pass, and rows are the same whatever it is.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from act_bench.errors import ActBenchError
from act_bench.evaluation.ensembling import Execution
from act_bench.evaluation.env_slots import make_slots
from act_bench.evaluation.intervals import stage_rates
from act_bench.evaluation.lockstep import run_lockstep
from act_bench.evaluation.rollout import ChunkPolicy
from act_bench.evaluation.table_checks import read_episodes
from act_bench.policies.registry import get_method
from act_bench.runtime import machine
from act_bench.runtime.seeding import eval_seed
from act_bench.sim import VIDEO_SIZE
from act_bench.sim.video import EpisodeVideo
from act_bench.storage import folder_lock, interrupts, layout
from act_bench.storage.atomic_io import remove_stale_temps, write_csv, write_json
from act_bench.tasks.registry import get_task

DEFAULT_BATCH = 16  # episodes stepped together; more buys little once the envs dominate


@dataclass(frozen=True)
class EvalSpec:
    """One evaluation: which task and method, which seeds, where, and of which checkpoint
    (policy_id, from layout.run_identity; a different one is refused unless `fresh`).
    batch: episodes stepped in lockstep (one env each), which changes no outcome."""

    task: str
    method: str
    seed: int
    episodes: int
    out_dir: Path
    videos: int = 3
    policy_id: str | None = None
    fresh: bool = False
    batch: int = DEFAULT_BATCH
    trained_on: dict | None = None  # setup.trained_on(run_dir): demos, threads, CPU; shown in eval.json and results
    env_workers: int = 0  # processes stepping the envs (0 or 1: in this process); changes no outcome


def evaluate_policy(policy: ChunkPolicy, spec: EvalSpec, execution: Execution | None = None,
                    env_factory=None, progress: bool = True) -> dict:
    """Evaluate `policy` and write episodes.csv, summary.json and videos; returns the summary.

    execution defaults to the method's registered mode with the policy's profile settings.
    Episodes already in episodes.csv of the same evaluation are kept and skipped."""
    with folder_lock.hold(spec.out_dir), interrupts.stage(f"eval {spec.out_dir}"):  # one writer per folder
        return _evaluate(policy, spec, execution, env_factory, progress)


def _evaluate(policy: ChunkPolicy, spec: EvalSpec, execution: Execution | None, env_factory, progress: bool) -> dict:
    get_task(spec.task)
    method = get_method(spec.method)
    if spec.episodes < 1:
        raise ActBenchError(f"--episodes must be >= 1, got {spec.episodes}")
    if spec.batch < 1:
        raise ActBenchError(f"--batch must be >= 1, got {spec.batch}")
    execution = execution or Execution.resolve(method.execution, int(policy.chunk_size), eval_config(policy))
    out_dir = Path(spec.out_dir)
    _start(out_dir, {"task": spec.task, "method": spec.method, "seed": int(spec.seed), "policy_id": spec.policy_id,
                     **execution.settings()}, spec.fresh, _provenance(spec))
    for folder in (out_dir, out_dir / layout.EVAL_VIDEOS):  # what a kill -9 left half-written
        remove_stale_temps(folder)
    rows = _load_rows(out_dir / layout.EVAL_EPISODES, spec.seed)
    todo = [i for i in range(spec.episodes) if i not in rows]
    if env_factory is None:
        from act_bench.envs import make_env as env_factory
    # any env may get a video episode when a slot frees up, so all can render while one is due
    render_mode = "rgb_array" if any(i < spec.videos for i in todo) else None
    make = functools.partial(env_factory, spec.task, cameras=tuple(policy.camera_names),
                             image_size=tuple(policy.image_size), render_mode=render_mode)
    start = time.perf_counter()
    envs = make_slots(make, max(1, min(spec.batch, len(todo))), policy.camera_names, spec.env_workers)
    try:
        stage_names = envs.stage_names
        policy.eval()
        _run_episodes(policy, spec, execution, envs, stage_names, rows, todo, progress)
    finally:
        envs.close()
    # this invocation's cost: an evaluation resumed after an interruption times only what it ran
    timing = {"wall_s": round(time.perf_counter() - start, 1), "timed_episodes": len(todo)}
    return _write_summary(spec, method.execution, execution, stage_names, rows, int(policy.chunk_size), timing)


def eval_config(policy):
    """The [eval] section of the policy's profile (None for a policy without one)."""
    profile = getattr(policy, "profile", None)
    return getattr(profile, "eval", None)


def _run_episodes(policy, spec: EvalSpec, execution: Execution, envs, stage_names, rows: dict, todo, progress):
    import pandas as pd
    from tqdm import tqdm

    csv_path = Path(spec.out_dir) / layout.EVAL_EPISODES
    bar = tqdm(total=len(todo), desc=f"eval {spec.task} {spec.method} seed{spec.seed}", unit="ep",
               disable=not progress, dynamic_ncols=True)

    def make_video(i: int):
        if i >= spec.videos:
            return None

        return EpisodeVideo(layout.video_path(spec.out_dir, i), stage_names, size=VIDEO_SIZE)

    def on_row(i: int, row: dict) -> None:
        # written as each episode ends (so an interrupted evaluation resumes), ordered by index
        rows[i] = {"episode": i, "seed": eval_seed(spec.seed, i), **row}
        write_csv(csv_path, pd.DataFrame([rows[j] for j in sorted(rows)]))
        done = [rows[j] for j in range(spec.episodes) if j in rows]
        bar.update(1)
        bar.set_postfix(success=f"{sum(r['success'] for r in done)}/{len(done)}")
        interrupts.note(f"after {len(done)} of {spec.episodes} episodes (the finished ones are kept)")

    try:
        run_lockstep(envs, policy, execution, [(i, eval_seed(spec.seed, i)) for i in todo], stage_names, on_row,
                     make_video)
    finally:
        bar.close()


def _write_summary(spec: EvalSpec, mode: str, execution: Execution, stage_names, rows, chunk_size,
                   timing: dict) -> dict:
    used = [rows[i] for i in range(spec.episodes)]
    out_dir = Path(spec.out_dir)
    summary = {
        "task": spec.task, "method": spec.method, "policy": get_method(spec.method).policy,
        "kind": get_method(spec.method).kind,  # trained, or an upper / lower bound (policies.bounds)
        "policy_id": spec.policy_id, "execution": mode, "seed": int(spec.seed),
        "episodes": spec.episodes, "stage_names": stage_names,
        "stages": stage_rates([r["max_stage"] for r in used], stage_names),
        "success_rate": float(np.mean([r["success"] for r in used])),
        "mean_length": float(np.mean([r["length"] for r in used])),
        "mean_queries": float(np.mean([r["queries"] for r in used])),
        "mean_seconds": float(np.mean([r["seconds"] for r in used])),
        "chunk_size": chunk_size,
        **timing,
        **execution.settings(),
        **_provenance(spec),
        "videos": [str(p.relative_to(out_dir)) for p in layout.eval_videos(out_dir)],
    }
    write_json(out_dir / layout.EVAL_SUMMARY, summary)
    return summary


def _provenance(spec: EvalSpec) -> dict:
    """eval.json / summary.json fields: the training's record and this evaluation's machine."""
    import torch

    return {"trained_on": spec.trained_on or {},
            "evaluated_on": machine.record(torch.get_num_threads())}


def _start(out_dir: Path, meta: dict, fresh: bool, provenance: dict | None = None) -> None:
    """Check that out_dir holds (a part of) this same evaluation, or clear it when `fresh`.
    eval.json also carries `provenance` (not compared: it describes, it does not decide)."""
    path = out_dir / layout.EVAL_META
    old = layout.read_json_record(path)
    if old is not None:
        old = {k: v for k, v in old.items() if k not in ("trained_on", "evaluated_on")}
    if old is not None and not fresh:
        for key in ("task", "method", "seed"):
            if old.get(key) != meta[key]:
                raise ActBenchError(f"{out_dir} holds an evaluation of {key} {old.get(key)!r}, not "
                                    f"{meta[key]!r}; use another --out")
        if old.get("policy_id") != meta["policy_id"] and None not in (old.get("policy_id"), meta["policy_id"]):
            raise ActBenchError(f"{out_dir} holds an evaluation of another checkpoint "
                                f"({old.get('policy_id')}); use --fresh or another --out")
        for key in ("temporal_ensemble_m", "n_action_steps"):  # absent from eval.json before they were kept
            if key in old and old[key] != meta[key]:
                raise ActBenchError(f"{out_dir} holds an evaluation with {key} {old[key]!r}, not {meta[key]!r}; "
                                    "use --fresh or another --out")
    if fresh and old != meta:
        for name in (layout.EVAL_EPISODES, layout.EVAL_SUMMARY):
            (out_dir / name).unlink(missing_ok=True)
        for video in layout.eval_videos(out_dir):
            video.unlink()
    write_json(path, {**meta, **(provenance or {})})


def _load_rows(csv_path: Path, seed: int) -> dict[int, dict]:
    if not csv_path.exists():
        return {}

    rows = {int(r["episode"]): r for r in read_episodes(csv_path).to_dict("records")}
    for i, r in rows.items():
        if int(r["seed"]) != eval_seed(seed, i):
            raise ActBenchError(f"{csv_path} holds episodes of another evaluation seed; use another --out")
    return rows


def format_summary(summary: dict) -> str:
    lines = [f"{summary['task']} / {summary['method']} / seed {summary['seed']}: {summary['episodes']} episodes"]
    for s in summary["stages"]:
        lines.append(f"  {s['stage_index']} {s['stage_name']:<16} {s['successes']:>4}/{s['episodes']:<4} "
                     f"{100 * s['rate']:5.1f}%  [{100 * s['ci_low']:.1f}, {100 * s['ci_high']:.1f}]")
    return "\n".join(lines)


