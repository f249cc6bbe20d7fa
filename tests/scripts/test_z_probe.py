"""scripts/z_probe.py: how much a trained ACT's actions move with its latent z."""
import pytest
import torch

from act_bench.training import train

from cli_helpers import load_script
from helpers_data import tiny_profile, write_fake_demos



@pytest.fixture(scope="module")
def z_probe():
    return load_script("z_probe")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("z_probe")
    demos = write_fake_demos(root / "demos", episodes=3, T=30)
    out = {}
    for method in ("act", "act-no-cvae"):
        options = train.TrainOptions(data_dir=demos, out_dir=root / method, progress=False, device="cpu")
        out[method] = train.train_policy("transfer_cube", method, tiny_profile(method), 0, options)
    return out


def test_decode_at_zero_is_the_policys_inference(z_probe, runs):
    from act_bench.policies import load_policy

    policy = load_policy(runs["act"])
    qpos_n, images = torch.randn(3, policy.state_dim), torch.randint(0, 255, (3, 1, 24, 32, 3), dtype=torch.uint8)
    with torch.no_grad():
        inference = policy._predict(qpos_n, images).float()
        zero = z_probe.decode(policy, qpos_n, images, torch.zeros(3, policy.latent_dim))
        moved = z_probe.decode(policy, qpos_n, images, torch.full((3, policy.latent_dim), 3.0))
    torch.testing.assert_close(zero, inference)
    assert not torch.allclose(moved, zero)  # z reaches the decoder


def test_probe_reports_every_measure_on_the_validation_frames(z_probe, runs, capsys):
    assert z_probe.main([str(runs["act"]), "--frames", "7", "--draws", "2"]) == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    values = dict(zip(header.split(","), row.split(",")))
    assert values["run"] == str(runs["act"]) and values["frames"] == "7"
    assert all(float(values[k]) > 0 for k in ("l1", "z_prior", "z_post", "mu_rms", "sigma_mean"))


def test_bad_input_is_refused(z_probe, runs, capsys):
    assert z_probe.main([str(runs["act-no-cvae"])]) == 1
    assert "not an ACT policy with a CVAE" in capsys.readouterr().err
    assert z_probe.main([str(runs["act"]), "--frames", "0"]) == 2
