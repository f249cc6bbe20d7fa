"""A method: behaviour cloning from the joint state alone (no images), one action per step.

A policy module has three parts: its typed [model] config, the Policy subclass (predict and
loss), and the registrations (the policy with its profiles folder, and each way to execute it).
"""
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from act_bench.policies import Policy, PolicyConfig, register_method, register_policy
from act_bench.policies.base import masked_error


@dataclass
class StateBCConfig(PolicyConfig):
    chunk_size: int = 1
    hidden: int = 256  # width of the two hidden layers

    def problems(self):
        return super().problems() + [(self.chunk_size == 1, "state-bc predicts one action: model.chunk_size must be 1"),
                                     (self.hidden >= 1, "model.hidden must be >= 1")]


@register_policy("state-bc", StateBCConfig, profiles_dir=Path(__file__).with_name("profiles"))
class StateBCPolicy(Policy):
    loss_terms = ("loss", "l1")

    def __init__(self, profile, stats=None):
        super().__init__(profile, stats)
        m = profile.model
        self.mlp = nn.Sequential(nn.Linear(m.state_dim, m.hidden), nn.ReLU(), nn.Linear(m.hidden, m.hidden),
                                 nn.ReLU(), nn.Linear(m.hidden, m.action_dim))

    def _predict(self, qpos_n: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        return self.mlp(qpos_n)[:, None]  # images are ignored: (B, 1, A)

    def compute_loss(self, batch):
        pred = self._predict(self.normalize_qpos(batch["qpos"]), batch["images"])
        target = self.normalize_actions(batch["actions"][:, :1])
        l1 = masked_error(pred, target, batch["is_pad"][:, :1], "l1")
        return l1, {"loss": l1.detach(), "l1": l1.detach()}


register_method("state-bc", "state-bc", "single")
