"""A randomized fault campaign (`pytest -m faults`, in `make test` and so in CI), seeded and
bounded (about three minutes on 2 cores):

- kill points: generate-demos, train and eval are each stopped again and again at random
  moments (SIGKILL or SIGTERM, alternately) and restarted until they finish; each must end with
  the same bytes (outcomes for eval) as an undisturbed run, and each SIGTERM must give one line.
- corruption offsets: a metadata file (config.json, done.json, the checkpoint JSONs, eval.json,
  summary.json, run.json, manifest.json, settings.json) is cut short at a random offset or gets a
  byte that is not UTF-8 at a random one; the command that reads it must refuse it in one line
  naming the file, and change nothing else. These run the CLI in this process (no start-up cost),
  so many offsets fit.

ACT_BENCH_CAMPAIGN_SEED and ACT_BENCH_CAMPAIGN_TRIALS change the seed and the number of offsets.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import (GEN, cli_env, cli_here_damaged, demos_fp, eval_args, eval_fp, grid_args, ok, run_fp,
                         snapshot, train_args)

pytestmark = [pytest.mark.faults, pytest.mark.slow]
SEED = int(os.environ.get("ACT_BENCH_CAMPAIGN_SEED", "25"))
TRIALS = int(os.environ.get("ACT_BENCH_CAMPAIGN_TRIALS", "100"))
KILLS = {"generate-demos": 3, "train": 8, "eval": 4}  # kill points per command
# a tqdm render, e.g. "demos transfer_cube:  50%|#####     | 1/2 [00:01<00:01,  1.38s/ep]"
PROGRESS_BAR = re.compile(r".*\| *\d+/\d+ \[[^]]*\]")


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    """Undisturbed demos, training, evaluation and a one-cell grid, with their durations."""
    w = tmp_path_factory.mktemp("campaign")
    times = {}
    for name, args in (("generate-demos", [*GEN, "--out", "demos"]), ("train", train_args("demos", "run")),
                       ("eval", eval_args("run", "ev"))):
        t = time.perf_counter()
        ok(*args, cwd=w)
        times[name] = time.perf_counter() - t
    (w / "grid/demos").mkdir(parents=True)
    shutil.copytree(w / "demos", w / "grid/demos/transfer_cube_48x64_top")
    ok(*grid_args("grid"), cwd=w)
    return {"w": w, "times": times}


# ---------------------------------------------------------------- kill points
def _holds(lock: Path, pid: int) -> bool:
    """Whether process `pid` holds the lock: the file alone is not enough, since one killed with
    SIGKILL leaves its lock file behind (the kernel drops only the flock), and a signal sent on
    that stale file would land while the next command's interpreter is still starting up."""
    try:
        return json.loads(lock.read_text()).get("pid") == pid
    except (OSError, ValueError, AttributeError):
        return False


def _stop_at_random(args, cwd: Path, folder: Path, sig: int, rng: random.Random, span: float) -> bool:
    """Start the command; once it holds `folder` (its lock file), wait a random part of `span`
    and send `sig`. False when it finished first (the chain is over)."""
    p = subprocess.Popen([sys.executable, "-m", "act_bench.cli", *args], cwd=cwd, env=cli_env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lock = folder / ".act-bench.lock"
    while not _holds(lock, p.pid) and p.poll() is None:
        time.sleep(0.02)
    time.sleep(rng.uniform(0, span))
    if p.poll() is None:
        p.send_signal(sig)
    _, err = p.communicate(timeout=300)
    if p.returncode == 0:
        return False
    assert "Traceback" not in err, err[-3000:]
    if sig == signal.SIGTERM:  # one line says where it stopped, and nothing is drawn after it
        lines = [ln for ln in err.replace("\r", "\n").splitlines() if ln.strip()]
        said = [ln for ln in lines if not PROGRESS_BAR.fullmatch(ln)]
        assert p.returncode == 143 and len(said) == 1 and lines[-1] == said[0], err[-2000:]
        assert said[0].startswith(f"act-bench {args[0]}: interrupted by SIGTERM"), err[-2000:]
    return True


@pytest.mark.parametrize("command", list(KILLS))
def test_kill_points(ref, command):
    w, rng = ref["w"], random.Random(f"{SEED}-{command}")
    out = w / f"k_{command}"
    args = {"generate-demos": [*GEN, "--out", out.name], "train": train_args("demos", out.name),
            "eval": eval_args("run", out.name)}[command]
    span = 0.6 * ref["times"][command]  # the undisturbed time, start-up included: most points land in the work
    stops = 0
    for k in range(KILLS[command]):
        sig = signal.SIGKILL if k % 2 == 0 else signal.SIGTERM
        if not _stop_at_random(args, w, out, sig, rng, span):
            break
        stops += 1
    ok(*args, cwd=w)
    assert stops >= 1, "every run finished before its kill point"
    if command == "generate-demos":
        assert demos_fp(out) == demos_fp(w / "demos")
    elif command == "train":
        assert run_fp(out) == run_fp(w / "run")
    else:
        assert eval_fp(out) == eval_fp(w / "ev")
    assert not list(out.rglob(".*.tmp*")) and not (out / ".act-bench.lock").exists()


# ---------------------------------------------------------------- corruption offsets
def _targets(w: Path) -> list[tuple[str, list[str]]]:
    """(a metadata file, the command that reads it)."""
    r, g = w / "run", w / "grid"
    cell = "grid/out/evals/transfer_cube/act-no-te/seed0"
    return [("run/config.json", train_args("demos", r)),
            ("run/done.json", train_args("demos", r)),
            ("run/checkpoints/last.json", ["eval", "--run", str(r / "checkpoints/last"), "--out", str(w / "x_ev")]),
            ("run/checkpoints/best.json", eval_args(r, w / "x_ev")),
            ("ev/eval.json", eval_args(r, w / "ev")),
            (f"{cell}/summary.json", grid_args(g)),
            ("grid/runs/transfer_cube/act/ci/seed0/done.json", grid_args(g)),
            ("grid/out/run.json", ["report", str(g / "out")]),
            ("demos/manifest.json", ["inspect", str(w / "demos")]),
            ("demos/settings.json", train_args("demos", r))]


def _damage(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Cut short before the closing brace (never valid JSON), or put a non-UTF-8 byte anywhere."""
    if rng.random() < 0.5:
        cut = rng.randrange(0, data.rstrip().rindex(b"}"))
        return data[:cut], f"cut at byte {cut}"
    at = rng.randrange(0, len(data))
    return data[:at] + b"\xff" + data[at + 1:], f"byte {at} set to 0xff"


def test_corruption_offsets(ref):
    w, rng = ref["w"], random.Random(f"{SEED}-corrupt")
    targets = _targets(w)
    watched = [w / "run", w / "ev", w / "grid", w / "demos"]
    before = {str(d): snapshot(d) for d in watched}
    for trial in range(TRIALS):
        rel, args = targets[trial % len(targets)] if trial < len(targets) else rng.choice(targets)
        path = w / rel
        damaged, how = _damage(path.read_bytes(), rng)
        code, err, lines = cli_here_damaged(path, damaged, args, w)
        what = f"{rel}, {how}: {args[0]}"
        assert code == 2 and "Traceback" not in err and len(lines) == 1, f"{what}\n{err[-2000:]}"
        assert path.name in lines[0], f"{what}: {lines[0]}"
        assert {str(d): snapshot(d) for d in watched} == before, what
    assert not (w / "x_ev").exists()
    assert json.loads((w / "run/done.json").read_text())["step"] == 20
