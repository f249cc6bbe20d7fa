"""The bimanual ALOHA as a Gymnasium environment (joint-space control at 50 Hz)."""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

import act_bench.sim  # noqa: F401  (sets MUJOCO_GL)
import mujoco

from act_bench.tasks.config import TaskConfig
from act_bench.tasks.registry import get_task
from act_bench.sim.render import CameraRenderer
from act_bench.sim.robot import STATE_DIM, RobotIndex, load_model, start_qpos

VIDEO_CAMERA = "angle"
VIDEO_SIZE = (240, 320)


class AlohaEnv(gym.Env):
    """Two ViperX 300 arms and a task's objects.

    Action: 14 absolute joint targets [left 6 joints, left gripper, right 6, right gripper],
    grippers in [0, 1] (0 closed). Out-of-range values are clipped; NaN/inf raise ValueError.
    Observation: {"qpos": (14,), "qvel": (14,), "images": {camera: (H, W, 3) uint8}}; with no
    cameras the "images" key is absent.
    Reward: the current stage (0..4); info["max_stage"] is the best so far and
    info["is_success"] says whether the last stage was ever reached.
    Episodes are truncated after `episode_len` steps. By default reaching the last stage does
    not terminate (fixed-length episodes, as in the ACT paper); `terminate_on_success=True`
    ends the episode there (act-bench's evaluator stops at success on its own, with the same
    effect on the outcome).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(
        self,
        task: str | TaskConfig = "transfer_cube",
        cameras: tuple[str, ...] | list[str] | None = None,
        image_size: tuple[int, int] | None = None,
        render_mode: str | None = None,
        terminate_on_success: bool = False,
        render_camera: str = VIDEO_CAMERA,
        render_size: tuple[int, int] = VIDEO_SIZE,
    ):
        spec = get_task(task.name if isinstance(task, TaskConfig) else task)
        self.task_config = task if isinstance(task, TaskConfig) else spec.config()
        cfg = self.task_config
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.cameras = tuple(cfg.cameras if cameras is None else cameras)
        self.image_size = tuple(int(v) for v in (cfg.image_size if image_size is None else image_size))
        self.render_mode = render_mode
        self.terminate_on_success = terminate_on_success

        self.model = load_model(cfg.model)
        self.data = mujoco.MjData(self.model)
        self.robot = RobotIndex.from_model(self.model)
        self.task = spec.stage_rule(cfg, self.model, self.robot)
        self.n_substeps = int(round(cfg.control_dt / self.model.opt.timestep))

        low, high = self.robot.action_bounds()
        self.action_space = spaces.Box(low=low.astype(np.float32), high=high.astype(np.float32), dtype=np.float32)
        obs_spaces: dict[str, spaces.Space] = {
            "qpos": spaces.Box(-np.inf, np.inf, (STATE_DIM,), np.float64),
            "qvel": spaces.Box(-np.inf, np.inf, (STATE_DIM,), np.float64),
        }
        h, w = self.image_size
        if self.cameras:  # gymnasium forbids an empty Dict space, so no cameras -> no "images"
            obs_spaces["images"] = spaces.Dict({c: spaces.Box(0, 255, (h, w, 3), np.uint8) for c in self.cameras})
        self.observation_space = spaces.Dict(obs_spaces)

        self._camera_renderer = CameraRenderer(self.model, self.cameras, h, w) if self.cameras else None
        self._video_renderer = (
            CameraRenderer(self.model, (render_camera,), *render_size) if render_mode == "rgb_array" else None
        )
        self._step = 0
        self._max_stage = 0
        self.object_poses: dict[str, np.ndarray] = {}

    # --- gymnasium API ------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        q0 = start_qpos()
        self.robot.set_qpos(self.data, q0)
        self.data.ctrl[:] = self.robot.action_to_ctrl(q0)
        self.object_poses = self.task.place_objects(self.data, self.np_random)
        mujoco.mj_forward(self.model, self.data)
        self._step = 0
        self._max_stage = self.task.stage(self.data)
        return self._observation(), self._info(self._max_stage)

    def step(self, action):
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (STATE_DIM,):
            raise ValueError(f"action must have shape ({STATE_DIM},), got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action contains NaN or inf: {action}")
        self.data.ctrl[:] = self.robot.action_to_ctrl(action)
        mujoco.mj_step(self.model, self.data, nstep=self.n_substeps)
        self._step += 1
        stage = self.task.stage(self.data)
        self._max_stage = max(self._max_stage, stage)
        success = self._max_stage == self.task_config.max_stage
        terminated = bool(self.terminate_on_success and success)
        truncated = self._step >= self.task_config.episode_len
        return self._observation(), float(stage), terminated, truncated, self._info(stage)

    def render(self):
        if self._video_renderer is None:
            return None
        return next(iter(self._video_renderer.render(self.data).values()))

    def close(self):
        for r in (self._camera_renderer, self._video_renderer):
            if r is not None:
                r.close()

    # --- helpers --------------------------------------------------------------------
    def _observation(self) -> dict[str, Any]:
        obs = {"qpos": self.robot.qpos(self.data), "qvel": self.robot.qvel(self.data)}
        if self._camera_renderer is not None:
            obs["images"] = self._camera_renderer.render(self.data)
        return obs

    def _info(self, stage: int) -> dict[str, Any]:
        return {
            "stage": int(stage),
            "max_stage": int(self._max_stage),
            "is_success": self._max_stage == self.task_config.max_stage,
            "step": self._step,
        }
