"""Roll a trained policy out and score it: `act-bench eval`.

Each episode uses seed eval_seed(seed, i), a stream disjoint from the demonstration seeds.
Per episode we record the best stage reached, success and length; per run the success rate
of every stage with a 95% Wilson interval. Results go to out_dir/episodes.csv (one row per
episode, appended as they finish, so an interrupted evaluation resumes where it stopped),
out_dir/summary.json and out_dir/videos/episode_XXX.mp4 for the first few episodes.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from act_bench.atomic_io import write_csv, write_json
from act_bench.config import TASKS
from act_bench.ensembling import make_selector
from act_bench.errors import ActBenchError
from act_bench.seeding import eval_seed
from act_bench.stats import stage_rates

# benchmark method -> (trained policy, how its chunks are executed)
METHODS = {
    "act": ("act", "ensemble"),
    "act-no-te": ("act", "open_loop"),
    "bc": ("bc", "single"),
    "act-no-cvae": ("act-no-cvae", "ensemble"),
}
DEFAULT_M = 0.01


def check_method(method: str) -> tuple[str, str]:
    if method not in METHODS:
        raise ActBenchError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    return METHODS[method]


def check_task(task: str) -> str:
    if task not in TASKS:
        raise ActBenchError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    return task


def config_value(config, dotted: str, default=None):
    """Look up "a.b.c" in nested dicts or attribute objects (typed configs), else `default`."""
    node = config
    for part in dotted.split("."):
        if isinstance(node, dict):
            if part not in node:
                return default
            node = node[part]
        elif hasattr(node, part):
            node = getattr(node, part)
        else:
            return default
    return default if node is None else node


def _policy_device(policy):
    try:
        return next(policy.parameters()).device
    except (StopIteration, AttributeError):
        return "cpu"


def _query(policy, obs, cameras, device) -> np.ndarray:
    import torch

    qpos = torch.as_tensor(np.asarray(obs["qpos"]), dtype=torch.float32, device=device)[None]
    images = torch.from_numpy(np.stack([obs["images"][c] for c in cameras]))[None].to(device)
    with torch.inference_mode():
        chunk = policy.predict_chunk(qpos, images)
    return chunk.detach().to("cpu", torch.float64).numpy()


def _video_frame(env, obs, cameras):
    """A frame for the video: env.render() if the env renders, else the policy's first camera."""
    if getattr(env, "render_mode", None) == "rgb_array":
        try:
            frame = env.render()
            if frame is not None:
                return frame
        except Exception:  # a broken renderer must not cost the evaluation
            pass
    images = obs["images"]
    return images["top"] if "top" in images else images[cameras[0]]


def run_episode(env, policy, selector, episode_seed: int, cameras, stage_names, video=None,
                stop_on_success: bool = True) -> dict:
    """One rollout. Stops at the time limit, or at success (max_stage is final by then)."""
    device = _policy_device(policy)
    start = time.perf_counter()
    obs, info = env.reset(seed=int(episode_seed))
    selector.reset()
    n_stages = len(stage_names)
    stage = max_stage = 0
    length = 0
    if video is not None:
        video.add(_video_frame(env, obs, cameras), 0, 0, 0, force=True)
    while True:
        if selector.needs_query():
            selector.add(_query(policy, obs, cameras, device))
        obs, _, terminated, truncated, info = env.step(selector.pop())
        length += 1
        stage, max_stage = int(info["stage"]), max(max_stage, int(info["max_stage"]))
        done = terminated or truncated or (stop_on_success and max_stage >= n_stages)
        if video is not None:
            video.add(_video_frame(env, obs, cameras), length, stage, max_stage, force=done)
        if done:
            if video is not None:
                video.hold()  # show the final state for a moment
            break
    row = {"max_stage": max_stage, "success": int(max_stage >= n_stages), "length": length,
           "queries": selector.queries}
    for i, name in enumerate(stage_names, start=1):
        row[f"reached_{name}"] = int(max_stage >= i)
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def run_identity(run_dir) -> str | None:
    """Which training a run dir holds (from its done.json), so evaluations of an older
    checkpoint are noticed; None while the run is unfinished or not a run dir."""
    path = Path(run_dir) / "done.json"
    try:
        done = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return f"step {done.get('step')} best {done.get('best_step')} finished {done.get('finished_at')}"


def _start(out_dir: Path, meta: dict, fresh: bool) -> None:
    """Check that out_dir holds (a part of) this same evaluation, or clear it when `fresh`."""
    path = out_dir / "eval.json"
    old = json.loads(path.read_text()) if path.exists() else None
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
        for name in ("episodes.csv", "summary.json"):
            (out_dir / name).unlink(missing_ok=True)
        for video in (out_dir / "videos").glob("episode_*.mp4"):
            video.unlink()
    write_json(path, meta)


def _load_rows(csv_path: Path, seed: int) -> dict[int, dict]:
    if not csv_path.exists():
        return {}
    import pandas as pd

    rows = {int(r["episode"]): r for r in pd.read_csv(csv_path).to_dict("records")}
    for i, r in rows.items():
        if int(r["seed"]) != eval_seed(seed, i):
            raise ActBenchError(f"{csv_path} holds episodes of another evaluation seed; use another --out")
    return rows


