"""The human-like demonstration style: plan edits, draws reproducible from the seed, modes at
their stated frequencies (planning only: fast), the style in every identity, and two recorded
episodes that succeed."""
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from act_bench.cli import main as cli_main
from act_bench.errors import ActBenchError
from act_bench.scripted import plan_edit
from act_bench.scripted.expert import CLOSED, OPEN
from act_bench.scripted.human import draw_correction, draw_modes, draw_path, human_rng, humanize, path_offsets
from act_bench.scripted.style import HUMAN, style_settings
from act_bench.scripted.trajectory import Trajectory, Waypoint
from act_bench.storage import layout
from act_bench.tasks.registry import get_task

TASKS = ("transfer_cube", "insertion", "transfer_cube_v2", "insertion_v2")
Q = np.array([1.0, 0, 0, 0])


def _wp(t, x, grip=OPEN, z=0.0):
    return Waypoint(t, np.array([x, 0.0, z]), Q, grip)


def _toy_plan():
    """Right: above, down, close (a pick), carry; left: two moves."""
    right = Trajectory([_wp(0, 0.0, CLOSED), _wp(100, 0.2, z=0.1), _wp(140, 0.2), _wp(180, 0.2, CLOSED),
                        _wp(300, 0.5, CLOSED)])
    left = Trajectory([_wp(0, -0.3, CLOSED), _wp(120, -0.2), _wp(300, -0.1)])
    return {"right": right, "left": left}


def _sides(plan):
    return {s: [(w.t, tuple(np.round(w.pos, 9)), w.grip) for w in traj.waypoints] for s, traj in plan.items()}


# ------------------------------------------------------------------ plan edits (no simulator)
def test_retime_keeps_the_waypoints_and_applies_factors_and_pauses():
    plan = _toy_plan()
    times = plan_edit.breakpoints(plan)
    assert times == [0, 100, 120, 140, 180, 300]
    factors, pauses = [1.0, 2.0, 1.0, 0.5, 1.0], [10, 0, 0, 5, 0, 0]
    out, scale = plan_edit.retime(plan, factors, pauses, end_step=1000)
    assert scale == 1.0
    # 0 (pause 10) -> 110, +40 -> 150, +20 -> 170 (pause 5) 175, +20 -> 195, +120 -> 315
    assert [w.t for w in out["right"].waypoints] == [0, 10, 110, 150, 170, 175, 195, 315]
    for t_old, t_new in [(100, 110), (140, 170), (180, 195), (300, 315)]:
        for side in plan:
            assert np.allclose(out[side].at(t_new)[0], plan[side].at(t_old)[0])
    squeezed, scale = plan_edit.retime(plan, factors, pauses, end_step=200)
    assert scale == pytest.approx(200 / 315) and squeezed["right"].waypoints[-1].t == 200


def test_hold_and_redo_grasp():
    plan = _toy_plan()
    assert plan_edit.grasps(plan) == plan_edit.picks(plan) == [("right", 2)]
    sideways = {"left": Trajectory([_wp(0, -0.3), _wp(20, -0.1), _wp(30, -0.1, CLOSED)])}  # a hand-over's grasp
    assert plan_edit.grasps(sideways) == [("left", 1)] and plan_edit.picks(sideways) == []
    held = plan_edit.hold(plan, 120, 30)
    assert np.allclose(held["right"].at(150)[0], plan["right"].at(120)[0])  # stood still
    assert np.allclose(held["left"].at(330)[0], plan["left"].at(300)[0])  # later by 30
    assert np.allclose(plan_edit.approach_direction(plan, "right", 2), [0, 0, 1])
    redo = plan_edit.redo_grasp(plan, "right", 2, [0, 0, 0.03], (10, 10, 20, 20), retreat=0.05)
    r = redo["right"]
    assert np.allclose(r.at(140)[0], [0.2, 0, 0.03]) and r.at(140)[2] == OPEN  # first try: 3 cm too high
    assert r.at(150)[2] == CLOSED and r.at(160)[2] == OPEN  # closes on nothing, reopens
    assert np.allclose(r.at(180)[0], [0.2, 0, 0.05]) and np.allclose(r.at(200)[0], [0.2, 0, 0])  # lifts, down again
    assert r.at(240)[2] == CLOSED and plan_edit.grasps(redo) == [("right", 2), ("right", 6)]  # the try, the grasp
    assert np.allclose(redo["left"].at(360)[0], plan["left"].at(300)[0])  # the other arm waited


