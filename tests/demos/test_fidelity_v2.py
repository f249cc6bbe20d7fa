"""The -v2 tasks against the original release's physics, reset, stage rules and look
(README "Fidelity"; docs/fidelity.md)."""
import json
from pathlib import Path
from types import SimpleNamespace

import mujoco
import numpy as np
import pytest

from act_bench.envs.aloha import AlohaEnv
from act_bench.sim.robot import load_model
from act_bench.tasks import load_task

DOCS = Path(__file__).resolve().parents[2] / "docs"
WALLS = ("socket_bottom", "socket_top", "socket_left", "socket_right")


def _id(model, kind, name):
    i = mujoco.mj_name2id(model, kind, name)
    assert i >= 0, name
    return i


def _geom(model, name):
    return _id(model, mujoco.mjtObj.mjOBJ_GEOM, name)


@pytest.fixture(scope="module")
def cube():
    return load_model("transfer_cube_v2.xml")


@pytest.fixture(scope="module")
def insertion():
    return load_model("insertion_v2.xml")


# --- physics ------------------------------------------------------------------------------
@pytest.mark.parametrize("task,objects", [("cube", {"cube": ["cube"]}),
                                          ("insertion", {"peg": ["peg"], "socket": [*WALLS, "pin"]})])
def test_object_physics(task, objects, request):
    m = request.getfixturevalue(task)
    for body_name, geoms in objects.items():
        body = _id(m, mujoco.mjtObj.mjOBJ_BODY, body_name)
        assert m.body_mass[body] == pytest.approx(0.05)
        np.testing.assert_allclose(m.body_inertia[body], (0.002, 0.002, 0.002))
        joint = _id(m, mujoco.mjtObj.mjOBJ_JOINT, body_name)
        assert m.jnt_type[joint] == mujoco.mjtJoint.mjJNT_FREE
        dofs = slice(m.jnt_dofadr[joint], m.jnt_dofadr[joint] + 6)
        np.testing.assert_allclose(m.dof_frictionloss[dofs], 0.01)
        for name in geoms:
            g = _geom(m, name)
            assert m.geom_condim[g] == 4
            np.testing.assert_allclose(m.geom_solref[g], (0.01, 1))
            np.testing.assert_allclose(m.geom_solimp[g][:3], (2, 1, 0.01))
            friction = (1, 0.05, 0.001) if name in WALLS else (1, 0.005, 0.0001)
            np.testing.assert_allclose(m.geom_friction[g], friction, err_msg=name)


def test_solver_defaults(cube, insertion):
    for m in (cube, insertion):  # the release sets no option: MuJoCo's defaults
        assert m.opt.timestep == pytest.approx(0.002)
        assert m.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
        assert m.opt.cone == mujoco.mjtCone.mjCONE_PYRAMIDAL
        assert m.opt.impratio == pytest.approx(1.0)
        assert m.opt.solver == mujoco.mjtSolver.mjSOL_NEWTON


@pytest.mark.parametrize("task,rest", [("transfer_cube_v2", {"cube": 0.02}),
                                       ("insertion_v2", {"peg": 0.01, "socket": 0.022})])
def test_reset_drops_objects_from_5cm(task, rest):
    env = AlohaEnv(task, cameras=())
    env.reset(seed=3)
    for name in rest:
        assert env.object_poses[name][2] == pytest.approx(0.05)
    hold = env.robot.qpos(env.data)
    for _ in range(25):  # half a second: the objects fall 3 cm and settle
        env.step(hold)
    for name, z in rest.items():
        assert env.stage_rule.object_poses(env.data)[name][2] == pytest.approx(z, abs=1e-3)
    env.close()


# --- stage rules: contacts injected, one rule at a time --------------------------------------
def _data(model, pairs):
    ids = [(_geom(model, a), _geom(model, b)) for a, b in pairs]
    return SimpleNamespace(ncon=len(ids), contact=SimpleNamespace(geom1=np.array([a for a, _ in ids], int),
                                                                  geom2=np.array([b for _, b in ids], int)))


