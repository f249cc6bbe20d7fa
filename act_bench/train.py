"""`act-bench train`: train one policy on a folder of demonstrations.

A run dir holds config.json, metrics.csv, checkpoints/{best,last}.{safetensors,json} (plus
last_state.safetensors: the optimizer) and done.json once finished. Rerunning the same command
resumes from the last checkpoint (weights, optimizer and RNG state, so a resumed CPU run is
bit-identical to an uninterrupted one) and returns at once when the run is complete.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from act_bench.atomic_io import write_json, write_text
from act_bench.config import TASKS
from act_bench.data.dataset import ChunkDataset, batch_to_torch, load_training_data
from act_bench.errors import ActBenchError, CheckpointError
from act_bench.executors import available_cores
from act_bench.policies.base import Policy
from act_bench.policies.checkpoint import (load_state_strict, optimizer_state_from_tensors,
                                           optimizer_state_to_tensors, read_checkpoint_meta, read_tensors,
                                           save_checkpoint, save_tensors, versions)
from act_bench.policies.config import METHODS, Profile, TrainConfig, apply_overrides, load_profile
from act_bench.policies.registry import build_policy
from act_bench.scripted.generate import demo_dir_name

__all__ = ["add_arguments", "main", "train_policy", "load_profile", "default_run_dir", "train_step"]

METRIC_COLUMNS = ("step", "train_loss", "l1", "kl", "val_loss", "val_l1", "val_kl", "lr", "steps_per_s",
                  "elapsed_s")
_RUN_FILES = ("config.json", "metrics.csv", "done.json", "checkpoints")


# --- CLI ------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, choices=TASKS)
    parser.add_argument("--method", required=True, choices=METHODS)
    parser.add_argument("--profile", default="cpu", help="size profile in baselines/{method}/ (default: cpu)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None,
                        help="demo folder (default: demos/TASK_HxW_CAMERAS for the profile's data settings)")
    parser.add_argument("--out", default=None, help="run dir (default: runs/{task}/{method}/{profile}/seed{S})")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--resume", dest="resume", action="store_true", default=True,
                       help="continue from the last checkpoint if there is one (default)")
    group.add_argument("--fresh", dest="resume", action="store_false",
                       help="delete the run dir's results and start over")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile field, e.g. --set train.steps=2000 (repeatable)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    run_dir = train_policy(args.task, args.method, args.profile, args.seed, args.data, args.out,
                           overrides=args.overrides, resume=args.resume, progress=args.progress,
                           device=args.device)
    print(f"trained {args.method} on {args.task}: {run_dir}")
    return 0


def default_run_dir(task: str, method: str, profile: str, seed: int) -> Path:
    return Path("runs") / task / method / profile / f"seed{seed}"


# --- one step -----------------------------------------------------------------------------------
def make_optimizer(policy: Policy, cfg: TrainConfig) -> torch.optim.AdamW:
    backbone = {id(p) for p in policy.backbone_parameters()}
    rest = [p for p in policy.parameters() if id(p) not in backbone]
    groups = [{"params": rest, "lr": cfg.lr}]
    if backbone:
        groups.append({"params": policy.backbone_parameters(), "lr": cfg.lr_backbone or cfg.lr})
    # fused: one kernel for every tensor (the per-tensor loop cost ~4 ms a step on 2 cores)
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)


def autocast_context(device: torch.device, amp: str):
    if amp == "bf16" and device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def train_step(policy: Policy, optimizer: torch.optim.Optimizer, batch: Mapping[str, torch.Tensor],
               grad_clip: float, autocast=contextlib.nullcontext) -> dict[str, torch.Tensor]:
    """One optimisation step; returns the detached metrics (no host sync)."""
    with autocast():
        loss, metrics = policy.compute_loss(batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(policy.parameters(), grad_clip)
    optimizer.step()
    return metrics


@torch.no_grad()
def validation_loss(policy: Policy, dataset: ChunkDataset, batches: list[np.ndarray], device: torch.device,
                    autocast=contextlib.nullcontext) -> dict[str, float]:
    """Mean loss over fixed batches, in eval mode (no dropout; ACT uses the posterior mean)."""
    was_training = policy.training
    policy.eval()
    totals: dict[str, float] = {}
    for idx in batches:
        with autocast():
            _, metrics = policy.compute_loss(batch_to_torch(dataset.get_batch(idx), device))
        for k, v in metrics.items():
            totals[k] = totals.get(k, 0.0) + float(v)
    policy.train(was_training)
    return {k: v / len(batches) for k, v in totals.items()}


# --- the run ----------------------------------------------------------------------------------------
def resolve_device(device: str | torch.device) -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ActBenchError("--device cuda asked for but torch sees no CUDA device")
    return dev


def train_policy(task: str, method: str, profile: str | Profile, seed: int, data_dir=None, out_dir=None,
                 overrides: Mapping[str, Any] | list[str] | None = None, resume: bool = True,
                 progress: bool = True, device: str | torch.device = "auto",
                 callback: Callable[[int, dict[str, float] | None], None] | None = None) -> Path:
    """Train (or resume, or skip if complete) one policy; returns the run dir.

    profile is a profile name (baselines/{method}/{profile}.toml) or a ready Profile.
    callback(step, row) runs after every step (row is the metrics row when one was logged)."""
    if task not in TASKS:
        raise ActBenchError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    if isinstance(profile, Profile):
        prof = apply_overrides(profile, overrides)
    else:
        prof = load_profile(method, profile, overrides)
    if prof.method != method:
        raise ActBenchError(f"profile is for method {prof.method!r}, not {method!r}")
    if data_dir is None:  # where `generate-demos` and `run` put demos of this profile's settings
        h, w = prof.data.image_size
        data_dir = Path("demos") / demo_dir_name(task, (h, w), prof.data.cameras)
        if not data_dir.is_dir():
            raise ActBenchError(f"no demos in {data_dir}; record them with `act-bench generate-demos --task {task} "
                                f"--image-size {h}x{w} --cameras {','.join(prof.data.cameras)}` or pass --data")
    data_dir = Path(data_dir)
    run_dir = Path(out_dir) if out_dir is not None else default_run_dir(task, method, prof.profile, seed)
    dev = resolve_device(device)
    identity = _identity(task, method, prof, seed)
    if not resume:
        for name in _RUN_FILES:
            target = run_dir / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    _check_same_run(run_dir, identity)
    done = _read_json(run_dir / "done.json")
    if done is not None and done.get("step", 0) >= prof.train.steps:
        if progress:
            print(f"{run_dir}: already trained ({done['step']} steps); skipping")
        return run_dir

    (run_dir / "done.json").unlink(missing_ok=True)  # training more steps: not done any more
    threads = torch.get_num_threads()
    try:
        if dev.type == "cpu":
            torch.set_num_threads(prof.train.num_threads or available_cores())
        else:
            torch.backends.cudnn.benchmark = True
        _run_training(task, method, prof, seed, data_dir, run_dir, identity, dev, resume, progress, callback)
    finally:
        torch.set_num_threads(threads)  # callers (act-bench run, tests) keep their own setting
    return run_dir


def _run_training(task: str, method: str, prof: Profile, seed: int, data_dir: Path, run_dir: Path,
                  identity: dict[str, Any], dev: torch.device, resume: bool, progress: bool, callback) -> None:
    data = load_training_data(data_dir, prof.data.cameras, prof.data.image_size, prof.model.chunk_size,
                              prof.data.val_fraction, seed, prof.data.max_episodes, task,
                              prof.model.state_dim, prof.model.action_dim, progress)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    policy = build_policy(prof, data.stats).to(dev)
    optimizer = make_optimizer(policy, prof.train)
    autocast = autocast_context(dev, prof.train.amp)
    val_batches = _validation_batches(data.val, prof.train, seed)

    state = {"step": 0, "elapsed_s": 0.0, "best_val_loss": math.inf, "best_step": None}
    rows: list[dict[str, Any]] = []
    ckpt_dir = run_dir / "checkpoints"
    if resume and (ckpt_dir / "last.json").is_file():
        state, rng = _restore(ckpt_dir, policy, optimizer)
        rows = [r for r in _read_metrics(run_dir / "metrics.csv") if int(r["step"]) <= state["step"]]
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", {**identity, "data": data.info, "device": str(dev),
                                         "versions": versions()})

    cfg = prof.train
    policy.train()
    bar = _progress_bar(cfg.steps, state["step"], f"{method} {task} seed{seed}", progress)
    window = _Window(state.get("window"))
    elapsed0, run_start = state["elapsed_s"], time.perf_counter()
    try:
        for step in range(state["step"] + 1, cfg.steps + 1):
            batch = batch_to_torch(data.train.sample(rng, cfg.batch_size), dev)
            window.add(train_step(policy, optimizer, batch, cfg.grad_clip, autocast))
            last = step == cfg.steps
            row = None
            if step % cfg.log_every == 0 or step % cfg.val_every == 0 or last:
                row = {"step": step, **window.row(), "val_loss": "", "val_l1": "", "val_kl": "", "lr": cfg.lr,
                       "elapsed_s": elapsed0 + time.perf_counter() - run_start}
                window = _Window()
                if (step % cfg.val_every == 0 or last) and val_batches:
                    val = validation_loss(policy, data.val, val_batches, dev, autocast)
                    row.update(val_loss=val["loss"], val_l1=val["l1"], val_kl=val["kl"])
                    if val["loss"] < state["best_val_loss"]:
                        state["best_val_loss"], state["best_step"] = val["loss"], step
                        save_checkpoint(policy, ckpt_dir / "best", step,
                                        {"val_loss": val["loss"], "task": task, "seed": seed})
                rows.append(row)
                if bar is not None:
                    bar.set_postfix(loss=f"{row['train_loss']:.4f}", val=_fmt(row["val_loss"]), refresh=False)
            if step % cfg.checkpoint_every == 0 or last:
                state.update(step=step, elapsed_s=elapsed0 + time.perf_counter() - run_start, window=window.state())
                _save_last(ckpt_dir, policy, optimizer, rng, state, task, seed, no_val=not val_batches)
                _write_metrics(run_dir / "metrics.csv", rows)
            if bar is not None:
                bar.update(1)
            if callback is not None:
                callback(step, row)
    finally:
        if bar is not None:
            bar.close()
    write_json(run_dir / "done.json", {"step": cfg.steps, "best_step": state["best_step"],
                                       "best_val_loss": _finite_or_none(state["best_val_loss"]),
                                       "elapsed_s": state["elapsed_s"], "finished_at": time.time()})


# --- helpers -----------------------------------------------------------------------------------
class _Window:
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
        n = max(self.n, 1)
        return {"train_loss": float(self.sums["loss"]) / n, "l1": float(self.sums["l1"]) / n,
                "kl": float(self.sums["kl"]) / n, "steps_per_s": self.timed / max(time.perf_counter() - self.t0, 1e-9)}

    def state(self) -> dict[str, Any]:
        return {"sums": {k: float(v) for k, v in self.sums.items()}, "n": self.n}


def _validation_batches(val: ChunkDataset | None, cfg: TrainConfig, seed: int) -> list[np.ndarray]:
    """Fixed indices (same every evaluation), drawn from their own stream: validating never
    changes the training sample sequence."""
    if val is None or len(val) == 0:
        return []
    vrng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xA11]))
    return [val.sample_indices(vrng, cfg.batch_size) for _ in range(cfg.val_batches)]


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


def _save_last(ckpt_dir: Path, policy: Policy, optimizer: torch.optim.Optimizer, rng: np.random.Generator,
               state: dict[str, Any], task: str, seed: int, no_val: bool) -> None:
    tensors, opt_meta = optimizer_state_to_tensors(optimizer.state_dict())
    opt_sha = save_tensors(ckpt_dir / "last_state.safetensors", tensors)
    train_state = {"optimizer_file": "last_state.safetensors", "optimizer_sha256": opt_sha,
                   "optimizer": opt_meta, "rng": _rng_state(rng), "elapsed_s": state["elapsed_s"],
                   "best_val_loss": _finite_or_none(state["best_val_loss"]), "best_step": state["best_step"],
                   "window": state.get("window")}
    save_checkpoint(policy, ckpt_dir / "last", state["step"], {"task": task, "seed": seed, "train_state": train_state})
    if no_val:  # nothing to rank by: the best checkpoint is the last one
        save_checkpoint(policy, ckpt_dir / "best", state["step"], {"task": task, "seed": seed})


def _restore(ckpt_dir: Path, policy: Policy, optimizer: torch.optim.Optimizer):
    json_path, meta = read_checkpoint_meta(ckpt_dir / "last.json")
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
    rng = _set_rng_state(ts["rng"])
    best = ts.get("best_val_loss")
    state = {"step": int(meta["step"]), "elapsed_s": float(ts.get("elapsed_s", 0.0)),
             "best_val_loss": math.inf if best is None else float(best), "best_step": ts.get("best_step"),
             "window": ts.get("window")}
    return state, rng


def check_run_dir(run_dir, task: str, method: str, prof: Profile, seed: int) -> None:
    """Raise ActBenchError when run_dir already holds a different training (another config, say),
    so `act-bench run` never skips or reuses a stale model."""
    _check_same_run(Path(run_dir), _identity(task, method, prof, seed))


def _identity(task: str, method: str, prof: Profile, seed: int) -> dict[str, Any]:
    """What makes two trainings the same run (kept in config.json)."""
    return {"task": task, "method": method, "seed": int(seed), "config": prof.to_dict()}


def _check_same_run(run_dir: Path, identity: dict[str, Any]) -> None:
    """Resuming or skipping is only right for the same task/method/seed/config (train.steps may grow)."""
    old = _read_json(run_dir / "config.json")
    if old is None:
        return
    old_id = {k: old.get(k) for k in identity}
    if isinstance(old_id.get("config"), dict):
        try:  # fields added since that run was made take their defaults
            old_id["config"] = Profile.from_dict(old_id["config"]).to_dict()
        except (TypeError, ValueError, KeyError, ActBenchError):
            pass  # unreadable: compared as is, so it shows up as a difference
    new_id = json.loads(json.dumps(identity))
    for d in (old_id, new_id):
        if isinstance(d.get("config"), dict):
            d["config"] = {**d["config"], "train": {k: v for k, v in d["config"].get("train", {}).items()
                                                    if k != "steps"}}
    if old_id != new_id:
        diff = _first_difference(old_id, new_id)
        raise ActBenchError(f"{run_dir} holds a different run ({diff}); use --fresh to replace it or another --out")


def _first_difference(a: Any, b: Any, prefix: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
    return f"{prefix.rstrip('.')}: {a!r} there, {b!r} here"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise ActBenchError(f"{path}: unreadable ({' '.join(str(exc).split())}); use --fresh") from None


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _write_metrics(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    write_text(path, buf.getvalue())


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else "-"


def _progress_bar(total: int, initial: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True, mininterval=1.0)
