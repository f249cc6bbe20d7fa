"""Profiles that extend another: act-no-cvae's are act's with its own description (and the
values its earlier runs recorded), resolved exactly as the hand-copied files were."""
import json
from pathlib import Path

import pytest

from act_bench.errors import ActBenchError
from act_bench.policies.config import load_profile, read_profile_toml

DATA = Path(__file__).parents[1] / "data"


@pytest.mark.parametrize("profile", ["ci", "cpu", "paper"])
def test_act_no_cvae_profiles_resolve_as_before(profile):
    expected = json.loads((DATA / "act_no_cvae_profiles.json").read_text())[profile]
    assert load_profile("act-no-cvae", profile).to_dict() == expected


def test_extends_merges_tables_and_refuses_circles(tmp_path):
    (tmp_path / "base.toml").write_text('description = "base"\n[model]\nchunk_size = 5\nd_model = 8\n[train]\nsteps = 3\n')
    (tmp_path / "child.toml").write_text('extends = "base.toml"\n[model]\nd_model = 16\n')
    raw = read_profile_toml(tmp_path / "child.toml")
    assert raw == {"description": "base", "model": {"chunk_size": 5, "d_model": 16}, "train": {"steps": 3}}
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(ActBenchError, match="circle"):
        read_profile_toml(tmp_path / "a.toml")
    (tmp_path / "c.toml").write_text('extends = "missing.toml"\n')
    with pytest.raises(ActBenchError, match="does not exist"):
        read_profile_toml(tmp_path / "c.toml")
