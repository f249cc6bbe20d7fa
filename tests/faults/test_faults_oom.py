"""Out of memory (`pytest -m faults`): a training step, a CUDA allocation and an evaluation
that run out of memory each end in one line naming the step or batch size and what to lower,
exit non-zero, and leave the folder resumable: the same command, rerun, completes. The failure
is injected (torch's own exception types and messages), never provoked for real.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cli_helpers import GEN, TINY, cli_env, ok, one_line

pytestmark = [pytest.mark.faults, pytest.mark.slow]

CPU_OOM = ("RuntimeError('[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can\\'t allocate memory: "
           "you tried to allocate 1638400000000 bytes. Error code 12 (Cannot allocate memory)')")
CUDA_OOM = ("torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total "
            "capacity of 79.19 GiB of which 1.50 GiB is free. Of the allocated memory 70 GiB is allocated by "
            "PyTorch. See documentation for Memory Management')")

# runs the CLI with one function made to fail on its Nth call (the failure injected, the rest real)
DRIVER = """
import sys, importlib, torch
module, name, nth, error = sys.argv[1:5]
target = importlib.import_module(module)
real, calls = getattr(target, name), [0]
def failing(*a, **kw):
    calls[0] += 1
    if calls[0] >= int(nth):
        raise eval(error)
    return real(*a, **kw)
setattr(target, name, failing)
from act_bench.cli import main
sys.exit(main(sys.argv[5:]))
"""


def cli_failing(cwd, module: str, name: str, nth: int, error: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", DRIVER, module, name, str(nth), error, *map(str, args)], cwd=cwd,
                          env=cli_env(), capture_output=True, text=True, timeout=600)


def train_args(out, *extra):
    return ["train", "--task", "transfer_cube", "--policy", "act", "--profile", "ci", "--data", "demos", "--out", out,
            "--no-progress", *TINY, *extra]


def eval_args(out):
    return ["eval", "--run", "run", "--method", "act-no-te", "--episodes", "2", "--videos", "0", "--out", out,
            "--no-progress", "--batch", "2"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    w = tmp_path_factory.mktemp("oom")
    ok(*GEN, "--out", "demos", cwd=w)
    ok(*train_args("run"), cwd=w)
    return w


def test_training_out_of_memory_names_the_step_and_batch_size_and_resumes(work):
    res = cli_failing(work, "act_bench.training.train", "train_step", 7, CPU_OOM, *train_args("oom_run"))
    line = one_line("train out of memory (CPU)", res)
    assert "out of memory at training step 7 (train.batch_size=" in line
    assert "DefaultCPUAllocator: can't allocate memory" in line and "lower train.batch_size" in line
    assert "resume from step 5" in line
    assert json.loads((work / "oom_run/checkpoints/last.json").read_text())["step"] == 5
    assert not (work / "oom_run/done.json").exists()
    ok(*train_args("oom_run"), cwd=work)  # the same command resumes and finishes
    assert json.loads((work / "oom_run/done.json").read_text())["step"] == 20


def test_cuda_out_of_memory_is_one_line(work):
    res = cli_failing(work, "act_bench.training.train", "train_step", 1, CUDA_OOM, *train_args("cuda_oom_run"))
    line = one_line("train out of memory (CUDA)", res)
    assert "out of memory at training step 1" in line and "CUDA out of memory" in line
    assert "lower train.batch_size" in line and len(line) < 400


def test_evaluation_out_of_memory_names_the_batch_and_resumes(work):
    res = cli_failing(work, "act_bench.evaluation.lockstep", "query_batch", 3, CPU_OOM, *eval_args("oom_eval"))
    line = one_line("eval out of memory", res)
    assert "out of memory evaluating act-no-te on transfer_cube with --batch 2 episodes" in line
    assert "lower --batch" in line
    ok(*eval_args("oom_eval"), cwd=work)
    assert json.loads((work / "oom_eval/summary.json").read_text())["episodes"] == 2


def test_out_of_memory_elsewhere_is_one_line(work):
    res = cli_failing(work, "act_bench.training.train", "load_training_data", 1, "MemoryError('Unable to allocate "
                      "40.0 GiB for an array with shape (1000, 3, 480, 640)')", *train_args("oom_load"))
    line = one_line("out of memory loading demos", res)
    assert "out of memory (Unable to allocate 40.0 GiB" in line and "use smaller sizes" in line


def test_a_failed_cell_says_out_of_memory_without_the_class_name():
    """`run` lists a job's failure by its exception line; the failed cell's reason is the message."""
    import traceback

    from act_bench.report import failed_cells
    from act_bench.runtime.out_of_memory import explained

    try:
        with explained(lambda: "at training step 3 (train.batch_size=8, on cpu)", "train.batch_size"):
            raise MemoryError("Unable to allocate 1.0 TiB")
    except Exception as exc:
        line = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    assert failed_cells._reason(line) == ("out of memory at training step 3 (train.batch_size=8, on cpu) "
                                          "(Unable to allocate 1.0 TiB): lower train.batch_size")
