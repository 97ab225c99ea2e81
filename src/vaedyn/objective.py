"""The training objective: the negative of the variational lower bound of eq. (13).

All quantities are per example in nats. The reconstruction term is the Bernoulli
negative log-likelihood computed from logits (log-sum-exp form, stable where sigmoid
outputs saturate) and averaged over L reparameterised samples of z (eq. 12).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .model import VAE
from .randomness import Generator, latent_noise, standard_normal_noise


@dataclass
class ElboTerms:
    """Per-example parts of the negative ELBO, each of shape (batch,)."""

    reconstruction: torch.Tensor   # -(1/L) sum_l log p(x | z^(l))
    kl: torch.Tensor               # D_KL(q(z|x) || N(0, I))
    log_weights: torch.Tensor | None = None   # (L, batch) log p(x, z^(l)) / q(z^(l)|x), when asked for

    @property
    def negative_elbo(self) -> torch.Tensor:
        return self.reconstruction + self.kl


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Analytic D_KL(N(mu, sigma^2) || N(0, I)) summed over latent units: the negative of the
    first term of eq. (13), -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)."""
    return -0.5 * (1.0 + logvar - mu.square() - logvar.exp()).sum(dim=-1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, n_samples: int,
                   generator: Generator | None = None) -> torch.Tensor:
    """z^(l) = mu + sigma * eps^(l), eps ~ N(0, I) (eq. 12); returns (n_samples, *mu.shape)."""
    return shift_and_scale(mu, logvar, standard_normal_noise(n_samples, mu, generator))


