"""Does a trained ACT use its latent z? Measured on the run's own validation episodes.

    python scripts/z_probe.py RUN_DIR [RUN_DIR ...] [--frames 256] [--draws 8]

For each run (an `act` training folder: checkpoints/ and config.json), on up to --frames frames
of its validation episodes (a fixed, evenly spaced choice), in normalised action units:

- l1:        the chunk's L1 error at z = 0 (what the policy does at inference);
- z_prior:   mean |a(z) - a(0)| for z drawn from the prior N(0, I) (--draws draws per frame):
             how far the decoder's output moves when z changes as much as it did in training;
- z_post:    mean |a(mu) - a(0)|, mu the CVAE encoder's posterior mean for the true chunk:
             how much the encoder's code for the demonstration changes the prediction;
- mu_rms, sigma_mean: the posterior's mean (root mean square) and standard deviation, which
             are 0 and 1 when the posterior has collapsed onto the prior.

If z_prior and z_post are small against l1, the decoder ignores z: the CVAE carries nothing
about the demonstration, and the policy is in effect ACT without the CVAE. Prints one CSV row
per run. Not part of the benchmark (README: The CVAE ablation).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from act_bench.data.dataset import ChunkDataset, inspect_episode, read_frames_into, read_vectors
from act_bench.errors import ActBenchError
from act_bench.policies.base import masked_error
from act_bench.policies.checkpoint import load_policy


def validation_batch(run_dir: Path, cameras: list[str], size: tuple[int, int], chunk: int, frames: int) -> dict:
    data = json.loads((run_dir / "config.json").read_text())["data"]
    folder = Path(data["data_dir"])
    qpos, actions, images = [], [], []
    for name in data["val_episodes"]:
        info = inspect_episode(folder / name, cameras)
        q, a = read_vectors(info)
        img = np.empty((info.length, len(cameras), *size, 3), np.uint8)
        read_frames_into(info, cameras, img)
        qpos.append(q), actions.append(a), images.append(img)
    ds = ChunkDataset.from_episodes(qpos, actions, images, chunk, cameras)
    idx = np.linspace(0, len(ds) - 1, min(frames, len(ds))).round().astype(np.int64)
    return {k: torch.from_numpy(v) for k, v in ds.get_batch(idx).items()}


def decode(policy, qpos_n: torch.Tensor, images: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The policy's normalised action chunk with the latent set to z (inference uses z = 0)."""
    return policy(qpos_n, images, z=z)[0].float()


@torch.no_grad()
def probe(run_dir: Path, frames: int, draws: int) -> dict:
    policy = load_policy(run_dir)
    if not getattr(policy, "use_cvae", False):
        raise ActBenchError(f"{run_dir}: not an ACT policy with a CVAE")
    data = policy.checkpoint_meta["config"]["data"]
    chunk = policy.checkpoint_meta["config"]["model"]["chunk_size"]
    batch = validation_batch(run_dir, list(data["cameras"]), tuple(data["image_size"]), chunk, frames)
    qpos_n = policy.normalize_qpos(batch["qpos"])
    actions_n = policy.normalize_actions(batch["actions"])
    is_pad = batch["is_pad"]
    images, b, dim = batch["images"], len(qpos_n), policy.latent_dim
    torch.manual_seed(0)
    zero = decode(policy, qpos_n, images, torch.zeros(b, dim))
    mu, logvar = policy._posterior(qpos_n, actions_n, is_pad)
    prior = [float(masked_error(decode(policy, qpos_n, images, torch.randn(b, dim)), zero, is_pad))
             for _ in range(draws)]
    return {"run": str(run_dir), "frames": b, "l1": float(masked_error(zero, actions_n, is_pad)),
            "z_prior": float(np.mean(prior)), "z_post": float(masked_error(decode(policy, qpos_n, images, mu), zero, is_pad)),
            "mu_rms": float(mu.square().mean().sqrt()), "sigma_mean": float((0.5 * logvar).exp().mean())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--frames", type=int, default=256)
    p.add_argument("--draws", type=int, default=8)
    args = p.parse_args(argv)
    if args.frames < 1 or args.draws < 1:
        print("error: --frames and --draws must be >= 1", file=sys.stderr)
        return 2
    fields = ["run", "frames", "l1", "z_prior", "z_post", "mu_rms", "sigma_mean"]
    print(",".join(fields))
    for run in args.runs:
        try:
            row = probe(run, args.frames, args.draws)
        except (ActBenchError, OSError, KeyError) as exc:
            print(f"error: {run}: {exc}", file=sys.stderr)
            return 1
        print(",".join(f"{row[f]:.3g}" if isinstance(row[f], float) else str(row[f]) for f in fields), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
