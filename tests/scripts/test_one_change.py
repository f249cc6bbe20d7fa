"""scripts/one_change.py: each variant of transfer_cube_v2 differs from it in exactly one thing."""
import dataclasses
from pathlib import Path

import mujoco
import pytest

from act_bench.demos.recorder import record_episode
from act_bench.envs.aloha import AlohaEnv
from act_bench.errors import ActBenchError
from act_bench.tasks import load_task
from act_bench.tasks.config import read_task_config
from act_bench.tasks.registry import get_task

from cli_helpers import load_script


@pytest.fixture(scope="module")
def one_change():
    """The script's module, its variants registered for this module's tests only (other tests
    list every registered task)."""

    import gymnasium as gym

    from act_bench.tasks import registry

    saved, saved_envs = dict(registry._REGISTRY), dict(gym.envs.registry)
    module = load_script("one_change")  # registers the variants
    yield module
    for table, old in ((registry._REGISTRY, saved), (gym.envs.registry, saved_envs)):
        table.clear()
        table.update(old)


def test_noshadow_differs_only_in_its_shadows(one_change):
    base, variant = load_task("transfer_cube_v2"), load_task("transfer_cube_v2_noshadow")
    assert variant.shadow_size == 0 and base.shadow_size is None
    assert dataclasses.replace(variant, name=base.name, shadow_size=None) == base
    spec = get_task("transfer_cube_v2_noshadow")
    assert (spec.expert, spec.stage_rule) == (get_task("transfer_cube_v2").expert, get_task("transfer_cube_v2").stage_rule)
    env = AlohaEnv("transfer_cube_v2_noshadow", cameras=("top",), image_size=(48, 64))
    assert env.model.vis.quality.shadowsize == 0
    assert env.model.vis.quality.offsamples == 4  # multisampling stays the -v2 task's
    assert not env._camera_renderer._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW]
    env.close()


def test_v1grasp_differs_only_in_its_grasp(one_change):
    base, variant = load_task("transfer_cube_v2"), load_task("transfer_cube_v2_v1grasp")
    assert dataclasses.replace(variant, name=base.name) == base
    expert = get_task("transfer_cube_v2_v1grasp").expert
    assert expert.__mro__[1] is get_task("transfer_cube_v2").expert
    assert set(vars(expert)) - {"__module__", "__doc__", "__qualname__", "__firstlineno__",
                                "__static_attributes__"} == {"GRASP"}
    # -v1: the grip site 1 cm above the resting cube's centre (z 0.02); -v2 plans from z 0.05
    assert expert.GRASP == pytest.approx([0.0, 0.0, -0.02])


def test_v1grasp_expert_succeeds(one_change):
    env = AlohaEnv("transfer_cube_v2_v1grasp", cameras=(), image_size=(48, 64))
    for seed in (0, 1):
        episode = record_episode(env, seed)
        assert episode.stage.max() == env.task_config.max_stage
    env.close()


def test_shadow_size_is_checked(tmp_path):
    text = (Path(__file__).resolve().parents[2] / "tasks" / "transfer_cube_v2.toml").read_text()
    for bad in ("true", "-1", '"0"', "0.5"):
        path = tmp_path / "t.toml"
        path.write_text(text.replace("[look]\n", f"[look]\nshadow_size = {bad}\n"))
        with pytest.raises(ActBenchError, match="look.shadow_size must be an integer"):
            read_task_config(path)
    path.write_text(text.replace("[look]\n", "[look]\nshadow_size = 1024\n"))
    assert read_task_config(path).shadow_size == 1024


def _episodes(folder, successes):
    folder.mkdir()
    rows = "".join(f"{i},{100 + i},0,{s}\n" for i, s in enumerate(successes))
    (folder / "episodes.csv").write_text("episode,seed,max_stage,success\n" + rows)
    return folder


def test_compare_pairs_episodes_by_seed(one_change, tmp_path, capsys):
    base = _episodes(tmp_path / "a", [1, 1, 0, 0, 1, 0])
    variant = _episodes(tmp_path / "b", [1, 0, 1, 1, 1, 1])
    assert one_change.paired(base, variant) == {"episodes": 6, "both": 2, "only_base": 1, "only_variant": 3, "neither": 0}
    # 4 discordant pairs split 1 / 3: P = 2 * (1 + 4) / 16
    assert one_change.mcnemar_p(1, 3) == pytest.approx(0.625)
    assert one_change.mcnemar_p(0, 0) == 1.0
    assert one_change.main(["compare", str(base), str(variant)]) == 0
    assert "McNemar exact p = 0.625" in capsys.readouterr().out
    assert one_change.main(["compare", str(base), str(tmp_path / "missing")]) == 2


def test_compare_tests_the_change_over_seeds_not_pooled_episodes(one_change, tmp_path, capsys):
    # two training seeds: 1 / 3 discordant on the first (+2 of 6), 0 / 4 on the second (+4 of 6)
    pairs = [_episodes(tmp_path / "a0", [1, 1, 0, 0, 1, 0]), _episodes(tmp_path / "b0", [1, 0, 1, 1, 1, 1]),
             _episodes(tmp_path / "a1", [0, 0, 0, 0, 1, 1]), _episodes(tmp_path / "b1", [1, 1, 1, 1, 1, 1])]
    assert one_change.main(["compare", *map(str, pairs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "pooled" not in "\n".join(lines)
    assert lines[0].endswith(f"McNemar exact p = {one_change.mcnemar_p(1, 3):.3g} (these two trained models)")
    # differences 2/6 and 4/6: mean 50 points, SD sqrt(2) / 6, t = 3 on 1 df: p = 0.2048
    assert lines[2].startswith("over 2 training seeds, variant - base: +50.0 points [")
    assert "paired t p = 0.2 (1 df)" in lines[2] and "sign-flip p = 0.5" in lines[2]
    assert one_change.main(["compare", *map(str, pairs[:3])]) == 2  # an odd number of folders
