"""DETR-style transformer as used by ACT: position embeddings are added to queries and keys in
every layer (not once at the input), post-norm by default, ReLU feed-forward. Batch-first.

Attention and dropout are written here rather than taken from torch.nn for CPU speed: torch's
dropout draws one Bernoulli sample per element and was a third of an ACT training step on 2
cores; drawing 16 random bits per element in bulk from the same torch generator is ~3x cheaper.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_INT16_LEVELS = 65536


def dropout_keep_mask(shape: torch.Size | tuple[int, ...], p: float, dtype: torch.dtype,
                      device: torch.device | str = "cpu") -> torch.Tensor:
    """Float mask (0 or 1/(1-p')) with p' = p rounded to 1/65536, from torch's default generator."""
    n = math.prod(shape)
    drop = round(p * _INT16_LEVELS)
    bits = torch.randint(-2**63, 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64, device=device)
    levels = bits.view(torch.int16)[:n].view(shape)
    # keep where levels >= threshold, without a bool tensor (CPU comparisons and bool casts are
    # scalar loops): levels - threshold + 1 is an exact integer in float32, so clamped to [0, 1]
    # it is exactly the keep mask
    keep = levels.sub(float(drop - _INT16_LEVELS // 2 - 1)).clamp_(0.0, 1.0)
    keep = keep if keep.dtype == dtype else keep.to(dtype)
    return keep.mul_(_INT16_LEVELS / (_INT16_LEVELS - drop))


class Dropout(nn.Module):
    """Inverted dropout: the bulk-bits mask on CPU, F.dropout elsewhere (fast on GPUs)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, True)
        return x * dropout_keep_mask(x.shape, self.p, x.dtype)


class Attention(nn.Module):
    """Multi-head attention with nn.MultiheadAttention's parameter layout (batch-first)."""

    bf16_parameters = ("in_proj_weight", "in_proj_bias")  # fed to F.linear: cast in bf16 training

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads, self.d_model = n_heads, d_model
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        self.attn_drop = Dropout(dropout)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.n_heads, -1).transpose(1, 2)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        d, w, bias = self.d_model, self.in_proj_weight, self.in_proj_bias
        if q is k:  # self-attention: one matmul for queries and keys
            qh, kh = F.linear(q, w[:2 * d], bias[:2 * d]).chunk(2, dim=-1)
        else:
            qh, kh = F.linear(q, w[:d], bias[:d]), F.linear(k, w[d:2 * d], bias[d:2 * d])
        qh, kh, vh = self._heads(qh), self._heads(kh), self._heads(F.linear(v, w[2 * d:], bias[2 * d:]))
        if self.training and self.attn_drop.p > 0 and qh.device.type == "cpu":
            scores = (qh * qh.shape[-1] ** -0.5) @ kh.transpose(-2, -1)
            if key_padding_mask is not None:
                scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
            out = self.attn_drop(scores.softmax(dim=-1)) @ vh
        else:
            mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]
            p = self.attn_drop.p if self.training else 0.0
            out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask, dropout_p=p)
        b, _, n, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


def _with_pos(x: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:
    return x if pos is None else x + pos


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dim_ff: int, dropout: float, pre_norm: bool):
        super().__init__()
        self.self_attn = Attention(d_model, n_heads, dropout)
        self.linear1, self.linear2 = nn.Linear(d_model, dim_ff), nn.Linear(dim_ff, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)
        self.pre_norm = pre_norm

    def _ff(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(F.relu(self.linear1(x))))

    def forward(self, src, pos=None, key_padding_mask=None, outputs: int | None = None):
        """outputs=n: the first n tokens' outputs only (attending to every token), for a last
        layer whose other outputs nobody reads."""
        if self.pre_norm:
            x = self.norm1(src)
            k = _with_pos(x, pos)
            q, src = (k, src) if outputs is None else (k[:, :outputs], src[:, :outputs])
            src = src + self.dropout(self.self_attn(q, k, x, key_padding_mask=key_padding_mask))
            return src + self.dropout(self._ff(self.norm2(src)))
        k = _with_pos(src, pos)
        q, rest = (k, src) if outputs is None else (k[:, :outputs], src[:, :outputs])
        src = self.norm1(rest + self.dropout(self.self_attn(q, k, src, key_padding_mask=key_padding_mask)))
        return self.norm2(src + self.dropout(self._ff(src)))


class DecoderLayer(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dim_ff: int, dropout: float, pre_norm: bool):
        super().__init__()
        self.self_attn = Attention(d_model, n_heads, dropout)
        self.cross_attn = Attention(d_model, n_heads, dropout)
        self.linear1, self.linear2 = nn.Linear(d_model, dim_ff), nn.Linear(dim_ff, d_model)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)
        self.pre_norm = pre_norm

    def _ff(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(F.relu(self.linear1(x))))

    def forward(self, tgt, memory, pos=None, query_pos=None):
        if self.pre_norm:
            x = self.norm1(tgt)
            q = _with_pos(x, query_pos)
            tgt = tgt + self.dropout(self.self_attn(q, q, x))
            x = self.norm2(tgt)
            tgt = tgt + self.dropout(self.cross_attn(_with_pos(x, query_pos), _with_pos(memory, pos), memory))
            return tgt + self.dropout(self._ff(self.norm3(tgt)))
        q = _with_pos(tgt, query_pos)
        tgt = self.norm1(tgt + self.dropout(self.self_attn(q, q, tgt)))
        tgt = self.norm2(tgt + self.dropout(self.cross_attn(_with_pos(tgt, query_pos), _with_pos(memory, pos),
                                                            memory)))
        return self.norm3(tgt + self.dropout(self._ff(tgt)))


