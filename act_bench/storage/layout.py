"""The on-disk layout, in one place: every file and folder name act-bench reads or writes, the
done markers that let every long job skip finished work and resume unfinished work, the
iterators the report walks, and the one reader of the JSON records act-bench writes.

    {demos_root}/{task}_{H}x{W}_{cameras}/   episode_{i}.hdf5, settings.json, manifest.json (done)
    {demos_root}/{task}_{H}x{W}_{cameras}_human/   the same, human-like demos (scripted.style)
    {runs_root}/{task}/{policy}/{profile}/seed{S}/   ({profile}-human: trained on human-like demos)
        config.json, metrics.csv, done.json (done) or diverged.json (failed),
        checkpoints/{best,last}.{json,safetensors}, checkpoints/last_state.safetensors
    {out}/  run.json, results.csv, summary.md, success.png, loss_curves.png, report.html,
            failed.json (cells that failed)
    any output folder, while a process writes it: .act-bench.lock
    {out}/evals/{task}/{method}/seed{S}/     eval.json, episodes.csv, summary.json (done),
                                              videos/episode_{i:03d}.mp4
    {out}/training/{task}/{policy}/seed{S}/metrics.csv

`act-bench sweep` adds, per point: run folders {runs_root}/{task}/{policy}/{profile}+{train_name}/
when the point trains differently from the profile, {out}/points/{point}/evals/... (as above),
and sweep.json and sweep.png beside results.csv.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from act_bench.errors import DamagedFile

# demonstrations
DEMO_SETTINGS = "settings.json"
DEMO_MANIFEST = "manifest.json"
# a training run
RUN_CONFIG = "config.json"
RUN_METRICS = "metrics.csv"
RUN_DONE = "done.json"
RUN_CHECKPOINTS = "checkpoints"
RUN_DIVERGED = "diverged.json"  # instead of done.json: the training diverged (finite_guard.py)
BEST, LAST = "best", "last"  # checkpoint stems: best validation loss, and the resumable last one
LAST_STATE = "last_state.safetensors"  # the optimizer state beside the last checkpoint
# an evaluation
EVAL_META = "eval.json"
EVAL_EPISODES = "episodes.csv"
EVAL_SUMMARY = "summary.json"
EVAL_VIDEOS = "videos"
# a results folder
RUN_RECORD = "run.json"
RESULTS = "results.csv"
SUMMARY_MD = "summary.md"
SUCCESS_PLOT = "success.png"
LOSS_PLOT = "loss_curves.png"
REPORT_HTML = "report.html"
# a sweep's results folder: the same files (report.html, results.csv, ...) and these
SWEEP_RECORD = "sweep.json"
SWEEP_PLOT = "sweep.png"
SWEEP_POINTS = "points"
FAILED_CELLS = "failed.json"  # cells of `run` that failed (failed_cells.py)
# any output folder: its writer's lock (folder_lock.py)
FOLDER_LOCK = ".act-bench.lock"


def _read_json(path: Path) -> dict | None:
    """A done marker's content, or None when it is missing; a damaged one is refused (one line
    naming it and its repair), never taken for "not done" (which would redo finished work)."""
    return read_json_record(path)


# how to repair a damaged record (nothing but that file is lost by the repair)
REPAIR = {
    RUN_CONFIG: "the run cannot be identified: retrain it with --fresh, or train into another --out",
    RUN_DONE: "delete it and rerun the training: it resumes from the last checkpoint and writes it again",
    RUN_DIVERGED: "delete it to resume that training, or retrain with other settings (--fresh or another --out)",
    f"{LAST}.json": "retrain with --fresh (the training cannot resume from it)",
    f"{BEST}.json": "evaluate RUN/checkpoints/last instead, or retrain with --fresh",
    EVAL_META: "rerun the evaluation with --fresh",
    EVAL_SUMMARY: "delete it and rerun the evaluation: it keeps the finished episodes and writes it again",
    RUN_RECORD: "repair or delete it (it only records the runs into this folder)",
    DEMO_MANIFEST: "rerun the generate-demos command that made the folder: it checks every episode and writes it again",
    DEMO_SETTINGS: "the folder cannot be identified: record the demos again into another --out",
}


def damaged(path: str | Path, why: str) -> DamagedFile:
    """The one-line error for a damaged record: the file, what is wrong, how to repair it."""
    path = Path(path)
    return DamagedFile(f"{path}: {why}; {REPAIR.get(path.name, 'repair or remove it')}")


def read_json_record(path: str | Path) -> dict | None:
    """A record act-bench wrote (config.json, done.json, run.json, eval.json, summary.json, the
    manifest): None when it is absent; a damaged one is a one-line DamagedFile naming the file and
    its repair, wherever it is read (it is never silently ignored)."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # UnicodeDecodeError included
        raise damaged(path, f"unreadable ({' '.join(str(exc).split())})") from None
    if not isinstance(value, dict):
        raise damaged(path, "not a JSON object")
    return value


