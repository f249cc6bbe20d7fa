import os

# Headless rendering: must be set before anything imports mujoco.
os.environ.setdefault("MUJOCO_GL", "egl")
# Tests run on 2-core machines next to other work: keep torch to one thread each.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402  (after the environment above)


@pytest.fixture(scope="module")
def fake_demos(tmp_path_factory):
    """Three fake 30-step episodes (tests/helpers_data.py), shared by a module's tests: read them,
    copy them to change them."""
    from helpers_data import write_fake_demos

    return write_fake_demos(tmp_path_factory.mktemp("demos"), episodes=3, T=30)