class Encoder(nn.Module):
    def __init__(self, n_layers: int, d_model: int, n_heads: int, dim_ff: int, dropout: float, pre_norm: bool):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(d_model, n_heads, dim_ff, dropout, pre_norm) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model) if pre_norm else None

    def forward(self, src, pos=None, key_padding_mask=None, outputs: int | None = None):
        """outputs=n: only the first n tokens' outputs (the last layer computes no others)."""
        for i, layer in enumerate(self.layers):
            src = layer(src, pos, key_padding_mask, outputs if i == len(self.layers) - 1 else None)
        return src if self.norm is None else self.norm(src)


class Decoder(nn.Module):
    """Every layer is applied and the last one's output is returned (the ACT release kept only the
    first layer's output of seven; LeRobot builds one)."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, dim_ff: int, dropout: float, pre_norm: bool):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(d_model, n_heads, dim_ff, dropout, pre_norm) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, tgt, memory, pos=None, query_pos=None):
        for layer in self.layers:
            tgt = layer(tgt, memory, pos, query_pos)
        return self.norm(tgt)


def sine_position_2d(h: int, w: int, d_model: int, temperature: float = 10000.0) -> torch.Tensor:
    """DETR's normalised 2-D sine embedding of an h x w grid: (h * w, d_model), row-major;
    the first half encodes y, the second x."""
    n = d_model // 2
    eps, scale = 1e-6, 2 * math.pi
    y = torch.arange(1, h + 1, dtype=torch.float32)[:, None].expand(h, w) / (h + eps) * scale
    x = torch.arange(1, w + 1, dtype=torch.float32)[None, :].expand(h, w) / (w + eps) * scale
    dim_t = temperature ** (2 * (torch.arange(n, dtype=torch.float32) // 2) / n)
    pos_x, pos_y = x[..., None] / dim_t, y[..., None] / dim_t
    pos_x = torch.stack((pos_x[..., 0::2].sin(), pos_x[..., 1::2].cos()), dim=3).flatten(2)
    pos_y = torch.stack((pos_y[..., 0::2].sin(), pos_y[..., 1::2].cos()), dim=3).flatten(2)
    return torch.cat((pos_y, pos_x), dim=2).reshape(h * w, d_model)


def sinusoid_table(n_positions: int, d_model: int) -> torch.Tensor:
    """1-D sinusoidal table (n_positions, d_model) for the CVAE encoder's input sequence."""
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]
    div = torch.pow(10000.0, 2 * (torch.arange(d_model) // 2) / d_model)[None, :]
    table = pos / div
    table[:, 0::2] = table[:, 0::2].sin()
    table[:, 1::2] = table[:, 1::2].cos()
    return table.float()
