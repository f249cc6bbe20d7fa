"""The on-disk layout, in one place: demo folders, run folders, evaluation folders and the
done markers that let every long job skip finished work and resume unfinished work.

    {demos_root}/{task}_{H}x{W}_{cameras}/   episode_{i}.hdf5, settings.json, manifest.json (done)
    {runs_root}/{task}/{policy}/{profile}/seed{S}/
        config.json, metrics.csv, checkpoints/{best,last}.{json,safetensors}, done.json (done)
    {out}/evals/{task}/{method}/seed{S}/     episodes.csv, eval.json, summary.json (done), videos/
    {out}/training/{task}/{policy}/seed{S}/metrics.csv
"""
from __future__ import annotations

import json
from pathlib import Path

DEMO_SETTINGS = "settings.json"
DEMO_MANIFEST = "manifest.json"
RUN_CONFIG = "config.json"
RUN_METRICS = "metrics.csv"
RUN_DONE = "done.json"
RUN_CHECKPOINTS = "checkpoints"
EVAL_SUMMARY = "summary.json"


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# --- demonstrations --------------------------------------------------------------------
def demo_dir_name(task: str, image_size, cameras) -> str:
    """e.g. transfer_cube_96x128_top."""
    h, w = (int(x) for x in image_size)
    return f"{task}_{h}x{w}_{'-'.join(cameras) or 'nocam'}"


def demo_dir(task: str, image_size, cameras, root: str | Path = "demos") -> Path:
    return Path(root) / demo_dir_name(task, image_size, cameras)


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
def run_dir(task: str, policy: str, profile: str, seed: int, root: str | Path = "runs") -> Path:
    return Path(root) / task / policy / profile / f"seed{seed}"


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
