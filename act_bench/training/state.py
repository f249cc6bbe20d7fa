"""What a training run folder holds between steps: its identity, metrics rows, best and last
checkpoints (weights, optimizer, RNG streams), and the done marker. A resumed CPU run is
bit-identical to an uninterrupted one because everything that decides the next step is saved.
"""
from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from act_bench.errors import ActBenchError, CheckpointError
from act_bench.evaluation.table_checks import read_metrics
from act_bench.policies.base import Policy
from act_bench.policies.checkpoint import (load_state_strict, optimizer_state_from_tensors,
                                           optimizer_state_to_tensors, read_checkpoint_meta, read_tensors,
                                           save_checkpoint, save_tensors)
from act_bench.policies.config import Profile
from act_bench.storage import layout
from act_bench.storage.atomic_io import together, write_json, write_text


class Window:
    """Training metrics summed since the last logged row. Kept as tensors (no host sync per
    step) and saved with each checkpoint, so a resumed run logs exactly the same rows."""

    def __init__(self, saved: Mapping[str, Any] | None = None):
        saved = saved or {}
        self.sums = {k: torch.tensor(v, dtype=torch.float32) for k, v in saved.get("sums", {}).items()}
        self.n = int(saved.get("n", 0))
        self.timed, self.t0 = 0, time.perf_counter()

    def add(self, metrics: Mapping[str, torch.Tensor]) -> None:
        for k, v in metrics.items():  # a 0-d CPU tensor adds to a CUDA one without a sync
            self.sums[k] = self.sums[k] + v.float() if k in self.sums else v.float().clone()
        self.n += 1
        self.timed += 1

    def row(self) -> dict[str, float]:
        """Mean of each loss term ("loss" as train_loss) and the steps per second."""
        n = max(self.n, 1)
        means = {("train_loss" if k == "loss" else k): float(v) / n for k, v in self.sums.items()}
        return {**means, "steps_per_s": self.timed / max(time.perf_counter() - self.t0, 1e-9)}

    def state(self) -> dict[str, Any]:
        return {"sums": {k: float(v) for k, v in self.sums.items()}, "n": self.n}


class RunState:
    """Progress of one training: step, elapsed time, best validation loss, metrics rows and
    the sampling RNG; restore() picks up where the last checkpoint left off."""

    def __init__(self, run_dir: Path, task: str, seed: int, columns: list[str], rng: np.random.Generator):
        self.run_dir, self.task, self.seed, self.columns, self.rng = Path(run_dir), task, int(seed), columns, rng
        self.ckpt_dir = self.run_dir / layout.RUN_CHECKPOINTS
        self.step, self.elapsed0 = 0, 0.0
        self.saved_elapsed = 0.0  # elapsed time at the last checkpoint
        self.best_val_loss, self.best_step = math.inf, None
        self.window: dict | None = None
        self.rows: list[dict[str, Any]] = []
        self.started = time.perf_counter()
        self._undone = False

    def elapsed(self) -> float:
        return self.elapsed0 + time.perf_counter() - self.started

    def restore(self, policy: Policy, optimizer: torch.optim.Optimizer) -> None:
        last = layout.checkpoint_json(self.ckpt_dir / layout.LAST)
        if not last.is_file():
            return
        json_path, meta = read_checkpoint_meta(last)
        ts = meta.get("train_state")
        if not isinstance(ts, dict):
            raise CheckpointError(f"{json_path}: no training state to resume from; use --fresh")
        if meta["config"]["model"] != policy.config["model"]:
            raise CheckpointError(f"{json_path}: model config differs from this run's; use --fresh")
        weights = json_path.parent / meta["weights"]
        load_state_strict(policy, read_tensors(weights, meta.get("sha256")), weights)
        opt_tensors = read_tensors(json_path.parent / ts["optimizer_file"], ts["optimizer_sha256"])
        try:
            optimizer.load_state_dict(optimizer_state_from_tensors(opt_tensors, ts["optimizer"]))
        except (ValueError, KeyError, RuntimeError) as exc:  # load_state_dict also moves it to the params' device
            raise CheckpointError(f"{json_path}: optimizer state does not fit the model: {exc}") from None
        self.rng = _set_rng_state(ts["rng"])
        best = ts.get("best_val_loss")
        self.step, self.elapsed0 = int(meta["step"]), float(ts.get("elapsed_s", 0.0))
        self.saved_elapsed = self.elapsed0
        self.best_val_loss = math.inf if best is None else float(best)
        self.best_step, self.window = ts.get("best_step"), ts.get("window")
        self.rows = [r for r in _read_metrics(self.run_dir / layout.RUN_METRICS) if int(r["step"]) <= self.step]
        self.started = time.perf_counter()

    def _undo_done(self) -> None:
        """A finished run trained further stops being done only when its checkpoints change,
        so a run that fails before that keeps its done.json."""
        if not self._undone:
            (self.run_dir / layout.RUN_DONE).unlink(missing_ok=True)
            self._undone = True

    def offer_best(self, policy: Policy, step: int, val_loss: float) -> None:
        if val_loss < self.best_val_loss:
            self._undo_done()
            self.best_val_loss, self.best_step = val_loss, step
            with together():  # the weights and the JSON naming their hash land together
                save_checkpoint(policy, self.ckpt_dir / layout.BEST, step,
                                {"val_loss": val_loss, "task": self.task, "seed": self.seed})

    def save(self, policy: Policy, optimizer: torch.optim.Optimizer, step: int, window: Window, no_val: bool) -> None:
        """The metrics rows up to it (rows past a checkpoint are dropped on resume), then the
        resumable last checkpoint; all land together (atomic_io.together: the JSONs last)."""
        self._undo_done()
        self.step, elapsed = step, self.elapsed()
        with together():
            _write_metrics(self.run_dir / layout.RUN_METRICS, self.rows, self.columns)
            tensors, opt_meta = optimizer_state_to_tensors(optimizer.state_dict())
            opt_sha = save_tensors(self.ckpt_dir / layout.LAST_STATE, tensors)
            train_state = {"optimizer_file": layout.LAST_STATE, "optimizer_sha256": opt_sha,
                           "optimizer": opt_meta, "rng": _rng_state(self.rng), "elapsed_s": elapsed,
                           "best_val_loss": _finite_or_none(self.best_val_loss), "best_step": self.best_step,
                           "window": window.state()}
            extra = {"task": self.task, "seed": self.seed}
            save_checkpoint(policy, self.ckpt_dir / layout.LAST, step, {**extra, "train_state": train_state})
            if no_val:  # nothing to rank by: the best checkpoint is the last one
                save_checkpoint(policy, self.ckpt_dir / layout.BEST, step, extra)
        self.saved_elapsed = elapsed

    def mark_done(self, steps: int) -> None:
        write_json(self.run_dir / layout.RUN_DONE, {
            "step": steps, "best_step": self.best_step, "best_val_loss": _finite_or_none(self.best_val_loss),
            "elapsed_s": self.saved_elapsed, "finished_at": time.time()})


