"""What the latent codes hold, after Peşte, Malagò & Sârbu (latent geometry of VAEs).

- Informative components: PCA of the posterior means over a data set; a component carries
  information when its eigenvalue exceeds 0.01 (their Sec. 2.1), and its eigenvector may or
  may not point along one latent axis.
- Linear separability: a logistic-regression probe on the means, on the means with the
  diagonal variances, or on one sampled z per image (their Sec. 2.2).
- Bounds: the Renyi bound with a few samples beside an importance-sampled log-likelihood
  (their Fig. 2, right), both from `objective`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..config import ConfigError
from ..model import VAE
from .pca import principal_components
from ..objective import (bernoulli_log_likelihood, importance_log_weights, importance_weighted_log_likelihood,
                        renyi_bound, reparameterize)

INFORMATIVE_EIGENVALUE = 0.01           # Peşte et al.'s epsilon
PROBE_FEATURES = ("mean", "mean+variance", "sample")


@torch.no_grad()
def posterior_parameters(model: VAE, x: torch.Tensor, batch_size: int = 10_000) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, log sigma^2) of q(z|x) for every row of x, on x's device."""
    model.eval()
    parts = [model.encode(x[s:s + batch_size]) for s in range(0, x.shape[0], batch_size)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


@dataclass
class Spectrum:
    eigenvalues: np.ndarray     # descending, one per latent unit
    components: np.ndarray      # (N_z, N_z), row k is the k-th eigenvector

    def informative(self, threshold: float = INFORMATIVE_EIGENVALUE) -> int:
        """How many components have an eigenvalue above `threshold`."""
        return int((self.eigenvalues > threshold).sum())

    def axis_alignment(self, threshold: float = INFORMATIVE_EIGENVALUE) -> np.ndarray:
        """Per informative component, the largest |entry| of its unit eigenvector: 1 when it points
        along one latent axis, 1/sqrt(N_z) when it spreads evenly over all of them."""
        return np.abs(self.components[:self.informative(threshold)]).max(axis=1)


def pca_spectrum(mu: torch.Tensor) -> Spectrum:
    """Eigenvalues and eigenvectors (as rows) of the covariance of the posterior means."""
    axes = principal_components(mu)
    return Spectrum(eigenvalues=axes.variances.cpu().numpy(), components=axes.components.T.cpu().numpy())


def probe_features(mu: torch.Tensor, logvar: torch.Tensor, kind: str,
                   generator: torch.Generator | None = None) -> np.ndarray:
    """The features a separability probe sees: the means, the means and diagonal variances, or one
    z ~ q(z|x) per image (drawn from `generator`)."""
    if kind == "mean":
        features = mu
    elif kind == "mean+variance":
        features = torch.cat([mu, logvar.exp()], dim=1)
    elif kind == "sample":
        features = reparameterize(mu, logvar, 1, generator)[0]
    else:
        raise ConfigError(f"kind={kind!r} is not allowed; choose one of {', '.join(PROBE_FEATURES)}")
    return features.detach().double().cpu().numpy()


def probe_accuracy(train_features: np.ndarray, train_labels, test_features: np.ndarray, test_labels,
                   max_iter: int = 2000) -> float:
    """Test accuracy of a multinomial logistic regression fitted on standardised training features."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    probe.fit(train_features, np.asarray(train_labels))
    return float(probe.score(test_features, np.asarray(test_labels)))


def separability(model: VAE, train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                 test_y: torch.Tensor, seed: int = 0, kinds=PROBE_FEATURES) -> dict[str, float]:
    """Probe accuracy on the test set for each feature kind (probe fitted on the training images)."""
    train_q, test_q = posterior_parameters(model, train_x), posterior_parameters(model, test_x)
    generator = torch.Generator(device=train_x.device).manual_seed(seed)
    return {kind: probe_accuracy(probe_features(*train_q, kind, generator), train_y.cpu(),
                                 probe_features(*test_q, kind, generator), test_y.cpu())
            for kind in kinds}


@torch.no_grad()
def test_bounds(model: VAE, x: torch.Tensor, alpha: float, bound_samples: int, iw_samples: int,
                seed: int = 0, batch_size: int = 500) -> dict[str, float]:
    """Mean per-image bounds on log p(x), in nats: the ELBO and the Renyi bound at `alpha` with
    `bound_samples` samples (the same draws), and the importance-sampled estimate with `iw_samples`."""
    generator = torch.Generator(device=x.device).manual_seed(seed)
    elbo, renyi = [], []
    for start in range(0, x.shape[0], batch_size):
        batch = x[start:start + batch_size]
        mu, logvar = model.encode(batch)
        z = reparameterize(mu, logvar, bound_samples, generator)
        log_weights = importance_log_weights(bernoulli_log_likelihood(model.decode_logits(z), batch), z, mu, logvar)
        elbo.append(renyi_bound(log_weights, 1.0))
        renyi.append(renyi_bound(log_weights, alpha))
    iw = importance_weighted_log_likelihood(model, x, iw_samples, generator)
    return {"elbo": float(torch.cat(elbo).mean()), "renyi": float(torch.cat(renyi).mean()),
            "importance_weighted": float(iw.mean())}


@torch.no_grad()
def prior_samples(model: VAE, n: int, seed: int = 0) -> torch.Tensor:
    """Decoded means of n draws z ~ N(0, I): what the generative model makes of its prior."""
    model.eval()
    device = next(model.parameters()).device
    z = torch.randn(n, model.nz, generator=torch.Generator(device=device).manual_seed(seed), device=device)
    return model.decode_mean(z)


def quantile_grid(n: int, low: float = 0.05, high: float = 0.95) -> torch.Tensor:
    """(n * n, 2) points of a 2-D latent space at the standard normal's quantiles low..high in each
    axis, row by row from the top (largest z_2) so it reads like a picture."""
    from scipy.stats import norm

    if not 0.0 < low < high < 1.0:
        raise ConfigError(f"low={low!r}, high={high!r} are not allowed; need 0 < low < high < 1")
    values = torch.tensor(norm.ppf(np.linspace(low, high, n)), dtype=torch.float32)
    z2, z1 = torch.meshgrid(values.flip(0), values, indexing="ij")
    return torch.stack([z1.flatten(), z2.flatten()], dim=1)


def closest_pairs(concepts: torch.Tensor) -> list[tuple[int, int, float]]:
    """Every pair of classes (i < j) with the distance between their concept vectors, closest first."""
    distances = torch.cdist(concepts, concepts)
    pairs = [(i, j, float(distances[i, j])) for i in range(len(concepts)) for j in range(i + 1, len(concepts))]
    return sorted(pairs, key=lambda pair: pair[2])
