"""Atomic writes: a file or folder is either the old one or the complete new one."""
import pytest

from act_bench.storage.atomic_io import atomic_dir, atomic_path, remove_stale_temps, write_json


def test_atomic_path_keeps_the_old_file_when_the_write_fails(tmp_path):
    target = write_json(tmp_path / "a.json", {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == '{\n  "v": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary left behind


def test_atomic_dir_replaces_a_folder_whole_or_not_at_all(tmp_path):
    out = tmp_path / "out"
    with atomic_dir(out) as tmp:
        (tmp / "x").write_text("1")
    assert (out / "x").read_text() == "1"
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "y").write_text("2")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in out.iterdir()) == ["x"]  # the old folder, untouched
    with atomic_dir(out) as tmp:
        (tmp / "z").write_text("3")
    assert sorted(p.name for p in out.iterdir()) == ["z"]  # replaced, not merged
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_stale_temps_are_removed_and_finished_files_kept(tmp_path):
    """A kill -9 inside atomic_path/atomic_dir leaves hidden temporaries; a job starting on the
    folder removes them (so a resumed run ends with the same files as an undisturbed one)."""
    keep = write_json(tmp_path / "best.json", {"v": 1})
    (tmp_path / ".best.ab12cd.tmp.safetensors").write_bytes(b"")
    (tmp_path / ".out.xy34.tmp").mkdir()
    (tmp_path / ".hidden_but_finished").write_text("kept")
    remove_stale_temps(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden_but_finished", keep.name]
    remove_stale_temps(tmp_path / "missing")  # nothing to do