@pytest.fixture(scope="module")
def cube_rule():
    env = AlohaEnv("transfer_cube_v2", cameras=())
    yield env.stage_rule, env.model
    env.close()


@pytest.fixture(scope="module")
def insertion_rule():
    env = AlohaEnv("insertion_v2", cameras=())
    yield env.stage_rule, env.model
    env.close()


@pytest.mark.parametrize("pairs,stage", [
    ([], 0),
    ([("cube", "table")], 0),
    ([("cube", "right/right_pad"), ("cube", "table")], 1),  # touch: the right arm's right finger
    ([("cube", "right/left_pad"), ("cube", "table")], 0),   # ... its left finger does not count
    ([("right/left_pad", "cube")], 0),
    ([("cube", "right/right_pad")], 2),                     # lifted: touch and off the table
    ([("right/right_pad", "cube")], 2),                     # either geom order
    ([("cube", "left/left_pad"), ("cube", "table")], 3),    # the left arm's left finger on it
    ([("cube", "left/right_pad")], 0),                      # ... its right finger does not count
    ([("cube", "left/left_pad")], 4),                       # transfer: and off the table
    ([("cube", "left/left_pad"), ("cube", "right/right_pad")], 4),
])
def test_transfer_cube_stages(cube_rule, pairs, stage):
    rule, model = cube_rule
    assert rule.stage(_data(model, pairs)) == stage


GRIPPED = [("peg", "right/right_pad"), ("socket_left", "left/left_pad")]


@pytest.mark.parametrize("pairs,stage", [
    ([], 0),
    (GRIPPED + [("peg", "table"), ("socket_bottom", "table")], 1),            # touch both
    ([("peg", "right/left_pad"), ("socket_left", "left/left_pad"), ("peg", "table")], 0),  # wrong right finger
    ([("peg", "right/right_pad"), ("socket_left", "left/right_pad"), ("peg", "table")], 0),  # wrong left finger
    ([("peg", "right/right_pad"), ("pin", "left/left_pad"), ("peg", "table")], 0),  # the pin is no wall
    (GRIPPED, 2),                                                              # grasp both: off the table
    (GRIPPED + [("socket_bottom", "table")], 1),                               # the socket still down
    ([("peg", "socket_top")], 3),                                              # contact: no gripper needed
    ([("peg", "socket_top"), ("peg", "table")], 0),                            # ... but both in the air
    (GRIPPED + [("peg", "socket_top"), ("socket_right", "table")], 1),
    ([("peg", "pin")], 4),                                                     # insert: the peg on the pin
    ([("peg", "pin"), ("peg", "table")], 4),
])
def test_insertion_stages(insertion_rule, pairs, stage):
    rule, model = insertion_rule
    assert rule.stage(_data(model, pairs)) == stage


# --- look ------------------------------------------------------------------------------------
def test_look(cube, insertion):
    for m in (cube, insertion):
        assert m.vis.quality.shadowsize == 2048  # the release's 4096 is indistinguishable (benchmarks/render_cost.py)
        assert m.vis.quality.offsamples == 4
        assert m.vis.map.fogstart == pytest.approx(1.5) and m.vis.map.fogend == pytest.approx(5)
        np.testing.assert_allclose(m.vis.headlight.ambient, 0.4, atol=1e-6)
        assert mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "floor") == -1  # black beyond the table
        lights = {"key_left": ((-1, -1, 1), False), "key_right": ((1, -1, 1), True), "back": ((0, 1, 1), False)}
        assert m.nlight == 3
        for name, (source, shadow) in lights.items():
            lid = _id(m, mujoco.mjtObj.mjOBJ_LIGHT, name)
            np.testing.assert_allclose(m.light_diffuse[lid], 0.3, atol=1e-6)
            np.testing.assert_allclose(m.light_specular[lid], 0.3, atol=1e-6)
            np.testing.assert_allclose(m.light_dir[lid], -np.array(source) / np.linalg.norm(source), atol=1e-6)
            assert bool(m.light_castshadow[lid]) == shadow
        table = _geom(m, "table")
        np.testing.assert_allclose(m.geom_rgba[table], (0.2, 0.2, 0.2, 1), atol=1e-6)
        mesh = m.geom_dataid[table]
        rot = np.empty(9)
        mujoco.mju_quat2Mat(rot, m.geom_quat[table])  # the mesh is stored in its principal frame
        local = m.mesh_vert[m.mesh_vertadr[mesh]: m.mesh_vertadr[mesh] + m.mesh_vertnum[mesh]]
        verts = m.geom_pos[table] + local @ rot.reshape(3, 3).T
        np.testing.assert_allclose(verts.max(0) - verts.min(0), (1.2192, 0.762, 0.03), atol=1e-6)
        assert (m.body_pos[m.geom_bodyid[table]][2] + verts[:, 2].max()) == pytest.approx(0.0, abs=1e-9)