# --- identity ------------------------------------------------------------------------------------
def run_record(task: str, prof: Profile, seed: int) -> dict[str, Any]:
    """What config.json says the run is (the full profile, for people to read); the policy is
    stored under "method", the name it had."""
    return {"task": task, "method": prof.policy, "seed": int(seed), "config": prof.to_dict()}


def check_run_dir(run_dir, task: str, policy: str, prof: Profile, seed: int, demos: dict | None = None) -> None:
    """Raise ActBenchError when run_dir already holds a different training: resuming or skipping
    is only right for the same task, policy, seed, training settings (train.steps may grow;
    the eval section does not change the weights) and demonstrations (`demos`, a
    provenance.demo_record: settings, episode count, content hash)."""
    old = layout.read_run_config(run_dir)
    if old is None:
        return
    _check_config(run_dir, old, task, policy, prof, seed)
    if demos is not None and isinstance(old.get("data"), dict):
        diff = _demo_difference(old["data"], demos)
        if diff:
            raise ActBenchError(f"{run_dir} was trained on other demos ({diff}); use --fresh to replace it "
                                "or another --out")


def _demo_difference(data: dict, demos: dict) -> str | None:
    from act_bench.data.provenance import identity, legacy_difference, short

    if "demos" not in data:  # trained before demo hashes were recorded
        return legacy_difference(data, demos)
    old, new = identity(data["demos"]), identity(demos)
    if old["settings"] != new["settings"]:
        return _first_difference(old["settings"] or {}, new["settings"] or {}, "demos.settings.")
    if old["episodes"] != new["episodes"]:
        return f"demos.episodes: {old['episodes']!r} there, {new['episodes']!r} here"
    if old["content_hash"] != new["content_hash"]:
        return f"demos.content_hash: {short(old['content_hash'])} there, {short(new['content_hash'])} here"
    return None


def _check_config(run_dir, old: dict, task: str, policy: str, prof: Profile, seed: int) -> None:
    new_id = {"task": task, "method": policy, "seed": int(seed), "config": prof.training_identity()}
    old_id = {k: old.get(k) for k in new_id}
    try:  # fields added since that run was made take their defaults
        old_id["config"] = Profile.from_dict(old_id["config"]).training_identity()
    except (TypeError, ValueError, KeyError, AttributeError, ActBenchError):
        pass  # unreadable: compared as is, so it shows up as a difference
    if old_id != new_id:
        diff = _first_difference(old_id, new_id)
        raise ActBenchError(f"{run_dir} holds a different run ({diff}); use --fresh to replace it or another --out")


def _first_difference(a: Any, b: Any, prefix: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
    return f"{prefix.rstrip('.')}: {a!r} there, {b!r} here"


# --- files ---------------------------------------------------------------------------------------
def _read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []

    read_metrics(path)  # a damaged table is refused in one line, not resumed from
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _write_metrics(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    write_text(path, buf.getvalue())


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state().tolist(), "numpy": rng.bit_generator.state}
    if torch.cuda.is_available():
        state["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return state


def _set_rng_state(state: Mapping[str, Any]) -> np.random.Generator:
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])
    rng = np.random.default_rng()
    rng.bit_generator.state = state["numpy"]
    return rng
