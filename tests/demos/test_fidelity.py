"""The task scenes and experts against the original ACT release's numbers (docs/fidelity.md)."""
import mujoco
import numpy as np
import pytest

from act_bench.sim import poses as P
from act_bench.sim.robot import load_model
from act_bench.tasks import load_task


def _geom(model, name):
    gid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
    assert gid >= 0, name
    return gid


def _light(model, name):
    lid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_LIGHT, name)
    assert lid >= 0, name
    return lid


@pytest.fixture(scope="module")
def insertion():
    return load_model("insertion.xml")


@pytest.fixture(scope="module")
def cube():
    return load_model("transfer_cube.xml")


# (half-sizes, position in the socket frame) as in the original release
SOCKET = {
    "socket_bottom": ((0.06, 0.018, 0.002), (0, 0, -0.02)),
    "socket_top": ((0.06, 0.018, 0.002), (0, 0, 0.02)),
    "socket_left": ((0.06, 0.002, 0.018), (0, 0.02, 0)),
    "socket_right": ((0.06, 0.002, 0.018), (0, -0.02, 0)),
    "pin": ((0.04, 0.01, 0.01), (0, 0, 0)),
}


def test_socket_walls_and_pin(insertion):
    m = insertion
    for name, (size, pos) in SOCKET.items():
        g = _geom(m, name)
        assert m.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX
        np.testing.assert_allclose(m.geom_size[g], size, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(m.geom_pos[g], pos, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(m.geom_quat[g], (1, 0, 0, 0), atol=1e-9)
        assert m.geom_bodyid[g] == m.geom_bodyid[_geom(m, "socket_bottom")]
    # Inner channel 36 x 36 mm around a 20 x 20 mm peg: 8 mm clearance a side.
    inner_y = m.geom_pos[_geom(m, "socket_left")][1] - m.geom_size[_geom(m, "socket_left")][1]
    inner_z = m.geom_pos[_geom(m, "socket_top")][2] - m.geom_size[_geom(m, "socket_top")][2]
    assert inner_y == pytest.approx(0.018) and inner_z == pytest.approx(0.018)
    peg = m.geom_size[_geom(m, "peg")]
    assert inner_y - peg[1] == pytest.approx(0.008) and inner_z - peg[2] == pytest.approx(0.008)
    # The peg touches the pin after entering 2 cm past the socket's mouth.
    mouth = m.geom_size[_geom(m, "socket_top")][0]
    pin_face = m.geom_size[_geom(m, "pin")][0]
    assert mouth - pin_face == pytest.approx(0.02)
    # 4.4 cm tall: resting on the table, the socket's origin is 2.2 cm up.
    bottom = m.geom_pos[_geom(m, "socket_bottom")][2] - m.geom_size[_geom(m, "socket_bottom")][2]
    top = m.geom_pos[_geom(m, "socket_top")][2] + m.geom_size[_geom(m, "socket_top")][2]
    assert top - bottom == pytest.approx(0.044) and -bottom == pytest.approx(0.022)


def test_objects_sizes_and_colours(insertion, cube):
    red, blue = (1, 0, 0, 1), (0, 0, 1, 1)
    g = _geom(insertion, "peg")
    np.testing.assert_allclose(insertion.geom_size[g], (0.06, 0.01, 0.01))
    np.testing.assert_allclose(insertion.geom_rgba[g], red)
    np.testing.assert_allclose(insertion.geom_rgba[_geom(insertion, "pin")], red)
    for name in ("socket_bottom", "socket_top", "socket_left", "socket_right"):
        np.testing.assert_allclose(insertion.geom_rgba[_geom(insertion, name)], blue)
    g = _geom(cube, "cube")
    np.testing.assert_allclose(cube.geom_size[g], (0.02, 0.02, 0.02))
    np.testing.assert_allclose(cube.geom_rgba[g], red)
    assert cube.body_mass[cube.geom_bodyid[g]] == pytest.approx(0.05)


@pytest.mark.parametrize("task,ranges", [
    ("transfer_cube", {"cube": ((0.0, 0.2), (0.4, 0.6), (0.02, 0.02))}),
    ("insertion", {"peg": ((0.1, 0.2), (0.4, 0.6), (0.01, 0.01)),
                   "socket": ((-0.2, -0.1), (0.4, 0.6), (0.022, 0.022))}),
])
def test_placement_ranges(task, ranges):
    cfg = load_task(task)
    assert set(cfg.objects) == set(ranges)
    for name, (x, y, z) in ranges.items():
        r = cfg.objects[name]
        assert tuple(r.x) == pytest.approx(x) and tuple(r.y) == pytest.approx(y) and tuple(r.z) == pytest.approx(z)
    assert cfg.episode_len == 400 and cfg.control_dt == pytest.approx(0.02)


def test_scene_look(cube):
    m = cube
    table = _geom(m, "table")
    rgba = m.mat_rgba[m.geom_matid[table]] if m.geom_matid[table] >= 0 else m.geom_rgba[table]
    np.testing.assert_allclose(rgba, (0.2, 0.2, 0.2, 1), atol=1e-6)
    np.testing.assert_allclose(m.vis.headlight.ambient, (0.4, 0.4, 0.4), atol=1e-6)
    assert m.vis.quality.shadowsize == 0 and m.vis.quality.offsamples == 0  # ours, for speed
    lights = {"key_left": (-1, -1, 1), "key_right": (1, -1, 1), "back": (0, 1, 1)}
    assert m.nlight == len(lights)
    for name, source in lights.items():
        lid = _light(m, name)
        assert m.light_type[lid] == mujoco.mjtLightType.mjLIGHT_DIRECTIONAL
        np.testing.assert_allclose(m.light_diffuse[lid], (0.3, 0.3, 0.3), atol=1e-6)
        # MJCF `dir` is where the light travels: away from the source point.
        np.testing.assert_allclose(m.light_dir[lid], -np.array(source) / np.linalg.norm(source), atol=1e-6)


def test_cameras_unchanged(cube):
    m = cube
    expected = {"top": (0, 0.6, 0.8), "angle": (0, 0, 0.6), "left_pillar": (-0.5, 0.2, 0.6),
                "right_pillar": (0.5, 0.2, 0.6)}
    for name, pos in expected.items():
        cid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_CAMERA, name)
        assert cid >= 0
        np.testing.assert_allclose(m.cam_pos[cid], pos, atol=1e-9)
        assert m.cam_fovy[cid] == pytest.approx(78)


def test_expert_orientations():
    # Pitched 60 degrees down from level: pointing (x axis) 30 degrees off vertical, towards
    # the other arm; fingers still close along world y.
    for side, sx in (("left", 1), ("right", -1)):
        R = P.mat_from_quat(P.PITCHED[side])
        np.testing.assert_allclose(R[:, 0], (sx * 0.5, 0, -np.sqrt(3) / 2), atol=1e-9)
        assert abs(R[1, 1]) == pytest.approx(1.0)
    # The left hand rolled 90 degrees about world x: fingers close along z.
    R = P.mat_from_quat(P.ROLLED_LEFT)
    np.testing.assert_allclose(R[:, 0], (1, 0, 0), atol=1e-9)
    assert abs(R[2, 1]) == pytest.approx(1.0)


def test_expert_schedules():
    from act_bench.tasks.insertion import InsertionExpert
    from act_bench.tasks.transfer_cube import TransferCubeExpert

    np.testing.assert_allclose(TransferCubeExpert.MEET, (0, 0.5, 0.25))
    np.testing.assert_allclose(TransferCubeExpert.ABOVE, (0, 0, 0.08))
    np.testing.assert_allclose(InsertionExpert.MEET, (0, 0.5, 0.15))
    np.testing.assert_allclose(InsertionExpert.ABOVE, (0, 0, 0.08))
    assert InsertionExpert.RIGHT_LIFT == pytest.approx(0.00715)
    # The peg and socket grasp heights differ by the original's right-hand lift, so the peg's
    # axis meets the channel's.
    assert InsertionExpert.PEG_GRASP[2] - InsertionExpert.SOCKET_GRASP[2] == pytest.approx(0.00715)


@pytest.mark.parametrize("task", ["transfer_cube", "insertion"])
def test_expert_succeeds_open_loop(task):
    from act_bench.envs import make_env
    from act_bench.demos.recorder import record_episode

    env = make_env(task, cameras=())
    for seed in (0, 1, 2):
        ep = record_episode(env, seed=seed)
        assert ep.attrs["success"], (task, seed, int(ep.stage.max()))


def _readme_rows() -> dict[str, list[str]]:
    """The docs' fidelity tables (docs/release-comparison.md): first cell -> the row's cells."""
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "release-comparison.md").read_text()
    section = page[:page.index("## Deviations, in short")]
    return {cells[1].strip(): [c.strip() for c in cells[2:-1]]
            for cells in (line.split("|") for line in section.splitlines() if line.startswith("| "))}


