"""The online temporal ensembler against the ACT release's brute-force table, and the
open-loop chunker's execution pattern."""
import numpy as np
import pytest

from act_bench.evaluation.ensembling import Execution
from reference_eval import OpenLoopChunker, TemporalEnsembler, selector


def brute_force(chunks_by_step: dict[int, np.ndarray], k: int, m: float, steps: int) -> np.ndarray:
    """ACT release: keep every chunk; at step t average all predictions for t, oldest first,
    with normalised weights exp(-m * arange(n))."""
    out = []
    for t in range(steps):
        preds = [c[t - t0] for t0, c in sorted(chunks_by_step.items()) if t0 <= t < t0 + k]
        w = np.exp(-m * np.arange(len(preds)))
        w = w / w.sum()
        out.append((np.stack(preds) * w[:, None]).sum(axis=0))
    return np.stack(out)


@pytest.mark.parametrize("k", [1, 2, 5, 17])
@pytest.mark.parametrize("m", [0.0, 0.01, 0.5, 3.0])
def test_every_step_queries_match_brute_force(k, m):
    rng = np.random.default_rng(k * 100 + int(m * 10))
    steps, d = 3 * k + 7, 14
    ens = TemporalEnsembler(k, d, m)
    chunks, got = {}, []
    for t in range(steps):
        chunk = rng.normal(size=(k, d))
        chunks[t] = chunk
        ens.add(chunk[None])  # a batch of one, as predict_chunk returns
        got.append(ens.pop())
    np.testing.assert_allclose(np.stack(got), brute_force(chunks, k, m, steps), rtol=1e-12, atol=1e-12)
    assert ens.queries == steps


@pytest.mark.parametrize("k", [3, 8])
def test_irregular_queries_match_brute_force(k):
    """Queries at random steps (every step still covered) give the same weights."""
    rng = np.random.default_rng(k)
    m, steps, d = 0.2, 6 * k, 3
    ens = TemporalEnsembler(k, d, m)
    chunks, got, last = {}, [], None
    for t in range(steps):
        if last is None or t - last >= k or rng.random() < 0.4:
            chunks[t] = rng.normal(size=(k, d))
            ens.add(chunks[t])
            last = t
        got.append(ens.pop())
    np.testing.assert_allclose(np.stack(got), brute_force(chunks, k, m, steps), rtol=1e-12, atol=1e-12)


def test_first_step_is_the_first_prediction_and_oldest_weighs_most():
    ens = TemporalEnsembler(3, 1, m=1.0)
    ens.add(np.array([[0.0], [10.0], [20.0]]))
    assert ens.pop()[0] == 0.0
    ens.add(np.array([[1.0], [2.0], [3.0]]))
    # step 1: oldest (10) weight 1, newer (1) weight e^-1
    expected = (10.0 + np.exp(-1) * 1.0) / (1 + np.exp(-1))
    assert ens.current()[0] == pytest.approx(expected)


def test_reset_and_uncovered_step():
    ens = TemporalEnsembler(4, 2, 0.01)
    ens.add(np.ones((4, 2)))
    ens.pop()
    ens.reset()
    with pytest.raises(RuntimeError):
        ens.current()
    with pytest.raises(ValueError):
        ens.add(np.ones((3, 2)))


@pytest.mark.parametrize("n", [1, 3, 4, 10])
def test_open_loop_executes_exactly_n_steps_per_query(n):
    k, steps = 10, 37
    ch = OpenLoopChunker(n)
    executed = []
    for t in range(steps):
        if ch.needs_query():
            q = ch.queries
            ch.add(np.stack([np.full(14, 100 * q + i) for i in range(k)]))
        executed.append(int(ch.pop()[0]))
    expected = [100 * (t // n) + t % n for t in range(steps)]
    assert executed == expected
    assert ch.queries == -(-steps // n)


def test_open_loop_default_is_whole_chunk_and_rejects_too_long():
    ch = selector(Execution.resolve("open_loop", 5))
    ch.add(np.zeros((5, 14)))
    for _ in range(5):
        assert not ch.needs_query() or _ == 0
        ch.pop()
    assert ch.needs_query()
    with pytest.raises(Exception, match="longer than"):
        OpenLoopChunker(6).add(np.zeros((5, 14)))
    single = selector(Execution.resolve("single", 1))
    single.add(np.zeros((1, 14)))
    single.pop()
    assert single.needs_query()


# ---------------------------------------------------------------- batched selectors
def _lockstep_against_single(execution, batch, d, k, rng, steps=60):
    """Drive a batched selector and one single selector per row through the same random
    schedule (rows restart at random steps, as slots of a batched evaluation do) and check that
    every popped action is bit-for-bit the single selector's."""
    batched = execution.batch_selector(batch, d)
    singles = [selector(execution, d) for _ in range(batch)]
    for t in range(steps):
        restart = np.flatnonzero(rng.random(batch) < 0.05)
        batched.reset(restart)
        for r in restart:
            singles[r].reset()
        live = np.flatnonzero(rng.random(batch) < 0.8)  # rows not stepped this time stay put
        need = live[batched.needs_query()[live]]
        assert list(need) == [r for r in live if singles[r].needs_query()]
        chunks = rng.normal(size=(len(need), k, d))
        if len(need):
            batched.add(chunks, need)
        for r, c in zip(need, chunks):
            singles[r].add(c)
        got = batched.pop(live)
        for r, a in zip(live, got):
            np.testing.assert_array_equal(a, singles[r].pop())
    assert list(batched.queries) == [s.queries for s in singles]
    assert list(batched.t) == [s.t for s in singles]


@pytest.mark.parametrize("k,m", [(1, 0.01), (5, 0.01), (17, 0.5), (4, 0.0)])
def test_batched_ensembler_is_bit_for_bit_the_single_one(k, m):
    _lockstep_against_single(Execution("ensemble", k, m=m), 7, 14, k, np.random.default_rng(k))


@pytest.mark.parametrize("k,n", [(1, 1), (5, 2), (5, 5), (10, 3), (6, None)])
def test_batched_chunker_is_bit_for_bit_the_single_one(k, n):
    _lockstep_against_single(Execution("open_loop", k, n_action_steps=n), 6, 14, k, np.random.default_rng(k + 1))


def test_batched_selectors_check_their_input():
    ens = Execution("ensemble", 4, m=0.01).batch_selector(3, 2)
    with pytest.raises(RuntimeError, match="no prediction"):
        ens.pop([1])
    with pytest.raises(ValueError):
        ens.add(np.ones((2, 3, 2)), [0, 1])  # chunk of 3, not 4
    with pytest.raises(ValueError):
        ens.add(np.ones((1, 4, 2)), [0, 1])  # one chunk for two rows
    ch = Execution("open_loop", 5, n_action_steps=2).batch_selector(2, 14)
    assert list(ch.needs_query()) == [True, True]
    with pytest.raises(RuntimeError, match="no action queued"):
        ch.pop()
    with pytest.raises(Exception, match="longer than"):
        Execution("open_loop", 5, n_action_steps=6).batch_selector(1).add(np.zeros((1, 5, 14)))
