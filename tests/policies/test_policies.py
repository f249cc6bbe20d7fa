"""Policies: shapes, loss masking, deterministic z = 0 inference, checkpoints, profiles, overfitting."""
import json

import numpy as np
import pytest
import torch

from act_bench.data.dataset import ChunkDataset, batch_to_torch
from act_bench.data.normalization import NormStats
from act_bench.errors import ActBenchError, CheckpointError
from act_bench.evaluation.ensembling import Execution
from act_bench.policies import build_policy, load_policy, load_profile, policy_names, save_checkpoint
from act_bench.policies.backbones import ResNet18, SmallCNN
from act_bench.policies.base import masked_error
from act_bench.policies.checkpoint import read_tensors
from act_bench.policies.config import apply_overrides, parse_overrides
from act_bench.policies.transformer import dropout_keep_mask

from helpers_data import fake_episode_arrays, tiny_profile

METHODS = ["act", "act-no-cvae", "bc"]


def _batch(policy, b=3, size=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    h, w = size or policy.image_size
    k = policy.chunk_size
    return {"qpos": torch.randn(b, 14, generator=g),
            "images": torch.randint(0, 256, (b, len(policy.camera_names), h, w, 3), generator=g, dtype=torch.uint8),
            "actions": torch.randn(b, k, 14, generator=g), "is_pad": torch.zeros(b, k, dtype=torch.bool)}


def test_registry():
    assert list(policy_names()) == ["act", "act-no-cvae", "bc", "diffusion"]
    with pytest.raises(ActBenchError, match="unknown policy 'vq-bet'"):
        load_profile("vq-bet", "cpu")
    with pytest.raises(ActBenchError, match="unknown profile"):
        load_profile("act", "huge")


@pytest.mark.parametrize("cams", [("top",), ("top", "angle")])
@pytest.mark.parametrize("method", METHODS)
def test_shapes(method, cams):
    policy = build_policy(tiny_profile(method, {"data.cameras": list(cams)}))
    assert policy.camera_names == list(cams) and policy.image_size == (24, 32)
    k = 1 if method == "bc" else 8
    assert policy.chunk_size == k
    batch = _batch(policy)
    loss, metrics = policy.compute_loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss) and set(metrics) == set(policy.loss_terms)
    assert ("kl" in metrics) == (method == "act")  # only the CVAE has a KL term
    loss.backward()
    policy.eval()
    out = policy.predict_chunk(batch["qpos"], batch["images"])
    assert out.shape == (3, k, 14) and out.dtype == torch.float32
    # any frame size is resized inside the policy
    assert policy.predict_chunk(batch["qpos"][:1], _batch(policy, 1, (30, 41))["images"]).shape == (1, k, 14)
    with pytest.raises(ValueError):
        policy.predict_chunk(batch["qpos"], batch["images"].float())


@pytest.mark.parametrize("method", ["act", "act-no-cvae"])
def test_every_decoder_layer_gets_gradients(method):
    policy = build_policy(tiny_profile(method, {"model.dec_layers": 3, "model.enc_layers": 2}))
    policy.compute_loss(_batch(policy))[0].backward()
    grads = {n: p.grad for n, p in policy.named_parameters()}

    def used(prefix):
        found = [g for n, g in grads.items() if n.startswith(prefix)]
        return bool(found) and all(g is not None and torch.any(g != 0) for g in found)

    assert len(policy.decoder.layers) == 3 and len(policy.encoder.layers) == 2
    for i in range(3):  # the release used only the first of its decoder layers
        assert used(f"decoder.layers.{i}.cross_attn") and used(f"decoder.layers.{i}.linear"), i
    for i in (1, 2):  # layer 0's self-attention sees the all-zero target (as in DETR): no gradient
        assert used(f"decoder.layers.{i}.self_attn"), i
    assert used("encoder.") and used("backbone.") and used("query_embed") and used("action_head")
    assert hasattr(policy, "cvae_encoder") == (method == "act")
    if method == "act":
        assert used("cvae_encoder.") and used("latent_proj") and used("latent_out_proj")


def test_padded_steps_are_masked_out():
    policy = build_policy(tiny_profile("act")).eval()
    batch = _batch(policy)
    batch["is_pad"][:, 5:] = True
    batch["is_pad"][0, 2:] = True
    with torch.no_grad():
        base = policy.compute_loss(batch)[1]
        changed = dict(batch, actions=batch["actions"].clone())
        changed["actions"][batch["is_pad"]] = 1e3
        other = policy.compute_loss(changed)[1]
    assert torch.equal(base["l1"], other["l1"]) and torch.equal(base["kl"], other["kl"])
    # the mean is over non-padded steps only
    pred, target = torch.zeros(1, 4, 2), torch.ones(1, 4, 2)
    target[0, 2:] = 50.0
    is_pad = torch.tensor([[False, False, True, True]])
    assert masked_error(pred, target, is_pad).item() == 1.0
    assert masked_error(pred, target, is_pad, "mse").item() == 1.0


