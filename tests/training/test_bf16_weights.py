"""bf16 weights kept between steps: the numbers of autocast, with the casts batched."""
import pytest
import torch

from act_bench.policies import build_policy
from act_bench.training.bf16_weights import Bf16Weights, cast_slots
from act_bench.training.train import autocast_context, make_optimizer, train_step

from helpers_data import tiny_profile


def _batch(policy, b=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    h, w = policy.image_size
    k = policy.chunk_size
    is_pad = torch.zeros(b, k, dtype=torch.bool)
    is_pad[0, k // 2:] = True  # a padded chunk: the CVAE encoder's key padding mask is used
    return {"qpos": torch.randn(b, 14, generator=g),
            "images": torch.randint(0, 256, (b, 1, h, w, 3), generator=g, dtype=torch.uint8),
            "actions": torch.randn(b, k, 14, generator=g), "is_pad": is_pad}


def _train(method, keep_bf16: bool, steps=3):
    prof = tiny_profile(method)
    torch.manual_seed(0)
    policy = build_policy(prof).train()
    opt = make_optimizer(policy, prof.train)
    weights = Bf16Weights(policy) if keep_bf16 else None
    autocast = autocast_context(torch.device("cpu"), "bf16")
    losses = [float(train_step(policy, opt, _batch(policy, seed=i), prof.train.grad_clip, autocast, weights)["loss"])
              for i in range(steps)]
    return policy.state_dict(), losses, weights


@pytest.mark.parametrize("method", ["act", "act-no-cvae", "bc"])
def test_bf16_weights_train_bit_identically_to_autocast(method):
    """Same losses and same fp32 weights, bit for bit, as autocast casting each step; the policy
    keeps fp32 weights (what checkpoints save) and the copies follow the last update."""
    ref, ref_losses, _ = _train(method, False)
    new, losses, weights = _train(method, True)
    assert losses == ref_losses
    assert ref.keys() == new.keys() and all(torch.equal(ref[k], new[k]) for k in ref)
    assert all(v.dtype == torch.float32 for k, v in new.items() if v.is_floating_point())
    assert all(torch.equal(c, m.detach().to(torch.bfloat16)) for c, m in zip(weights.copies, weights.masters))


def test_cast_slots_are_the_matrix_product_and_conv_weights():
    policy = build_policy(tiny_profile("act"))
    slots = {f"{type(m).__name__}.{n}" for m, n in cast_slots(policy)}
    assert {"Linear.weight", "Linear.bias", "Conv2d.weight", "Conv2d.bias", "Attention.in_proj_weight",
            "Attention.in_proj_bias"} == slots
    names = {id(m._parameters[n]) for m, n in cast_slots(policy)}
    # layer norms and embeddings are not cast by autocast, and stay fp32 here too
    assert all(id(p) not in names for m in policy.modules() if isinstance(m, (torch.nn.LayerNorm, torch.nn.Embedding))
               for p in m.parameters())
