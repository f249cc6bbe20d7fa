"""Whether bf16 runs on native instructions here, for the benchmarks that time it.

Without AVX-512 BF16, AMX or ARM BF16, torch emulates bf16 (conversions around fp32 arithmetic):
a bf16 step is then many times slower than fp32, and a "fraction of attainable" computed from
such kernels measures the emulation, not the step. The benchmarks skip bf16 there unless asked
(--emulated-bf16) and then label its rows and leave that fraction out.
"""
from __future__ import annotations

import os

from act_bench.runtime import machine

# ONEDNN_MAX_CPU_ISA values below AVX512_CORE_BF16: oneDNN then has no bf16 dot products
_ONEDNN_ISAS_WITHOUT_BF16 = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}


def native_bf16_kernels() -> bool | None:
    """True where the CPU computes bf16 natively and oneDNN is not capped below it
    (ONEDNN_MAX_CPU_ISA, as benchmarks/train_speedups.py does to mimic an AVX2 CPU); None where
    the CPU's flags are unknown."""
    if os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper() in _ONEDNN_ISAS_WITHOUT_BF16:
        return False
    return machine.native_bf16()


def kernels_label(precision: str) -> str:
    """"native" or "emulated" (bf16 without native instructions); fp32 is always native."""
    return "native" if precision != "bf16" or native_bf16_kernels() else "emulated"


def timed_precisions(requested: list[str], emulated_bf16: bool, who: str) -> list[str]:
    """The requested precisions less an emulated bf16 (said on stdout), unless it was asked for."""
    if "bf16" in requested and kernels_label("bf16") == "emulated" and not emulated_bf16:
        print(f"{who}: bf16 skipped: this CPU has no native bf16 (no avx512_bf16 / amx_bf16 / bf16 flag, or "
              "ONEDNN_MAX_CPU_ISA caps it), so torch would emulate it; --emulated-bf16 times it anyway, labelled")
        return [p for p in requested if p != "bf16"]
    return requested