def test_path_drift_is_smooth_and_hand_sized():
    rng = np.random.default_rng(0)
    offsets = np.concatenate([path_offsets(draw_path(["right"], 400, HUMAN, rng)["right"], 400) for _ in range(200)])
    sd = offsets.std(0)
    assert np.all((sd > 0.002) & (sd < 0.008)), sd  # a few mm per axis
    assert np.abs(offsets).max() < 0.03
    steps = np.abs(np.diff(offsets.reshape(200, 400, 3), axis=1))
    assert steps.max() < 0.0015  # under 1.5 mm per 20 ms step: no jumps


# ------------------------------------------------------------------ draws (planning only)
@pytest.mark.parametrize("task", TASKS)
def test_modes_come_at_their_stated_frequencies(task):
    modes = get_task(task).expert.MODES
    assert len(modes) >= 2 and all(len(options) >= 2 for options in modes.values())
    n = 3000
    counts = {name: dict.fromkeys(options, 0) for name, options in modes.items()}
    for seed in range(n):
        for name, option in draw_modes(modes, human_rng(seed)).items():
            counts[name][option] += 1
    for name, options in modes.items():
        for option, p in options.items():
            # 5 binomial standard deviations: a false alarm about once in 3.5 million checks
            assert abs(counts[name][option] / n - p) < 5 * np.sqrt(p * (1 - p) / n), (name, option, counts)


def test_corrections_come_at_their_stated_frequency():
    plan, n = _toy_plan(), 3000
    hits = sum(draw_correction(plan, HUMAN, np.random.default_rng(s)) is not None for s in range(n))
    p = HUMAN.correction_prob
    assert abs(hits / n - p) < 5 * np.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def envs():
    from act_bench.envs import make_env

    return {task: make_env(task, cameras=()) for task in ("transfer_cube_v2", "insertion_v2")}


def _plan_for(env, task, seed):
    env.reset(seed=seed)
    expert = get_task(task).expert(env, rng=np.random.default_rng(seed))
    draws = humanize(expert, seed, env.task_config.episode_len)
    return expert, draws


@pytest.mark.parametrize("task", ["transfer_cube_v2", "insertion_v2"])
def test_draws_are_reproducible_from_the_seed_and_fit_the_episode(envs, task):
    env = envs[task]
    a, draws_a = _plan_for(env, task, 11)
    b, draws_b = _plan_for(env, task, 11)
    assert json.dumps(draws_a) == json.dumps(draws_b) and _sides(a.plan) == _sides(b.plan)
    assert all(np.array_equal(a.offsets[s], b.offsets[s]) for s in a.offsets)
    _, draws_c = _plan_for(env, task, 12)
    assert draws_c["timing"] != draws_a["timing"]
    for seed in range(30):  # every plan ends in time, whatever was drawn
        expert, draws = _plan_for(env, task, seed)
        assert draws["plan_end"] <= HUMAN.end_step
        assert all(w.t >= 0 for traj in expert.plan.values() for w in traj.waypoints)


@pytest.mark.parametrize("task", ["transfer_cube_v2", "insertion_v2"])
def test_each_mode_option_plans_a_different_path(envs, task):
    env = envs[task]
    env.reset(seed=3)
    expert = get_task(task).expert(env)
    for name, options in expert.MODES.items():
        paths = []
        for option in options:
            expert.reset({name: option})
            paths.append(np.array([np.concatenate([expert.plan[s].at(t)[0] for s in ("left", "right")])
                                   for t in range(400)]))
        for i in range(1, len(paths)):
            assert np.abs(paths[i] - paths[0]).max() > 0.009, (name, list(options)[i])
    expert.reset()  # no modes: the scripted expert's own, unchanged
    with pytest.raises(ValueError, match="unknown option"):
        expert.reset({next(iter(expert.MODES)): "sideways"})


# ------------------------------------------------------------------ identity and bad input
def test_the_style_is_part_of_every_identity():
    assert style_settings("scripted") == {}  # older scripted folders keep their identity
    assert style_settings("human")["style_params"]["version"] == "human-1"
    assert layout.demo_dir("insertion_v2", (48, 64), ["top"], style="human").name == "insertion_v2_48x64_top_human"
    assert layout.demo_dir("insertion_v2", (48, 64), ["top"]).name == "insertion_v2_48x64_top"
    assert layout.run_dir("insertion_v2", "act", "cpu", 0, style="human") == Path("runs/insertion_v2/act/cpu-human/seed0")
    from act_bench.grid.plan import Grid, make_plan
    from act_bench.policies.config import load_profile

    grid = Grid(methods=("act",), tasks=("insertion_v2",), seeds=(0,), demo_style="human")
    plan = make_plan(grid, {"act": load_profile("act", "ci")})
    assert plan.demos[0].style == "human" and plan.demos[0].data_dir.name.endswith("_human")
    assert plan.run_dirs[("insertion_v2", "act", 0)].parent.name == "cpu-human"


