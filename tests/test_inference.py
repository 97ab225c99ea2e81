import math

import pytest
import torch

from conftest import hand_built_vae
from vaedyn.config import ConfigError
from vaedyn.analysis.inference import noisy_starts, repeated_inference
from vaedyn.model import VAE


def contraction():
    """mu(x) = tanh(x), decoder(z) = sigmoid(tanh(z)): z(t+1) = tanh(sigmoid(tanh(z(t))))."""
    return hand_built_vae({"encoder.0.weight": 1.0, "encoder.0.bias": 0.0,
                           "encoder.2.weight": [[1.0], [0.0]], "encoder.2.bias": [0.0, 0.0],
                           "decoder.0.weight": 1.0, "decoder.0.bias": 0.0,
                           "decoder.2.weight": 1.0, "decoder.2.bias": 0.0})


def test_trajectory_shapes_and_recorded_images():
    model = VAE(n_features=64, nz=5, hidden=16)
    x0 = torch.rand(7, 64)
    traj = repeated_inference(model, x0, steps=12, record_x=True)
    assert traj.z.shape == (13, 7, 5) and traj.x.shape == (13, 7, 64) and traj.steps == 12
    assert torch.equal(traj.x[0], x0)
    assert torch.allclose(traj.z[0], model.encode_mean(x0))
    assert torch.allclose(traj.x[5], model.decode_mean(traj.z[4]))
    assert torch.allclose(traj.z[5], model.encode_mean(traj.x[5]))


def test_hand_built_model_reaches_its_known_fixed_point():
    z_star = 0.5  # solve z = tanh(sigmoid(tanh(z))) independently by bisection
    lo, hi = 0.0, 1.0
    for _ in range(200):
        z_star = (lo + hi) / 2
        if math.tanh(1 / (1 + math.exp(-math.tanh(z_star)))) > z_star:
            lo = z_star
        else:
            hi = z_star
    x0 = torch.tensor([[0.0], [0.3], [1.0]])
    traj = repeated_inference(contraction(), x0, steps=60)
    z = [math.tanh(v) for v in (0.0, 0.3, 1.0)]
    for t in range(1, 4):  # the first steps, written out
        z = [math.tanh(1 / (1 + math.exp(-math.tanh(v)))) for v in z]
        assert traj.z[t, :, 0].tolist() == pytest.approx(z, abs=1e-6)
    assert traj.z[-1, :, 0].tolist() == pytest.approx([z_star] * 3, abs=1e-6)


def test_mean_iteration_is_deterministic_and_the_chain_is_seeded():
    model = VAE(n_features=64, nz=5, hidden=16)
    x0 = torch.rand(9, 64)
    assert torch.equal(repeated_inference(model, x0, 10).z, repeated_inference(model, x0, 10).z)
    chain = lambda seed: repeated_inference(model, x0, 10, stochastic=True, sample_x=True,
                                            generator=torch.Generator().manual_seed(seed)).z
    assert torch.equal(chain(1), chain(1))
    assert not torch.equal(chain(1), chain(2))
    assert not torch.equal(chain(1), repeated_inference(model, x0, 10).z)
    sampled = repeated_inference(model, x0, 3, record_x=True, stochastic=True, sample_x=True).x[1:]
    assert set(sampled.unique().tolist()) <= {0.0, 1.0}


def test_bad_inference_arguments():
    model = VAE(n_features=64, nz=5, hidden=16)
    with pytest.raises(ConfigError, match="steps=0"):
        repeated_inference(model, torch.rand(2, 64), steps=0)
    with pytest.raises(ConfigError, match="shape"):
        repeated_inference(model, torch.rand(2, 63), steps=3)
    with pytest.raises(ConfigError, match="sample_x"):
        repeated_inference(model, torch.rand(2, 64), steps=3, sample_x=True)


def test_noisy_starts_pick_distinct_images_of_the_label():
    images = torch.rand(300, 64)
    labels = torch.arange(300) % 10
    starts = noisy_starts(images, labels, label=6, trials=25, p=0.2, seed=1)
    assert starts.indices.unique().numel() == 25 and (labels[starts.indices] == 6).all()
    assert torch.equal(starts.clean, images[starts.indices])
    assert not torch.equal(starts.x0, starts.clean)
    again = noisy_starts(images, labels, label=6, trials=25, p=0.2, seed=1)
    assert torch.equal(again.x0, starts.x0)
    with pytest.raises(ConfigError, match="trials=31"):
        noisy_starts(images, labels, label=6, trials=31, p=0.2)
    with pytest.raises(ConfigError, match="trials=0"):
        noisy_starts(images, labels, label=6, trials=0, p=0.2)
