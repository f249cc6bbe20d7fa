"""MuJoCo model loading, robot indexing, offscreen rendering and inverse kinematics."""
import os

# Headless by default; must be set before mujoco is imported anywhere.
os.environ.setdefault("MUJOCO_GL", "egl")

# The robot's state and action size: [left 6 joints, left gripper, right 6 joints, right gripper].
STATE_DIM = 14
# (H, W) of the evaluation videos and of the env's render() (its render_size default)
VIDEO_SIZE = (240, 320)
