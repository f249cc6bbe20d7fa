"""A LeRobot policy checkpoint (e.g. an ACT from `lerobot-train`) as an act-bench external policy.

act-bench's side of the contract (act_bench.policies.external): reset() when an episode starts,
act(observation) -> 14 joint targets per step, in gym-aloha's observation layout
(obs_type "pixels_agent_pos": {"pixels": {cam: HxWx3 uint8}, "agent_pos": qpos}), which is what
LeRobot's own env processing turns into observation.images.{cam} / observation.state.
LeRobot's side: its pre-processor (normalisation), select_action (ACT's action queue of
n_action_steps, or its temporal ensembling when the checkpoint has temporal_ensemble_coeff), and
its post-processor (un-normalisation). lerobot is imported here only, never by act-bench.
"""
from __future__ import annotations

__all__ = ["load", "LeRobotPolicy"]


def load(checkpoint: str, device: str = "cpu", name: str = "lerobot-act"):
    """The factory `act-bench eval --policy act_bench_lerobot:load --policy-arg checkpoint=DIR` calls.
    checkpoint: a pretrained_model folder (config.json, model.safetensors, processor files)."""
    return LeRobotPolicy(checkpoint, device=device, name=name)


class LeRobotPolicy:
    obs_type = "pixels_agent_pos"

    def __init__(self, checkpoint: str, device: str = "cpu", name: str = "lerobot-act"):
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies.factory import get_policy_class, make_pre_post_processors

        config = PreTrainedConfig.from_pretrained(checkpoint)
        config.device = device
        self.policy = get_policy_class(config.type).from_pretrained(checkpoint, config=config)
        self.policy.to(device).eval()
        self.pre, self.post = make_pre_post_processors(
            self.policy.config, pretrained_path=checkpoint,
            preprocessor_overrides={"device_processor": {"device": device}})
        images = self.policy.config.image_features  # {"observation.images.top": PolicyFeature(shape=(3, H, W))}
        self.camera_names = tuple(key.removeprefix("observation.images.") for key in images)
        self.image_size = tuple(next(iter(images.values())).shape[1:]) if images else None
        self.name = name

    def reset(self) -> None:
        self.policy.reset()
        self.pre.reset()
        self.post.reset()

    def act(self, observation: dict):
        import torch
        from lerobot.envs.utils import preprocess_observation

        batch = preprocess_observation(observation)  # adds the batch axis, HWC uint8 -> CHW float in [0, 1]
        with torch.inference_mode():
            action = self.post(self.policy.select_action(self.pre(batch)))
        return action[0].to("cpu").numpy()
