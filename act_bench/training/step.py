"""One optimisation step of a training: the optimizer, mixed precision (bf16 autocast, or bf16
weight copies), the step itself and the validation loss (train.py runs them in its loop)."""
from __future__ import annotations

import contextlib
import sys
from typing import Mapping

import numpy as np
import torch

from act_bench.data.dataset import ChunkDataset, batch_to_torch
from act_bench.policies.base import Policy
from act_bench.policies.config import TrainConfig
from act_bench.runtime import machine
from act_bench.training.bf16_weights import Bf16Weights


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


def autocast_context(device: torch.device, amp: str):
    """bf16 autocast on CUDA, and on the CPU too (oneDNN uses AVX-512 BF16 or AMX where the CPU
    has them; elsewhere bf16 is emulated and slower than fp32, so we say so)."""
    if amp == "bf16":
        if device.type == "cpu" and machine.native_bf16() is False:
            print("warning: train.amp=bf16 on a CPU without native bf16 (no avx512_bf16 / amx_bf16): torch "
                  "emulates it, slower than fp32 here; --set train.amp=none trains in fp32 (other numbers than "
                  "the reference's)", file=sys.stderr)
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


def train_step(policy: Policy, optimizer: torch.optim.Optimizer, batch: Mapping[str, torch.Tensor],
               grad_clip: float, autocast=contextlib.nullcontext,
               weights: Bf16Weights | None = None) -> dict[str, torch.Tensor]:
    """One optimisation step; returns the detached metrics (no host sync). With `weights`
    (bf16 training) the forward runs on their bf16 copies, refreshed after the update."""
    with autocast(), (weights.swapped() if weights is not None else contextlib.nullcontext()):
        loss, metrics = policy.compute_loss(batch)
    optimizer.zero_grad(set_to_none=True)
    if weights is not None:
        weights.zero_grad()
    loss.backward()
    if weights is not None:
        weights.grads_to_masters()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(policy.parameters(), grad_clip)
    optimizer.step()
    if weights is not None:
        weights.refresh()
    policy.after_optimizer_step()  # e.g. an EMA of the (fp32) weights
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
