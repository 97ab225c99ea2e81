"""Informative components, linear probes, bounds and the 2-D helpers of chapters 09-10."""
import numpy as np
import pytest
import torch
from scipy.stats import norm

from vaedyn.analysis import representations as rep
from vaedyn.config import ConfigError
from vaedyn.model import VAE


def test_components_count_the_directions_with_variance_and_see_their_axes():
    g = torch.Generator().manual_seed(0)
    scales = torch.tensor([2.0, 1.0, 0.5, 0.01, 0.001])          # variances 4, 1, 0.25, 1e-4, 1e-6
    points = torch.randn(20000, 5, generator=g) * scales
    spectrum = rep.pca_spectrum(points)
    assert spectrum.informative() == 3
    assert np.all(spectrum.axis_alignment() > 0.99)
    rotation = torch.linalg.qr(torch.randn(5, 5, generator=g))[0]
    rotated = rep.pca_spectrum(points @ rotation.T)
    assert rotated.informative() == 3 and rotated.axis_alignment().mean() < 0.95


def test_probe_separates_separable_classes_and_not_random_labels():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (900,), generator=g)
    features = torch.randn(900, 4, generator=g).numpy() + 4 * np.eye(3, 4)[labels.numpy()]
    assert rep.probe_accuracy(features[:600], labels[:600], features[600:], labels[600:]) > 0.95
    noise = torch.randint(0, 3, (900,), generator=g)
    assert rep.probe_accuracy(features[:600], noise[:600], features[600:], noise[600:]) < 0.5


def test_probe_features_and_their_refusal():
    mu, logvar = torch.zeros(5, 3), torch.full((5, 3), np.log(4.0))
    assert rep.probe_features(mu, logvar, "mean").shape == (5, 3)
    both = rep.probe_features(mu, logvar, "mean+variance")
    assert both.shape == (5, 6) and np.allclose(both[:, 3:], 4.0)
    sample = rep.probe_features(mu, logvar, "sample", torch.Generator().manual_seed(0))
    assert sample.shape == (5, 3) and sample.std() > 0.5
    with pytest.raises(ConfigError, match="kind='median'"):
        rep.probe_features(mu, logvar, "median")


def test_bounds_order_elbo_below_renyi_zero_and_alpha_one_is_the_elbo():
    torch.manual_seed(0)
    model = VAE(n_features=12, nz=2, hidden=8)
    x = torch.bernoulli(torch.full((50, 12), 0.3))
    at_one = rep.test_bounds(model, x, 1.0, bound_samples=10, iw_samples=20)
    at_zero = rep.test_bounds(model, x, 0.0, bound_samples=10, iw_samples=20)
    assert at_one["renyi"] == pytest.approx(at_one["elbo"])
    assert at_zero["renyi"] > at_zero["elbo"]                       # log-mean-exp >= mean, same draws
    assert at_zero["elbo"] == pytest.approx(at_one["elbo"])         # same seed, same draws


def test_quantile_grid_reads_like_a_picture():
    grid = rep.quantile_grid(3)
    edge = norm.ppf(0.05)
    torch.testing.assert_close(grid[0], torch.tensor([edge, -edge], dtype=torch.float32))   # top left
    torch.testing.assert_close(grid[4], torch.zeros(2))
    torch.testing.assert_close(grid[-1], torch.tensor([-edge, edge], dtype=torch.float32))
    with pytest.raises(ConfigError, match="low"):
        rep.quantile_grid(3, 0.5, 0.4)


def test_closest_pairs_are_sorted_and_complete():
    concepts = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 1.0]])
    assert rep.closest_pairs(concepts) == [(0, 2, 1.0), (0, 1, 3.0), (1, 2, pytest.approx(10 ** 0.5))]


def test_prior_samples_are_reproducible_images():
    model = VAE(n_features=12, nz=2, hidden=8)
    first, again = rep.prior_samples(model, 7, seed=3), rep.prior_samples(model, 7, seed=3)
    assert first.shape == (7, 12) and torch.equal(first, again) and (0 <= first).all() and (first <= 1).all()
