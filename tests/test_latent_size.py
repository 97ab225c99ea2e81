"""Analyses of the latent-size chapters: levelling off, hyperparameter selection, attraction, IW bound."""
import math

import numpy as np
import pytest
import torch

from vaedyn.analysis.concepts import concept_set
from vaedyn.config import TrainConfig
from vaedyn.paper.latent_size import (attraction_counts, by_latent_size, importance_weighted_test_nll, levelling_off,
                                select_hyperparameters)
from vaedyn.model import VAE
from vaedyn.objective import bernoulli_log_likelihood, elbo_terms, importance_weighted_log_likelihood


def test_levelling_off_is_where_the_curve_stays_near_its_floor():
    nz = np.array([2, 5, 10, 20, 50])
    assert levelling_off(nz, np.array([3.0, 2.0, 0.35, 0.3, 0.32])) == 10
    assert levelling_off(nz, np.array([3.0, 2.0, 0.2, 1.0, 0.1])) == 50   # a later rise moves it
    assert levelling_off(nz, np.array([1.0, 1.0, 1.0, 1.0, 1.0])) == 2


def test_mean_and_sd_per_latent_size():
    table = by_latent_size({10: [1.0, 3.0], 2: [5.0]})
    assert table["nz"].tolist() == [2, 10] and table["mean"].tolist() == [5.0, 2.0]
    assert table["sd"].tolist() == [0.0, pytest.approx(math.sqrt(2))] and table["n"].tolist() == [1, 2]


def test_selection_takes_the_lowest_finite_loss_per_size():
    a, b, c = (TrainConfig(nz=5, lr_values=(lr,)) for lr in (1e-2, 1e-3, 1e-4))
    d = TrainConfig(nz=2, lr_values=(1e-2,))
    chosen = select_hyperparameters({a: float("nan"), b: 90.0, c: 95.0, d: float("inf")})
    assert chosen == {5: b}


def test_attraction_counts_cover_every_trial():
    torch.manual_seed(0)
    model = VAE(n_features=16, nz=3, hidden=8).eval()
    x = torch.rand(200, 16)
    labels = torch.arange(200) % 10
    counts = attraction_counts(model, concept_set(model, x, labels), x, trials=7, p=0.2, steps=5)
    assert counts.shape == (10, 10) and counts.sum(dim=1).tolist() == [7] * 10


def test_importance_weighted_estimate_matches_quadrature_and_bounds_the_elbo():
    """With N_z = 2 the exact log p(x) is a 2-D integral we can do on a grid."""
    torch.manual_seed(0)
    model = VAE(n_features=6, nz=2, hidden=8).eval()
    x = torch.rand(5, 6)
    grid = torch.linspace(-8, 8, 401)
    z = torch.cartesian_prod(grid, grid)
    with torch.no_grad():
        log_joint = (bernoulli_log_likelihood(model.decode_logits(z)[:, None].expand(-1, 5, -1), x)
                     + torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)[:, None])
    exact = torch.logsumexp(log_joint, dim=0) + 2 * math.log(grid[1] - grid[0])
    estimate = importance_weighted_log_likelihood(model, x, 20_000, torch.Generator().manual_seed(1))
    torch.testing.assert_close(estimate, exact, atol=0.03, rtol=0)
    elbo = -elbo_terms(model, x, 64, torch.Generator().manual_seed(2)).negative_elbo.mean().item()
    assert -importance_weighted_test_nll(model, x, 500) > elbo
    with pytest.raises(ValueError, match="n_importance"):
        importance_weighted_log_likelihood(model, x, 0)
