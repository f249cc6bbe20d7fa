"""One optimisation step, and the autocast it runs under (train.py's loop calls them; the
benchmarks time them alone)."""
from __future__ import annotations

import contextlib
import sys
from typing import Mapping

import torch

from act_bench import machine
from act_bench.bf16_weights import Bf16Weights
from act_bench.policies.base import Policy


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
