"""The one device rule for training and evaluation: "auto" takes CUDA when torch sees it."""
from __future__ import annotations

from act_bench.errors import ActBenchError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str = "auto"):
    """"auto" -> cuda if available else cpu; "cuda" without a CUDA device is a one-line error."""
    import torch

    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).split(":")[0] not in DEVICES:
        raise ActBenchError(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ActBenchError("--device cuda asked for but torch sees no CUDA device")
    return dev
