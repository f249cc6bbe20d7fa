"""The interface every policy shares: raw observations in, raw actions out.

Normalisation statistics live in buffers (so they travel in the weights file too) and images
are resized and normalised inside the policy, so callers pass what the environment gives.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from act_bench.data.normalization import NormStats
from act_bench.policies.config import Profile
from act_bench.policies.registry import get_policy

# ImageNet statistics, as in the ACT release (harmless when training from scratch).
_PIXEL_MEAN = (0.485, 0.456, 0.406)
_PIXEL_STD = (0.229, 0.224, 0.225)
_STAT_NAMES = ("qpos_mean", "qpos_std", "action_mean", "action_std")


class Policy(nn.Module):
    """Base class. Subclasses set `name` (via the registry) and implement
    `_predict(qpos_n, images) -> normalised actions (B, k, A)` and `compute_loss(batch)`."""

    name: ClassVar[str] = ""
    # the metrics compute_loss returns, "loss" first (training logs each, and val_ each)
    loss_terms: ClassVar[tuple[str, ...]] = ("loss",)

    def __init__(self, profile: Profile, stats: NormStats | None = None):
        super().__init__()
        m = profile.model
        self.profile = profile
        self.config = profile.to_dict()
        self.chunk_size = m.chunk_size
        self.camera_names = list(profile.data.cameras)
        self.image_size = (int(profile.data.image_size[0]), int(profile.data.image_size[1]))
        self.state_dim, self.action_dim = m.state_dim, m.action_dim
        self.obs_history = m.observation_steps()  # observations per query (evaluation.rollout)
        stats = stats or NormStats.identity(m.state_dim, m.action_dim)
        expected = (m.state_dim, m.state_dim, m.action_dim, m.action_dim)
        for name, dim in zip(_STAT_NAMES, expected):
            value = torch.tensor(np.asarray(getattr(stats, name), np.float32))  # a copy, not a view
            if value.shape != (dim,):
                raise ValueError(f"normalisation {name} has shape {tuple(value.shape)}, expected ({dim},)")
            self.register_buffer(name, value)
        # uint8 -> normalised float in one multiply-add
        std = torch.tensor(_PIXEL_STD)
        self.register_buffer("_pixel_scale", (1.0 / (255.0 * std)).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_pixel_shift", (-torch.tensor(_PIXEL_MEAN) / std).view(1, 3, 1, 1), persistent=False)

    # --- normalisation -------------------------------------------------------------------
    @property
    def stats(self) -> NormStats:
        return NormStats(*(getattr(self, n).detach().cpu().numpy().copy() for n in _STAT_NAMES))

    def normalize_qpos(self, qpos: torch.Tensor) -> torch.Tensor:
        return (qpos - self.qpos_mean) / self.qpos_std

    def normalize_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return (actions - self.action_mean) / self.action_std

    def unnormalize_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return actions * self.action_std + self.action_mean

    def prepare_images(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, n_cam, H, W, 3) -> float (B * n_cam, 3, h, w) at the policy's image size.
        The permute of an NHWC tensor is already channels_last: no copy before the float cast."""
        if images.dtype != torch.uint8:
            raise ValueError(f"images must be uint8, got {images.dtype}")
        if images.ndim != 5 or images.shape[1] != len(self.camera_names) or images.shape[-1] != 3:
            raise ValueError(f"images must have shape (B, {len(self.camera_names)}, H, W, 3), "
                             f"got {tuple(images.shape)}")
        if tuple(images.shape[2:4]) != self.image_size:
            from act_bench.data.dataset import resize_images  # same resize as the training data
            images = resize_images(images, self.image_size)
        b, n, h, w, _ = images.shape
        x = images.reshape(b * n, h, w, 3).permute(0, 3, 1, 2)
        return x.float() * self._pixel_scale + self._pixel_shift

    # --- inference ---------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.qpos_mean.device

    @torch.no_grad()
    def predict_chunk(self, qpos, images) -> torch.Tensor:
        """Raw qpos (B, S) and uint8 images (B, n_cam, H, W, 3) -> raw actions (B, k, A).
        A policy with obs_history n > 1 takes its last n observations, oldest first, on a time
        axis after the batch: qpos (B, n, S), images (B, n, n_cam, H, W, 3).
        Deterministic in eval mode (z = 0 for ACT; a diffusion policy seeds its noise per row)."""
        qpos = torch.as_tensor(qpos, dtype=torch.float32, device=self.device)
        images = torch.as_tensor(images, device=self.device)
        steps = () if self.obs_history == 1 else (self.obs_history,)
        if qpos.ndim != 2 + len(steps) or tuple(qpos.shape[1:]) != (*steps, self.state_dim):
            shape = ", ".join(["B", *map(str, steps), str(self.state_dim)])
            raise ValueError(f"qpos must have shape ({shape}), got {tuple(qpos.shape)}")
        if images.shape[0] != qpos.shape[0]:
            raise ValueError("qpos and images must have the same batch size")
        return self.unnormalize_actions(self._predict(self.normalize_qpos(qpos), images).float())

    def _predict(self, qpos_n: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # --- training ----------------------------------------------------------------------------
    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """batch: qpos (B, S) raw, images (B, n_cam, H, W, 3) uint8, actions (B, k, A) raw,
        is_pad (B, k) bool. Returns (loss, detached metrics: one per name in loss_terms)."""
        raise NotImplementedError

    def after_optimizer_step(self) -> None:
        """Called after every optimiser step (the diffusion policy updates its EMA weights here)."""

    def backbone_parameters(self) -> list[nn.Parameter]:
        backbone = getattr(self, "backbone", None)
        return list(backbone.parameters()) if backbone is not None else []


def masked_error(pred: torch.Tensor, target: torch.Tensor, is_pad: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Mean |pred - target| (or squared) over non-padded steps only (the release divided by every
    step, padded ones included, which shrinks the loss near episode ends)."""
    diff = pred - target
    err = diff.abs() if kind == "l1" else diff.square()
    valid = (~is_pad).unsqueeze(-1).to(err.dtype)
    return (err * valid).sum() / (valid.sum() * err.shape[-1]).clamp_min(1.0)


def build_policy(profile: Profile, stats: NormStats | None = None) -> Policy:
    """A freshly initialised policy for profile.policy (weights depend on torch's RNG state)."""
    return get_policy(profile.policy).policy_class(profile, stats)
