"""The act-bench CLI as the tests run it, in a subprocess or in this process (the one place that
starts it): the environment, the arguments of a tiny train, eval and run, a run that must succeed, a fault
that must give one error line, a kill -9 at a moment, and fingerprints of what the commands
wrote (to compare a disturbed run with an undisturbed one); and a script of scripts/ as a module."""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
# ci profile, shrunk: a 20-step training with a checkpoint every 5 steps
TINY = ["--set", "train.steps=20", "--set", "train.checkpoint_every=5", "--set", "train.log_every=5",
        "--set", "train.val_every=10", "--set", "model.d_model=32", "--set", "model.dim_feedforward=64",
        "--set", "model.n_heads=2", "--set", "train.num_threads=1"]
GEN = ["generate-demos", "--task", "transfer_cube", "--episodes", "2", "--image-size", "48x64", "--workers", "1"]
LOG: list[tuple[str, int, str]] = []  # (fault, exit code, its one line): ACT_BENCH_FAULT_LOG's table


def load_script(name: str):
    """scripts/NAME.py imported as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- running the CLI
def cli_env(**extra) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "MUJOCO_GL": "egl", "OMP_NUM_THREADS": "1"}
    env.update(extra)
    return env


def cli_command(*args) -> list[str]:
    """The argv that runs `act-bench ARGS` with this interpreter (for Popen too)."""
    return [sys.executable, "-m", "act_bench.cli", *map(str, args)]


def cli(*args, cwd, env=None, fsize=None, timeout=600) -> subprocess.CompletedProcess:
    def limit():  # a size-limited file: writes past it fail with EFBIG (Python ignores SIGXFSZ)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(cli_command(*args), cwd=cwd, env=env or cli_env(),
                          capture_output=True, text=True, timeout=timeout, preexec_fn=limit if fsize else None)


def ok(*args, cwd, **kw):
    res = cli(*args, cwd=cwd, **kw)
    assert res.returncode == 0, res.stderr[-2000:]
    return res


def one_line(fault: str, res, code: int = 2) -> str:
    """The fault gave exactly one error line (no traceback) and exit `code`."""
    err = res.stderr.replace("\r", "\n")
    assert res.returncode == code, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    lines = [ln[ln.index("act-bench"):] for ln in err.splitlines() if "error:" in ln and "act-bench" in ln]
    assert len(lines) == 1, err[-2000:]
    LOG.append((fault, res.returncode, lines[0]))
    return lines[0]


def kill_at(args, cwd, delay: float) -> bool:
    """Start the command, SIGKILL its process group after `delay` s; True if it was still running."""
    p = subprocess.Popen(cli_command(*args), cwd=cwd, env=cli_env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(delay)
    alive = p.poll() is None
    if alive:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    LOG.append((f"kill -9 at {delay:.1f} s: {' '.join(map(str, args[:1]))}", -9 if alive else 0,
                "killed; the rerun resumed" if alive else "finished before the kill"))
    return alive


# ---------------------------------------------------------------- fingerprints
def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): sha(p) for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def demos_fp(folder: Path) -> dict:
    return {p.name: sha(p) for p in sorted(Path(folder).iterdir()) if p.suffix in (".hdf5", ".json")}


def run_fp(run_dir: Path) -> dict:
    fp = {p.name: sha(p) for p in sorted((Path(run_dir) / "checkpoints").glob("*.safetensors"))}
    metrics = pd.read_csv(Path(run_dir) / "metrics.csv").drop(columns=["steps_per_s", "elapsed_s"])
    return {**fp, "metrics": metrics.to_csv(index=False)}


def eval_fp(out: Path) -> str:
    return pd.read_csv(Path(out) / "episodes.csv").drop(columns=["seconds"]).to_csv(index=False)


def results_fp(out: Path) -> str:
    return (Path(out) / "results.csv").read_text()


def cli_here(args, cwd: Path) -> tuple[int, str]:
    """act-bench in this process: (exit code, stderr); its signal handlers are undone after."""
    from act_bench import cli

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    err, here = io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = cli.main([str(a) for a in args])
    finally:
        os.chdir(here)
        for s, h in handlers.items():
            signal.signal(s, h)
    return code, err.getvalue()


def cli_here_damaged(path: Path, damaged: bytes, args, cwd: Path) -> tuple[int, str, list[str]]:
    """act-bench in this process with `path` holding `damaged` (its bytes put back after):
    (exit code, stderr, its error lines)."""
    original = path.read_bytes()
    path.write_bytes(damaged)
    try:
        code, err = cli_here(args, cwd)
    finally:
        path.write_bytes(original)
    return code, err, [ln for ln in err.replace("\r", "\n").splitlines() if "error:" in ln]


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def train_args(data, out):
    return ["train", "--task", "transfer_cube", "--method", "act", "--profile", "ci", "--data", str(data),
            "--out", str(out), "--no-progress", *TINY]


def eval_args(run, out):
    return ["eval", "--run", str(run), "--method", "act-no-te", "--episodes", "4", "--videos", "0", "--out", str(out),
            "--no-progress", "--batch", "2"]


def grid_args(root):
    return ["run", "--methods", "act-no-te", "--tasks", "transfer_cube", "--profile", "ci", "--episodes", "2",
            "--demos", "2", "--videos", "0", "--out", f"{root}/out", "--demos-root", f"{root}/demos",
            "--runs-root", f"{root}/runs", "--no-progress", *TINY]
