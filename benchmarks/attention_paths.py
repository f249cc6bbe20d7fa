"""ACT's attention in training, three ways, at the cpu profile's shapes (forward and backward).

  fused        torch's scaled_dot_product_attention with no dropout: the fused CPU kernel
               (what validation and evaluation run)
  sdpa_dropout the same call with dropout_p = 0.1: the fused CPU kernel takes no dropout, so torch
               falls back to its math path and draws one Bernoulli sample per element
  written_out  transformer.Attention's training path on the CPU: scores, softmax, the bulk-bits
               dropout mask, the product with the values (what a training step runs)

ACT trains with attention dropout 0.1 (as the paper's release), so the fused kernel is no option
for a training step: the choice is between the last two. Rounds interleave the three; the time is
CPU seconds at 1 thread, the median over rounds.

    python -m benchmarks.attention_paths [--rounds 7] [--precisions fp32,bf16]

Writes results/bench/attention_paths.csv.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from act_bench.policies.config import load_profile
from act_bench.policies.transformer import Attention
from benchmarks.bf16_support import kernels_label, timed_precisions
from benchmarks.flops import write_csv
from benchmarks.load_monitor import LoadMonitor

OUT = Path(__file__).resolve().parents[1] / "results" / "bench" / "attention_paths.csv"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def shapes(prof) -> dict[str, tuple[int, int]]:
    """(queries, keys) of each attention of a cpu-profile ACT step (training, one camera)."""
    h, w = prof.data.image_size
    stride = 2 ** len(prof.model.cnn_channels)
    memory = 2 + (h // stride) * (w // stride)  # z and proprio tokens, then the image's
    k = prof.model.chunk_size
    return {"cvae encoder (first layer)": (k + 2, k + 2), "encoder": (memory, memory),
            "decoder self": (k, k), "decoder cross": (k, memory)}


def paths(attn: Attention):
    """name -> fn(q, k, v) -> output, over head-split tensors (B, heads, tokens, head_dim)."""
    p = attn.attn_drop.p
    return {"fused": lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
            "sdpa_dropout": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout_p=p),
            "written_out": lambda q, k, v: attn.attn_drop((q * q.shape[-1] ** -0.5 @ k.transpose(-2, -1))
                                                          .softmax(dim=-1)) @ v}


def time_path(fn, tensors, grad, reps: int) -> float:
    t0 = time.process_time()
    for _ in range(reps):
        fn(*tensors).backward(grad)
    return (time.process_time() - t0) / reps


def measure(prof, precision: str, rounds: int) -> list[dict]:
    m, b = prof.model, prof.train.batch_size
    attn = Attention(m.d_model, m.n_heads, m.dropout).train()
    head_dim, dtype = m.d_model // m.n_heads, DTYPES[precision]
    cases = {}
    for name, (n_q, n_k) in shapes(prof).items():
        q, k, v = (torch.randn(b, m.n_heads, n, head_dim, dtype=dtype, requires_grad=True) for n in (n_q, n_k, n_k))
        cases[name] = ((q, k, v), torch.randn(b, m.n_heads, n_q, head_dim, dtype=dtype))
    fns = paths(attn)
    times = {(c, f): [] for c in cases for f in fns}
    for (c, f) in times:
        time_path(fns[f], *cases[c], 1)  # warm-up
    for _ in range(rounds):
        for (c, f), ts in times.items():
            ts.append(time_path(fns[f], *cases[c], 3))
    return [{"attention": c, "queries": cases[c][0][0].shape[2], "keys": cases[c][0][1].shape[2], "path": f,
             "precision": precision, "kernels": kernels_label(precision), "batch": b,
             "ms_fwd_bwd": round(1e3 * float(np.median(ts)), 3)} for (c, f), ts in times.items()]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--emulated-bf16", action="store_true", help="time bf16 even where the CPU only emulates it")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args()
    if args.rounds < 1:
        raise SystemExit("attention_paths.py: --rounds must be >= 1")
    precisions = timed_precisions([x for x in args.precisions.split(",") if x], args.emulated_bf16,
                                  "attention_paths.py")
    if not precisions or set(precisions) - set(DTYPES):
        raise SystemExit(f"attention_paths.py: --precisions takes {', '.join(DTYPES)}")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    prof = load_profile("act", "cpu", [])
    mon = LoadMonitor()
    mon.start()
    rows = [r for pr in precisions for r in measure(prof, pr, args.rounds)]
    load = mon.stop()
    for r in rows:
        r.update({"chunk_size": prof.model.chunk_size, "threads": 1, "rounds": args.rounds,
                  "other_load_cores": None if load is None else round(load, 2),
                  "loadavg": round(os.getloadavg()[0], 2), "torch": torch.__version__})
        print(f"{r['precision']:5s} {r['attention']:27s} {r['queries']:4d}x{r['keys']:<4d} {r['path']:13s} "
              f"{r['ms_fwd_bwd']:8.3f} ms")
    write_csv(rows, Path(args.out))
    print(f"wrote {args.out} (other processes used {load if load is None else round(load, 2)} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