def shift_and_scale(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The deterministic half of eq. (12): z = mu + exp(log sigma^2 / 2) * eps."""
    return mu + (0.5 * logvar).exp() * eps


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) = sum_d [x_d log s_d + (1 - x_d) log(1 - s_d)] with s = sigmoid(logits),
    summed over the last axis; exact for intensities in [0, 1] as well as binary x. x broadcasts
    against the logits (e.g. one image batch for L samples of z).

    PyTorch's fused binary_cross_entropy_with_logits (stable where the sigmoid saturates). Code
    version 2 used a hand-written kernel here; with torch 2.15 on a 2-core AVX2 machine the stock
    one was faster (0.68 against 0.79 ms per forward + backward on one step's logits, medians of
    30 rounds), so the hand-written one went (vae code version 3)."""
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(dim=-1)


def elbo_terms(model: VAE, x: torch.Tensor, n_samples: int = 2, generator: Generator | None = None,
               log_weights: bool = False, noise_dtype: torch.dtype | None = None) -> ElboTerms:
    """Both terms of eq. (13) for a batch x, with L = n_samples samples of z per example; with
    `log_weights`, also the importance log-weights of the same samples (for `renyi_bound`).

    Works unchanged for an ensemble (`ensemble.StackedVAE` with `MemberGenerators`): x is then
    (batch, D) or (K, batch, D) and every term gets a leading member axis.
    """
    eps = latent_noise(model, x, n_samples, generator, noise_dtype)
    return ElboTerms(*_terms_given_noise(model, x, eps, log_weights))


def _terms_given_noise(model: VAE, x: torch.Tensor, eps: torch.Tensor, log_weights: bool):
    """(reconstruction, KL, log-weights or None) of eq. (13) for fixed noise eps."""
    mu, logvar = model.encode(x)
    z = shift_and_scale(mu, logvar, eps)
    log_likelihood = bernoulli_log_likelihood(model.decode_logits(z).float(), x)
    weights = (importance_log_weights(log_likelihood, z.float(), mu.float(), logvar.float())
               if log_weights else None)
    return -log_likelihood.mean(dim=0), gaussian_kl(mu.float(), logvar.float()), weights


def training_loss(model: VAE, x: torch.Tensor, eps: torch.Tensor, beta, renyi_alpha: float = 1.0):
    """(loss, reconstruction, KL) for fixed noise eps: the loss is the batch mean of the negative
    ELBO of eq. (13) with its KL term weighted by `beta` (`config.kl_weight`: a beta-VAE's beta times
    KL annealing), or of the negative Renyi bound when renyi_alpha != 1 (alpha = 0: the IWAE bound);
    an ensemble's loss is the sum over members of each member's mean, so each member's gradient is
    exactly the one it would get alone. The terms are per example and unweighted."""
    renyi = renyi_alpha != 1.0
    reconstruction, kl, log_weights = _terms_given_noise(model, x, eps, renyi)
    per_example = -renyi_bound(log_weights, renyi_alpha) if renyi else reconstruction + beta * kl
    return per_example.mean(dim=-1).sum(), reconstruction, kl


# torch.compile (inductor) of the whole loss, so its backward is one fused graph too: the same
# arithmetic, rounded differently; on 2 AVX2 cores 0-10 % faster per epoch, within this machine's
# run-to-run noise (benchmarks/train_throughput.py).
# One graph per input shape (batch size, N_z, members); beta arrives as a 0-d tensor so KL annealing
# does not recompile every epoch. A shape past the recompile limit must fail loudly: a silent
# fall-back to eager would change the run's rounding.
# Compiled on first use: only training with `compile=True` needs the compiler, and importing it at the
# top (with scikit-learn, see analysis.distances) made `import vaedyn` take 8.6-9.7 s in every page's
# kernel against 0.1 s without (2026-11-21, one thread beside two trainings).
@functools.cache
def compiled_training_loss():
    """`training_loss` under torch.compile (inductor), made once per process."""
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    torch._dynamo.config.fail_on_recompile_limit_hit = True
    return torch.compile(training_loss, dynamic=False)


def importance_log_weights(log_likelihood: torch.Tensor, z: torch.Tensor, mu: torch.Tensor,
                           logvar: torch.Tensor) -> torch.Tensor:
    """log w = log p(x|z) + log p(z) - log q(z|x) for samples z ~ q(z|x), summed over latent units.
    Padded units of an ensemble (mu = log sigma^2 = z = 0) add log N(0;0,1) - log N(0;0,1) = 0."""
    prior = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    posterior = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    return log_likelihood + prior - posterior


def renyi_bound(log_weights: torch.Tensor, alpha: float) -> torch.Tensor:
    """The variational Renyi bound (Li & Turner 2016, eq. 5, with L samples), per example:

        L_alpha = 1/(1 - alpha) log (1/L) sum_l w_l^(1 - alpha),   w_l = p(x, z_l) / q(z_l|x).

    alpha = 1 is the limit (1/L) sum_l log w_l, a sampled ELBO; alpha = 0 is the importance-weighted
    bound log (1/L) sum_l w_l (Burda et al. 2016). The bound does not increase with alpha.
    """
    if alpha == 1.0:
        return log_weights.mean(dim=0)
    scaled = (1.0 - alpha) * log_weights
    return (torch.logsumexp(scaled, dim=0) - math.log(log_weights.shape[0])) / (1.0 - alpha)


@torch.no_grad()
def importance_weighted_log_likelihood(model: VAE, x: torch.Tensor, n_importance: int,
                                       generator: Generator | None = None, samples_per_pass: int = 100,
                                       batch_size: int = 500) -> torch.Tensor:
    """log p(x) estimated with k = n_importance samples z_j ~ q(z|x) (Burda et al. 2016, eq. 8):

        log (1/k) sum_j p(x|z_j) p(z_j) / q(z_j|x),   per example, in nats.

    k = 1 is a one-sample ELBO; the estimate is a lower bound that tightens as k grows, and
    Fig. 9's comparison across N_z should not rest on the ELBO's gap alone. Computed in
    blocks of `samples_per_pass` samples and `batch_size` examples to bound memory.
    """
    if n_importance < 1:
        raise ValueError(f"n_importance={n_importance!r} is not allowed; it must be >= 1")
    estimates = []
    for start in range(0, x.shape[0], batch_size):
        batch = x[start:start + batch_size]
        mu, logvar = model.encode(batch)
        log_weights = []
        for done in range(0, n_importance, samples_per_pass):
            z = reparameterize(mu, logvar, min(samples_per_pass, n_importance - done), generator)
            log_weights.append(importance_log_weights(
                bernoulli_log_likelihood(model.decode_logits(z).float(), batch), z, mu, logvar))
        estimates.append(renyi_bound(torch.cat(log_weights), alpha=0.0))
    return torch.cat(estimates, dim=-1)
