"""The diffusion policy: shapes, the noise schedule against hand-computed values, per-row
deterministic sampling (batched = alone), EMA weights (kept, saved, used for inference), a tiny
training that lowers the loss, checkpoints, and a resumed training bit-identical to an
uninterrupted one. Needs the optional extra (pip install 'act-bench[diffusion]')."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("diffusers", reason="the diffusion extra is not installed: pip install 'act-bench[diffusion]'",
                    exc_type=ImportError)

from act_bench.data.dataset import ChunkDataset, batch_to_torch  # noqa: E402
from act_bench.data.normalization import NormStats  # noqa: E402
from act_bench.policies import build_policy, load_policy, load_profile, save_checkpoint  # noqa: E402
from act_bench.policies.checkpoint import read_tensors  # noqa: E402
from act_bench.policies.diffusion import crop  # noqa: E402
from cli_helpers import ok  # noqa: E402
from act_bench.policies.diffusion_ema import ema_decay  # noqa: E402
from act_bench.policies.diffusion_noise import make_scheduler  # noqa: E402
from act_bench.policies.diffusion_unet import ConditionalUnet1D, SpatialSoftmax  # noqa: E402
from act_bench.training import train  # noqa: E402

from fakes import FakeEnv, run_eval  # noqa: E402
from helpers_data import fake_episode_arrays, write_fake_demos  # noqa: E402

# the ci profile made tiny: a few seconds of training on one core
TINY = {"model.chunk_size": 7, "model.down_dims": [16, 32], "model.step_embed_dim": 16, "model.keypoints": 8,
        "model.cnn_channels": [8, 16, 32], "model.inference_steps": 3,
        "data.image_size": [24, 32], "data.val_fraction": 0.5,
        "train.steps": 12, "train.batch_size": 4, "train.lr": 1e-3, "train.lr_backbone": 1e-3,
        "train.log_every": 2, "train.val_every": 4, "train.val_batches": 2, "train.checkpoint_every": 5,
        "train.num_threads": 1, "eval.n_action_steps": 4}


def tiny(overrides=None):
    return load_profile("diffusion", "ci", {**TINY, **(overrides or {})})


def _batch(policy, b=3, seed=0, size=None):
    g = torch.Generator().manual_seed(seed)
    n, h, w = policy.obs_history, *(size or policy.image_size)
    return {"qpos": torch.randn(b, n, 14, generator=g),
            "images": torch.randint(0, 256, (b, n, len(policy.camera_names), h, w, 3), generator=g, dtype=torch.uint8),
            "actions": torch.randn(b, policy.horizon, 14, generator=g),
            "is_pad": torch.zeros(b, policy.horizon, dtype=torch.bool)}


@pytest.mark.parametrize("cams", [("top",), ("top", "angle")])
def test_shapes(cams):
    policy = build_policy(tiny({"data.cameras": list(cams)}))
    assert policy.obs_history == 2 and policy.horizon == 8 and policy.chunk_size == 7
    batch = _batch(policy)
    loss, metrics = policy.compute_loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss) and set(metrics) == {"loss"}
    loss.backward()
    assert all(p.grad is not None for p in policy.model.parameters())
    assert list(policy.parameters()) == list(policy.model.parameters())  # the EMA copy is not trained
    policy.eval()
    out = policy.predict_chunk(batch["qpos"], batch["images"])
    assert out.shape == (3, 7, 14) and out.dtype == torch.float32 and torch.isfinite(out).all()
    odd = _batch(policy, 1, size=(30, 41))  # any frame size is resized inside the policy
    assert policy.predict_chunk(odd["qpos"], odd["images"]).shape == (1, 7, 14)
    with pytest.raises(ValueError, match=r"qpos must have shape \(B, 2, 14\)"):
        policy.predict_chunk(batch["qpos"][:, 0], batch["images"][:, 0])
    with pytest.raises(ValueError, match="expected 8 actions"):
        policy.compute_loss({**batch, "actions": batch["actions"][:, :7], "is_pad": batch["is_pad"][:, :7]})


def test_one_observation_step_takes_plain_observations():
    policy = build_policy(tiny({"model.n_obs_steps": 1, "model.chunk_size": 8})).eval()
    assert policy.obs_history == 1 and policy.horizon == 8
    b = _batch(policy)
    assert policy.compute_loss({**b, "qpos": b["qpos"][:, 0], "images": b["images"][:, 0]})[0].isfinite()
    assert policy.predict_chunk(b["qpos"][:, 0], b["images"][:, 0]).shape == (3, 8, 14)


def test_paper_profile_has_the_published_size():
    """Built without memory (meta tensors): ~263 M parameters, 252 M of them the U-Net, as the
    released CNN policy for images (~256 M) with a ResNet18 beside it."""
    from act_bench.policies.diffusion import DiffusionNet

    prof = load_profile("diffusion", "paper")
    with torch.device("meta"):
        net = DiffusionNet(prof.model, 1)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert 250e6 < count(net.unet) < 255e6 and 11e6 < count(net.backbone) < 11.5e6
    assert prof.model.horizon == 16 and prof.model.sampler == "ddpm" and prof.model.inference_steps == 100


def test_unet_and_keypoints():
    unet = ConditionalUnet1D(14, 10, (16, 32, 64), 5, 8, 16)
    x, t, cond = torch.randn(2, 16, 14), torch.tensor([0, 99]), torch.randn(2, 10)
    assert unet(x, t, cond).shape == (2, 16, 14)
    # FiLM: the condition and the step change the output
    assert not torch.allclose(unet(x, t, cond), unet(x, t, cond + 1))
    assert not torch.allclose(unet(x, t, cond), unet(x, t.flip(0), cond))
    pool = SpatialSoftmax(4, 3)
    with torch.no_grad():
        pool.keypoints.weight.zero_()
        pool.keypoints.bias.zero_()
        pool.keypoints.weight[0, 0, 0, 0] = 50.0  # keypoint 0 follows channel 0
    feat = torch.zeros(1, 4, 5, 7)
    feat[0, 0, 4, 6] = 1.0  # the bottom-right pixel
    out = pool(feat).reshape(3, 2)
    assert out[0].tolist() == pytest.approx([1.0, 1.0], abs=1e-3)
    assert out[1].tolist() == pytest.approx([0.0, 0.0], abs=1e-6)  # uniform attention: the centre


def test_squared_cosine_schedule_and_ddim_step_by_hand():
    """diffusers' betas as the paper configures them, against the improved-DDPM formula, and one
    deterministic DDIM step against its equation with the clean sample clipped to [-1, 1]."""
    scheduler = make_scheduler("ddim", 100, 10, "squaredcos_cap_v2", 1.0)

    def alpha_bar(s):
        return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / 100) / alpha_bar(i / 100), 0.999) for i in range(100)]
    np.testing.assert_allclose(scheduler.betas.numpy(), betas, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(scheduler.alphas_cumprod.numpy(), np.cumprod(1 - np.array(betas)), rtol=1e-4)
    assert scheduler.timesteps.tolist() == [90, 80, 70, 60, 50, 40, 30, 20, 10, 0]
    x, eps = torch.tensor([[0.3, -2.0, 5.0]]), torch.tensor([[0.1, -0.4, 0.2]])
    a_t, a_prev = float(scheduler.alphas_cumprod[50]), float(scheduler.alphas_cumprod[40])
    x0 = np.clip((x.numpy() - math.sqrt(1 - a_t) * eps.numpy()) / math.sqrt(a_t), -1, 1)
    expected = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps.numpy()
    got = scheduler.step(eps, torch.tensor(50), x).prev_sample
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)
    # training noise: sqrt(a) x + sqrt(1 - a) eps at each row's level
    noisy = scheduler.add_noise(x, eps, torch.tensor([50]))
    np.testing.assert_allclose(noisy.numpy(), math.sqrt(a_t) * x.numpy() + math.sqrt(1 - a_t) * eps.numpy(), rtol=1e-5)


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_sampling_is_a_function_of_each_rows_input(sampler):
    policy = build_policy(tiny({"model.sampler": sampler})).eval()
    batch = _batch(policy, b=4)
    torch.manual_seed(1)
    a = policy.predict_chunk(batch["qpos"], batch["images"])
    torch.manual_seed(2)
    b = policy.predict_chunk(batch["qpos"], batch["images"])
    assert torch.equal(a, b)  # the global RNG plays no part
    for i in range(4):  # alone, or in another batch order: the same actions (float rounding aside)
        alone = policy.predict_chunk(batch["qpos"][i:i + 1], batch["images"][i:i + 1])
        torch.testing.assert_close(alone[0], a[i], rtol=1e-5, atol=1e-5)
    flipped = policy.predict_chunk(batch["qpos"].flip(0), batch["images"].flip(0))
    torch.testing.assert_close(flipped.flip(0), a, rtol=1e-5, atol=1e-5)
    # two rows that differ only in their images get different noise, so different samples
    same = {"qpos": batch["qpos"][:1].expand(2, -1, -1), "images": batch["images"][:2]}
    two = policy.predict_chunk(same["qpos"], same["images"])
    assert not torch.allclose(two[0], two[1])


def test_ema_weights_are_averaged_saved_and_used(tmp_path):
    policy = build_policy(tiny({"model.ema_max_decay": 0.5}))
    opt = torch.optim.SGD(policy.parameters(), lr=0.1)
    name = "unet.final.1.weight"
    history = []
    for _ in range(4):
        policy.compute_loss(_batch(policy))[0].backward()
        opt.step()
        opt.zero_grad()
        policy.after_optimizer_step()
        history.append(dict(policy.model.named_parameters())[name].detach().clone())
    # updates 1 and 2 copy the model; update 3 has decay 1 - 2 ** -0.75 = 0.405, update 4 is capped at 0.5
    d3 = 1 - 2 ** -0.75
    expected = d3 * history[1] + (1 - d3) * history[2]
    expected = 0.5 * expected + 0.5 * history[3]
    ema = dict(policy.ema.named_buffers())[name]
    torch.testing.assert_close(ema, expected)
    assert ema_decay(torch.tensor(3), 0.75, 0.9999).item() == pytest.approx(d3)
    assert int(policy.ema_updates) == 4
    # inference reads the EMA weights only
    policy.eval()
    batch = _batch(policy)
    before = policy.predict_chunk(batch["qpos"], batch["images"])
    with torch.no_grad():
        for p in policy.model.parameters():
            p.add_(1.0)
    assert torch.equal(policy.predict_chunk(batch["qpos"], batch["images"]), before)
    # and they travel in the checkpoint
    json_path = save_checkpoint(policy, tmp_path / "best", step=4)
    tensors = read_tensors(json_path.with_suffix(".safetensors"))
    assert f"ema.{name}" in tensors and f"model.{name}" in tensors and int(tensors["ema_updates"]) == 4
    loaded = load_policy(json_path)
    assert not loaded.training and torch.equal(loaded.predict_chunk(batch["qpos"], batch["images"]), before)
    assert json.loads(json_path.read_text())["policy"] == "diffusion"


def test_random_crop_in_training_centre_crop_in_eval():
    x = torch.arange(2 * 1 * 6 * 8, dtype=torch.float32).reshape(2, 1, 6, 8)
    centre = crop(x, (4, 6), random=False)
    assert torch.equal(centre, x[:, :, 1:5, 1:7])
    torch.manual_seed(3)
    crops = [crop(x, (4, 6), random=True) for _ in range(20)]
    offsets = set()
    for c in crops:
        for i in range(2):
            top, left = divmod(int(c[i, 0, 0, 0].item()) - i * 48, 8)
            assert torch.equal(c[i], x[i, :, top:top + 4, left:left + 6])
            offsets.add((top, left))
    assert len(offsets) > 5  # each image its own offset


def test_tiny_diffusion_learns_two_episodes():
    """The validation loss (EMA weights, fixed noise) on a 2-episode dataset falls clearly below its
    start (epsilon prediction learns slowly at first: 0.68 of the start after 250 steps when written)."""
    eps = [fake_episode_arrays(T=30, seed=i) for i in range(2)]
    prof = tiny({"model.crop_fraction": 1.0, "model.down_dims": [32, 64]})
    data = ChunkDataset.from_episodes([e[0] for e in eps], [e[1] for e in eps], [e[2]["top"][:, None] for e in eps],
                                      chunk_size=prof.model.chunk_size, obs_steps=2)
    policy = build_policy(prof, NormStats.from_arrays([e[0] for e in eps], [e[1] for e in eps]))
    opt = torch.optim.AdamW(policy.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    everything = batch_to_torch(data.get_batch(np.arange(len(data))))

    def validation_loss():
        policy.eval()
        with torch.no_grad():
            value = policy.compute_loss(everything)[0].item()
        policy.train()
        return value

    start = validation_loss()
    assert validation_loss() == start  # fixed noise: comparable from one validation to the next
    for _ in range(250):  # ~15 s on one core
        train.train_step(policy, opt, batch_to_torch(data.sample(rng, 16)), 10.0)
    end = validation_loss()
    assert end < 0.8 * start, (start, end)


def _train(demos, out, callback=None):
    options = train.TrainOptions(data_dir=demos, out_dir=out, progress=False, device="cpu", callback=callback)
    return train.train_policy("transfer_cube", "diffusion", tiny(), 0, options)


def test_crash_then_resume_matches_uninterrupted(tmp_path):
    demos = write_fake_demos(tmp_path / "demos", episodes=3, T=20)
    reference = _train(demos, tmp_path / "reference")

    def crash(step, row):
        if step == 7:
            raise RuntimeError("simulated crash")

    crashed = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="simulated crash"):
        _train(demos, crashed, crash)
    assert json.loads((crashed / "checkpoints" / "last.json").read_text())["step"] == 5
    _train(demos, crashed)
    for name in ("last.safetensors", "last_state.safetensors", "best.safetensors"):
        a = read_tensors(reference / "checkpoints" / name)
        b = read_tensors(crashed / "checkpoints" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    weights = read_tensors(reference / "checkpoints" / "last.safetensors")
    assert int(weights["ema_updates"]) == 12
    assert not torch.equal(weights["ema.unet.final.1.weight"], weights["model.unet.final.1.weight"])
    rows = [(tmp_path / d / "metrics.csv").read_text() for d in ("reference", "crashed")]
    assert [r.split(",")[:2] for r in rows[0].splitlines()] == [r.split(",")[:2] for r in rows[1].splitlines()]
    # the trained policy evaluates through the lockstep evaluator, batched as alone
    policy = load_policy(reference)
    outcomes = []
    for batch in (1, 3):
        envs = []

        def make(task, cameras=("top",), image_size=(480, 640), render_mode=None):
            envs.append(FakeEnv(task, cameras, image_size, render_mode))
            return envs[-1]

        summary = run_eval(policy, "transfer_cube", "diffusion", 3, 0, tmp_path / f"eval{batch}", videos=0,
                           env_factory=make, batch=batch, n_action_steps=4)
        assert summary["n_action_steps"] == 4
        rows = pd.read_csv(tmp_path / f"eval{batch}" / "episodes.csv")
        assert list(rows["queries"]) == [math.ceil(n / 4) for n in rows["length"]]  # a query per 4 steps
        outcomes.append({s: np.stack(a) for e in envs for s, a in e.by_seed.items()})
    assert outcomes[0].keys() == outcomes[1].keys()
    for seed in outcomes[0]:
        np.testing.assert_allclose(outcomes[1][seed], outcomes[0][seed], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_run_trains_and_evaluates_it_beside_act_and_bc(tmp_path):
    """`act-bench run --methods act,diffusion,bc` end to end on the real task (ci profile, a few steps)."""
    ok("run", "--methods", "act,diffusion,bc", "--tasks", "transfer_cube_v3", "--seeds", "0", "--profile", "ci",
       "--demos", "2", "--episodes", "1", "--videos", "0", "--set", "train.steps=10",
       "--set", "train.checkpoint_every=5", "--set", "train.val_every=5", "--no-progress", "--out", "out",
       cwd=tmp_path, timeout=1200)
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert set(results["method"]) == {"act", "diffusion", "bc"}
    summary = json.loads(next((tmp_path / "out").rglob("evals/transfer_cube_v3/diffusion/seed0/summary.json"))
                         .read_text())
    assert summary["n_action_steps"] == 4 and summary["mean_queries"] == math.ceil(summary["mean_length"] / 4)