# --- demonstrations --------------------------------------------------------------------
def demo_dir_name(task: str, image_size, cameras, style: str = "scripted") -> str:
    """e.g. transfer_cube_96x128_top, or transfer_cube_96x128_top_human for human-like demos."""
    h, w = (int(x) for x in image_size)
    return f"{task}_{h}x{w}_{'-'.join(cameras) or 'nocam'}" + ("" if style == "scripted" else f"_{style}")


def demo_dir(task: str, image_size, cameras, root: str | Path = "demos", style: str = "scripted") -> Path:
    return Path(root) / demo_dir_name(task, image_size, cameras, style)


def episode_path(folder: Path, index: int) -> Path:
    return Path(folder) / f"episode_{index}.hdf5"


def demos_complete(folder: Path, episodes: int) -> bool:
    """The manifest (written last) lists at least `episodes` episodes."""
    manifest = _read_json(Path(folder) / DEMO_MANIFEST) or {}
    try:
        return int(manifest.get("episodes", 0)) >= episodes
    except (TypeError, ValueError):
        return False


# --- training runs ---------------------------------------------------------------------------
def run_dir(task: str, policy: str, profile: str, seed: int, root: str | Path = "runs",
            style: str = "scripted") -> Path:
    """Runs on human-like demos get their own folder, so neither is taken for the other."""
    return Path(root) / task / policy / (profile if style == "scripted" else f"{profile}-{style}") / f"seed{seed}"


def read_run_config(folder: str | Path) -> dict | None:
    """A run's config.json (None before its training started); damaged: ActBenchError."""
    return read_json_record(Path(folder) / RUN_CONFIG)


def checkpoint_stem(folder: str | Path, name: str) -> Path:
    """runs/.../checkpoints/{name}: {name}.json and {name}.safetensors sit beside it."""
    return Path(folder) / RUN_CHECKPOINTS / name


def checkpoint_json(path: str | Path) -> Path:
    """A checkpoint stem or its .json/.safetensors file -> its JSON's path."""
    p = Path(path)
    if p.suffix == ".safetensors":
        return p.with_suffix(".json")
    return p if p.suffix == ".json" else p.with_name(p.name + ".json")


def find_checkpoint(path: str | Path) -> Path | None:
    """A run dir (best, else last), a checkpoints dir, a stem, or a .json/.safetensors file ->
    the checkpoint's JSON; None when there is none."""
    p = Path(path)
    if p.is_dir():
        for folder in (p / RUN_CHECKPOINTS, p):
            for name in (BEST, LAST):
                if (folder / f"{name}.json").is_file():
                    return folder / f"{name}.json"
        return None
    p = checkpoint_json(p)
    return p if p.is_file() else None


def run_profile_folder(profile: str, train_name: str = "") -> str:
    """The run folder level that names the profile: "cpu", or "cpu+model.chunk_size=10" for a
    sweep point that trains with other settings (so each such point is its own run)."""
    return f"{profile}+{train_name}" if train_name else profile


