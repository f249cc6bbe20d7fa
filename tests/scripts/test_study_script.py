"""scripts/study.sh: every act-bench command it would run parses, with the folders and seeds
it is given; an unknown step is refused. (The commands are recorded by a stand-in act-bench,
so nothing is trained.)"""
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from act_bench.cli import build_parser
from act_bench.grid.sweep_params import parse_params

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "study.sh"


def _commands(tmp_path, *steps, script=SCRIPT, **env):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.txt"
    fake = bin_dir / "act-bench"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\t" "$a"; done >> {shlex.quote(str(log))}\necho >> {log}\n')
    fake.chmod(0o755)
    run_env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", **env}
    proc = subprocess.run(["bash", str(script), *steps], env=run_env, capture_output=True, text=True)
    lines = log.read_text().splitlines() if log.exists() else []
    return proc, [line.rstrip("\t").split("\t") for line in lines]


def _parsed(calls, tmp_path, seeds=None):
    """Every recorded command parses as act-bench would; the output folder names, in order."""
    outs = []
    for argv in calls:
        args = build_parser(argv).parse_args(argv)
        assert args.profile == "cpu" and args.episodes == 50 and args.demos == 50
        assert args.demos_root == str(tmp_path / "root" / "demos") and "runs" in Path(args.runs_root).name
        assert seeds is None or args.seeds == seeds
        if argv[0] == "sweep":
            parse_params(args.params, [])  # fields and values a profile can take
        outs.append(Path(args.out).name)
    return outs


def test_every_v2_step_runs_valid_commands_into_the_committed_folders(tmp_path):
    proc, calls = _commands(tmp_path, VERSION="v2", ROOT=str(tmp_path / "root"), OUT=str(tmp_path / "out"),
                            SEEDS="0,1")
    assert proc.returncode == 0, proc.stderr
    assert [c[0] for c in calls] == ["run", "run", "run", "run", "sweep", "sweep", "sweep", "sweep", "sweep"]
    outs = _parsed(calls, tmp_path, seeds="0,1")
    assert outs == ["reference-v2", "reference-v2-human", "ablation-cvae", "ablation-cvae-human", "sweep-te-m",
                    "sweep-open-loop", "sweep-chunk", "sweep-chunk-human", "sweep-decoder"]
    for argv, out in zip(calls, outs):  # the -v2 study's chunk size, except where the chunk is swept
        assert ("model.chunk_size=50" in argv) == (not out.startswith("sweep-chunk")), out
        assert "train.num_threads=1" not in argv and argv[argv.index("--jobs") + 1] == "1"


