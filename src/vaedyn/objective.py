"""The training objective: the negative of the variational lower bound of eq. (13).

All quantities are per example in nats. The reconstruction term is the Bernoulli
negative log-likelihood computed from logits (log-sum-exp form, stable where sigmoid
outputs saturate) and averaged over L reparameterised samples of z (eq. 12).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .model import VAE


@dataclass
class ElboTerms:
    """Per-example parts of the negative ELBO, each of shape (batch,)."""

    reconstruction: torch.Tensor   # -(1/L) sum_l log p(x | z^(l))
    kl: torch.Tensor               # D_KL(q(z|x) || N(0, I))

    @property
    def negative_elbo(self) -> torch.Tensor:
        return self.reconstruction + self.kl


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Analytic D_KL(N(mu, sigma^2) || N(0, I)) summed over latent units: the negative of the
    first term of eq. (13), -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)."""
    return -0.5 * (1.0 + logvar - mu.square() - logvar.exp()).sum(dim=-1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, n_samples: int,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """z^(l) = mu + sigma * eps^(l), eps ~ N(0, I) (eq. 12); returns (n_samples, batch, N_z)."""
    eps = torch.randn((n_samples, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + (0.5 * logvar).exp() * eps


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) = sum_d [x_d log s_d + (1 - x_d) log(1 - s_d)] with s = sigmoid(logits),
    summed over the last axis; exact for intensities in [0, 1] as well as binary x."""
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(dim=-1)


def elbo_terms(model: VAE, x: torch.Tensor, n_samples: int = 2,
               generator: torch.Generator | None = None) -> ElboTerms:
    """Both terms of eq. (13) for a batch x, with L = n_samples samples of z per example."""
    mu, logvar = model.encode(x)
    z = reparameterize(mu, logvar, n_samples, generator)
    logits = model.decode_logits(z.reshape(-1, z.shape[-1])).reshape(n_samples, *x.shape)
    reconstruction = -bernoulli_log_likelihood(logits.float(), x).mean(dim=0)
    return ElboTerms(reconstruction=reconstruction, kl=gaussian_kl(mu.float(), logvar.float()))
