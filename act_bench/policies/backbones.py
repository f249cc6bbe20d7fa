"""Image backbones written here (torchvision does not import beside this CPU torch).

Each maps float images (B, 3, H, W) to a feature map (B, out_channels, h, w). No pretrained
weights: everything trains from scratch.
"""
from __future__ import annotations

import torch
from torch import nn

from act_bench.policies.config import PolicyConfig


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm with fixed statistics and affine (DETR/ACT's choice for a pretrained ResNet).
    From scratch it is an identity at init; it exists so the layout matches the release."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("weight", torch.ones(channels))
        self.register_buffer("bias", torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight * (self.running_var + 1e-5).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "group":
        return nn.GroupNorm(min(32, channels // 4) or 1, channels)
    if kind == "frozen_bn":
        return FrozenBatchNorm2d(channels)
    raise ValueError(f"unknown norm {kind!r}")


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, norm: str):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = make_norm(norm, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = make_norm(norm, c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), make_norm(norm, c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet18(nn.Module):
    """torchvision's resnet18 trunk (no avgpool/fc): stride 32, 512 channels."""

    out_channels = 512

    def __init__(self, norm: str = "group"):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = make_norm(norm, 64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, c_in, layers = (64, 128, 256, 512), 64, []
        for i, c in enumerate(widths):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(c_in, c, stride, norm), BasicBlock(c, c, 1, norm)))
            c_in = c
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class SmallCNN(nn.Module):
    """A plain stack of stride-2 convs + ReLU (stride 2**len(channels)), fast on 2 CPU cores.
    No normalisation layers: they would add CPU time, and a stack this shallow trains without."""

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128, 256), kernel: int = 3):
        super().__init__()
        layers, c_in = [], 3
        for c in channels:
            layers += [nn.Conv2d(c_in, c, kernel, 2, kernel // 2), nn.ReLU(inplace=True)]
            c_in = c
        self.net = nn.Sequential(*layers)
        self.out_channels = c_in
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_backbone(cfg: PolicyConfig) -> nn.Module:
    if cfg.backbone == "resnet18":
        return ResNet18(cfg.backbone_norm)
    if cfg.backbone == "small_cnn":
        return SmallCNN(tuple(cfg.cnn_channels), cfg.cnn_kernel)
    raise ValueError(f"unknown backbone {cfg.backbone!r}")
