"""`act-bench train`: train one policy on a folder of demonstrations.

A run dir holds config.json, metrics.csv, checkpoints/{best,last}.{safetensors,json} (plus
last_state.safetensors: the optimizer) and done.json once finished. Rerunning the same command
resumes from the last checkpoint (weights, optimizer and RNG state, so a resumed CPU run is
bit-identical to an uninterrupted one) and returns at once when the run is complete.
"""
from __future__ import annotations

import argparse
import contextlib
import shutil
from pathlib import Path
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from act_bench import finite_guard, folder_lock, interrupts, layout, machine, out_of_memory
from act_bench.atomic_io import remove_stale_temps, write_json
from act_bench.bf16_weights import Bf16Weights
from act_bench.train_step import autocast_context, train_step  # noqa: F401  (re-exported)
from act_bench.data.dataset import ChunkDataset, DataSpec, batch_to_torch, load_training_data
from act_bench.data.provenance import demo_record
from act_bench.device import DEVICES, resolve_device
from act_bench.errors import ActBenchError
from act_bench.policies.base import Policy
from act_bench.policies.checkpoint import versions
from act_bench.policies.config import Profile, TrainConfig, apply_overrides, load_profile
from act_bench.policies.registry import build_policy, policy_names
from act_bench.tasks.registry import get_task, task_names
from act_bench.threads import run_threads, torch_threads
from act_bench.train_state import RunState, Window, check_run_dir, run_record

__all__ = ["add_arguments", "main", "train_policy", "TrainOptions", "load_profile", "train_step"]

_RUN_FILES = (layout.RUN_CONFIG, layout.RUN_METRICS, layout.RUN_DONE, layout.RUN_CHECKPOINTS, finite_guard.MARKER)


def metric_columns(loss_terms) -> list[str]:
    """metrics.csv columns for a policy's loss terms ("loss" is logged as train_loss)."""
    train = ["train_loss" if t == "loss" else t for t in loss_terms]
    return ["step", *train, *(f"val_{t}" for t in loss_terms), "lr", "steps_per_s", "elapsed_s"]


# --- CLI ------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, choices=task_names())
    # --method: the name this flag had (it always took a policy)
    parser.add_argument("--policy", "--method", dest="policy", required=True, choices=policy_names(),
                        help="the policy to train (--method is the older name of this flag)")
    parser.add_argument("--profile", default="cpu", help="size profile in baselines/{policy}/ (default: cpu)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None,
                        help="demo folder (default: demos/TASK_HxW_CAMERAS for the profile's data settings)")
    parser.add_argument("--out", default=None, help="run dir (default: runs/{task}/{policy}/{profile}/seed{S})")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--resume", dest="resume", action="store_true", default=True,
                       help="continue from the last checkpoint if there is one (default)")
    group.add_argument("--fresh", dest="resume", action="store_false",
                       help="delete the run dir's results and start over")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile field, e.g. --set train.steps=2000 (repeatable)")
    parser.add_argument("--episodes", type=int, default=None,
                        help="train on the first N episodes of the demo folder (default: data.max_episodes, or all)")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.add_argument("--tensorboard", metavar="DIR", default=None,
                        help="also write metrics.csv's scalars as TensorBoard events into DIR (default: none; needs "
                             "the tensorboard package)")


def main(args: argparse.Namespace) -> int:
    from act_bench.tensorboard_log import TensorBoardScalars

    scalars = TensorBoardScalars(args.tensorboard) if getattr(args, "tensorboard", None) else None
    try:
        run_dir = train_policy(args.task, args.policy, args.profile, args.seed,
                               TrainOptions(data_dir=args.data, out_dir=args.out, overrides=args.overrides,
                                            resume=args.resume, progress=args.progress, device=args.device,
                                            episodes=args.episodes, callback=scalars))
    finally:
        if scalars is not None:
            scalars.close()
    print(f"trained {args.policy} on {args.task}: {run_dir}")
    return 0


# --- one step -----------------------------------------------------------------------------------
def make_optimizer(policy: Policy, cfg: TrainConfig) -> torch.optim.AdamW:
    backbone = {id(p) for p in policy.backbone_parameters()}
    rest = [p for p in policy.parameters() if id(p) not in backbone]
    groups = [{"params": rest, "lr": cfg.lr}]
    if backbone:
        groups.append({"params": policy.backbone_parameters(), "lr": cfg.lr_backbone or cfg.lr})
    # fused: one kernel for every tensor (the per-tensor loop cost milliseconds a step on a CPU)
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)


