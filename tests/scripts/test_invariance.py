"""The refactor guard: demos, a ci-profile training and its evaluation give exactly the values
recorded in tests/data/invariance.json (on the machine kind that recorded them; re-record with
`python scripts/invariance.py --write` only when a change is meant to move numbers)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_numbers_unchanged():
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "invariance.py"), "--check"], env=env,
                          capture_output=True, text=True, timeout=900)
    if done.stdout.startswith("skipped"):
        pytest.skip(done.stdout.strip())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert done.stdout.strip().endswith("unchanged")