def evaluate_policy(policy, task: str, method: str, episodes: int, seed: int, out_dir, videos: int = 3,
                    progress: bool = True, *, temporal_ensemble_m: float | None = None,
                    n_action_steps: int | None = None, env_factory=None, stop_on_success: bool = True,
                    video_size: tuple[int, int] = (240, 320), policy_id: str | None = None,
                    fresh: bool = False) -> dict:
    """Evaluate `policy` for `episodes` episodes and write episodes.csv, summary.json, videos.

    Episodes already in out_dir/episodes.csv are kept and skipped, provided they come from the
    same task, method, seed and `policy_id` (see run_identity); `fresh` discards them when the
    evaluation's identity changed. Returns the summary dict.
    """
    import pandas as pd
    from tqdm import tqdm

    check_task(task)
    trained, execution = check_method(method)
    if episodes < 1:
        raise ActBenchError(f"--episodes must be >= 1, got {episodes}")
    config = getattr(policy, "config", {}) or {}
    chunk_size = int(policy.chunk_size)
    m = float(temporal_ensemble_m if temporal_ensemble_m is not None
              else config_value(config, "eval.temporal_ensemble_m", DEFAULT_M))
    if n_action_steps is None:
        n_action_steps = config_value(config, "eval.n_action_steps") or None
    if execution == "single" and chunk_size != 1:
        execution = "open_loop"  # one action per query, whatever the chunk length
        n_action_steps = 1
    selector = make_selector(execution, chunk_size, 14, m, n_action_steps)
    settings = {"temporal_ensemble_m": m if execution == "ensemble" else None,
                "n_action_steps": (n_action_steps or chunk_size) if execution != "ensemble" else None}
    cameras = list(policy.camera_names)

    out_dir = Path(out_dir)
    _start(out_dir, {"task": task, "method": method, "seed": int(seed), "policy_id": policy_id, **settings}, fresh)
    csv_path = out_dir / "episodes.csv"
    rows = _load_rows(csv_path, seed)
    if env_factory is None:
        from act_bench.envs import make_env as env_factory
    todo = [i for i in range(episodes) if i not in rows]
    env = env_factory(task, cameras=tuple(cameras), image_size=tuple(policy.image_size),
                      render_mode="rgb_array" if any(i < videos for i in todo) else None)
    stage_names = list(env.unwrapped.task_config.stage_names)

    if hasattr(policy, "eval"):
        policy.eval()
    bar = tqdm(todo, desc=f"eval {task} {method} seed{seed}", unit="ep", disable=not progress, dynamic_ncols=True)
    try:
        for i in bar:
            video = None
            if i < videos:
                from act_bench.video import EpisodeVideo

                video = EpisodeVideo(out_dir / "videos" / f"episode_{i:03d}.mp4", stage_names, size=video_size)
            ok = False
            try:
                row = run_episode(env, policy, selector, eval_seed(seed, i), cameras, stage_names, video,
                                  stop_on_success)
                ok = True
            finally:
                if video is not None:
                    video.close(ok=ok)
            rows[i] = {"episode": i, "seed": eval_seed(seed, i), **row}
            write_csv(csv_path, pd.DataFrame([rows[j] for j in sorted(rows)]))
            done = [rows[j] for j in range(episodes) if j in rows]
            bar.set_postfix(success=f"{sum(r['success'] for r in done)}/{len(done)}")
    finally:
        bar.close()
        if hasattr(env, "close"):
            env.close()

    used = [rows[i] for i in range(episodes)]
    summary = {
        "task": task, "method": method, "policy": trained, "policy_id": policy_id, "execution": execution,
        "seed": int(seed),
        "episodes": episodes, "stage_names": stage_names,
        "stages": stage_rates([r["max_stage"] for r in used], stage_names),
        "success_rate": float(np.mean([r["success"] for r in used])),
        "mean_length": float(np.mean([r["length"] for r in used])),
        "mean_queries": float(np.mean([r["queries"] for r in used])),
        "mean_seconds": float(np.mean([r["seconds"] for r in used])),
        "chunk_size": chunk_size,
        **settings,
        "videos": sorted(str(p.relative_to(out_dir)) for p in (out_dir / "videos").glob("episode_*.mp4")),
    }
    write_json(out_dir / "summary.json", summary)
    return summary


def summary_is_complete(out_dir, episodes: int, policy_id: str | None = None) -> bool:
    """True when out_dir holds a summary of at least `episodes` episodes (a done marker), of
    the checkpoint `policy_id` when one is given."""
    path = Path(out_dir) / "summary.json"
    if not path.exists():
        return False
    try:
        summary = json.loads(path.read_text())
        same = policy_id is None or summary.get("policy_id") == policy_id
        return same and int(summary["episodes"]) >= episodes
    except (ValueError, KeyError):
        return False


