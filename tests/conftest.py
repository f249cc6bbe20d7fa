import os

# Headless rendering: must be set before anything imports mujoco.
os.environ.setdefault("MUJOCO_GL", "egl")
# Tests run on 2-core machines next to other work: keep torch to one thread each.
os.environ.setdefault("OMP_NUM_THREADS", "1")
