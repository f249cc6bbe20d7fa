"""MuJoCo model loading, robot indexing, offscreen rendering and inverse kinematics."""
import os

# Headless by default; must be set before mujoco is imported anywhere.
os.environ.setdefault("MUJOCO_GL", "egl")
