"""Exponential moving average of a network's weights, kept as buffers of a copy of it.

The copy's parameters become buffers: they are saved and restored with the policy's state
(checkpoints, and so a resumed training continues the same average bit for bit), the optimiser
never sees them, and the copy runs forward like the original. The decay warms up as in Chi et
al.'s release (EMAModel: power 0.75, inverse gamma 1, no decay for the first two updates).
"""
from __future__ import annotations

import copy

import torch
from torch import nn


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy of module whose parameters are buffers of the same names."""
    twin = copy.deepcopy(module)
    for sub in twin.modules():
        for name, param in list(sub._parameters.items()):
            del sub._parameters[name]
            if param is not None:
                sub.register_buffer(name, param.detach().clone())
    return twin


def ema_decay(step: torch.Tensor, power: float, max_decay: float) -> torch.Tensor:
    """The decay of update number `step` (1 for the first; a tensor, so no host sync): with
    s = step - 2, 0 while s <= 0 (the first two updates copy the model), then
    1 - (1 + s) ** -power, clamped to [0, max_decay]."""
    s = (step - 2).clamp_min(0).double()
    decay = (1.0 - (1.0 + s) ** -power).clamp(0.0, max_decay)
    return torch.where(s > 0, decay, torch.zeros_like(decay)).float()


@torch.no_grad()
def update_ema(average: nn.Module, model: nn.Module, decay: torch.Tensor) -> None:
    """average = decay * average + (1 - decay) * model, tensor by tensor (model's buffers are copied)."""
    target = dict(average.named_buffers())
    params = list(model.named_parameters())
    ema = [target[n] for n, _ in params]
    torch._foreach_mul_(ema, decay)
    torch._foreach_add_(ema, torch._foreach_mul([p.detach() for _, p in params], 1.0 - decay))
    for name, buf in model.named_buffers():
        target[name].copy_(buf)
