"""Single-step behaviour cloning (the ACT paper's BC-ConvMLP baseline).

The same image backbone as ACT; its feature map is squeezed to 32 channels by a 1x1 conv and
flattened (keeping where things are), concatenated over cameras with the proprio vector, and an
MLP predicts the next action only (chunk size 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from act_bench.data.normalization import NormStats
from act_bench.policies.backbones import build_backbone
from act_bench.policies.base import Policy, masked_error
from act_bench.policies.config import PolicyConfig, Profile
from act_bench.policies.registry import register_method, register_policy

_SQUEEZE_CHANNELS = 32


@dataclass
class BCConfig(PolicyConfig):
    """BC-ConvMLP's [model] section: one action per query."""

    chunk_size: int = 1
    mlp_hidden: int = 1024
    mlp_layers: int = 2

    def problems(self):
        return super().problems() + [
            (self.chunk_size == 1, "bc predicts one action: model.chunk_size must be 1"),
            (self.mlp_hidden >= 1 and self.mlp_layers >= 0, "model.mlp_hidden must be >= 1, mlp_layers >= 0"),
        ]


@register_policy("bc", BCConfig)
class BCPolicy(Policy):
    loss_terms = ("loss", "l1")

    def __init__(self, profile: Profile, stats: NormStats | None = None):
        super().__init__(profile, stats)
        m = profile.model
        self.backbone = build_backbone(m)
        self.squeeze = nn.Sequential(nn.Conv2d(self.backbone.out_channels, _SQUEEZE_CHANNELS, 1), nn.ReLU())
        with torch.no_grad():  # feature-map size at the policy's image size (no RNG is used)
            fh, fw = self.backbone(torch.zeros(1, 3, *self.image_size)).shape[-2:]
        width = len(self.camera_names) * _SQUEEZE_CHANNELS * fh * fw + m.state_dim
        layers: list[nn.Module] = []
        for _ in range(m.mlp_layers):
            layers += [nn.Linear(width, m.mlp_hidden), nn.ReLU()]  # no dropout, as released
            width = m.mlp_hidden
        layers.append(nn.Linear(width, m.action_dim))
        self.mlp = nn.Sequential(*layers)
        self.loss_kind = m.loss

    def forward(self, qpos_n: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        b = qpos_n.shape[0]
        feat = self.squeeze(self.backbone(self.prepare_images(images))).reshape(b, -1)
        return self.mlp(torch.cat([feat, qpos_n.to(feat.dtype)], dim=1))[:, None]

    def _predict(self, qpos_n: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        return self(qpos_n, images)

    def compute_loss(self, batch):
        qpos_n = self.normalize_qpos(batch["qpos"])
        target = self.normalize_actions(batch["actions"][:, :1])
        is_pad = batch["is_pad"][:, :1]
        pred = self(qpos_n, batch["images"]).float()
        l1 = masked_error(pred, target, is_pad, "l1")
        loss = l1 if self.loss_kind == "l1" else masked_error(pred, target, is_pad, "mse")
        return loss, {"loss": loss.detach(), "l1": l1.detach()}


register_method("bc", "bc", "single")
