"""`act-bench generate-demos`: record successful expert episodes to a folder of HDF5 files,
in the scripted style or the human-like one (--style, see scripted.style and scripted.human).

Episode i is the first successful try among seeds demo_seed(seed, i, attempt), attempt =
0, 1, ...; so the data depends only on the arguments, not on the number of workers or on
which episodes were already on disk. Each file is written under a temporary name and
renamed; rerunning the same command resumes. A folder recorded with other settings is
refused rather than mixed.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import h5py
from tqdm import tqdm

from act_bench.data.verify import verify_episode
from act_bench.errors import ActBenchError, DataError
from act_bench.runtime.machine import memory_shortfall
from act_bench.runtime.seeding import demo_seed
from act_bench.runtime.versions import package_versions
from act_bench.scripted.style import HUMAN, STYLES, check_style, settings_style, style_settings
from act_bench.storage import folder_lock, interrupts
from act_bench.storage.atomic_io import remove_stale_temps, write_json
from act_bench.storage.layout import DEMO_MANIFEST, DEMO_SETTINGS, demo_dir, episode_path, read_json_record
from act_bench.tasks.registry import get_task, task_names

FORMAT_VERSION = 1
MAX_ATTEMPTS = 10  # tries per episode before the scripted policy is declared broken
MAX_IMAGE_SIDE = 4096  # beyond common GL offscreen buffer limits


def parse_image_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ActBenchError(f"image size must look like HEIGHTxWIDTH (e.g. 96x128), got {text!r}") from None
    if h <= 0 or w <= 0:
        raise ActBenchError(f"image size must be positive, got {text!r}")
    return h, w


# --- worker side -----------------------------------------------------------------------
_ENV_CACHE: dict = {}


def _env(task, cameras, image_size):
    key = (task, tuple(cameras), tuple(image_size))
    if key not in _ENV_CACHE:
        from act_bench.envs import make_env

        _ENV_CACHE[key] = make_env(task, cameras=cameras, image_size=image_size)
    return _ENV_CACHE[key]


def _record(job: dict) -> dict:
    """Record episode job["index"], retrying with new seeds until the expert succeeds."""
    from act_bench.data.episode_io import write_episode
    from act_bench.demos.recorder import record_episode

    env = _env(job["task"], job["cameras"], job["image_size"])
    style = settings_style(job)
    for attempt in range(max_attempts(style)):
        seed = demo_seed(job["seed"], job["index"], attempt)
        try:
            episode = record_episode(env, seed, noise=job["noise"], style=style)
        except ValueError:  # a noisy waypoint out of the arm's reach: a failed attempt
            continue
        if episode.attrs["success"]:
            episode.attrs.update(index=job["index"], attempt=attempt, attempts=attempt + 1,
                                 base_seed=job["seed"], versions=job["versions"])
            digest = write_episode(job["path"], episode)
            return {"index": job["index"], "ok": True, "hash": digest}
    return {"index": job["index"], "ok": False}


def max_attempts(style: str) -> int:
    """Tries per episode: human-like draws fail more often than the scripted expert."""
    return HUMAN.max_attempts if style == "human" else MAX_ATTEMPTS


# --- driver side -----------------------------------------------------------------------
def _existing_episode_ok(path: Path, settings: dict) -> bool:
    """A finished file of these settings whose content still matches its hash (every chunk
    read): an edited, corrupt or truncated episode is recorded again."""
    try:
        with h5py.File(path, "r") as f:
            if not (f.attrs.get("task") == settings["task"] and "content_hash" in f.attrs
                    and f.attrs.get("style", "scripted") == settings_style(settings)
                    and f["action"].shape[0] == settings["episode_len"]):
                return False
        verify_episode(path)
        return True
    except (OSError, KeyError, ValueError, RuntimeError, DataError):
        return False


def _check_folder(out_dir: Path, settings: dict) -> None:
    old = read_json_record(out_dir / DEMO_SETTINGS)
    if old is not None:
        diff = [k for k in settings if old.get(k) != settings[k]]
        if diff:
            raise ActBenchError(
                f"{out_dir} holds demos recorded with other settings ({', '.join(f'{k}={old.get(k)!r}' for k in diff)}); "
                "use another --out folder"
            )
    elif any(out_dir.glob("*.hdf5")):
        raise ActBenchError(f"{out_dir} holds HDF5 files of unknown settings (no {DEMO_SETTINGS}); use another --out folder")


@dataclass(frozen=True)
class DemoSettings:
    """What decides the recorded data besides the task and episode count: the base seed, the
    cameras and (H, W) image size (None: the task's TOML), the waypoint noise in metres and the
    style (scripted or human: scripted.style)."""

    seed: int = 0
    cameras: Sequence[str] | None = None
    image_size: tuple[int, int] | None = None
    noise: float = 0.0
    style: str = "scripted"


def generate_demos(task: str, episodes: int, out_dir: str | Path, settings: DemoSettings | None = None,
                   workers: int = 1, progress: bool = True) -> dict:
    """Record `episodes` successful episodes of the expert in its style into out_dir; return
    the manifest."""
    task_cfg = get_task(task).config()
    s = settings or DemoSettings()
    check_style(s.style)
    if episodes < 1:
        raise ActBenchError(f"--episodes must be at least 1, got {episodes}")
    if workers < 1:
        raise ActBenchError(f"--workers must be at least 1, got {workers}")
    if s.noise < 0:
        raise ActBenchError(f"--noise must be >= 0, got {s.noise}")
    cameras = list(task_cfg.cameras if s.cameras is None else s.cameras)
    image_size = task_cfg.image_size if s.image_size is None else s.image_size
    _check_cameras(task_cfg, cameras)
    _check_size(task_cfg.episode_len, image_size, cameras, min(workers, episodes))
    out_dir = Path(out_dir)
    record = {"format_version": FORMAT_VERSION, "task": task, "seed": int(s.seed), "cameras": cameras,
              "image_size": [int(v) for v in image_size], "noise": float(s.noise), "episode_len": task_cfg.episode_len,
              **style_settings(s.style)}  # nothing for scripted: older folders keep their identity
    with folder_lock.hold(out_dir), interrupts.stage(f"generate-demos {out_dir}"):  # one writer per folder
        return _record_into(out_dir, record, episodes, workers, progress)


def _record_into(out_dir: Path, record: dict, episodes: int, workers: int, progress: bool) -> dict:
    """Record the missing or damaged episodes of out_dir (this process's), then write its manifest."""
    task, cameras, image_size = record["task"], record["cameras"], record["image_size"]
    _check_folder(out_dir, record)
    remove_stale_temps(out_dir)  # what a kill -9 left half-written
    versions = package_versions()
    todo = [{**record, "index": i, "path": str(episode_path(out_dir, i)), "versions": versions}
            for i in range(episodes)
            if not (episode_path(out_dir, i).exists() and _existing_episode_ok(episode_path(out_dir, i), record))]
    if todo:  # rendering works (a missing GL stack is a one-line error) before anything is written
        _env(task, cameras, image_size)
    _write_if_changed(out_dir / DEMO_SETTINGS, record)  # a finished folder may be read-only
    for stale in out_dir.glob(".*.tmp*"):  # left by a run killed mid-write
        stale.unlink()
    for job in todo:  # failed verification or an unfinished write: recorded again
        Path(job["path"]).unlink(missing_ok=True)
    _record_all(todo, episodes, workers, f"demos {task}", progress, settings_style(record))
    manifest = build_manifest(out_dir, record, episodes, versions)
    _write_if_changed(out_dir / DEMO_MANIFEST, manifest)
    return manifest


def _record_all(todo: list[dict], episodes: int, workers: int, desc: str, progress: bool,
                style: str = "scripted") -> None:
    """Record the episodes still to do, `workers` at a time."""
    failed, finished = [], episodes - len(todo)
    interrupts.note(f"after {finished} of {episodes} episodes (the finished ones are kept)")
    # `with`: an interrupt closes the bar before the CLI prints its one line (else the bar's
    # finalizer draws it again after that line)
    with tqdm(total=episodes, initial=finished, desc=desc, unit="ep", disable=not progress,
              file=sys.stderr) as bar, _pool(workers, len(todo)) as pool:
        for result in pool.imap_unordered(_record, todo):
            bar.update(1)
            finished += 1
            interrupts.note(f"after {finished} of {episodes} episodes (the finished ones are kept)")
            if not result["ok"]:
                failed.append(result["index"])
    if failed:
        raise ActBenchError(
            f"the {style} {desc.split()[-1]} expert failed {max_attempts(style)} tries in a row on episode(s) "
            f"{failed[:5]}; it is broken for these settings (episodes already recorded are kept)"
        )


def _write_if_changed(path: Path, obj: dict) -> None:
    try:
        if json.loads(path.read_text()) == obj:
            return
    except (OSError, ValueError):
        pass
    write_json(path, obj)


def _check_size(episode_len: int, image_size, cameras, workers: int) -> None:
    """Refuse image sizes one episode's frames cannot fit in memory, before any folder is made."""
    h, w = (int(v) for v in image_size)
    if max(h, w) > MAX_IMAGE_SIDE:
        raise ActBenchError(f"image size {h}x{w} is too large (at most {MAX_IMAGE_SIDE} pixels a side)")
    # one episode's frames per worker, held until written
    short = memory_shortfall(episode_len * h * w * 3 * len(cameras) * workers)
    if short:
        raise ActBenchError(f"image size {h}x{w}: {workers} episode(s) in flight {short}; use a smaller "
                            "--image-size or fewer --workers")

def build_manifest(out_dir: Path, settings: dict, episodes: int, versions: dict) -> dict:
    seeds, hashes, attempts, draws = [], [], 0, []
    for i in range(episodes):
        with h5py.File(episode_path(out_dir, i), "r") as f:
            seeds.append(int(f.attrs["seed"]))
            hashes.append(str(f.attrs["content_hash"]))
            attempts += int(f.attrs["attempts"])
            if "human_draws" in f.attrs:
                draws.append(json.loads(f.attrs["human_draws"]))
    manifest = {
        **settings,
        "episodes": episodes,
        "files": [episode_path(out_dir, i).name for i in range(episodes)],
        "seeds": seeds,
        "attempts": attempts,
        "scripted_success_rate": episodes / attempts,
        "content_hashes": hashes,
        "versions": versions,
    }
    if settings_style(settings) != "scripted":  # the share kept is the style's, not the scripted expert's
        from act_bench.scripted.human import draw_summary

        del manifest["scripted_success_rate"]
        manifest.update(success_rate=episodes / attempts, draws=draw_summary(draws))
    return manifest


def _check_cameras(task_cfg, cameras: list[str]) -> None:
    from act_bench.sim.render import camera_names
    from act_bench.sim.robot import load_model

    known = camera_names(load_model(task_cfg.model))
    bad = [c for c in cameras if c not in known]
    if bad:
        raise ActBenchError(f"unknown camera(s) {', '.join(bad)}; available: {', '.join(known)}")


class _InlinePool:
    """Runs jobs in this process (workers=1): simpler tracebacks, no start-up cost."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def imap_unordered(self, fn, jobs):
        return map(fn, jobs)


def _pool(workers: int, n_jobs: int):
    if workers == 1 or n_jobs <= 1:
        return _InlinePool()
    # spawn: each worker builds its own GL context; forking one is not safe.
    return mp.get_context("spawn").Pool(min(workers, n_jobs), initializer=interrupts.ignore_in_worker)


# --- CLI -----------------------------------------------------------------------------
def add_arguments(p) -> None:
    p.add_argument("--task", required=True, choices=task_names())
    p.add_argument("--episodes", type=int, default=50, help="successful episodes to record (default 50)")
    p.add_argument("--out", default=None, help="output folder (default demos/TASK_HxW_CAMERAS)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--cameras", default=None, help="comma-separated cameras, or 'none' (default: the task's, top)")
    p.add_argument("--image-size", default=None, help="HEIGHTxWIDTH (default: the task's, 480x640)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel processes (default: all cores)")
    p.add_argument("--noise", type=float, default=0.0, help="waypoint noise in metres for more varied demos (default 0)")
    p.add_argument("--style", default="scripted",  # checked in main: a bad one is a one-line error
                   help=f"{' or '.join(STYLES)}: the clockwork expert or a human-like one (docs: Demonstrations) (default scripted)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def parse_cameras(text: str) -> list[str]:
    return [] if text.strip().lower() in ("", "none") else [c.strip() for c in text.split(",") if c.strip()]


def main(args) -> int:
    check_style(args.style)
    task = get_task(args.task).config()
    cameras = list(task.cameras) if args.cameras is None else parse_cameras(args.cameras)
    size = tuple(task.image_size) if args.image_size is None else parse_image_size(args.image_size)
    out = Path(args.out) if args.out else demo_dir(args.task, size, cameras, style=args.style)
    manifest = generate_demos(args.task, args.episodes, out,
                              DemoSettings(args.seed, cameras, size, args.noise, args.style), workers=args.workers,
                              progress=args.progress)
    rate = manifest.get("scripted_success_rate", manifest.get("success_rate"))
    print(f"{manifest['episodes']} episodes in {out}; {args.style} expert success {rate:.1%} "
          f"({manifest['episodes']}/{manifest['attempts']} attempts)")
    return 0