def trained_steps(folder: Path) -> int:
    """Steps a finished run was trained for (its done.json); 0 while unfinished."""
    done = _read_json(Path(folder) / RUN_DONE) or {}
    try:
        return int(done.get("step", 0))
    except (TypeError, ValueError):
        return 0


def run_identity(folder: Path) -> str | None:
    """Which training a run folder holds (from its done.json), so evaluations of an older
    checkpoint are noticed; None while the run is unfinished or not a run folder."""
    done = _read_json(Path(folder) / RUN_DONE)
    if done is None:
        return None
    return f"step {done.get('step')} best {done.get('best_step')} finished {done.get('finished_at')}"


def evaluated_identity(run_dir: Path, checkpoint: str | None = None, step=None) -> str | None:
    """The policy_id an evaluation records: the run's identity, and for a named checkpoint
    (checkpoints/last) its name and step (read from its JSON when not given)."""
    identity = run_identity(run_dir)
    if not checkpoint:
        return identity
    if step is None:
        step = (_read_json(Path(run_dir) / RUN_CHECKPOINTS / f"{checkpoint}.json") or {}).get("step")
    return f"{identity or run_dir}: checkpoint {checkpoint} step {step}"


def split_checkpoint_path(path: str | Path) -> tuple[Path, str | None]:
    """A run folder -> (it, None); runs/.../checkpoints/last(.json) -> (the run folder, "last")."""
    p = Path(path)
    if p.is_dir():
        return p, None
    folder = p.parent.parent if p.parent.name == RUN_CHECKPOINTS else p.parent
    return folder, Path(p.name).stem


# --- evaluations --------------------------------------------------------------------------------
def eval_dir(out: str | Path, task: str, method: str, seed: int) -> Path:
    return Path(out) / "evals" / task / method / f"seed{seed}"


def video_path(folder: str | Path, episode: int) -> Path:
    return Path(folder) / EVAL_VIDEOS / f"episode_{episode:03d}.mp4"


def eval_videos(folder: str | Path) -> list[Path]:
    return sorted((Path(folder) / EVAL_VIDEOS).glob("episode_*.mp4"))


def point_dir(out: str | Path, point: str) -> Path:
    """A sweep point's results folder (its evals/ as in a run's results folder)."""
    return Path(out) / SWEEP_POINTS / point


def training_metrics_copy(out: str | Path, task: str, policy: str, seed: int) -> Path:
    return Path(out) / "training" / task / policy / f"seed{seed}" / RUN_METRICS


def summary_is_complete(folder: Path, episodes: int, policy_id: str | None = None) -> bool:
    """The folder holds a summary of at least `episodes` episodes (of checkpoint `policy_id`,
    when given)."""
    summary = _read_json(Path(folder) / EVAL_SUMMARY)
    if summary is None:
        return False
    try:
        same = policy_id is None or summary.get("policy_id") == policy_id
        return same and int(summary["episodes"]) >= episodes
    except (KeyError, TypeError, ValueError):
        return False


# --- what the report walks ---------------------------------------------------------------------
def eval_summaries(out: str | Path) -> Iterator[Path]:
    """Every evals/{task}/{method}/seed{S}/summary.json under a results folder, sorted."""
    yield from sorted(Path(out).glob(f"evals/*/*/seed*/{EVAL_SUMMARY}"))


def training_metrics(out: str | Path) -> Iterator[tuple[str, str, str, Path]]:
    """(task, policy, "seed{S}", path) of every training metrics copy under a results folder."""
    for path in sorted(Path(out).glob(f"training/*/*/seed*/{RUN_METRICS}")):
        yield path.parts[-4], path.parts[-3], path.parts[-2], path


def results_videos(out: str | Path) -> Iterator[tuple[str, str, str, Path]]:
    """(task, method, "seed{S}", path) of every evaluation video under a results folder."""
    for path in sorted(Path(out).glob(f"evals/*/*/seed*/{EVAL_VIDEOS}/episode_*.mp4")):
        yield path.parts[-5], path.parts[-4], path.parts[-3], path
