"""act-bench remote: packing finished runs into one tarball and back (run_pack.py), and the
round trip a GPU sweep makes: train with `remote train`, pack, unpack into a fresh runs root,
and `act-bench run` there only evaluates."""
import hashlib
import io
import json
import os
import sys
import tarfile
from pathlib import Path

import pytest

from act_bench.errors import ActBenchError
from act_bench.grid.plan import TrainJob
from act_bench.grid.remote import core_shares, train_command
from act_bench.grid.run_pack import finished_runs, pack_runs, unpack_runs
from cli_helpers import cli, ok

FILES = ("config.json", "done.json", "metrics.csv", "checkpoints/best.json", "checkpoints/best.safetensors")


def _fake_run(root: Path, seed: int, done: bool = True, weights: bytes = b"w") -> Path:
    run = root / "transfer_cube" / "act" / "ci" / f"seed{seed}"
    for name in FILES:
        if name == "done.json" and not done:
            continue
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_bytes(weights + bytes(seed) if name.endswith("safetensors") else f"{name} {seed}".encode())
    (run / "checkpoints" / "last_state.safetensors").write_bytes(b"optimizer: stays behind")
    return run


def _tree(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_pack_unpack_round_trip(tmp_path):
    src = tmp_path / "there"
    for seed in (0, 1):
        _fake_run(src, seed)
    _fake_run(src, 2, done=False)  # unfinished: trains again wherever it is resumed
    tarball = tmp_path / "runs.tar.gz"
    assert pack_runs(src, tarball) == ["transfer_cube/act/ci/seed0", "transfer_cube/act/ci/seed1"]
    home = tmp_path / "home"
    assert set(unpack_runs(tarball, home).values()) == {"added"}
    assert finished_runs(home) == [home / "transfer_cube/act/ci/seed0", home / "transfer_cube/act/ci/seed1"]
    for seed in (0, 1):
        rel = f"transfer_cube/act/ci/seed{seed}"
        assert _tree(home / rel) == {k: v for k, v in _tree(src / rel).items() if k in FILES}
    assert [p.name for p in home.iterdir()] == ["transfer_cube"]  # no staging folder left
    # unpacking again keeps the identical runs
    assert set(unpack_runs(tarball, home).values()) == {"already there"}


def test_unpack_refuses_to_overwrite_and_changes_nothing(tmp_path):
    src, home = tmp_path / "there", tmp_path / "home"
    _fake_run(src, 0)
    _fake_run(src, 1)
    tarball = tmp_path / "runs.tar.gz"
    pack_runs(src, tarball)
    _fake_run(home, 1, weights=b"another training")
    before = _tree(home)
    with pytest.raises(ActBenchError, match="another finished training"):
        unpack_runs(tarball, home)
    assert _tree(home) == before  # seed0 was not placed either
    home2 = tmp_path / "home2"
    _fake_run(home2, 1, done=False)
    with pytest.raises(ActBenchError, match="unfinished training"):
        unpack_runs(tarball, home2)
    assert unpack_runs(tarball, home2, replace_unfinished=True)["transfer_cube/act/ci/seed1"] == "replaced"
    assert (home2 / "transfer_cube/act/ci/seed1/done.json").is_file()
    assert not (home2 / "transfer_cube/act/ci/seed1/checkpoints/last_state.safetensors").exists()


def _retar(tarball: Path, out: Path, edit) -> None:
    """Copy tarball to out, passing each (name, bytes) through edit (None drops it)."""
    with tarfile.open(tarball) as src, tarfile.open(out, "w:gz") as dst:
        for m in src.getmembers():
            item = edit(m.name, src.extractfile(m).read())
            if item is not None:
                info = tarfile.TarInfo(item[0])
                info.size = len(item[1])
                dst.addfile(info, io.BytesIO(item[1]))


def test_damaged_or_foreign_tarballs_are_refused(tmp_path):
    src, home = tmp_path / "there", tmp_path / "home"
    _fake_run(src, 0)
    tarball = tmp_path / "runs.tar.gz"
    pack_runs(src, tarball)
    bad = tmp_path / "bad.tar.gz"
    _retar(tarball, bad, lambda n, b: (n, b + b"x") if n.endswith("best.safetensors") else (n, b))
    with pytest.raises(ActBenchError, match="SHA-256"):
        unpack_runs(bad, home)
    _retar(tarball, bad, lambda n, b: None if n.endswith("metrics.csv") else (n, b))
    with pytest.raises(ActBenchError, match="not in the tarball"):
        unpack_runs(bad, home)

    def escape(name, data):
        if name == "manifest.json":
            m = json.loads(data)
            m["runs"] = {"../../etc/x/seed0": next(iter(m["runs"].values()))}
            return name, json.dumps(m).encode()
        return name, data
    _retar(tarball, bad, escape)
    with pytest.raises(ActBenchError, match="not a run folder"):
        unpack_runs(bad, home)
    _retar(tarball, bad, lambda n, b: None if n == "manifest.json" else (n, b))
    with pytest.raises(ActBenchError, match="not a packed runs tarball"):
        unpack_runs(bad, home)
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(ActBenchError, match="cannot read"):
        unpack_runs(tmp_path / "junk.tar.gz", home)
    assert not home.exists() or _tree(home) == {}
    with pytest.raises(ActBenchError, match="no finished run"):
        pack_runs(tmp_path / "empty", tmp_path / "x.tar.gz")


def test_train_command_and_core_shares(tmp_path):
    job = TrainJob("transfer_cube", "act", 1, "ci", tmp_path / "d", tmp_path / "r", ("train.steps=5",), "auto",
                   False, 7)
    cmd = train_command(job)
    assert cmd[cmd.index("--policy") + 1] == "act" and cmd[-2:] == ["--set", "train.steps=5"]
    assert cmd[cmd.index("--episodes") + 1] == "7" and cmd[cmd.index("--device") + 1] == "auto"
    shares = core_shares(64)
    assert len(shares) == len(os.sched_getaffinity(0)) and all(len(s) == 1 for s in shares)
    assert not set.intersection(*shares) if len(shares) > 1 else True


def test_bad_input_is_one_line(tmp_path):
    res = cli("remote", "unpack", tmp_path / "missing.tar.gz", "--runs-root", tmp_path / "r", cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "cannot read" in res.stderr
    res = cli("remote", "pack", "--runs-root", tmp_path / "r", "--out", tmp_path / "o.tar.gz", cwd=tmp_path)
    assert res.returncode == 2 and "no finished run" in res.stderr
    res = cli("remote", "train", "--tasks", "transfer_cube", "--parallel", "-1", cwd=tmp_path)
    assert res.returncode == 2 and "--parallel" in res.stderr


@pytest.mark.slow
def test_remote_trains_packs_and_run_only_evaluates_at_home(tmp_path):
    tiny = ["--set", "train.steps=20", "--set", "train.checkpoint_every=10", "--set", "model.d_model=32",
            "--set", "model.dim_feedforward=64", "--set", "model.n_heads=2"]
    grid = ["--methods", "act-no-te", "--tasks", "transfer_cube", "--seeds", "0,1", "--profile", "ci", "--demos", "2",
            "--demos-root", tmp_path / "demos", *tiny]
    out = ok("remote", "train", *grid, "--runs-root", tmp_path / "gpu-runs", "--parallel", "2",
             "--device", "cpu", cwd=tmp_path).stdout
    assert "2 trainings to do" in out and "2/2 runs finished" in out
    again = ok("remote", "train", *grid, "--runs-root", tmp_path / "gpu-runs", cwd=tmp_path).stdout
    assert "0 trainings to do" in again
    ok("remote", "pack", "--runs-root", tmp_path / "gpu-runs", "--out", tmp_path / "runs.tar.gz", cwd=tmp_path)
    home = tmp_path / "runs"
    ok("remote", "unpack", tmp_path / "runs.tar.gz", "--runs-root", home, cwd=tmp_path)
    before = _tree(home)
    res = ok("run", *grid, "--runs-root", home, "--episodes", "2", "--videos", "0",
             "--out", tmp_path / "out", "--no-progress", cwd=tmp_path)
    assert _tree(home) == before  # nothing retrained: the checkpoints and metrics are the packed ones
    for seed in (0, 1):
        assert (tmp_path / "out" / "evals" / "transfer_cube" / "act-no-te" / f"seed{seed}" / "summary.json").is_file()
    assert "generating" not in res.stderr


def test_run_jobs_counts_finished_and_interrupts_at_the_deadline(tmp_path, monkeypatch):
    import act_bench.grid.remote as remote

    ended = tmp_path / "slow-ended"  # written only by a slow job that was waited for
    commands = {"quick": "pass", "bad": "raise SystemExit(3)",
                "slow": f"import pathlib, time; time.sleep(300); pathlib.Path({str(ended)!r}).touch()"}
    monkeypatch.setattr(remote, "train_command", lambda job: [sys.executable, "-c", commands[job.task]])
    jobs = [TrainJob(name, "act", 0, "ci", tmp_path, tmp_path / name, (), "cpu", False) for name in commands]
    assert remote.run_jobs(jobs[:1] + jobs[1:2], 2, 0, poll_s=0.1) == 1  # "bad" exits 3: not finished
    assert remote.run_jobs(jobs[2:], 1, 1.0, poll_s=0.1) == 0
    assert not ended.exists()  # interrupted at the deadline, not waited for
    assert (tmp_path / "slow" / remote.LOG).is_file()


def test_remote_train_plans_a_sweeps_runs_in_the_sweeps_folders(tmp_path, monkeypatch):
    """--param and --demo-style: the trainings `act-bench sweep` would do, in its run folders, with
    the point's value passed to `act-bench train`; an execution-only field adds no training."""
    import act_bench.grid.remote as remote
    from act_bench import cli
    from fakes import SweepBackend

    launched = []
    monkeypatch.setattr(remote, "run_jobs", lambda jobs, parallel, deadline_s: launched.extend(jobs) or len(jobs))

    def train(*extra):
        args = cli.build_parser(["remote"]).parse_args(
            ["remote", "train", "--methods", "act,act-no-te", "--tasks", "transfer_cube", "--seeds", "0", "--profile",
             "ci", "--demos", "2", "--demos-root", str(tmp_path / "demos"), "--runs-root", str(tmp_path / "runs"),
             "--demo-style", "human", *extra])
        launched.clear()
        assert remote.train_grid(args, SweepBackend(tmp_path / "calls.log")) == 0
        return {(Path(j.run_dir).relative_to(tmp_path / "runs").as_posix(), j.overrides) for j in launched}

    assert train("--param", "model.chunk_size=10,20") == {
        ("transfer_cube/act/ci+model.chunk_size=10-human/seed0", ("model.chunk_size=10",)),
        ("transfer_cube/act/ci-human/seed0", ())}  # 20 is the ci profile's own chunk size: the base run
    assert train("--param", "eval.temporal_ensemble_m=0.01,0.1") == {("transfer_cube/act/ci-human/seed0", ())}
    assert [p.name for p in (tmp_path / "demos").iterdir()] == ["transfer_cube_24x32_top_human"]
