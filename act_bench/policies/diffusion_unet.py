"""The networks of the diffusion policy (Chi et al., RSS 2023, the CNN variant).

ConditionalUnet1D: a 1-D temporal convolutional U-Net over the action sequence (B, T, A),
conditioned on the denoising step and on the observation by FiLM (each residual block scales and
shifts its features by a linear map of the condition). Its layout follows the paper's release:
two conditional residual blocks per level, stride-2 convolutions down, transposed convolutions
up, GroupNorm and Mish throughout.

SpatialSoftmax: the image feature map's expected (x, y) of K learned keypoints, the pooling
that replaces ResNet's global average pool in the paper (from robomimic).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class SinusoidalStepEmbedding(nn.Module):
    """The denoising step t (B,) -> (B, dim) sines and cosines at geometric frequencies."""

    def __init__(self, dim: int):
        super().__init__()
        half = dim // 2
        freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(10000.0) / max(half - 1, 1)))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = t.float()[:, None] * self.freqs[None]
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class Conv1dBlock(nn.Sequential):
    """Conv1d -> GroupNorm -> Mish, length-preserving."""

    def __init__(self, c_in: int, c_out: int, kernel: int, groups: int):
        super().__init__(nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.GroupNorm(groups, c_out), nn.Mish())


class ConditionalResidualBlock1D(nn.Module):
    """Two Conv1dBlocks; between them FiLM: features * scale(cond) + bias(cond)."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, kernel: int, groups: int):
        super().__init__()
        self.block1 = Conv1dBlock(c_in, c_out, kernel, groups)
        self.block2 = Conv1dBlock(c_out, c_out, kernel, groups)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * c_out))
        self.residual = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        out = self.block1(x)
        scale, bias = self.film(cond)[..., None].chunk(2, dim=1)
        return self.block2(out * scale + bias) + self.residual(x)


class ConditionalUnet1D(nn.Module):
    """(noisy actions (B, T, A), step t (B,), global condition (B, G)) -> predicted noise (B, T, A).
    T must be a multiple of 2 ** (len(down_dims) - 1) (one stride-2 convolution per level but the last)."""

    def __init__(self, action_dim: int, cond_dim: int, down_dims=(512, 1024, 2048), kernel: int = 5,
                 groups: int = 8, step_embed_dim: int = 128):
        super().__init__()
        self.step_encoder = nn.Sequential(SinusoidalStepEmbedding(step_embed_dim),
                                          nn.Linear(step_embed_dim, 4 * step_embed_dim), nn.Mish(),
                                          nn.Linear(4 * step_embed_dim, step_embed_dim))
        cond_dim = cond_dim + step_embed_dim
        dims = [action_dim, *down_dims]
        pairs = list(zip(dims[:-1], dims[1:]))

        def block(c_in, c_out):
            return ConditionalResidualBlock1D(c_in, c_out, cond_dim, kernel, groups)

        self.down = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(pairs):
            last = i == len(pairs) - 1
            self.down.append(nn.ModuleList([block(c_in, c_out), block(c_out, c_out),
                                            nn.Conv1d(c_out, c_out, 3, 2, 1) if not last else nn.Identity()]))
        self.mid = nn.ModuleList([block(dims[-1], dims[-1]), block(dims[-1], dims[-1])])
        self.up = nn.ModuleList()
        for c_in, c_out in reversed(pairs[1:]):
            self.up.append(nn.ModuleList([block(2 * c_out, c_in), block(c_in, c_in),
                                          nn.ConvTranspose1d(c_in, c_in, 4, 2, 1)]))
        self.final = nn.Sequential(Conv1dBlock(down_dims[0], down_dims[0], kernel, groups),
                                   nn.Conv1d(down_dims[0], action_dim, 1))

    def forward(self, sample: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = sample.transpose(1, 2)  # (B, A, T): channels are the action dimensions
        c = torch.cat([self.step_encoder(t).to(cond.dtype), cond], dim=-1)
        skips = []
        for res1, res2, downsample in self.down:
            x = res2(res1(x, c), c)
            skips.append(x)
            x = downsample(x)
        for res in self.mid:
            x = res(x, c)
        for res1, res2, upsample in self.up:
            x = upsample(res2(res1(torch.cat([x, skips.pop()], dim=1), c), c))
        return self.final(x).transpose(1, 2)


class SpatialSoftmax(nn.Module):
    """Feature map (N, C, h, w) -> (N, 2K): for each of K keypoints (a 1x1 conv of the features),
    the softmax-weighted mean of the pixel coordinates in [-1, 1]."""

    def __init__(self, channels: int, keypoints: int):
        super().__init__()
        self.keypoints = nn.Conv2d(channels, keypoints, 1)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        n, _, h, w = feat.shape
        attention = F.softmax(self.keypoints(feat).flatten(2).float(), dim=-1)  # (N, K, h*w)
        ys = torch.linspace(-1.0, 1.0, h, device=feat.device)
        xs = torch.linspace(-1.0, 1.0, w, device=feat.device)
        grid = torch.stack([xs.repeat(h), ys.repeat_interleave(w)], dim=-1)  # (h*w, 2): (x, y) per pixel
        return (attention @ grid).reshape(n, -1)