def format_summary(summary: dict) -> str:
    lines = [f"{summary['task']} / {summary['method']} / seed {summary['seed']}: {summary['episodes']} episodes"]
    for s in summary["stages"]:
        lines.append(f"  {s['stage_index']} {s['stage_name']:<16} {s['successes']:>4}/{s['episodes']:<4} "
                     f"{100 * s['rate']:5.1f}%  [{100 * s['ci_low']:.1f}, {100 * s['ci_high']:.1f}]")
    return "\n".join(lines)


# ---------------------------------------------------------------- CLI
def _guess(config, run_dir: Path, keys, allowed):
    for key in keys:
        v = config_value(config, key)
        if isinstance(v, str) and v in allowed:
            return v
    for part in reversed(run_dir.parts):  # runs/{task}/{policy}/seed{S}
        if part in allowed:
            return part
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run directory (or checkpoint) to evaluate")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--method", choices=list(METHODS), default=None,
                        help="how to execute the policy (default: the run's own method)")
    parser.add_argument("--task", default=None, help="task (default: the run's task)")
    parser.add_argument("--seed", type=int, default=None, help="evaluation base seed (default: the run's seed)")
    parser.add_argument("--videos", type=int, default=3, help="record videos of the first N episodes")
    parser.add_argument("--m", dest="temporal_ensemble_m", type=float, default=None,
                        help="temporal-ensembling weight exp(-m*i) for act (default: the profile's eval.temporal_ensemble_m)")
    parser.add_argument("--n-action-steps", type=int, default=None,
                        help="actions executed per query for act-no-te (default: the profile's eval.n_action_steps)")
    parser.add_argument("--out", default=None,
                        help="output folder (default: RUN/eval/METHOD_seedS, plus _mM or _nN when those are given)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--fresh", action="store_true", help="discard earlier results in the output folder")
    parser.add_argument("--no-progress", action="store_true")


def resolve_device(device: str) -> str:
    from act_bench.train import resolve_device as resolve  # one rule for training and evaluation

    return str(resolve(device))


def main(args) -> int:
    run = Path(args.run)
    if not run.exists() and not any(run.parent.glob(run.name + ".*")):
        raise ActBenchError(f"run directory or checkpoint not found: {run}")
    checkpoint = None if run.is_dir() else Path(run.name).stem  # "best" or "last" of runs/.../checkpoints/
    run_dir = run if checkpoint is None else run.parent
    if run_dir.name == "checkpoints":  # runs/{task}/{policy}/{profile}/seed{S}/checkpoints/last
        run_dir = run_dir.parent
    from act_bench.policies import load_policy

    policy = load_policy(str(run), device=resolve_device(args.device))
    # the run's own config.json (task, seed) over the checkpoint's task and seed, over the
    # policy's profile (method, sizes)
    config = dict(getattr(policy, "config", {}) or {})
    meta = getattr(policy, "checkpoint_meta", None) or {}
    config.update({k: meta[k] for k in ("task", "seed") if k in meta})
    run_config = run_dir / "config.json"
    if run_config.is_file():
        try:
            config.update(json.loads(run_config.read_text()))
        except ValueError:
            pass
    trained = _guess(config, run_dir, ("method", "policy", "policy.name", "model.name", "name"),
                     {p for p, _ in METHODS.values()})
    method = args.method or trained
    if method is None:
        raise ActBenchError("cannot tell the run's method; pass --method")
    if trained is not None and METHODS[method][0] != trained:
        raise ActBenchError(f"method {method!r} needs a {METHODS[method][0]!r} policy, but {run} is {trained!r}")
    task = args.task or _guess(config, run_dir, ("task", "data.task", "env.task"), TASKS)
    if task is None:
        raise ActBenchError("cannot tell the run's task; pass --task")
    seed = args.seed if args.seed is not None else int(config_value(config, "seed", 0))
    m, n_steps = args.temporal_ensemble_m, args.n_action_steps
    if m is not None and (m < 0 or not math.isfinite(m)):
        raise ActBenchError(f"--m must be a finite number >= 0, got {m}")
    if n_steps is not None and n_steps < 1:
        raise ActBenchError(f"--n-action-steps must be >= 1, got {n_steps}")
    suffix = ((f"_m{m:g}" if m is not None else "") + (f"_n{n_steps}" if n_steps is not None else "")
              + (f"_{checkpoint}" if checkpoint else ""))
    out = Path(args.out) if args.out else run_dir / "eval" / f"{method}_seed{seed}{suffix}"
    policy_id = run_identity(run_dir)
    if checkpoint:  # a named checkpoint is another policy than the run's default one
        policy_id = f"{policy_id or run_dir}: checkpoint {checkpoint} step {meta.get('step')}"
    summary = evaluate_policy(policy, task, method, args.episodes, seed, out, videos=args.videos,
                              progress=not args.no_progress, policy_id=policy_id, fresh=args.fresh,
                              temporal_ensemble_m=m, n_action_steps=n_steps)
    print(format_summary(summary))
    print(f"results in {out}")
    return 0
