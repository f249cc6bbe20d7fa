"""Policies (ACT, ACT without the CVAE, single-step BC, Diffusion Policy) and the methods that execute them,
found by name in a registry."""
from act_bench.policies.base import Policy, build_policy
from act_bench.policies.checkpoint import load_policy, save_checkpoint
from act_bench.policies.config import PolicyConfig, Profile, load_profile
from act_bench.policies.registry import (get_method, get_policy, method_names, policy_names,
                                         register_method, register_policy)

__all__ = ["Policy", "PolicyConfig", "Profile", "build_policy", "get_method", "get_policy", "load_policy",
           "load_profile", "method_names", "policy_names", "register_method", "register_policy", "save_checkpoint"]
