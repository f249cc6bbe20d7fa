"""ACT training-step time and batch-1 inference time (one 100-step chunk): act-bench vs LeRobot.

Both sides at the paper sizes (baselines/act/paper.toml; LeRobot's ACTConfig set to match:
ResNet18 from scratch, d_model 512, feed-forward 3200, 4 encoder / 1 decoder / 4 CVAE-encoder
layers, latent 32, chunk 100, batch 8, one 'top' camera, 14-dim state and action), on the CPU,
at 96x128 and 480x640, on synthetic random data (identity normalisation: mean 0, std 1).
--precision fp32 (the default, both sides' shipped setting) or bf16: both sides' forward passes
(training and inference) under torch.autocast("cpu", bfloat16), which is what our train.amp=bf16
does and what LeRobot's use_amp does through Accelerate on the CPU; writes vs_lerobot_bf16.csv.

  ours:    act_bench's build_policy + make_optimizer + train_step (AdamW, clip 10); inference is
           policy.predict_chunk (raw qpos and uint8 image in, raw actions out).
  lerobot: lerobot.policies.act ACTPolicy with its preprocessor (normalisation) in the step,
           policy.forward -> loss.backward, clip 10, AdamW from ACTConfig's optimizer preset (its lr
           and backbone-lr groups); inference is preprocessor -> predict_action_chunk -> postprocessor.

Each side is a long-lived worker process (ours in this Python, LeRobot in its own Python 3.12 venv),
both pinned to the same 2 cores with 2 torch threads. The driver alternates "do N steps and report
the seconds" between them over several rounds (one computes at a time; the order flips each round)
and reports medians and the ratio lerobot / ours (> 1: act-bench is faster). Other processes' CPU
use during each measurement is recorded beside it. The two sides may run different torch builds
(LeRobot 0.6.1 needs torch < 2.12, from PyPI the CUDA build); both versions are printed and saved.
The implementations are compared as shipped, so some choices differ: our paper profile's ResNet18
uses GroupNorm (LeRobot: FrozenBatchNorm2d), our AdamW is fused (LeRobot's is torch's default),
our images go in as uint8 (LeRobot's as float in [0, 1]). Data loading is not timed on either side.
A third worker (off with --no-same-torch) runs our code in the LeRobot venv's Python, so the two
ACTs are also compared under one torch build (column ratio_same_torch).

    MUJOCO_GL=egl .venv/bin/python -m benchmarks.vs_lerobot [--rounds 5]

The LeRobot venv (LEROBOT_VENV, default /tmp/act-bench-verify-lerobot/lerobot-venv) is built by
scripts/lerobot_venv.sh the first time (pip from PyPI, a few minutes); nothing else touches the
network. Writes results/bench/vs_lerobot.csv; workers' stderr goes to --log-dir. ~6 minutes on a
quiet 2-core machine (more when other jobs run).
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

from benchmarks.peer_workers import (Worker, bench_cores, interleave, median_of, serve, thread_env, timed,
                          utc_now)

DEFAULT_VENV = "/tmp/act-bench-verify-lerobot/lerobot-venv"
CHUNK, BATCH, DIM = 100, 8, 14
# (image size, train steps a round, inferences a round)
PLAN = {(96, 128): (3, 10), (480, 640): (2, 4)}


# --- workers: each builds its model for one image size, then times steps on request ----------------
def autocast_for(torch, precision: str):
    import contextlib

    if precision == "bf16":
        return lambda: torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext


def our_handlers(threads: int, precision: str = "fp32") -> dict:
    import numpy as np
    import torch

    from act_bench.data.normalization import NormStats
    from act_bench.policies.config import load_profile
    from act_bench.policies.base import build_policy
    from act_bench.training.train import make_optimizer, train_step

    torch.set_num_threads(threads)
    state: dict = {}
    autocast = autocast_for(torch, precision)

    def setup(image_size, overrides=()):
        h, w = image_size
        amp = ["train.amp=bf16"] if precision == "bf16" else []
        prof = load_profile("act", "paper", [f"data.image_size=[{h},{w}]", *amp, *overrides])
        torch.manual_seed(0)
        rng = np.random.default_rng(0)
        policy = build_policy(prof, NormStats.identity(DIM, DIM))
        optimizer = make_optimizer(policy, prof.train)
        batch = {"qpos": torch.randn(BATCH, DIM), "actions": torch.randn(BATCH, CHUNK, DIM),
                 "images": torch.from_numpy(rng.integers(0, 256, (BATCH, 1, h, w, 3), dtype=np.uint8)),
                 "is_pad": torch.zeros(BATCH, CHUNK, dtype=torch.bool)}
        def infer():
            with autocast():
                return policy.predict_chunk(batch["qpos"][:1], batch["images"][:1])

        state.update(policy=policy, train=lambda: train_step(policy, optimizer, batch, prof.train.grad_clip, autocast),
                     infer=infer)
        return warm_up(state, policy)

    return worker_handlers(state, setup, torch)


def lerobot_handlers(threads: int, precision: str = "fp32") -> dict:
    import torch
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.act.processor_act import make_act_pre_post_processors

    torch.set_num_threads(threads)
    state: dict = {}
    autocast = autocast_for(torch, precision)  # lerobot-train's Accelerate autocast, for use_amp on the CPU

    def setup(image_size, overrides=()):
        h, w = image_size
        config = ACTConfig(
            chunk_size=CHUNK, n_action_steps=CHUNK, dim_model=512, n_heads=8, dim_feedforward=3200,
            n_encoder_layers=4, n_decoder_layers=1, n_vae_encoder_layers=4, latent_dim=32,
            vision_backbone="resnet18", pretrained_backbone_weights=None, device="cpu",
            input_features={"observation.state": PolicyFeature(FeatureType.STATE, (DIM,)),
                            "observation.images.top": PolicyFeature(FeatureType.VISUAL, (3, h, w))},
            output_features={"action": PolicyFeature(FeatureType.ACTION, (DIM,))})
        identity = {"mean": torch.zeros(DIM), "std": torch.ones(DIM)}
        stats = {"observation.state": identity, "action": identity,
                 "observation.images.top": {"mean": torch.zeros(3, 1, 1), "std": torch.ones(3, 1, 1)}}
        torch.manual_seed(0)
        policy = ACTPolicy(config)
        pre, post = make_act_pre_post_processors(config, stats)
        preset = config.get_optimizer_preset()
        optimizer = preset.build(policy.get_optim_params())
        batch = {"observation.state": torch.randn(BATCH, DIM), "observation.images.top": torch.rand(BATCH, 3, h, w),
                 "action": torch.randn(BATCH, CHUNK, DIM), "action_is_pad": torch.zeros(BATCH, CHUNK, dtype=torch.bool)}
        obs = {k: batch[k][:1] for k in ("observation.state", "observation.images.top")}

        def train():
            with autocast():
                loss, _ = policy.forward(pre(batch))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), preset.grad_clip_norm)
            optimizer.step()

        def infer():
            with autocast():
                return post(policy.predict_action_chunk(pre(obs)))

        state.update(policy=policy, train=train, infer=infer)
        return warm_up(state, policy)

    return worker_handlers(state, setup, torch)


def warm_up(state: dict, policy, steps: int = 3) -> dict:
    """A few training steps and inferences before timing: the first ones allocate (several times
    slower than the steady state here)."""
    policy.train()
    first = [timed(state["train"], 1)["seconds"] for _ in range(steps)]
    policy.eval()
    timed(state["infer"], steps)
    return {"params_m": sum(p.numel() for p in policy.parameters()) / 1e6, "warmup_steps_s": first}


def worker_handlers(state: dict, setup, torch) -> dict:
    def train(n):
        state["policy"].train()
        return timed(state["train"], n)

    def infer(n):
        state["policy"].eval()
        return timed(state["infer"], n)

    def info():
        out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "python": sys.version.split()[0]}
        try:
            import lerobot
            out["lerobot"] = lerobot.__version__
        except ImportError:
            pass
        return out

    return {"setup": setup, "train": train, "infer": infer, "info": info}


# --- driver --------------------------------------------------------------------------------------
def ensure_lerobot_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import lerobot.policies.act.modeling_act"],
                                          capture_output=True).returncode == 0:
        return python
    print(f"building the LeRobot venv at {venv} (scripts/lerobot_venv.sh; pip from PyPI) ...", flush=True)
    built = subprocess.run(["bash", str(REPO / "scripts" / "lerobot_venv.sh"), str(venv)])
    if built.returncode != 0 or not python.exists():
        raise SystemExit(f"error: could not build the LeRobot venv at {venv} (scripts/lerobot_venv.sh exited "
                         f"{built.returncode}). It needs Python 3.12 (set PY312) and PyPI access; or point "
                         f"LEROBOT_VENV at a venv with lerobot==0.6.1.")
    return python


def start_workers(lerobot_python: Path, threads: int, same_torch: bool, log_dir: Path,
                  precision: str = "fp32") -> list[Worker]:
    cores = bench_cores(threads)
    env = thread_env(threads)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    script = str(Path(__file__).resolve())
    sides = [("ours", sys.executable, "ours"), ("lerobot", str(lerobot_python), "lerobot")]
    if same_torch:
        sides.append(("ours@lerobot-torch", str(lerobot_python), "ours"))
    log_dir.mkdir(parents=True, exist_ok=True)
    return [Worker(name, [python, script, "--worker", kind, "--threads", str(threads), "--precision", precision],
                   cores, env, str(REPO),
                   str(log_dir / f"vs_lerobot_{name}.log")) for name, python, kind in sides]


def measure_size(workers: list[Worker], size: tuple[int, int], rounds: int, steps: int, infers: int) -> list[dict]:
    params = {w.name: w.call("setup", image_size=list(size))["params_m"] for w in workers}
    rows = []
    for what, cmd, n in (("train_step", "train", steps), ("infer_chunk", "infer", infers)):
        rows.append({"what": what, "image_size": f"{size[0]}x{size[1]}", "rounds": rounds, "n_per_round": n,
                     "params_m": params, **summarize(interleave(workers, rounds, cmd, n=n))})
        print_row(rows[-1], [w.name for w in workers])
    return rows


def summarize(results: dict[str, list[dict]]) -> dict:
    """Median seconds a call per side, every round's value, and the other processes' load."""
    loads = [r["other_load_cores"] or 0.0 for res in results.values() for r in res]
    out = {"other_load_cores": max(loads), "mean_other_load_cores": sum(loads) / len(loads)}
    for name, res in results.items():
        out[name] = median_of(res, "per_call_s")
        out[f"{name}_all"] = ";".join(f"{r['per_call_s']:.4f}" for r in res)
    return out


def print_header(names: list[str]) -> None:
    cols = "".join(f"{n + ' s':>22s}" for n in names)
    same = f"{'same torch':>11s}" if "ours@lerobot-torch" in names else ""
    print(f"{'what':12s} {'image':>8s}{cols} {'lerobot/ours':>13s}{same} {'rounds':>7s} {'others max/mean':>16s}")


def print_row(row: dict, names: list[str]) -> None:
    cols = "".join(f"{row[n]:22.3f}" for n in names)
    load = f"{row['other_load_cores']:.2f}/{row['mean_other_load_cores']:.2f}"
    same = f"{row['lerobot'] / row['ours@lerobot-torch']:11.2f}" if "ours@lerobot-torch" in names else ""
    print(f"{row['what']:12s} {row['image_size']:>8s}{cols} {row['lerobot'] / row['ours']:13.2f}{same} "
          f"{row['rounds']:4d}x{row['n_per_round']:<2d} {load:>16s}", flush=True)


def write_csv(path: Path, rows: list[dict], infos: dict[str, dict], names: list[str], cores: list[int],
              precision: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    date = utc_now()
    out = []
    for row in rows:
        rec = {"what": row["what"], "image_size": row["image_size"], "precision": precision, "ours_s": f"{row['ours']:.4f}",
               "lerobot_s": f"{row['lerobot']:.4f}", "ratio": f"{row['lerobot'] / row['ours']:.3f}"}
        if "ours@lerobot-torch" in names:
            rec["ours_lerobot_torch_s"] = f"{row['ours@lerobot-torch']:.4f}"
            rec["ratio_same_torch"] = f"{row['lerobot'] / row['ours@lerobot-torch']:.3f}"
            rec["ours_lerobot_torch_all_s"] = row["ours@lerobot-torch_all"]
        rec.update({"rounds": row["rounds"], "n_per_round": row["n_per_round"],
                    "other_load_cores": f"{row['other_load_cores']:.2f}",
                    "mean_other_load_cores": f"{row['mean_other_load_cores']:.2f}",
                    "ours_all_s": row["ours_all"], "lerobot_all_s": row["lerobot_all"],
                    "ours_params_m": f"{row['params_m']['ours']:.2f}",
                    "lerobot_params_m": f"{row['params_m']['lerobot']:.2f}",
                    "ours_torch": infos["ours"]["torch"], "lerobot_torch": infos["lerobot"]["torch"],
                    "lerobot_version": infos["lerobot"].get("lerobot", ""), "threads": infos["ours"]["threads"],
                    "cores": " ".join(map(str, cores)), "date": date})
        out.append(rec)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(out[0]))
        writer.writeheader()
        writer.writerows(out)


def drive(args: argparse.Namespace) -> int:
    lerobot_python = ensure_lerobot_venv(Path(args.venv))
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    workers = start_workers(lerobot_python, args.threads, args.same_torch, Path(args.log_dir), args.precision)
    names = [w.name for w in workers]
    try:
        infos = {w.name: w.call("info") for w in workers}
        cores = bench_cores(args.threads)
        for name, info in infos.items():
            extra = f", lerobot {info['lerobot']}" if "lerobot" in info else ""
            print(f"{name}: python {info['python']}, torch {info['torch']}{extra}, {info['threads']} threads, "
                  f"cores {cores}, {args.precision}")
        if infos["ours"]["torch"] != infos["lerobot"]["torch"]:
            print(f"note: different torch builds (ours {infos['ours']['torch']}, LeRobot {infos['lerobot']['torch']})")
        print("seconds per call, medians over rounds; lerobot/ours > 1: act-bench faster; same torch = "
              "lerobot / ours@lerobot-torch; others = CPU cores used by other processes while timing (max/mean)")
        print_header(names)
        rows = []
        for size in sizes:
            steps, infers = PLAN.get(size, (2, 4))
            rows += measure_size(workers, size, args.rounds, args.steps or steps, args.infers or infers)
    finally:
        for w in workers:
            w.close()
    out = Path(args.out or REPO / "results" / "bench" / ("vs_lerobot.csv" if args.precision == "fp32"
                                                          else f"vs_lerobot_{args.precision}.csv"))
    write_csv(out, rows, infos, names, cores, args.precision)
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=0, help="training steps a round (default: 3 at 96x128, 2 at 480x640)")
    p.add_argument("--infers", type=int, default=0, help="inferences a round (default: 10 at 96x128, 4 at 480x640)")
    p.add_argument("--sizes", default="96x128,480x640")
    p.add_argument("--threads", type=int, default=2, help="torch threads and pinned cores per worker")
    p.add_argument("--same-torch", action=argparse.BooleanOptionalAction, default=True,
                   help="also time our code under LeRobot's torch (a third worker; default on)")
    p.add_argument("--venv", default=os.environ.get("LEROBOT_VENV", DEFAULT_VENV))
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--out", default=None, help="default results/bench/vs_lerobot.csv (vs_lerobot_bf16.csv for bf16)")
    p.add_argument("--log-dir", default="/tmp/act-bench-bench-logs", help="workers' stderr")
    p.add_argument("--worker", choices=("ours", "lerobot"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        serve((our_handlers if args.worker == "ours" else lerobot_handlers)(args.threads, args.precision))
        return 0
    return drive(args)


if __name__ == "__main__":
    sys.exit(main())