def resolve_amp(amp: str, device: torch.device) -> str:
    """train.amp as run: "auto" is "bf16" where the device computes bf16 natively (a CUDA GPU
    that supports it; a CPU with AVX-512 BF16, AMX or ARM BF16), else "none" (emulated bf16 is
    much slower than fp32: results/bench/train_speedups.csv, README Performance)."""
    if amp != "auto":
        return amp
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "none"
    return "bf16" if device.type == "cpu" and machine.native_bf16() else "none"


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
@dataclass(frozen=True)
class TrainOptions:
    """How to train (not what: that is the task, policy, profile and seed).

    data_dir: the demo folder (default: demos/ for the profile's data settings); out_dir: the
    run dir (default: layout.run_dir); episodes: train on the first N demos (default:
    data.max_episodes, or all); resume=False deletes the run dir's results first;
    callback(step, row) runs after every step (row is the metrics row when one was logged)."""

    data_dir: str | Path | None = None
    out_dir: str | Path | None = None
    overrides: Mapping[str, Any] | Sequence[str] | None = None
    resume: bool = True
    progress: bool = True
    device: str | torch.device = "auto"
    episodes: int | None = None
    callback: Callable[[int, dict[str, float] | None], None] | None = None


@dataclass(frozen=True)
class _Run:
    """One training's settled facts, handed from train_policy to the loop."""

    task: str
    prof: Profile
    seed: int
    data_dir: Path
    run_dir: Path
    dev: torch.device
    demos: dict
    threads: int
    amp: str
    options: TrainOptions


def train_policy(task: str, policy: str, profile: str | Profile, seed: int,
                 options: TrainOptions | None = None) -> Path:
    """Train (or resume, or skip if complete) one policy; returns the run dir.

    profile is a profile name (baselines/{policy}/{profile}.toml) or a ready Profile."""
    opts = options or TrainOptions()
    get_task(task)
    if isinstance(profile, Profile):
        prof = apply_overrides(profile, opts.overrides)
    else:
        prof = load_profile(policy, profile, opts.overrides)
    if prof.policy != policy:
        raise ActBenchError(f"profile is for policy {prof.policy!r}, not {policy!r}")
    data_dir = Path(opts.data_dir) if opts.data_dir is not None else _default_demos(task, prof)
    if opts.episodes is not None and opts.episodes < 1:
        raise ActBenchError(f"--episodes must be >= 1, got {opts.episodes}")
    demos = demo_record(data_dir, opts.episodes or prof.data.max_episodes or None)  # before --fresh deletes anything
    style = (demos["settings"] or {}).get("style", "scripted")  # human-like demos: a run folder of their own
    run_dir = (Path(opts.out_dir) if opts.out_dir is not None
               else layout.run_dir(task, policy, prof.profile, seed, style=style))
    dev = resolve_device(opts.device)
    with folder_lock.hold(run_dir), interrupts.stage(f"train {run_dir}"):  # one writer per run folder
        return _train_locked(_Run(task, prof, seed, data_dir, run_dir, dev, demos, 0, "", opts))


def _train_locked(r: _Run) -> Path:
    """train_policy once the run folder is this process's: threads and amp settled here."""
    task, prof, seed, run_dir, dev, opts = r.task, r.prof, r.seed, r.run_dir, r.dev, r.options
    if not opts.resume:
        for name in _RUN_FILES:
            target = run_dir / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    check_run_dir(run_dir, task, prof.policy, prof, seed, r.demos)
    finite_guard.refuse_diverged(run_dir)  # rerunning a diverged training would diverge again
    for folder in (run_dir, run_dir / layout.RUN_CHECKPOINTS):  # what a kill -9 left half-written
        remove_stale_temps(folder)
    done = layout.read_json_record(run_dir / layout.RUN_DONE)
    if done is not None and done.get("step", 0) >= prof.train.steps:
        if opts.progress:
            print(f"{run_dir}: already trained ({done['step']} steps); skipping")
        return run_dir
    # the thread count changes the weights (threads.py): a run keeps the one it started with;
    # a new one takes train.num_threads, else the cores this job was given (on a GPU too: its data path)
    threads = run_threads(run_dir, prof.train.num_threads)
    # likewise the precision train.amp="auto" chose when the run started
    amp = (layout.read_run_config(run_dir) or {}).get("amp") or resolve_amp(prof.train.amp, dev)
    with torch_threads(threads):
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True
            # fp32 means fp32, as on the CPU: TF32 would round convolutions to 10-bit mantissas
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        _run_training(replace(r, threads=threads, amp=amp))
    return run_dir


def _default_demos(task: str, prof: Profile) -> Path:
    """Where `generate-demos` and `run` put demos of this profile's data settings."""
    h, w = prof.data.image_size
    data_dir = layout.demo_dir(task, (h, w), prof.data.cameras)
    if not data_dir.is_dir():
        raise ActBenchError(f"no demos in {data_dir}; record them with `act-bench generate-demos --task {task} "
                            f"--image-size {h}x{w} --cameras {','.join(prof.data.cameras)}` or pass --data")
    return data_dir


