"""act-bench eval --film: chosen episodes rolled out again with a video each, beside the evaluation."""
import argparse
import hashlib
import json
import sys
from types import SimpleNamespace

import pandas as pd
import pytest

from act_bench.errors import ActBenchError
from act_bench.evaluation import cli as eval_cli, film
from act_bench.policies.registry import method_names
from act_bench.runtime.seeding import eval_seed

from fakes import FakeEnv, FakePolicy

SEED = 7
BEST = [eval_seed(SEED, i) % 5 for i in range(8)]  # FakeEnv's best stage of episode i; 4 is success


def _args(**kw):
    parser = argparse.ArgumentParser()
    eval_cli.add_arguments(parser)
    return parser.parse_args([x for k, v in kw.items() for x in (f"--{k}", str(v))] + ["--no-progress"])


@pytest.fixture
def run(tmp_path, monkeypatch):
    run = tmp_path / "runs" / "transfer_cube" / "act" / "cpu" / f"seed{SEED}"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"task": "transfer_cube", "seed": SEED}))
    (run / "done.json").write_text(json.dumps({"step": 10, "best_step": 8, "finished_at": 1.5}))
    method_names()  # the registry imports the real policies package: before it is stood in for below
    monkeypatch.setitem(sys.modules, "act_bench.policies",
                        SimpleNamespace(load_policy=lambda p, device: FakePolicy(chunk_size=4)))
    monkeypatch.setitem(sys.modules, "act_bench.envs", SimpleNamespace(make_env=FakeEnv))
    return run


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def test_films_chosen_episodes_beside_the_evaluation_and_leaves_it_alone(run, capsys):
    assert eval_cli.main(_args(run=run, episodes=8, videos=0)) == 0
    out = run / "eval" / f"act_seed{SEED}"
    before = _digest(out)
    assert eval_cli.main(_args(run=run, film="5,1,5", videos=0)) == 0  # indices sorted, duplicates dropped
    films = pd.read_csv(out / "films" / "films.csv")
    assert list(films["episode"]) == [1, 5] and list(films["seed"]) == [eval_seed(SEED, 1), eval_seed(SEED, 5)]
    assert list(films["max_stage"]) == [BEST[1], BEST[5]] == list(films["recorded_max_stage"])
    assert list(films["reproduced"]) == [1, 1]
    assert all(film.film_path(out, i).stat().st_size > 1000 for i in (1, 5))
    assert _digest(out) == before  # episodes.csv, eval.json and summary.json untouched
    printed = capsys.readouterr().out
    assert "episode 1: best stage" in printed and "the same" in printed and "films in" in printed
    # another film later: earlier rows stay, the same episode is replaced, not repeated
    eval_cli.main(_args(run=run, film="0,5", videos=0))
    assert list(pd.read_csv(out / "films" / "films.csv")["episode"]) == [0, 1, 5]


def test_failed_films_the_first_failures_of_the_evaluation(run):
    eval_cli.main(_args(run=run, episodes=8, videos=0))
    eval_cli.main(_args(run=run, film="failed", videos=2))
    failed = [i for i, b in enumerate(BEST) if b != 4]
    films = pd.read_csv(run / "eval" / f"act_seed{SEED}" / "films" / "films.csv")
    assert list(films["episode"]) == failed[:2] and (films["success"] == 0).all()


def test_without_an_evaluation_films_carry_no_recorded_stage(run, tmp_path):
    eval_cli.main(_args(run=run, film="2", out=tmp_path / "elsewhere"))
    films = pd.read_csv(tmp_path / "elsewhere" / "films" / "films.csv")
    assert films["max_stage"].tolist() == [BEST[2]] and films["recorded_max_stage"].isna().all()
    assert not (tmp_path / "elsewhere" / "summary.json").exists()  # nothing scored


def test_bad_requests_are_one_line_errors(run, tmp_path):
    for bad, message in (("x", "episode indices"), ("-1", ">= 0"), (",", "episode indices")):
        with pytest.raises(ActBenchError, match=message):
            eval_cli.main(_args(run=run, film=bad))
    with pytest.raises(ActBenchError, match="needs the evaluation"):
        eval_cli.main(_args(run=run, film="failed", out=tmp_path / "empty"))
    with pytest.raises(ActBenchError, match="do not apply"):
        eval_cli.main(_args(run=run, film="1", episodes=3))
    with pytest.raises(ActBenchError, match="trained --run"):
        eval_cli.main(_args(method="still", task="transfer_cube", out=tmp_path / "b", film="1"))
    # an evaluation of other settings in --out: its stages would say nothing of these films
    eval_cli.main(_args(run=run, episodes=2, videos=0, m=0.5, out=tmp_path / "m"))
    with pytest.raises(ActBenchError, match="another temporal_ensemble_m"):
        eval_cli.main(_args(run=run, film="1", out=tmp_path / "m"))
    assert not (tmp_path / "m" / "films").exists()


def test_nothing_failed_is_said(run, tmp_path):
    out = tmp_path / "all-good"
    out.mkdir()
    (out / "episodes.csv").write_text("episode,seed,max_stage,success,length,queries,seconds\n"
                                      f"0,{eval_seed(SEED, 0)},4,1,12,12,0.1\n")
    with pytest.raises(ActBenchError, match="all succeeded"):
        film.choose("failed", pd.read_csv(out / "episodes.csv"), 3)
