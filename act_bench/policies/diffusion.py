"""Diffusion Policy (Chi et al., RSS 2023), the CNN variant.

Observation: the last n_obs_steps frames and joint states (2 in the paper). Each frame goes
through the same image backbone as ACT's profile (random crop while training, centre crop at
inference), then a spatial softmax (K keypoints) and a linear layer + ReLU; the features of
every camera and step and the normalised joint states form the global condition.

Actions: a sequence of `horizon` = chunk_size + n_obs_steps - 1 normalised actions starting
at the oldest observation's step is denoised by a 1-D temporal U-Net conditioned by FiLM
(diffusion_unet.py). Training: DDPM, train_timesteps noise levels, squared-cosine betas, the
network predicts the noise (MSE on non-padded steps). Inference: `sampler` (DDIM or DDPM) in
inference_steps steps with the EMA weights; a query returns the chunk_size actions from the
current step on, of which the evaluation runs eval.n_action_steps (8 in the paper).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from act_bench.data.normalization import NormStats
from act_bench.policies.backbones import build_backbone
from act_bench.policies.base import Policy, masked_error
from act_bench.policies.config import PolicyConfig, Profile
from act_bench.policies.diffusion_ema import ema_decay, frozen_copy, update_ema
from act_bench.policies.diffusion_noise import BETA_SCHEDULES, SAMPLERS, make_scheduler, row_generators, sample
from act_bench.policies.diffusion_unet import ConditionalUnet1D, SpatialSoftmax
from act_bench.policies.registry import register_method, register_policy

_VALIDATION_SEED = 0x0D1FF  # validation draws its noise and noise levels from this fixed stream


@dataclass
class DiffusionConfig(PolicyConfig):
    """Diffusion Policy's [model] section (the paper's sizes are in baselines/diffusion/paper.toml)."""

    chunk_size: int = 15  # actions per query from the current step on: horizon 16 with 2 observations
    n_obs_steps: int = 2  # observations per query: the current one and n_obs_steps - 1 before it
    down_dims: tuple[int, ...] = (512, 1024, 2048)  # U-Net channels per level
    kernel_size: int = 5  # U-Net temporal convolutions
    n_groups: int = 8  # GroupNorm groups in the U-Net
    step_embed_dim: int = 128  # the denoising step's sinusoidal embedding
    keypoints: int = 32  # spatial-softmax keypoints per image: 2 * keypoints features
    crop_fraction: float = 0.875  # random crop of each side while training (84 of 96 in the paper); 1 = none
    train_timesteps: int = 100  # DDPM noise levels
    beta_schedule: str = "squaredcos_cap_v2"
    sampler: str = "ddim"  # "ddim" or "ddpm"
    inference_steps: int = 10  # denoising steps per query
    # clip the predicted clean actions to [-c, c] while sampling; 0 = no clip. The paper clips at 1,
    # the edge of its min-max-scaled actions; actions here are z-scored as for every policy, and
    # about 30% of the demos' normalised values lie outside [-1, 1] (docs/diffusion.md)
    clip_sample: float = 0.0
    ema_power: float = 0.75  # EMA warm-up: decay 1 - (1 + s) ** -power
    ema_max_decay: float = 0.9999
    loss: str = "mse"  # on the predicted noise

    @property
    def horizon(self) -> int:
        return self.chunk_size + self.n_obs_steps - 1

    def observation_steps(self) -> int:
        return self.n_obs_steps

    def problems(self):
        levels = len(self.down_dims)
        return super().problems() + [
            (self.n_obs_steps >= 1, "model.n_obs_steps must be >= 1"),
            (levels >= 1 and min(self.down_dims) > 0, "model.down_dims must be positive"),
            (self.horizon % 2 ** (levels - 1) == 0,
             f"model.chunk_size + model.n_obs_steps - 1 (the predicted horizon, {self.horizon}) must be a multiple "
             f"of {2 ** max(levels - 1, 0)}: the U-Net halves it {levels - 1} times"),
            (self.n_groups >= 1 and all(d % self.n_groups == 0 for d in self.down_dims),
             "model.down_dims must be multiples of model.n_groups"),
            (self.kernel_size >= 1 and self.kernel_size % 2 == 1, "model.kernel_size must be an odd number >= 1"),
            (self.step_embed_dim >= 4 and self.step_embed_dim % 2 == 0, "model.step_embed_dim must be even, >= 4"),
            (self.keypoints >= 1, "model.keypoints must be >= 1"),
            (0.0 < self.crop_fraction <= 1.0, "model.crop_fraction must be in (0, 1]"),
            (self.train_timesteps >= 1, "model.train_timesteps must be >= 1"),
            (self.beta_schedule in BETA_SCHEDULES, f"model.beta_schedule must be one of {', '.join(BETA_SCHEDULES)}"),
            (self.sampler in SAMPLERS, f"model.sampler must be one of {', '.join(SAMPLERS)}"),
            (1 <= self.inference_steps <= self.train_timesteps,
             "model.inference_steps must be between 1 and model.train_timesteps"),
            (self.clip_sample >= 0, "model.clip_sample must be >= 0"),
            (self.ema_power > 0 and 0.0 <= self.ema_max_decay < 1.0,
             "model.ema_power must be > 0 and model.ema_max_decay in [0, 1)"),
        ]


def crop_size(image_size: tuple[int, int], fraction: float) -> tuple[int, int]:
    return max(1, round(image_size[0] * fraction)), max(1, round(image_size[1] * fraction))


def crop(x: torch.Tensor, size: tuple[int, int], random: bool) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, h, w): each image at its own random offset (drawn from torch's
    RNG), or the centre."""
    n, c, height, width = x.shape
    h, w = size
    if (h, w) == (height, width):
        return x
    if not random:
        top, left = (height - h) // 2, (width - w) // 2
        return x[:, :, top:top + h, left:left + w]
    top = torch.randint(0, height - h + 1, (n,), device=x.device)
    left = torch.randint(0, width - w + 1, (n,), device=x.device)
    rows = (top[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (left[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    samples = torch.arange(n, device=x.device)[:, None, None, None]
    return x[samples, torch.arange(c, device=x.device)[None, :, None, None], rows, cols]


class DiffusionNet(nn.Module):
    """Everything that trains: the observation encoder and the U-Net."""

    def __init__(self, m: DiffusionConfig, n_cameras: int):
        super().__init__()
        self.backbone = build_backbone(m)
        self.pool = SpatialSoftmax(self.backbone.out_channels, m.keypoints)
        self.features = nn.Sequential(nn.Linear(2 * m.keypoints, 2 * m.keypoints), nn.ReLU())
        cond_dim = m.n_obs_steps * (n_cameras * 2 * m.keypoints + m.state_dim)
        self.unet = ConditionalUnet1D(m.action_dim, cond_dim, tuple(m.down_dims), m.kernel_size, m.n_groups,
                                      m.step_embed_dim)


@register_policy("diffusion", DiffusionConfig)
class DiffusionPolicy(Policy):
    loss_terms = ("loss",)

    def __init__(self, profile: Profile, stats: NormStats | None = None):
        super().__init__(profile, stats)
        m = profile.model
        self.n_obs_steps, self.horizon, self.loss_kind = m.n_obs_steps, m.horizon, m.loss
        self.ema_power, self.ema_max_decay = m.ema_power, m.ema_max_decay
        self.crop_size = crop_size(self.image_size, m.crop_fraction)
        self.scheduler = make_scheduler(m.sampler, m.train_timesteps, m.inference_steps, m.beta_schedule,
                                        m.clip_sample)
        self.train_timesteps = m.train_timesteps
        self.model = DiffusionNet(m, len(self.camera_names))
        self.ema = frozen_copy(self.model)  # the weights inference uses
        self.register_buffer("ema_updates", torch.zeros((), dtype=torch.int64))

    def backbone_parameters(self) -> list[nn.Parameter]:
        return list(self.model.backbone.parameters())

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        self.ema_updates += 1
        update_ema(self.ema, self.model, ema_decay(self.ema_updates, self.ema_power, self.ema_max_decay))

    # --- pieces ---------------------------------------------------------------------------
    def _with_time_axis(self, qpos_n: torch.Tensor, images: torch.Tensor):
        """A batch of single observations (one observation step) gets its time axis."""
        if qpos_n.ndim == 2:
            return qpos_n[:, None], images[:, None]
        return qpos_n, images

    def _condition(self, net: DiffusionNet, qpos_n: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """qpos_n (B, n, S), uint8 images (B, n, n_cam, H, W, 3) -> the global condition (B, G)."""
        b, n = qpos_n.shape[:2]
        x = self.prepare_images(images.reshape(b * n, *images.shape[2:]))  # (B*n*n_cam, 3, h, w)
        x = crop(x, self.crop_size, random=self.training)
        feat = net.features(net.pool(net.backbone(x)))  # (B*n*n_cam, 2K)
        return torch.cat([feat.reshape(b, n, -1), qpos_n.to(feat.dtype)], dim=-1).reshape(b, -1)

    # --- interface --------------------------------------------------------------------------
    def _predict(self, qpos_n: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        qpos_n, images = self._with_time_axis(qpos_n, images)
        b = qpos_n.shape[0]
        cond = self._condition(self.ema, qpos_n, images)
        generators = row_generators(qpos_n, images)
        actions = sample(self.scheduler, lambda x, t: self.ema.unet(x, t, cond),
                         (b, self.horizon, self.action_dim), generators, qpos_n.device)
        start = self.n_obs_steps - 1  # the current step's action
        return actions[:, start:start + self.chunk_size]

    def compute_loss(self, batch):
        """batch: qpos (B, n, S), images (B, n, n_cam, H, W, 3), actions and is_pad over the
        horizon from the oldest observation's step (data.dataset with n observation steps).
        Training noises with torch's RNG; validation (eval mode) scores the EMA weights on
        noise from a fixed stream, so its loss is comparable from one validation to the next."""
        qpos_n, images = self._with_time_axis(self.normalize_qpos(batch["qpos"]), batch["images"])
        actions_n, is_pad = self.normalize_actions(batch["actions"]), batch["is_pad"]
        if actions_n.shape[1] != self.horizon:
            raise ValueError(f"expected {self.horizon} actions per sample (the horizon), got {actions_n.shape[1]}")
        b, device = actions_n.shape[0], actions_n.device
        if self.training:
            net, generator = self.model, None
        else:
            net, generator = self.ema, torch.Generator().manual_seed(_VALIDATION_SEED)
        noise = torch.randn(actions_n.shape, generator=generator).to(device) if generator is not None \
            else torch.randn_like(actions_n)
        t = torch.randint(0, self.train_timesteps, (b,), generator=generator).to(device) if generator is not None \
            else torch.randint(0, self.train_timesteps, (b,), device=device)
        noisy = self.scheduler.add_noise(actions_n, noise, t)
        pred = net.unet(noisy, t, self._condition(net, qpos_n, images)).float()
        loss = masked_error(pred, noise, is_pad, self.loss_kind)
        return loss, {"loss": loss.detach()}


register_method("diffusion", "diffusion", "open_loop")  # eval.n_action_steps of each chunk, then a new query
