"""scripts/study.sh: every act-bench command it would run parses, with the folders and seeds
it is given; an unknown step is refused. (The commands are recorded by a stand-in act-bench,
so nothing is trained.)"""
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from act_bench.cli import build_parser
from act_bench.sweep_params import parse_params

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "study.sh"


def _commands(tmp_path, *steps, **env):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.txt"
    fake = bin_dir / "act-bench"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\t" "$a"; done >> {shlex.quote(str(log))}\necho >> {log}\n')
    fake.chmod(0o755)
    run_env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", **env}
    proc = subprocess.run(["bash", str(SCRIPT), *steps], env=run_env, capture_output=True, text=True)
    lines = log.read_text().splitlines() if log.exists() else []
    return proc, [line.rstrip("\t").split("\t") for line in lines]


def test_every_step_runs_valid_commands(tmp_path):
    proc, calls = _commands(tmp_path, ROOT=str(tmp_path / "root"), OUT=str(tmp_path / "out"), SEEDS="0,1")
    assert proc.returncode == 0, proc.stderr
    assert [c[0] for c in calls] == ["run", "run", "run", "run", "sweep", "sweep", "sweep", "sweep", "sweep"]
    outs = []
    for argv in calls:
        args = build_parser(argv).parse_args(argv)
        assert args.seeds == "0,1" and args.profile == "cpu" and args.episodes == 50 and args.demos == 50
        assert args.runs_root == str(tmp_path / "root" / "runs")
        assert args.demos_root == str(tmp_path / "root" / "demos")
        if argv[0] == "sweep":
            parse_params(args.params, [])  # fields and values a profile can take
        outs.append(Path(args.out).name)
    assert outs == ["reference-v2", "reference-v2-human", "ablation-cvae", "ablation-cvae-human", "sweep-te-m",
                    "sweep-open-loop", "sweep-chunk", "sweep-chunk-human", "sweep-decoder"]


def test_one_step_and_a_bad_step(tmp_path):
    proc, calls = _commands(tmp_path, "reference")
    assert proc.returncode == 0 and len(calls) == 1 and "--demo-style" not in calls[0]
    assert calls[0][calls[0].index("--out") + 1] == "results/reference-v2"
    (tmp_path / "bad").mkdir()
    proc, calls = _commands(tmp_path / "bad", "bogus")
    assert proc.returncode == 2 and "unknown step 'bogus'" in proc.stderr and not calls


@pytest.mark.parametrize("step, style", [("human", "human"), ("cvae", None)])
def test_data_styles(tmp_path, step, style):
    proc, calls = _commands(tmp_path, step)
    styles = [c[c.index("--demo-style") + 1] if "--demo-style" in c else None for c in calls]
    assert styles == ([style] if step == "human" else [None, "human"])


def test_tasks_narrow_every_step_but_decoder(tmp_path):
    proc, calls = _commands(tmp_path, "chunk", "decoder", TASKS="insertion_v2")
    assert proc.returncode == 0, proc.stderr
    assert [c[c.index("--tasks") + 1] for c in calls] == ["insertion_v2", "insertion_v2", "transfer_cube_v2"]
