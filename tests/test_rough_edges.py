"""What a new user meets first: --version, defaults in --help, one name per flag, and a path of
the wrong kind named as such (`replay` given a demo folder)."""
from __future__ import annotations

import contextlib
import io

import pytest

from act_bench import cli
from act_bench.demos.replay import video_size


def run_cli(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as exc:  # argparse's --help and --version
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_version():
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("act-bench ") and len(out.split()) >= 2


@pytest.mark.parametrize("command, shown", [
    ("run", ["--demos DEMOS", "(default: 50)", "(default: act,act-no-te,bc)", "(default: results/run)"]),
    ("train", ["--seed SEED", "(default: 0)", "(default: auto)"]),
    ("eval", ["(default 16)", "(default: 3)", "(default: auto)"]),
    ("generate-demos", ["(default 50)"]),
])
def test_help_shows_defaults(command, shown):
    code, out, _ = run_cli(command, "--help")
    text = " ".join(out.split())  # argparse wraps lines
    assert code == 0 and all(s in text for s in shown), text
    assert "(default: False)" not in text and "(default: True)" not in text and "(default: [])" not in text
    if command == "train":  # a help that names its default is not given a second one
        assert text.count("(default: cpu)") == 1 and "(default: data.max_episodes, or all)" in text


def test_eval_policy_given_a_built_in_policy_points_to_run():
    code, _, err = run_cli("eval", "--policy", "act", "--task", "transfer_cube", "--out", "x")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--policy act is a built-in policy: eval takes a trained one with --run RUN" in err


def test_replay_given_a_folder_says_so(tmp_path):
    (tmp_path / "episode_0.hdf5").write_bytes(b"")
    code, _, err = run_cli("replay", str(tmp_path))
    assert code == 2 and f"{tmp_path} is a folder; replay takes one episode file of it, e.g. " in err
    assert str(tmp_path / "episode_0.hdf5") in err


def test_replay_scales_small_frames_up_for_the_banner():
    assert video_size((48, 64)) == (240, 320)
    assert video_size((48, 192)) == (240, 960)  # three cameras side by side: the height decides
    assert video_size((24, 64)) == (240, 640)
    assert video_size((480, 1920)) == (480, 1920)  # large frames stay as recorded
