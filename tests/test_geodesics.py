"""Fisher-Rao geodesics between diagonal Gaussians and the five interpolations of chapter 10."""
import pytest
import torch

from vaedyn.analysis.geodesics import (INTERPOLATIONS, fisher_rao_distance, fisher_rao_geodesic, interpolations,
                              steepest_step)
from vaedyn.model import VAE


def random_gaussians(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu0, mu1 = torch.randn(n, generator=g, dtype=torch.float64), torch.randn(n, generator=g, dtype=torch.float64)
    s0, s1 = (torch.rand(n, generator=g, dtype=torch.float64) + 0.05 for _ in range(2))
    mu1[:3] = mu0[:3]                      # equal means: the vertical geodesic
    mu1[3] = mu0[3] + 1e-9                 # nearly equal: the limit of the half circle
    s1[5] = s0[5]                          # equal spreads
    return mu0, s0, mu1, s1


def test_the_curve_is_a_constant_speed_geodesic_between_the_end_points():
    mu0, s0, mu1, s1 = random_gaussians(40)
    t = torch.linspace(0, 1, 9, dtype=torch.float64)
    mu, sigma = fisher_rao_geodesic(mu0, s0, mu1, s1, t)
    torch.testing.assert_close(mu[0], mu0), torch.testing.assert_close(mu[-1], mu1)
    torch.testing.assert_close(sigma[0], s0), torch.testing.assert_close(sigma[-1], s1)
    total = fisher_rao_distance(mu0[:, None], s0[:, None], mu1[:, None], s1[:, None])   # per coordinate
    for k, tk in enumerate(t):
        # Only a shortest path splits the distance as t : 1 - t at every point.
        from_start = fisher_rao_distance(mu0[:, None], s0[:, None], mu[k][:, None], sigma[k][:, None])
        to_end = fisher_rao_distance(mu[k][:, None], sigma[k][:, None], mu1[:, None], s1[:, None])
        torch.testing.assert_close(from_start, tk * total, atol=1e-7, rtol=1e-7)
        torch.testing.assert_close(to_end, (1 - tk) * total, atol=1e-7, rtol=1e-7)


def test_between_equal_spreads_the_variance_rises_in_the_middle():
    mu, sigma = fisher_rao_geodesic(torch.tensor([0.0]), torch.tensor([0.5]), torch.tensor([3.0]),
                                    torch.tensor([0.5]), torch.linspace(0, 1, 11))
    assert sigma[5] > 0.5 * 1.5 and sigma.argmax() == 5
    assert torch.all(mu.diff(dim=0) > 0)


def test_distance_matches_the_closed_form_for_a_shift_in_the_mean():
    # N(0, 1) to N(m, 1): sqrt(2) arccosh(1 + m^2 / 4).
    d = fisher_rao_distance(torch.zeros(1), torch.ones(1), torch.full((1,), 2.0), torch.ones(1))
    assert float(d) == pytest.approx(2 ** 0.5 * float(torch.acosh(torch.tensor(2.0))))


def test_interpolations_have_five_rows_from_a_to_b():
    torch.manual_seed(0)
    model = VAE(n_features=16, nz=3, hidden=8)
    a, b = torch.rand(4, 16), torch.rand(4, 16)
    rows = interpolations(model, a, b, steps=6, generator=torch.Generator().manual_seed(1))
    assert tuple(rows) == INTERPOLATIONS
    assert all(frames.shape == (6, 4, 16) for frames in rows.values())
    torch.testing.assert_close(rows["pixels"][0], a), torch.testing.assert_close(rows["pixels"][-1], b)
    mu_a, mu_b = model.encode(a)[0], model.encode(b)[0]
    torch.testing.assert_close(rows["means"][0], model.decode_mean(mu_a))
    torch.testing.assert_close(rows["geodesic, means"][-1], model.decode_mean(mu_b), atol=1e-6, rtol=1e-5)


def test_steepest_step_is_the_largest_rise_between_frames():
    curve = torch.tensor([[0.0, 0.0], [0.1, 0.5], [0.9, 0.6], [1.0, 1.0]])
    torch.testing.assert_close(steepest_step(curve), torch.tensor([0.8, 0.5]))
