"""Policies (ACT, ACT without the CVAE, single-step BC), found by name in a registry."""
from act_bench.policies.base import Policy
from act_bench.policies.checkpoint import load_policy, save_checkpoint
from act_bench.policies.config import Profile, load_profile
from act_bench.policies.registry import available_policies, build_policy, policy_class, register

__all__ = ["Policy", "Profile", "available_policies", "build_policy", "load_policy", "load_profile",
           "policy_class", "register", "save_checkpoint"]
