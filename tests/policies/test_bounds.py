"""The bounds (policies.bounds): registered as methods that need no training, the scripted one the
task's scripted expert itself, planned from the evaluation start's layout."""
import numpy as np
import pytest
import torch

from act_bench.errors import ActBenchError
from act_bench.policies.registry import bound_names, get_method, method_names, register_bound
from act_bench.runtime.seeding import eval_seed


def test_the_registry_lists_the_bounds_after_the_learned_methods():
    assert bound_names() == ("scripted", "still", "random")
    names = method_names()
    assert names[-3:] == bound_names() and names.index("act") < names.index("scripted")
    assert [get_method(m).kind for m in bound_names()] == ["upper bound", "lower bound", "lower bound"]
    assert all(not get_method(m).trained and get_method(m).description for m in bound_names())
    assert get_method("act").trained and get_method("act").kind == "trained"
    with pytest.raises(ValueError, match="bound must be one of upper, lower"):
        register_bound("middle", object, "middle", "")
    with pytest.raises(ValueError, match="already registered"):
        register_bound("act", object, "upper", "")


def _first_query(policy, seed, qpos):
    q = torch.as_tensor(np.asarray(qpos)[None], dtype=torch.float32)
    return policy.predict_chunk(q, torch.zeros(1, 0, 1, 1, 3, dtype=torch.uint8), seeds=[seed], steps=[0])[0]


@pytest.mark.parametrize("task", ["transfer_cube_v3", "insertion_v3"])
def test_scripted_acts_as_the_recorded_demonstration_of_the_same_start(task):
    """The scripted bound's actions for a start are those demos.recorder records for it."""
    from act_bench.demos.recorder import record_episode
    from act_bench.envs.aloha import AlohaEnv

    seed = eval_seed(0, 1)
    env = AlohaEnv(task, cameras=())
    episode = record_episode(env, seed)
    assert episode.attrs["success"]
    policy = get_method("scripted").make(task)
    actions = _first_query(policy, seed, episode.qpos[0])
    np.testing.assert_array_equal(actions, episode.action)
    # a later query of the same episode continues the plan (the last action held past its end)
    later = policy.predict_chunk(torch.zeros(1, 14), torch.zeros(1, 0, 1, 1, 3), seeds=[seed], steps=[390])[0]
    np.testing.assert_array_equal(later[:10], episode.action[390:])
    np.testing.assert_array_equal(later[10:], np.repeat(episode.action[-1:], len(later) - 10, axis=0))


def test_a_start_other_than_the_planned_one_is_refused():
    policy = get_method("scripted").make("transfer_cube_v3")
    qpos = np.zeros(14)
    with pytest.raises(ActBenchError, match="not the evaluation env's"):
        _first_query(policy, 7, qpos)


def test_still_holds_the_initial_joint_targets_and_random_is_seeded():
    from act_bench.envs.aloha import AlohaEnv
    from act_bench.sim.robot import start_qpos

    env = AlohaEnv("insertion_v3", cameras=())
    obs, _ = env.reset(seed=3)
    still = _first_query(get_method("still").make("insertion_v3"), 3, obs["qpos"])
    assert still.shape == (env.task_config.episode_len, 14) and (still == start_qpos()).all()
    random = get_method("random").make("insertion_v3")
    a, b = _first_query(random, 3, obs["qpos"]), _first_query(random, 4, obs["qpos"])
    assert (a == _first_query(random, 3, obs["qpos"])).all() and not (a == b).all()
    low, high = env.action_space.low, env.action_space.high
    assert (a >= low).all() and (a <= high).all() and a.std(axis=0).min() > 0.1 * (high - low).min()