def test_every_v3_step_runs_valid_commands(tmp_path):
    proc, calls = _commands(tmp_path, ROOT=str(tmp_path / "root"), OUT=str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert [c[0] for c in calls] == ["run", "run", "compare", "compare", "run", "run", "run", "run", "sweep", "sweep",
                                     "sweep", "sweep", "sweep", "run", "run", "compare", "compare", "compare"]
    runs = [c for c in calls if c[0] != "compare"]
    outs = _parsed(runs, tmp_path)
    assert outs == ["reference-v3", "precision-fp32-v3", "reference-v3", "reference-v3-human", "ablation-cvae-v3",
                    "ablation-cvae-v3-human", "sweep-te-m-v3", "sweep-open-loop-v3", "sweep-chunk-v3",
                    "sweep-chunk-v3-human", "sweep-decoder-v3", "diffusion-v3", "diffusion-v3-last"]
    for argv in runs:  # one torch thread a training, two at once; the profile's own chunk size
        assert "train.num_threads=1" in argv and argv[argv.index("--jobs") + 1] == "2"
        assert "model.chunk_size=50" not in argv
        assert all(t.endswith("_v3") for t in argv[argv.index("--tasks") + 1].split(","))
        assert "--link-media" in argv  # the pages are committed beside their media


def test_v3_diffusion_beside_the_references_act_and_bc(tmp_path):
    proc, calls = _commands(tmp_path, "diffusion", ROOT=str(tmp_path / "root"), OUT=str(tmp_path / "out"),
                            DIFFUSION_SEEDS="0,1,2")
    assert proc.returncode == 0, proc.stderr
    assert [c[0] for c in calls] == ["run", "run", "compare", "compare", "compare"]
    best, last = (build_parser(argv).parse_args(argv) for argv in calls[:2])
    assert (best.methods, best.seeds, Path(best.out).name, best.checkpoint) == ("diffusion", "0,1,2", "diffusion-v3",
                                                                                  "best")
    assert (last.seeds, Path(last.out).name, last.checkpoint) == ("0,1,2", "diffusion-v3-last", "last")
    assert best.demos_root == str(tmp_path / "root" / "demos")  # the reference's demonstrations
    assert best.runs_root == last.runs_root  # the same trainings, evaluated twice
    compares = [build_parser(argv).parse_args(argv) for argv in calls[2:]]
    assert [(c.a.rsplit("/", 1)[1], c.b.rsplit("/", 1)[1]) for c in compares] == [
        ("reference-v3:act", "diffusion-v3:diffusion"), ("reference-v3:bc", "diffusion-v3:diffusion"),
        ("diffusion-v3-last:diffusion", "diffusion-v3:diffusion")]
    assert {p.name for p in (tmp_path / "out" / "diffusion-v3").iterdir()} == {
        "compare-act.txt", "compare-bc.txt", "compare-last.txt"}
def test_one_step_and_a_bad_step_or_version(tmp_path):
    proc, calls = _commands(tmp_path, "reference")
    assert proc.returncode == 0 and len(calls) == 1 and "--demo-style" not in calls[0]
    assert calls[0][calls[0].index("--out") + 1] == "results/reference-v3"
    for i, (steps, env, message) in enumerate([(["bogus"], {}, "unknown step 'bogus'"),
                                               ([], {"VERSION": "v9"}, "unknown VERSION 'v9'"),
                                               (["precision"], {"VERSION": "v2"}, "the precision step is -v3's"),
                                               (["diffusion"], {"VERSION": "v2"}, "the diffusion step is -v3's")]):
        (tmp_path / f"bad{i}").mkdir()
        proc, calls = _commands(tmp_path / f"bad{i}", *steps, **env)
        assert proc.returncode == 2 and message in proc.stderr and not calls, proc.stderr


@pytest.mark.parametrize("step, style", [("human", "human"), ("cvae", None)])
def test_data_styles(tmp_path, step, style):
    proc, calls = _commands(tmp_path, step)
    styles = [c[c.index("--demo-style") + 1] if "--demo-style" in c else None for c in calls]
    assert styles == ([style] if step == "human" else [None, "human"])


def test_more_seeds_for_one_cell(tmp_path):
    proc, calls = _commands(tmp_path, "reference", TASKS="insertion_v3", METHODS="act,act-no-te", SEEDS="10,11")
    assert proc.returncode == 0, proc.stderr
    args = build_parser(calls[0]).parse_args(calls[0])
    assert (args.tasks, args.methods, args.seeds, Path(args.out).name) == (
        "insertion_v3", "act,act-no-te", "10,11", "reference-v3")


def test_tasks_narrow_every_step_but_decoder(tmp_path):
    proc, calls = _commands(tmp_path, "chunk", "decoder", VERSION="v2", TASKS="insertion_v2")
    assert proc.returncode == 0, proc.stderr
    assert [c[c.index("--tasks") + 1] for c in calls] == ["insertion_v2", "insertion_v2", "transfer_cube_v2"]


def test_v3_precision_pairs_the_reference_with_fp32(tmp_path):
    proc, calls = _commands(tmp_path, "precision", "reference", "human", ROOT=str(tmp_path / "root"),
                            OUT=str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert [c[0] for c in calls] == ["run", "run", "compare", "compare", "run", "run"]
    runs = [build_parser(argv).parse_args(argv) for argv in calls if argv[0] == "run"]
    bf16, fp32, reference, human = runs
    assert bf16.seeds == fp32.seeds == "0,1,2,3,4" and bf16.tasks == fp32.tasks == "transfer_cube_v3"
    assert bf16.overrides == ["train.num_threads=1"] and fp32.overrides == ["train.num_threads=1", "train.amp=none"]
    assert bf16.runs_root == reference.runs_root != fp32.runs_root  # the bf16 half is the reference's own
    assert Path(bf16.out).name == Path(reference.out).name == "reference-v3"
    assert reference.seeds == "0,1,2,3,4,5,6,7,8,9"
    assert reference.methods == human.methods == "act,act-no-te,bc,scripted,still"
    assert human.demo_style == "human" and human.seeds == "0,1,2,3,4" and Path(human.out).name == "reference-v3-human"
    for argv in calls:
        if argv[0] == "compare":
            args = build_parser(argv).parse_args(argv)
            assert args.a.endswith(("reference-v3:act", "reference-v3:act-no-te")) and "precision-fp32-v3" in args.b
    assert {p.name for p in (tmp_path / "out" / "precision-fp32-v3").iterdir()} == {"compare-act.txt",
                                                                                 "compare-act-no-te.txt"}


def test_a_study_pinned_to_other_cpus_stops_before_anything_runs(tmp_path):
    from act_bench.runtime.machine import cpu

    folders = {"ROOT": str(tmp_path / "root"), "OUT": str(tmp_path / "out")}
    proc, calls = _commands(tmp_path, "reference", CPU_FLAGS="0123456789abcdef,fedcba9876543210", **folders)
    assert proc.returncode == 2 and not calls
    assert cpu()["cpu_flags"] in proc.stderr and "not in CPU_FLAGS" in proc.stderr
    proc, calls = _commands(tmp_path, "reference", CPU_FLAGS=f"0123456789abcdef,{cpu()['cpu_flags']}", **folders)
    assert proc.returncode == 0 and [c[0] for c in calls] == ["run"]