@pytest.mark.parametrize("method", METHODS)
def test_eval_inference_is_deterministic(method):
    policy = build_policy(tiny_profile(method)).eval()
    batch = _batch(policy)
    torch.manual_seed(1)
    a = policy.predict_chunk(batch["qpos"], batch["images"])
    torch.manual_seed(2)
    b = policy.predict_chunk(batch["qpos"], batch["images"])
    assert torch.equal(a, b)
    # batch elements are independent of each other
    c = policy.predict_chunk(batch["qpos"][1:2], batch["images"][1:2])
    torch.testing.assert_close(c[0], a[1], rtol=1e-5, atol=1e-5)


def test_outputs_are_unnormalised():
    stats = NormStats(np.zeros(14, np.float32), np.ones(14, np.float32),
                      np.full(14, 100.0, np.float32), np.full(14, 1e-3, np.float32))
    policy = build_policy(tiny_profile("act"), stats).eval()
    batch = _batch(policy)
    out = policy.predict_chunk(batch["qpos"], batch["images"])
    assert torch.allclose(out, torch.full_like(out, 100.0), atol=0.1)


@pytest.mark.parametrize("method", METHODS)
def test_save_load_roundtrip(tmp_path, method):
    stats = NormStats.from_arrays([np.random.default_rng(0).normal(size=(20, 14))] * 2,
                                  [np.random.default_rng(1).normal(size=(20, 14))] * 2)
    policy = build_policy(tiny_profile(method, {"data.cameras": ["top", "angle"]}), stats).eval()
    json_path = save_checkpoint(policy, tmp_path / "checkpoints" / "best", step=7)
    meta = json.loads(json_path.read_text())
    assert meta["policy"] == method and meta["step"] == 7 and len(meta["sha256"]) == 64
    assert {"torch", "numpy", "act_bench"} <= set(meta["versions"])
    assert meta["normalization"]["qpos_mean"] == pytest.approx(stats.qpos_mean.tolist())
    batch = _batch(policy)
    expected = policy.predict_chunk(batch["qpos"], batch["images"])
    rng_before = torch.get_rng_state()
    for where in (tmp_path, tmp_path / "checkpoints" / "best", json_path, json_path.with_suffix(".safetensors")):
        loaded = load_policy(where)
        assert not loaded.training and loaded.camera_names == ["top", "angle"]
        assert torch.equal(loaded.predict_chunk(batch["qpos"], batch["images"]), expected)
    assert torch.equal(torch.get_rng_state(), rng_before)  # loading leaves the caller's RNG alone
    # the profile's n_action_steps (0: "the chunk size") is resolved by the execution, once
    assert Execution.resolve("open_loop", loaded.chunk_size, loaded.profile.eval).n_action_steps == loaded.chunk_size


def test_pickle_checkpoint_refused(tmp_path):
    policy = build_policy(tiny_profile("act"))
    json_path = save_checkpoint(policy, tmp_path / "best", step=1)
    weights = json_path.with_suffix(".safetensors")
    torch.save(policy.state_dict(), weights)  # a pickle (zip) under the safetensors name
    with pytest.raises(CheckpointError, match="not a safetensors file") as e:
        load_policy(json_path)
    assert "\n" not in str(e.value)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        read_tensors(weights)


def test_mismatched_checkpoint_refused(tmp_path):
    small = build_policy(tiny_profile("act"))
    json_path = save_checkpoint(small, tmp_path / "best", step=1)
    meta = json.loads(json_path.read_text())
    meta["config"]["model"]["d_model"] = 64  # the config now builds other shapes
    json_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"tensor '[\w.]+' has shape"):
        load_policy(json_path)
    # weights of another method under this JSON: the first missing key is named
    meta["config"]["model"]["d_model"] = 32
    json_path.write_text(json.dumps(meta))
    other = build_policy(tiny_profile("act-no-cvae"))
    from safetensors.torch import save_file
    save_file(other.state_dict(), str(json_path.with_suffix(".safetensors")))
    meta["sha256"] = None
    json_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="missing tensor 'cls_embed.weight'"):
        load_policy(json_path)


def test_tampered_or_missing_checkpoint(tmp_path):
    json_path = save_checkpoint(build_policy(tiny_profile("bc")), tmp_path / "last", step=1)
    weights = json_path.with_suffix(".safetensors")
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_policy(json_path)
    empty = tmp_path / "empty_run"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        load_policy(empty)
    json_path.write_text("{not json")
    with pytest.raises(CheckpointError, match="not a readable checkpoint JSON"):
        load_policy(json_path)


def test_backbones():
    x = torch.zeros(2, 3, 64, 96)
    for norm in ("group", "frozen_bn"):
        assert ResNet18(norm)(x).shape == (2, 512, 2, 3)
    assert SmallCNN((8, 16, 32, 64))(x).shape == (2, 64, 4, 6)
    five = SmallCNN((8, 16, 32, 64), kernel=5)
    assert five(x).shape == (2, 64, 4, 6) and five.net[0].kernel_size == (5, 5)