def _run_training(r: _Run) -> None:
    prof, d = r.prof, r.prof.data
    spec = DataSpec(d.cameras, d.image_size, prof.model.chunk_size, d.val_fraction, r.seed, r.demos["episodes"],
                    r.task, prof.model.state_dim, prof.model.action_dim, prof.model.observation_steps())
    data = load_training_data(r.data_dir, spec, r.options.progress, r.demos["episode_hashes"])
    torch.manual_seed(r.seed)
    policy = build_policy(prof, data.stats).to(r.dev)
    optimizer = make_optimizer(policy, prof.train)
    run = RunState(r.run_dir, r.task, r.seed, metric_columns(policy.loss_terms), np.random.default_rng(r.seed))
    if r.options.resume:
        run.restore(policy, optimizer)
    r.run_dir.mkdir(parents=True, exist_ok=True)
    write_json(r.run_dir / layout.RUN_CONFIG, {**run_record(r.task, prof, r.seed),
                                               "data": {**data.info, "demos": r.demos}, "threads": r.threads,
                                               "amp": r.amp, "device": str(r.dev), "machine": machine.cpu(),
                                               "versions": versions()})
    try:
        _loop(policy, optimizer, data, run, r)
    except finite_guard.TrainingDiverged as exc:  # the last good checkpoint stays, no done.json
        finite_guard.mark(r.run_dir, exc)
        raise
    run.mark_done(prof.train.steps)


def _loop(policy: Policy, optimizer, data, run: "RunState", r: _Run) -> None:
    """Train from run.step to cfg.steps: log every log_every, validate (and keep the best
    checkpoint) every val_every, save the resumable last checkpoint every checkpoint_every."""
    cfg, dev, progress, callback = r.prof.train, r.dev, r.options.progress, r.options.callback
    autocast = autocast_context(dev, r.amp)
    weights = Bf16Weights(policy) if r.amp == "bf16" else None  # after restore: copies of the restored weights
    val_batches = _validation_batches(data.val, cfg, run.seed)
    policy.train()
    bar = _progress_bar(cfg.steps, run.step, f"{policy.name} {run.task} seed{run.seed}", progress)
    window = Window(run.window)
    guard = finite_guard.FiniteGuard(dev)
    step = run.step + 1
    try:
        with _out_of_memory_explained(cfg, dev, run, lambda: step):
            for step in range(run.step + 1, cfg.steps + 1):
                batch = batch_to_torch(data.train.sample(run.rng, cfg.batch_size), dev)
                metrics = train_step(policy, optimizer, batch, cfg.grad_clip, autocast, weights)
                guard.observe(step, metrics["loss"])
                window.add(metrics)
                last = step == cfg.steps
                row = None
                if step % cfg.log_every == 0 or step % cfg.val_every == 0 or last:
                    guard.check(run.step, step)
                    row = {"step": step, **window.row(), "lr": cfg.lr, "elapsed_s": run.elapsed()}
                    window = Window()
                    if (step % cfg.val_every == 0 or last) and val_batches:
                        val = validation_loss(policy, data.val, val_batches, dev, autocast)
                        row.update({f"val_{k}": v for k, v in val.items()})
                        run.offer_best(policy, step, val["loss"])
                    run.rows.append(row)
                    if bar is not None:
                        bar.set_postfix(loss=f"{row['train_loss']:.4f}", val=_fmt(row.get("val_loss")),
                                        refresh=False)
                if step % cfg.checkpoint_every == 0 or last:
                    guard.check(run.step, step, policy.parameters())
                    with interrupts.deferred():  # the checkpoint and its metrics rows land together
                        run.save(policy, optimizer, step, window, no_val=not val_batches)
                interrupts.note(f"after step {step} of {cfg.steps} (it resumes from step {run.step})")
                if bar is not None:
                    bar.update(1)
                if callback is not None:
                    callback(step, row)
    finally:
        if bar is not None:
            bar.close()


def _out_of_memory_explained(cfg: TrainConfig, dev: torch.device, run: "RunState", step: Callable[[], int]):
    """One line for a step that runs out of memory; the run stays resumable from its last checkpoint."""
    return out_of_memory.explained(
        lambda: f"at training step {step()} (train.batch_size={cfg.batch_size}, on {dev})",
        "train.batch_size: --set train.batch_size=N, with --fresh or another --out (it is part of the run)",
        lambda: f"or free memory and rerun the same command to resume from step {run.step}")


def _validation_batches(val: ChunkDataset | None, cfg: TrainConfig, seed: int) -> list[np.ndarray]:
    """Fixed indices (same every evaluation), drawn from their own stream: validating never
    changes the training sample sequence."""
    if val is None or len(val) == 0:
        return []
    vrng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xA11]))
    return [val.sample_indices(vrng, cfg.batch_size) for _ in range(cfg.val_batches)]


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else "-"


def _progress_bar(total: int, initial: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True, mininterval=1.0)
