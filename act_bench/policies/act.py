"""Action Chunking with Transformers (Zhao et al., 2023), and its no-CVAE ablation.

Training: a CVAE encoder reads [CLS, proprio, action chunk] and gives q(z | obs, actions).
Both: image tokens (backbone -> 1x1 conv, 2-D sine positions, cameras concatenated), a proprio
token and a z token go through a transformer encoder; k learned queries cross-attend to it in
the decoder; a linear head gives k actions. Inference uses z = 0 (the prior's mean).
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
from act_bench.policies.transformer import Decoder, Encoder, sine_position_2d, sinusoid_table


@dataclass
class ACTConfig(PolicyConfig):
    """ACT's [model] section (the paper's sizes are in baselines/act/paper.toml)."""

    d_model: int = 128  # transformer width
    n_heads: int = 8
    dim_feedforward: int = 512
    enc_layers: int = 4
    dec_layers: int = 1  # the release builds 7 but uses only the first
    cvae_enc_layers: int = 2  # the CVAE encoder (training only)
    latent_dim: int = 32  # z
    kl_weight: float = 10.0  # beta
    dropout: float = 0.1
    pre_norm: bool = False

    def problems(self):
        return super().problems() + [
            (self.d_model > 0 and self.n_heads > 0 and self.d_model % self.n_heads == 0,
             "model.d_model must be a positive multiple of model.n_heads"),
            (self.d_model % 4 == 0, "model.d_model must be a multiple of 4 (2-D sine position encoding)"),
            (self.enc_layers >= 1 and self.dec_layers >= 1, "model.enc_layers and model.dec_layers must be >= 1"),
            (self.cvae_enc_layers >= 1, "model.cvae_enc_layers must be >= 1"),
            (self.latent_dim >= 1, "model.latent_dim must be >= 1"),
            (0.0 <= self.dropout < 1.0, "model.dropout must be in [0, 1)"),
        ]


@register_policy("act", ACTConfig)
class ACTPolicy(Policy):
    use_cvae = True
    loss_terms = ("loss", "l1", "kl")

    def __init__(self, profile: Profile, stats: NormStats | None = None):
        super().__init__(profile, stats)
        m = profile.model
        d, k = m.d_model, m.chunk_size
        layer_args = (d, m.n_heads, m.dim_feedforward, m.dropout, m.pre_norm)
        self.backbone = build_backbone(m)
        self.input_proj = nn.Conv2d(self.backbone.out_channels, d, 1)
        self.qpos_proj = nn.Linear(m.state_dim, d)
        self.latent_out_proj = nn.Linear(m.latent_dim, d)
        self.extra_pos = nn.Embedding(2, d)  # positions of the z and proprio tokens
        self.encoder = Encoder(m.enc_layers, *layer_args)
        self.decoder = Decoder(m.dec_layers, *layer_args)
        self.query_embed = nn.Embedding(k, d)
        self.action_head = nn.Linear(d, m.action_dim)
        self.latent_dim, self.kl_weight, self.loss_kind = m.latent_dim, m.kl_weight, m.loss
        if self.use_cvae:
            self.cls_embed = nn.Embedding(1, d)
            self.cvae_qpos_proj = nn.Linear(m.state_dim, d)
            self.cvae_action_proj = nn.Linear(m.action_dim, d)
            self.cvae_encoder = Encoder(m.cvae_enc_layers, *layer_args)
            self.latent_proj = nn.Linear(d, 2 * m.latent_dim)
            self.register_buffer("cvae_pos", sinusoid_table(k + 2, d), persistent=False)
        self._pos_cache: dict[tuple, torch.Tensor] = {}
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # DETR initialises its transformer's matrices with xavier_uniform
        for module in (self.encoder, self.decoder) + ((self.cvae_encoder,) if self.use_cvae else ()):
            for p in module.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)

    # --- pieces ---------------------------------------------------------------------------
    def _image_tokens(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (B, n, H, W, 3) -> tokens (B, n*h*w, d) and their positions (n*h*w, d)."""
        b, n = images.shape[:2]
        feat = self.input_proj(self.backbone(self.prepare_images(images)))  # (B*n, d, h, w)
        _, d, h, w = feat.shape
        tokens = feat.reshape(b, n, d, h * w).permute(0, 1, 3, 2).reshape(b, n * h * w, d)
        key = (n, h, w, feat.device, feat.dtype)
        if key not in self._pos_cache:
            # every camera gets the same grid positions, as in the release
            self._pos_cache[key] = sine_position_2d(h, w, d).repeat(n, 1).to(feat.device, feat.dtype)
        return tokens, self._pos_cache[key]

    def _posterior(self, qpos_n: torch.Tensor, actions_n: torch.Tensor, is_pad: torch.Tensor):
        """CVAE encoder -> (mu, logvar), each (B, latent)."""
        b = qpos_n.shape[0]
        seq = torch.cat([self.cls_embed.weight.expand(b, 1, -1), self.cvae_qpos_proj(qpos_n)[:, None],
                         self.cvae_action_proj(actions_n)], dim=1)
        mask = torch.cat([torch.zeros(b, 2, dtype=torch.bool, device=is_pad.device), is_pad], dim=1)
        # only the CLS token's output is read: the last layer computes no other (chunk 100: 102 tokens)
        out = self.cvae_encoder(seq, pos=self.cvae_pos.to(seq.dtype), key_padding_mask=mask, outputs=1)
        mu, logvar = self.latent_proj(out[:, 0]).chunk(2, dim=-1)
        return mu, logvar

    def forward(self, qpos_n: torch.Tensor, images: torch.Tensor, actions_n: torch.Tensor | None = None,
                is_pad: torch.Tensor | None = None, z: torch.Tensor | None = None):
        """Normalised qpos (B, S), uint8 images, optional normalised actions (B, k, A) and is_pad
        -> (normalised actions (B, k, A), mu, logvar); mu/logvar are None without the CVAE.
        A given z (B, latent) is decoded as it is (scripts/z_probe.py), in place of the encoder's."""
        b = qpos_n.shape[0]
        mu = logvar = None
        if z is None and self.use_cvae and actions_n is not None:
            mu, logvar = self._posterior(qpos_n, actions_n, is_pad)
            # sample while training; the posterior mean otherwise, so validation is deterministic
            z = mu + (0.5 * logvar).exp() * torch.randn_like(mu) if self.training else mu
        elif z is None:
            z = qpos_n.new_zeros(b, self.latent_dim)
        img_tokens, img_pos = self._image_tokens(images)
        src = torch.cat([self.latent_out_proj(z)[:, None], self.qpos_proj(qpos_n)[:, None], img_tokens], dim=1)
        pos = torch.cat([self.extra_pos.weight, img_pos], dim=0)[None]
        memory = self.encoder(src, pos=pos)
        query_pos = self.query_embed.weight[None]
        tgt = torch.zeros(b, query_pos.shape[1], memory.shape[-1], dtype=memory.dtype, device=memory.device)
        return self.action_head(self.decoder(tgt, memory, pos=pos, query_pos=query_pos)), mu, logvar

    # --- interface --------------------------------------------------------------------------
    def _predict(self, qpos_n: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        return self(qpos_n, images)[0]

    def compute_loss(self, batch):
        qpos_n = self.normalize_qpos(batch["qpos"])
        actions_n = self.normalize_actions(batch["actions"])
        is_pad = batch["is_pad"]
        pred, mu, logvar = self(qpos_n, batch["images"], actions_n, is_pad)
        pred = pred.float()
        l1 = masked_error(pred, actions_n, is_pad, "l1")
        recon = l1 if self.loss_kind == "l1" else masked_error(pred, actions_n, is_pad, "mse")
        if mu is not None:
            mu, logvar = mu.float(), logvar.float()
            kl = (-0.5 * (1 + logvar - mu.square() - logvar.exp())).sum(-1).mean()
            loss = recon + self.kl_weight * kl
            return loss, {"loss": loss.detach(), "l1": l1.detach(), "kl": kl.detach()}
        return recon, {"loss": recon.detach(), "l1": l1.detach()}


@register_policy("act-no-cvae", ACTConfig)
class ACTNoCVAEPolicy(ACTPolicy):
    """The paper's ablation: no CVAE encoder; the z token is always the z = 0 embedding."""

    use_cvae = False
    loss_terms = ("loss", "l1")


register_method("act", "act", "ensemble")  # ACT as published: temporal ensembling
register_method("act-no-te", "act", "open_loop")  # each chunk executed open-loop
register_method("act-no-cvae", "act-no-cvae", "ensemble")
