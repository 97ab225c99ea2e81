"""Measurements on trajectories z(t): distances over time (eq. 7), their minima (eq. 9),
the "approaching" criterion, windowed PCA (eqs. 3-4) and a Mahalanobis distance.

Trajectories are tensors of shape (T+1, trials, N_z), as `repeated_inference` returns them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.covariance import LedoitWolf


def distance_over_time(z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||z(t) - xi||_2 for every t and trial (eq. 7); (T+1, trials).

    `target` is one vector (N_z,) shared by all trials (a concept vector) or one per trial
    (trials, N_z) (each trial's own memory vector).
    """
    return torch.linalg.vector_norm(z - target, dim=-1)


def min_over_time(distances: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """min_t ||z(t) - xi||_2 (eq. 9) and the first step attaining it, per trial."""
    minimum, step = distances.min(dim=0)
    return minimum, step


def is_approaching(distances: torch.Tensor) -> torch.Tensor:
    """The paper's criterion for a trajectory "approaching" a vector, per trial.

    The distance must reach its minimum at exactly one step t* strictly between 0 and T, and
    that minimum must lie below the straight line between the first and last distances,
    d(0) + (d(T) - d(0)) t*/T.
    """
    steps = distances.shape[0] - 1
    minimum, t_star = min_over_time(distances)
    unique = (distances == minimum).sum(dim=0) == 1
    interior = (t_star > 0) & (t_star < steps)
    first, last = distances[0], distances[-1]
    line = first + (last - first) * t_star.to(distances.dtype) / steps
    return unique & interior & (minimum < line)


@dataclass
class WindowedPCA:
    projection: torch.Tensor    # (trials, n_components): [q_1(t), q_2(t)]^T z^(i)(t)
    components: torch.Tensor    # (N_z, n_components): leading eigenvectors q_k(t)
    eigenvalues: torch.Tensor   # (N_z,), descending


def windowed_pca(z: torch.Tensor, t: int, window: int, n_components: int = 2, centered: bool = False) -> WindowedPCA:
    """Embed z(t) of every trial with the eigenvectors of Z(t)^T Z(t) (eqs. 3-4).

    Z(t) stacks z^(i)(s) of all trials for the `window` steps s = t..t+window-1 (fewer at the end
    of the trajectory): N * window rows, matching the paper's N*Delta_t x N_z matrix. The paper
    decomposes the uncentred Z^T Z, so by default the first component points roughly along the
    mean; `centered=True` subtracts the window mean first (ordinary PCA). Each eigenvector's sign
    is fixed so that its largest-magnitude entry is positive, making pictures comparable.
    """
    last = z.shape[0] - 1
    if not 0 <= t <= last:
        raise ValueError(f"t={t} is not allowed; it must be in [0, {last}]")
    if window < 1:
        raise ValueError(f"window={window} is not allowed; it must be >= 1")
    stacked = z[t:t + window].reshape(-1, z.shape[-1]).double()
    mean = stacked.mean(dim=0) if centered else torch.zeros(z.shape[-1], dtype=torch.float64, device=z.device)
    stacked = stacked - mean
    eigenvalues, eigenvectors = torch.linalg.eigh(stacked.T @ stacked)
    eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)
    top = eigenvectors[:, :n_components]
    pivot = top.abs().argmax(dim=0)
    top = top * torch.sign(top[pivot, torch.arange(n_components, device=z.device)])
    projection = (z[t].double() - mean) @ top
    return WindowedPCA(projection=projection.to(z.dtype), components=top.to(z.dtype), eigenvalues=eigenvalues)


def mahalanobis_over_time(z: torch.Tensor, class_memory: torch.Tensor) -> torch.Tensor:
    """Mahalanobis distance of every z(t) to the cloud of one class's memory vectors; (T+1, trials).

    Checks Fig. 3 against non-spherical clusters (Supp. C). The covariance is scikit-learn's
    Ledoit-Wolf estimate: inactive latent units have almost no variance, so the sample
    covariance is near singular and its inverse would blow up along them; shrinkage keeps it
    well conditioned without a hand-picked ridge.
    """
    estimator = LedoitWolf().fit(class_memory.detach().cpu().double().numpy())
    points = z.detach().cpu().double().reshape(-1, z.shape[-1]).numpy()
    squared = estimator.mahalanobis(points)
    return torch.as_tensor(np.sqrt(squared), dtype=z.dtype).reshape(z.shape[:-1])
