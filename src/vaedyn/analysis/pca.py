"""Principal components: the one decomposition behind every PCA of the book, the windowed
uncentred PCA of eqs. (3)-(4) (Fig. 2), the cumulative contribution ratio of Fig. 7b, the
principal plane of chapter 06 and the informative components of chapter 10.

An eigendecomposition of the (centred or uncentred) scatter matrix X^T X with
`torch.linalg.eigh`, in float64. scikit-learn's PCA cannot leave the data uncentred, which
eqs. (3)-(4) require, so one torch function serves both readings. Each eigenvector's sign is
fixed so that its largest-magnitude entry is positive, making pictures comparable between runs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Principal:
    """Principal axes of n points in N_z dimensions, in descending order of eigenvalue."""

    mean: torch.Tensor          # (N_z,) the centre subtracted (zeros when uncentred)
    components: torch.Tensor    # (N_z, N_z) eigenvectors as columns
    eigenvalues: torch.Tensor   # (N_z,) eigenvalues of the scatter matrix X^T X (X centred or not)
    n: int                      # number of points
    centered: bool

    @property
    def variances(self) -> torch.Tensor:
        """Variance along each axis: eigenvalues / (n - 1) when centred (scikit-learn's
        `explained_variance_`), / n when uncentred (the second moment)."""
        return self.eigenvalues / max(self.n - 1 if self.centered else self.n, 1)

    def explained_ratio(self) -> torch.Tensor:
        return self.eigenvalues / self.eigenvalues.sum()

    def project(self, points: torch.Tensor, n_components: int = 2) -> torch.Tensor:
        """Coordinates (..., n_components) of points (..., N_z) on the leading axes."""
        return (points.double() - self.mean) @ self.components[:, :n_components]


def principal_components(points: torch.Tensor, centered: bool = True) -> Principal:
    """Eigenvectors and eigenvalues of X^T X for points X (n, N_z), centred at their mean or not."""
    if points.dim() != 2 or points.shape[0] < 1:
        raise ValueError(f"points has shape {tuple(points.shape)}; expected (n >= 1, N_z)")
    data = points.detach().double()
    mean = data.mean(dim=0) if centered else torch.zeros(data.shape[1], dtype=torch.float64, device=data.device)
    centred = data - mean
    eigenvalues, eigenvectors = torch.linalg.eigh(centred.T @ centred)
    eigenvalues, eigenvectors = eigenvalues.flip(0).clamp(min=0.0), eigenvectors.flip(1)
    pivot = eigenvectors.abs().argmax(dim=0)
    eigenvectors = eigenvectors * torch.sign(eigenvectors[pivot, torch.arange(eigenvectors.shape[1], device=data.device)])
    return Principal(mean=mean, components=eigenvectors, eigenvalues=eigenvalues, n=data.shape[0], centered=centered)


def cumulative_contribution(points: torch.Tensor) -> np.ndarray:
    """Cumulative explained-variance ratio of the principal components of points (n, N_z), e.g. of
    the memory vectors (Fig. 7b's cumulative contribution ratio)."""
    return torch.cumsum(principal_components(points).explained_ratio(), dim=0).cpu().numpy()


@dataclass
class WindowedPCA:
    projection: torch.Tensor    # (trials, n_components): [q_1(t), q_2(t)]^T z^(i)(t)
    components: torch.Tensor    # (N_z, n_components): leading eigenvectors q_k(t)
    eigenvalues: torch.Tensor   # (N_z,), descending, of Z(t)^T Z(t)


def windowed_pca(z: torch.Tensor, t: int, window: int, n_components: int = 2, centered: bool = False) -> WindowedPCA:
    """Embed z(t) of every trial with the eigenvectors of Z(t)^T Z(t) (eqs. 3-4).

    Z(t) stacks z^(i)(s) of all trials for the `window` steps s = t..t+window-1 (fewer at the end
    of the trajectory): N * window rows, matching the paper's N*Delta_t x N_z matrix. The paper
    decomposes the uncentred Z^T Z, so by default the first component points roughly along the
    mean; `centered=True` subtracts the window mean first (ordinary PCA).
    """
    last = z.shape[0] - 1
    if not 0 <= t <= last:
        raise ValueError(f"t={t} is not allowed; it must be in [0, {last}]")
    if window < 1:
        raise ValueError(f"window={window} is not allowed; it must be >= 1")
    axes = principal_components(z[t:t + window].reshape(-1, z.shape[-1]), centered=centered)
    return WindowedPCA(projection=axes.project(z[t], n_components).to(z.dtype),
                       components=axes.components[:, :n_components].to(z.dtype), eigenvalues=axes.eigenvalues)


@dataclass
class Plane:
    """An affine plane (or k-flat) in latent space: origin + span of orthonormal columns of basis."""

    origin: torch.Tensor            # (N_z,)
    basis: torch.Tensor             # (N_z, k), orthonormal columns
    explained_ratio: torch.Tensor   # (k,) share of the fitted points' variance along each column

    def project(self, points: torch.Tensor) -> torch.Tensor:
        """Coordinates (..., k) of points (..., N_z) in the plane."""
        return (points.to(self.basis.dtype) - self.origin) @ self.basis


def principal_plane(points: torch.Tensor, n_components: int = 2) -> Plane:
    """The leading principal directions of points (n, N_z), centred at their mean."""
    if points.dim() != 2 or points.shape[0] < 2:
        raise ValueError(f"points has shape {tuple(points.shape)}; expected (n >= 2, N_z)")
    if not 1 <= n_components <= min(points.shape):
        raise ValueError(f"n_components={n_components} is not allowed; it must be in [1, {min(points.shape)}]")
    axes = principal_components(points)
    return Plane(origin=axes.mean, basis=axes.components[:, :n_components],
                 explained_ratio=axes.explained_ratio()[:n_components])


def captured_variance(plane: Plane, points: torch.Tensor) -> float:
    """Share of the total variance of points (n, N_z) that lies in the plane's directions."""
    data = points.detach().double()
    centred = data - data.mean(dim=0)
    total = centred.pow(2).sum()
    inside = (centred @ plane.basis).pow(2).sum()
    return (inside / total).item()