def test_bad_style_and_mixed_folders_are_refused(tmp_path, capsys):
    assert cli_main(["generate-demos", "--task", "insertion_v2", "--style", "robot", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown demo style 'robot'" in err and "\n" not in err
    assert cli_main(["run", "--demo-style", "robot", "--out", str(tmp_path / "r")]) == 2
    assert "\n" not in capsys.readouterr().err.strip()
    (tmp_path / "settings.json").write_text(json.dumps({
        "format_version": 1, "task": "insertion_v2", "seed": 0, "cameras": [], "image_size": [24, 32],
        "noise": 0.0, "episode_len": 400}))  # a scripted folder
    from act_bench.demos.generate import DemoSettings, generate_demos

    with pytest.raises(ActBenchError, match="other settings.*style"):
        generate_demos("insertion_v2", 1, tmp_path, DemoSettings(0, [], (24, 32), style="human"), progress=False)


def test_one_results_folder_holds_one_demo_style(tmp_path):
    from act_bench.grid.run import _record_invocation

    _record_invocation(tmp_path / "run.json", {"methods": "act"})
    with pytest.raises(ActBenchError, match="scripted demos"):
        _record_invocation(tmp_path / "run.json", {"methods": "act", "demo_style": "human"})


# ------------------------------------------------------------------ recording (slow-ish)
@pytest.mark.slow
def test_human_episodes_record_succeed_resume_and_name_their_style(tmp_path, capsys):
    from act_bench.demos.generate import DemoSettings, generate_demos

    small = DemoSettings(0, ["top"], (24, 32), style="human")
    out = tmp_path / "human"
    m = generate_demos("transfer_cube_v2", 2, out, small, progress=False)
    assert m["style"] == "human" and m["episodes"] == 2 and m["attempts"] >= 2
    assert m["success_rate"] == 2 / m["attempts"] and "scripted_success_rate" not in m
    assert sum(m["draws"]["modes"]["approach"].values()) == 2
    with h5py.File(out / "episode_0.hdf5", "r") as f:
        assert f.attrs["style"] == "human" and f["stage"][()].max() == 4 and f["action"].shape == (400, 14)
        draws, seed = json.loads(f.attrs["human_draws"]), int(f.attrs["seed"])
    from act_bench.envs import make_env

    _, again = _plan_for(make_env("transfer_cube_v2", cameras=()), "transfer_cube_v2", seed)
    assert json.loads(json.dumps(again)) == draws  # every draw, reproduced from the recorded seed
    hashes = m["content_hashes"]
    (out / "manifest.json").unlink()
    (out / "episode_1.hdf5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # a damaged file: recorded again
    assert generate_demos("transfer_cube_v2", 2, out, small, progress=False)["content_hashes"] == hashes
    assert cli_main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "style human (human-1)" in text and "recorded of" in text and "human" in text.splitlines()[2]


def test_run_with_human_demos_uses_their_own_folders(tmp_path):
    """`run --demo-style human` (fake backend): demos, runs and run.json all carry the style."""
    from fakes import FakeBackend

    from act_bench.grid import run

    backend = FakeBackend(tmp_path / "calls.log")
    grid = run.Grid(methods=("act",), tasks=("transfer_cube",), seeds=(0,), episodes=2, out=tmp_path / "out",
                    demos_root=tmp_path / "demos", runs_root=tmp_path / "runs", videos=0, demos=2,
                    demo_style="human")
    assert run.run_benchmark(grid, backend=backend, progress=False)["failures"] == []
    calls = backend.calls()
    demos = [c for c in calls if c["kind"] == "demos"]
    assert demos[0]["style"] == "human" and demos[0]["out_dir"].endswith("_human")
    trains = [c for c in calls if c["kind"] == "train"]
    assert all(c["data_dir"].endswith("_human") for c in trains)
    assert (tmp_path / "runs/transfer_cube/act/cpu-human/seed0").is_dir()
    assert json.loads((tmp_path / "out/run.json").read_text())["demo_style"] == "human"
