"""The diffusion policy's noise: diffusers' DDPM and DDIM schedulers (the ones Chi et al.'s
release and LeRobot use; an optional extra, imported only when a diffusion policy is built) and
the per-row random streams that make each query's result depend on its own input only.
"""
from __future__ import annotations

import hashlib
from typing import Callable, Sequence

import torch

from act_bench.errors import ActBenchError

SAMPLERS = ("ddpm", "ddim")
BETA_SCHEDULES = ("squaredcos_cap_v2", "linear")
MISSING = ("the diffusion policy needs the noise schedulers of diffusers, an optional extra: "
           "pip install 'act-bench[diffusion]'")


def diffusers_available() -> bool:
    try:
        import diffusers  # noqa: F401
    except ImportError:
        return False
    return True


def make_scheduler(sampler: str, train_timesteps: int, inference_steps: int, beta_schedule: str,
                   clip_sample: float):
    """The scheduler that samples (sampler "ddpm" or "ddim", inference_steps denoising steps) and
    noises training targets (its add_noise: the same betas either way). Epsilon prediction;
    clip_sample > 0 clips the predicted clean sample to [-clip_sample, clip_sample], 0 does not."""
    try:
        from diffusers import DDIMScheduler, DDPMScheduler
    except ImportError:
        raise ActBenchError(MISSING) from None
    cls = {"ddpm": DDPMScheduler, "ddim": DDIMScheduler}[sampler]
    scheduler = cls(num_train_timesteps=train_timesteps, beta_start=1e-4, beta_end=0.02, beta_schedule=beta_schedule,
                    clip_sample=clip_sample > 0, clip_sample_range=clip_sample or 1.0, prediction_type="epsilon")
    scheduler.set_timesteps(inference_steps)
    return scheduler


def row_generators(*tensors: torch.Tensor) -> list[torch.Generator]:
    """One CPU generator per row (leading axis), seeded by a hash of that row of every tensor: a
    row's noise, and so its sampled actions, are the same whatever batch it is queried in and
    whichever queries came before (an evaluation then repeats exactly, at any batch size)."""
    arrays = [t.detach().to("cpu").contiguous().numpy() for t in tensors]
    generators = []
    for i in range(arrays[0].shape[0]):
        digest = hashlib.blake2b(digest_size=8)
        for a in arrays:
            digest.update(a[i].tobytes())
        generators.append(torch.Generator().manual_seed(int.from_bytes(digest.digest(), "little") >> 1))
    return generators


def row_noise(shape: Sequence[int], generators: list[torch.Generator], device) -> torch.Tensor:
    """Standard normal noise of `shape` (B, ...), row i drawn from generators[i] on the CPU (the
    same numbers on every device)."""
    return torch.cat([torch.randn((1, *shape[1:]), generator=g) for g in generators]).to(device)


def sample(scheduler, denoise: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], shape: Sequence[int],
           generators: list[torch.Generator], device) -> torch.Tensor:
    """Reverse diffusion from pure noise: denoise(x, t) predicts the noise in x at step t."""
    x = row_noise(shape, generators, device)
    for t in scheduler.timesteps:
        eps = denoise(x, t.to(device).expand(shape[0]))
        x = scheduler.step(eps.float(), t, x, generator=generators).prev_sample
    return x