def test_arms_light_grey_and_shadows_rendered():
    assert load_task("transfer_cube_v2").arm_rgba == (0.5, 0.5, 0.5, 1.0)
    env = AlohaEnv("transfer_cube_v2", cameras=("top",), image_size=(48, 64))
    arm = [g for g in range(env.model.ngeom) if env.model.body(env.model.geom_bodyid[g]).name.startswith("right/")]
    assert arm and all(tuple(env.model.geom_rgba[g]) == (0.5, 0.5, 0.5, 1.0) for g in arm)
    assert env._camera_renderer._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW]
    env.close()
    assert load_task("transfer_cube").arm_rgba is None  # -v1 keeps its dark arms and no shadows
    env = AlohaEnv("transfer_cube", cameras=("top",), image_size=(48, 64))
    assert not env._camera_renderer._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW]
    env.close()


# --- where the fingers close ----------------------------------------------------------------------
@pytest.mark.slow
def test_grasps_match_the_release(monkeypatch):
    """Our lowest fingertip and contact centroid at each grasp against the release's, as
    measured by scripts/fidelity_check.py (docs/fidelity_grasp.json)."""
    monkeypatch.syspath_prepend(str(DOCS.parent / "scripts"))
    from fidelity_check import CASES, measure_ours

    recorded = json.loads((DOCS / "fidelity_grasp.json").read_text())
    for task, positions, checks in CASES:
        grasps = [c for c in checks if c[0] < 300]
        ours = measure_ours(task, positions, grasps)
        originals = [r["original"] for r in recorded if r["task"] == task and r["t"] < 300]
        for mine, original in zip(ours, originals):
            assert mine["lowest_tip_dz"] == pytest.approx(original["lowest_tip_dz"], abs=0.001)
            assert mine["contact_centroid"][0] == pytest.approx(original["contact_centroid"][0], abs=0.003)


def test_readme_v2_table(cube):
    """The docs' -v2 table (docs/release-comparison.md) says what the -v2 models hold."""
    page = (DOCS / "release-comparison.md").read_text()
    section = page[page.index("## -v2 against the original and -v1"):page.index("## Objects and scene")]
    rows = {cells[1].strip(): [c.strip() for c in cells[2:-1]]
            for cells in (line.split("|") for line in section.splitlines() if line.startswith("| "))}
    assert "Euler, pyramidal cone, impratio 1" in rows["solver"][0] and rows["solver"][1].startswith("same")
    assert f"shadowsize {cube.vis.quality.shadowsize}" in rows["shadows, multisampling"][1]
    assert f"offsamples {cube.vis.quality.offsamples}" in rows["shadows, multisampling"][1]
    assert "z = 0.05" in rows["reset"][0] and rows["reset"][1] == "same"
    assert rows["object mass, inertia"][1] == "same" and "0.002" in rows["object mass, inertia"][0]
    for name in ("transfer_cube_v2", "insertion_v2"):
        for stage in load_task(name).stage_names:
            assert f"`{stage}" in rows["stage names"][1] or f" {stage}`" in rows["stage names"][1] \
                or f" {stage}," in rows["stage names"][1], stage