def _fmt(v):
    return f"{v:g}"


def test_readme_table_states_the_model_numbers(insertion):
    """What the README's table says (original | ours) is what the model holds."""
    rows = _readme_rows()
    plates, walls, pin = SOCKET["socket_bottom"][0], SOCKET["socket_left"][0], SOCKET["pin"][0]
    for row, size in (("socket bottom / top plates", plates), ("socket side walls", walls), ("pin", pin)):
        original, ours = rows[row][0], rows[row][1]
        assert f"({', '.join(_fmt(v) for v in size)})" in original and ours == "same", row
    m = insertion
    assert m.geom_size[_geom(m, "socket_bottom")].tolist() == pytest.approx(plates)
    for task, obj, row in (("transfer_cube", "cube", "cube range"), ("insertion", "peg", "peg range"),
                           ("insertion", "socket", "socket range")):
        r = load_task(task).objects[obj]
        original, ours = rows[row][0], rows[row][1]
        assert f"x U[{_fmt(r.x[0])}, {_fmt(r.x[1])}], y U[{_fmt(r.y[0])}, {_fmt(r.y[1])}]" in original, row
        assert ours == f"-v1: same x, y, resting at z = {_fmt(r.z[0])}", row
        assert "placed at z = 0.05 and dropped" in original, row
    assert rows["table colour"][0] == "rgba (0.2, 0.2, 0.2)" and rows["table colour"][1].startswith("same")
    assert rows["channel"][0].startswith("36 x 36 mm, 8 mm clearance")
