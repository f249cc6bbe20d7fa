"""bf16 training with the weights kept in bf16 between steps.

Under torch.autocast every weight of a matrix product or convolution is cast to bf16 in each
forward and its gradient cast back in the backward: ~100 small casts each way per ACT step,
each with the dispatcher's and autograd's per-op cost. Here the forward runs on bf16 copies of
those weights, refreshed once per step after the optimizer's update (one foreach copy), and
their bf16 gradients become the fp32 weights' gradients in one foreach copy. The fp32 weights
stay the optimizer's (master weights) and what checkpoints hold; the values are autocast's (the
same rounding of the same fp32 weights), only the casts are batched.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

# the layers whose weights autocast casts to bf16 (matrix products and convolutions)
_CAST_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def cast_slots(policy: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, parameter name) of every weight autocast would cast: those of linear and conv
    layers, and any a module lists in `bf16_parameters` (weights it feeds to F.linear itself)."""
    slots = []
    for module in policy.modules():
        names = ("weight", "bias") if isinstance(module, _CAST_LAYERS) else getattr(module, "bf16_parameters", ())
        slots += [(module, n) for n in names if module._parameters.get(n) is not None]
    return slots


class Bf16Weights:
    """bf16 copies of a policy's cast weights: `swapped()` runs the forward on them,
    `grads_to_masters()` hands their gradients to the fp32 weights, `refresh()` re-copies."""

    def __init__(self, policy: nn.Module):
        self.slots = cast_slots(policy)
        self.masters = [m._parameters[n] for m, n in self.slots]
        self.copies = [p.detach().to(torch.bfloat16).requires_grad_() for p in self.masters]
        self._grads = [torch.empty_like(p) for p in self.masters]  # fp32 gradient buffers, reused

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        """The policy's layers use the bf16 copies inside (autograd keeps them for the backward)."""
        for (module, name), copy in zip(self.slots, self.copies):
            module._parameters[name] = copy
        try:
            yield
        finally:
            for (module, name), master in zip(self.slots, self.masters):
                module._parameters[name] = master

    def zero_grad(self) -> None:
        for copy in self.copies:
            copy.grad = None

    def grads_to_masters(self) -> None:
        """The fp32 weights' .grad from the copies' bf16 gradients (None where a copy got none)."""
        used = [i for i, c in enumerate(self.copies) if c.grad is not None]
        grads = [self._grads[i] for i in used]
        torch._foreach_copy_(grads, [self.copies[i].grad for i in used])
        for i, g in zip(used, grads):
            self.masters[i].grad = g

    @torch.no_grad()
    def refresh(self) -> None:
        """Re-copy the fp32 weights (after the optimizer changed them)."""
        torch._foreach_copy_(self.copies, self.masters)
