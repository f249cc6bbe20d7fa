"""Environment steps per second, transfer cube with the top camera at 480x640: act-bench vs gym-aloha.

  ours:      act_bench.envs.make_env("transfer_cube", cameras=("top",), image_size=(480, 640))
  gym-aloha: gymnasium.make("gym_aloha/AlohaTransferCube-v0", obs_type="pixels_agent_pos") (its
             observation is the top camera at 480x640 plus the joint state; note that its task
             renders three cameras each step (top, angle, front_close) and returns only top)

Both step a held action (the reset's joint positions) from a fresh reset each round. Each side is
a long-lived worker process (ours in this Python, gym-aloha in a bench-only venv), both pinned to
the same 2 cores; the driver alternates "reset, then time N steps" between them over several rounds
(one runs at a time; the order flips each round) and reports medians of steps/s and the ratio
ours / gym-aloha (> 1: act-bench is faster), with other processes' CPU use beside each timing.
Rendering goes through MUJOCO_GL (egl by default) on both sides.

    MUJOCO_GL=egl .venv/bin/python -m benchmarks.vs_gym_aloha [--rounds 5 --steps 200]

The gym-aloha venv (GYM_ALOHA_VENV, default /tmp/act-bench-bench-gym-aloha) is built the first
time with `pip install gym-aloha==0.1.5` from PyPI into a Python 3.12 (PY312 picks it; gym-aloha
pins older mujoco and dm_control, so it cannot share our venv); nothing else touches the network.
Writes results/bench/vs_gym_aloha.csv. ~5 minutes on a 2-core machine.
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

from benchmarks.peer_workers import (Worker, bench_cores, interleave, median_of, serve, thread_env, timed,
                          utc_now)

DEFAULT_VENV = "/tmp/act-bench-bench-gym-aloha"
GYM_ALOHA = "gym-aloha==0.1.5"
GYM_ALOHA_ID = "gym_aloha/AlohaTransferCube-v0"
SIZE = (480, 640)


# --- workers: make the env once, then "reset and time n steps" on request ----------------------------
def our_handlers() -> dict:
    import mujoco

    from act_bench.envs import make_env

    env = make_env("transfer_cube", cameras=("top",), image_size=SIZE)
    return env_handlers(env, lambda obs: obs["qpos"], lambda obs: obs["images"]["top"].shape,
                        lambda: env._camera_renderer.render(env.data),
                        {"mujoco": mujoco.__version__, "env": "act_bench transfer_cube"})


def gym_aloha_handlers() -> dict:
    import gym_aloha  # noqa: F401  (registers the ids)
    import gymnasium
    import mujoco

    env = gymnasium.make(GYM_ALOHA_ID, obs_type="pixels_agent_pos")
    physics = env.unwrapped._env.physics
    return env_handlers(env, lambda obs: obs["agent_pos"].astype("float32"), lambda obs: obs["pixels"]["top"].shape,
                        lambda: physics.render(height=SIZE[0], width=SIZE[1], camera_id="top"),
                        {"mujoco": mujoco.__version__, "env": GYM_ALOHA_ID})


def env_handlers(env, held_action, top_shape, render_top, info: dict) -> dict:
    """step: reset, then time n env steps; render: time n renders of the top camera alone (for
    context: how much of a step is drawing that one image)."""
    state: dict = {}

    def reset():
        obs, _ = env.reset(seed=0)
        state["action"] = held_action(obs)
        state["top"] = list(top_shape(obs))

    def one_step():
        _, _, terminated, truncated, _ = env.step(state["action"])
        if terminated or truncated:
            reset()

    def step(n):
        reset()
        one_step()  # the first frame after a reset may upload textures
        return timed(one_step, n)

    def render(n):
        reset()
        render_top()
        return timed(render_top, n)

    def describe():
        reset()
        return {**info, "python": sys.version.split()[0], "top_shape": state["top"]}

    return {"step": step, "render": render, "info": describe}


# --- driver --------------------------------------------------------------------------------------
def find_python312() -> str:
    candidates = [os.environ.get("PY312"), shutil.which("python3.12"),
                  str(Path.home() / ".pyenv" / "versions" / "3.12.1" / "bin" / "python3")]
    for c in candidates:
        if c and Path(c).exists():
            return c
    raise SystemExit("error: no Python 3.12 found for the gym-aloha venv; set PY312 to one")


def ensure_gym_aloha_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import gym_aloha, gymnasium"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"building the gym-aloha venv at {venv} (pip install {GYM_ALOHA} from PyPI) ...", flush=True)
    steps = [[find_python312(), "-m", "venv", str(venv)], [str(venv / "bin" / "pip"), "install", "--quiet", GYM_ALOHA]]
    for cmd in steps:
        if subprocess.run(cmd).returncode != 0:
            raise SystemExit(f"error: could not build the gym-aloha venv at {venv}: `{' '.join(cmd)}` failed. "
                             f"It needs Python 3.12 (PY312) and PyPI access; or point GYM_ALOHA_VENV at a "
                             f"venv with {GYM_ALOHA}.")
    if subprocess.run(probe).returncode != 0:
        raise SystemExit(f"error: gym-aloha was installed at {venv} but does not import (see above)")
    return python


def start_workers(gym_python: Path, log_dir: Path, cores: list[int]) -> list[Worker]:
    env = thread_env(1)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    script = str(Path(__file__).resolve())
    log_dir.mkdir(parents=True, exist_ok=True)
    return [Worker(name, [python, script, "--worker", name], cores, env, str(REPO),
                   str(log_dir / f"vs_gym_aloha_{name}.log"))
            for name, python in (("ours", sys.executable), ("gym-aloha", str(gym_python)))]


def summarize(what: str, results: dict[str, list[dict]], rounds: int, n: int) -> dict:
    rate = {name: [r["n"] / r["seconds"] for r in res] for name, res in results.items()}
    loads = [r["other_load_cores"] or 0.0 for res in results.values() for r in res]
    ours, gym = (n / median_of(results[name], "seconds") for name in ("ours", "gym-aloha"))
    return {"what": what, "ours_per_s": ours, "gym_aloha_per_s": gym, "ratio": ours / gym, "rounds": rounds,
            "n_per_round": n, "other_load_cores": max(loads), "mean_other_load_cores": sum(loads) / len(loads),
            "ours_all": ";".join(f"{v:.1f}" for v in rate["ours"]),
            "gym_aloha_all": ";".join(f"{v:.1f}" for v in rate["gym-aloha"])}


def print_table(rows: list[dict]) -> None:
    print("per second, from the median round; ratio > 1: act-bench faster; others = CPU cores used by other "
          "processes while timing (max/mean)")
    print(f"{'what (top 480x640)':20s} {'ours/s':>8s} {'gym-aloha/s':>12s} {'ours/gym-aloha':>15s} {'rounds':>8s} "
          f"{'others':>10s}")
    for row in rows:
        load = f"{row['other_load_cores']:.2f}/{row['mean_other_load_cores']:.2f}"
        print(f"{row['what']:20s} {row['ours_per_s']:8.1f} {row['gym_aloha_per_s']:12.1f} {row['ratio']:15.2f} "
              f"{row['rounds']:4d}x{row['n_per_round']:<3d} {load:>10s}")
    for row in rows:
        print(f"{row['what']} per round: ours {row['ours_all']}; gym-aloha {row['gym_aloha_all']}")
    print("env_step: env.step with a held action (gym-aloha's task renders top, angle and front_close each step); "
          "render_top_only: one 480x640 render of the top camera")


def write_csv(path: Path, rows: list[dict], infos: dict[str, dict], cores: list[int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    common = {"ours_mujoco": infos["ours"]["mujoco"], "gym_aloha_mujoco": infos["gym-aloha"]["mujoco"],
              "gym_aloha_version": GYM_ALOHA.split("==")[1], "mujoco_gl": os.environ.get("MUJOCO_GL", "egl"),
              "cores": " ".join(map(str, cores)), "date": utc_now()}
    records = [{"what": row["what"], "task": "transfer_cube", "cameras": "top", "image_size": f"{SIZE[0]}x{SIZE[1]}",
                "ours_per_s": f"{row['ours_per_s']:.1f}", "gym_aloha_per_s": f"{row['gym_aloha_per_s']:.1f}",
                "ratio": f"{row['ratio']:.2f}", "rounds": row["rounds"], "n_per_round": row["n_per_round"],
                "other_load_cores": f"{row['other_load_cores']:.2f}",
                "mean_other_load_cores": f"{row['mean_other_load_cores']:.2f}",
                "ours_all": row["ours_all"], "gym_aloha_all": row["gym_aloha_all"], **common} for row in rows]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def drive(args: argparse.Namespace) -> int:
    gym_python = ensure_gym_aloha_venv(Path(args.venv))
    cores = bench_cores(args.cores)
    workers = start_workers(gym_python, Path(args.log_dir), cores)
    try:
        infos = {w.name: w.call("info") for w in workers}
        for name, info in infos.items():
            print(f"{name}: {info['env']}, python {info['python']}, mujoco {info['mujoco']}, "
                  f"top image {info['top_shape']}, cores {cores}")
        rows = [summarize("env_step", interleave(workers, args.rounds, "step", n=args.steps), args.rounds, args.steps),
                summarize("render_top_only", interleave(workers, args.rounds, "render", n=args.renders),
                          args.rounds, args.renders)]
    finally:
        for w in workers:
            w.close()
    print_table(rows)
    write_csv(Path(args.out), rows, infos, cores)
    print(f"wrote {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=200, help="env steps a round (a gym-aloha episode is 300)")
    p.add_argument("--renders", type=int, default=50, help="top-camera renders a round (context row)")
    p.add_argument("--cores", type=int, default=2, help="cores both workers are pinned to")
    p.add_argument("--venv", default=os.environ.get("GYM_ALOHA_VENV", DEFAULT_VENV))
    p.add_argument("--out", default=str(REPO / "results" / "bench" / "vs_gym_aloha.csv"))
    p.add_argument("--log-dir", default="/tmp/act-bench-bench-logs", help="workers' stderr")
    p.add_argument("--worker", choices=("ours", "gym-aloha"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        serve(our_handlers() if args.worker == "ours" else gym_aloha_handlers())
        return 0
    return drive(args)


if __name__ == "__main__":
    sys.exit(main())
