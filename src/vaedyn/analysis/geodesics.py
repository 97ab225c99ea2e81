"""Transitions between two images through the latent space, after Peşte, Malagò & Sârbu (Sec. 2.3).

q(z|x) is a diagonal Gaussian, so the manifold of posteriors is a product of univariate normal
families, each with the Fisher-Rao metric ds^2 = (dmu^2 + 2 dsigma^2) / sigma^2. With u = mu/sqrt(2)
that is sqrt(2) times the hyperbolic half-plane, whose geodesics are vertical lines and half
circles centred on the u-axis; the geodesic of the product runs along every coordinate's geodesic
at constant speed with one common parameter t. Written here because no library we use has it.
"""
from __future__ import annotations

import math

import torch

from ..model import VAE
from ..objective import reparameterize

SQRT2 = math.sqrt(2.0)
# Below this |u1 - u0| / (sigma0 + sigma1) the half circle is replaced by the vertical line it tends
# to; in float64 the error of either formula there is below 1e-6 of sigma.
_VERTICAL = 1e-6


def fisher_rao_distance(mu0, sigma0, mu1, sigma1) -> torch.Tensor:
    """Fisher-Rao distance between diagonal Gaussians, summed over coordinates in quadrature:
    per coordinate sqrt(2) arccosh(1 + ((mu1 - mu0)^2 / 2 + (sigma1 - sigma0)^2) / (2 sigma0 sigma1))."""
    per_coordinate = SQRT2 * torch.acosh(1 + ((mu1 - mu0) ** 2 / 2 + (sigma1 - sigma0) ** 2) / (2 * sigma0 * sigma1))
    return per_coordinate.pow(2).sum(-1).sqrt()


def fisher_rao_geodesic(mu0, sigma0, mu1, sigma1, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu(t), sigma(t)) along the Fisher-Rao geodesic from N(mu0, sigma0^2) to N(mu1, sigma1^2),
    coordinate-wise, at constant speed: shapes (len(t), *mu0.shape). Computed in float64."""
    mu0, sigma0, mu1, sigma1 = (v.double() for v in (mu0, sigma0, mu1, sigma1))
    t = t.double().reshape(-1, *([1] * mu0.dim()))
    u0, u1 = mu0 / SQRT2, mu1 / SQRT2
    du = u1 - u0
    vertical = du.abs() < _VERTICAL * (sigma0 + sigma1)
    safe_du = torch.where(vertical, torch.ones_like(du), du)
    # Signed offsets of the end points from the circle's centre c, without forming c (which cancels).
    a0 = -(safe_du ** 2 + sigma1 ** 2 - sigma0 ** 2) / (2 * safe_du)
    a1 = a0 + safe_du
    radius = torch.sqrt(a0 ** 2 + sigma0 ** 2)
    # Arc-length parameter tau with u = c + R tanh(tau), sigma = R / cosh(tau); tau = sign(a) log((R + |a|) / sigma).
    tau0 = torch.sign(a0) * torch.log((radius + a0.abs()) / sigma0)
    tau1 = torch.sign(a1) * torch.log((radius + a1.abs()) / sigma1)
    tau = tau0 + t * (tau1 - tau0)
    u_circle = u0 - a0 + radius * torch.tanh(tau)
    sigma_circle = radius / torch.cosh(tau)
    sigma_line = sigma0 * (sigma1 / sigma0) ** t
    u = torch.where(vertical, u0 + t * du, u_circle)
    sigma = torch.where(vertical, sigma_line, sigma_circle)
    return u * SQRT2, sigma


INTERPOLATIONS = ("pixels", "means", "samples", "geodesic, sampled", "geodesic, means")


@torch.no_grad()
def interpolations(model: VAE, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 10,
                   generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Five paths from x_a to x_b (each (pairs, D)), as images of shape (steps, pairs, D):
    straight in pixel space; decoded straight lines between the means and between one sample of
    each posterior; the decoded Fisher-Rao geodesic between the posteriors, sampled along the way
    and through its means. End frames of the latent paths are decodings, not the inputs."""
    model.eval()
    t = torch.linspace(0, 1, steps, device=x_a.device, dtype=x_a.dtype).reshape(-1, 1, 1)
    (mu_a, logvar_a), (mu_b, logvar_b) = model.encode(x_a), model.encode(x_b)
    z_a = reparameterize(mu_a, logvar_a, 1, generator)[0]
    z_b = reparameterize(mu_b, logvar_b, 1, generator)[0]
    mu_g, sigma_g = fisher_rao_geodesic(mu_a, (0.5 * logvar_a).exp(), mu_b, (0.5 * logvar_b).exp(), t.flatten())
    mu_g, sigma_g = mu_g.to(x_a.dtype), sigma_g.to(x_a.dtype)
    noise = torch.randn(mu_g.shape, generator=generator, device=x_a.device, dtype=x_a.dtype)
    return {"pixels": (1 - t) * x_a + t * x_b,
            "means": model.decode_mean((1 - t) * mu_a + t * mu_b),
            "samples": model.decode_mean((1 - t) * z_a + t * z_b),
            "geodesic, sampled": model.decode_mean(mu_g + sigma_g * noise),
            "geodesic, means": model.decode_mean(mu_g)}


def steepest_step(probabilities: torch.Tensor) -> torch.Tensor:
    """Largest rise between consecutive frames of a (steps, pairs) curve, e.g. the classifier's
    probability of the end image's class: how abrupt the transition is, per pair."""
    return probabilities.diff(dim=0).max(dim=0).values