def test_profiles_and_overrides():
    cpu = load_profile("act", "cpu")
    assert cpu.train.batch_size >= 16 and cpu.eval.temporal_ensemble_m == 0.01
    assert cpu.eval.n_action_steps == 0 and cpu.data.cameras == ("top",)
    # act, act-no-cvae and bc share one CNN in the cpu profile, so BC differs from ACT only in the head
    backbone = {m: (load_profile(m, "cpu").model.cnn_channels, load_profile(m, "cpu").model.cnn_kernel)
                for m in METHODS}
    assert len(set(backbone.values())) == 1
    paper = load_profile("act", "paper")
    m = paper.model
    assert (m.chunk_size, m.d_model, m.dim_feedforward, m.enc_layers, m.dec_layers, m.latent_dim) == \
        (100, 512, 3200, 4, 1, 32)
    assert (m.kl_weight, m.dropout, m.backbone, paper.train.lr, paper.train.batch_size) == \
        (10.0, 0.1, "resnet18", 1e-5, 8)
    assert paper.data.image_size == (480, 640)
    for method in METHODS:
        for profile in ("paper", "cpu", "ci"):
            load_profile(method, profile)
    assert parse_overrides(["train.steps=2000", "model.backbone=resnet18", "data.cameras=['top','angle']",
                            "model.dropout=0"]) == {"train.steps": 2000, "model.backbone": "resnet18",
                                                    "data.cameras": ["top", "angle"], "model.dropout": 0}
    p = load_profile("act", "cpu", ["train.steps=2000", "model.d_model=64", "model.dropout=0"])
    assert p.train.steps == 2000 and p.model.d_model == 64 and p.model.dropout == 0.0
    resolved = Execution.resolve("open_loop", 10, apply_overrides(p, {"model.chunk_size": 10}).eval)
    assert resolved.n_action_steps == 10  # 0 follows a new chunk size
    for bad, match in [(["model.nope=1"], "unknown config key 'model.nope'"), (["steps=3"], "unknown config key"),
                       (["train.steps=many"], "expected int"), (["train.steps"], "KEY=VALUE"),
                       (["model.d_model=30"], "multiple"), (["model.backbone=vit"], "backbone"),
                       (["model.cnn_kernel=4"], "cnn_kernel must be an odd")]:
        with pytest.raises(ActBenchError, match=match):
            load_profile("act", "cpu", bad)
    with pytest.raises(ActBenchError, match="chunk_size must be 1"):
        load_profile("bc", "cpu", ["model.chunk_size=5"])


def test_dropout_mask_rate():
    mask = dropout_keep_mask((200, 1000), 0.1, torch.float32)
    kept = (mask > 0).float().mean().item()
    assert abs(kept - 0.9) < 0.01 and abs(mask.mean().item() - 1.0) < 0.02


def test_tiny_act_overfits_two_episodes():
    """The L1 loss on a 2-episode dataset falls well below its start within a few seconds."""
    eps = [fake_episode_arrays(T=30, seed=i) for i in range(2)]
    prof = tiny_profile("act", {"model.dropout": 0.0, "model.chunk_size": 5})
    data = ChunkDataset.from_episodes([e[0] for e in eps], [e[1] for e in eps],
                                      [e[2]["top"][:, None] for e in eps], chunk_size=5)
    stats = NormStats.from_arrays([e[0] for e in eps], [e[1] for e in eps])
    policy = build_policy(prof, stats)
    opt = torch.optim.AdamW(policy.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    everything = batch_to_torch(data.get_batch(np.arange(len(data))))

    def l1():
        policy.eval()
        with torch.no_grad():
            value = policy.compute_loss(everything)[1]["l1"].item()
        policy.train()
        return value

    start = l1()
    for _ in range(150):  # ~2 s on one core
        loss = policy.compute_loss(batch_to_torch(data.sample(rng, 16)))[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    end = l1()
    assert end < 0.25 * start, (start, end)


@pytest.mark.parametrize("method", ["act", "bc"])
def test_paper_profile_builds_and_trains(method):
    """Published sizes (d_model 512, ffn 3200, ResNet18, chunk 100, batch 8) on small frames."""
    prof = load_profile(method, "paper", {"data.image_size": [64, 64]})
    policy = build_policy(prof)
    if method == "act":
        assert policy.chunk_size == 100 and policy.query_embed.weight.shape == (100, 512)
        assert policy.encoder.layers[0].linear1.weight.shape == (3200, 512)
        assert len(policy.encoder.layers) == 4 and len(policy.decoder.layers) == 1
        assert len(policy.cvae_encoder.layers) == 4 and policy.latent_proj.out_features == 64
    assert isinstance(policy.backbone, ResNet18)
    from act_bench.training.train import make_optimizer, train_step
    opt = make_optimizer(policy, prof.train)
    assert opt.param_groups[0]["lr"] == 1e-5
    batch = _batch(policy, b=2)  # the published batch (8) costs ~1.5 s a step here
    before = policy.action_head.weight.detach().clone() if method == "act" else policy.mlp[-1].weight.detach().clone()
    for _ in range(2):
        metrics = train_step(policy, opt, batch, prof.train.grad_clip)
    assert torch.isfinite(metrics["loss"])
    after = policy.action_head.weight if method == "act" else policy.mlp[-1].weight
    assert not torch.equal(before, after)
