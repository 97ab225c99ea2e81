"""The collective picture of many trajectories at once (Fig. 2, Supp. B and the supplementary movies).

Many trials of repeated inference, each from a different noisy image of one label, are embedded
at each step t with the windowed, uncentred PCA of eqs. (3)-(4) (`dynamics.windowed_pca`). This
module adds what a chapter needs around that embedding:

- `embed_over_time`: the embedding at several steps, optionally with each eigenvector's sign
  aligned to the previous step so that a movie does not mirror from frame to frame;
- `project`: other latent vectors (concept vectors) in the same 2-D coordinates;
- `split_in_two`: k-means with k = 2 on the embedded cloud, the split Supp. B looks at;
- `gaussian_silhouette`, `branching_curve`: how clearly the cloud falls into two groups at each
  step, against what one Gaussian cloud of the same mean and covariance would give;
- `label_fractions`, `label_counts`: classifier labels of the generated images per group.

Trajectories are tensors z of shape (T+1, trials, N_z), as `repeated_inference` returns them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from .config import ConfigError
from .dynamics import windowed_pca


def _int_at_least(name: str, value, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{name}={value!r} is not allowed; it must be an integer >= {low}")
    return value


def check_schedule(steps: int, window: int, branch_step: int) -> None:
    """Validate the number of steps T, the PCA window Delta t and the step Supp. B looks at.

    `branch_step` must leave one more step, because Supp. B shows x(t+1) = decoder(z(t)).
    Raises ConfigError naming the bad value.
    """
    _int_at_least("steps", steps, 1)
    _int_at_least("window", window, 1)
    _int_at_least("branch_step", branch_step, 0)
    if branch_step >= steps:
        raise ConfigError(f"branch_step={branch_step!r} is not allowed; it must be below steps={steps}, "
                          "because the images x(branch_step + 1) are shown")


def snapshot_times(requested, steps: int) -> list[int]:
    """The requested steps that exist in a trajectory of `steps` steps, sorted, without repeats."""
    return sorted({int(t) for t in requested if 0 <= int(t) <= steps})


@dataclass
class Embedding:
    """The windowed-PCA embedding of every trial at several steps."""

    times: list[int]
    points: torch.Tensor        # (len(times), trials, n_components): [q_1(t), q_2(t)]^T z^(i)(t)
    components: torch.Tensor    # (len(times), N_z, n_components): q_k(t)
    explained: torch.Tensor     # (len(times), n_components): lambda_k(t) / sum_j lambda_j(t)

    def at(self, t: int) -> torch.Tensor:
        """The embedded points (trials, n_components) at step t."""
        return self.points[self.times.index(t)]


def embed_over_time(z: torch.Tensor, times, window: int, n_components: int = 2,
                    align_signs: bool = False) -> Embedding:
    """Embed z(t) of every trial at each step in `times` with eqs. (3)-(4), uncentred as in the paper.

    An eigenvector is defined up to its sign; `windowed_pca` fixes the sign by the largest entry.
    With `align_signs=True`, each eigenvector is instead flipped, when needed, to have a positive
    dot product with the same eigenvector at the previous listed step, so that consecutive
    frames of a movie are not mirror images of each other. Only signs change, never the axes.
    """
    times = [int(t) for t in times]
    if not times:
        raise ValueError("times is empty; give at least one step")
    points, components, explained = [], [], []
    for t in times:
        pca = windowed_pca(z, t, window, n_components=n_components)
        q, projection = pca.components, pca.projection
        if align_signs and components:
            signs = torch.sign((components[-1] * q).sum(dim=0))
            signs[signs == 0] = 1
            q, projection = q * signs, projection * signs
        points.append(projection)
        components.append(q)
        explained.append((pca.eigenvalues[:n_components] / pca.eigenvalues.sum()).to(z.dtype))
    return Embedding(times=times, points=torch.stack(points), components=torch.stack(components),
                     explained=torch.stack(explained))


def project(vectors: torch.Tensor, components: torch.Tensor) -> torch.Tensor:
    """[q_1, q_2]^T xi for latent vectors xi (..., N_z): the same uncentred coordinates as the trials."""
    return vectors.to(components.dtype) @ components


@dataclass
class TwoGroups:
    """A split of the embedded trials into two groups; group 0 is the larger one."""

    labels: torch.Tensor        # (trials,) 0 or 1
    centres: torch.Tensor       # (2, n_components)
    silhouette: float           # mean silhouette coefficient of the split

    @property
    def sizes(self) -> list[int]:
        return torch.bincount(self.labels, minlength=2).tolist()


def _kmeans_two(points: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    km = KMeans(n_clusters=2, n_init=10, random_state=seed).fit(points)
    labels = km.labels_
    score = float(silhouette_score(points, labels)) if len(np.unique(labels)) == 2 else 0.0
    return labels, km.cluster_centers_, score


def split_in_two(points: torch.Tensor, seed: int = 0) -> TwoGroups:
    """k-means with k = 2 (scikit-learn, 10 restarts) on embedded points (trials, n_components).

    The groups are renumbered so that group 0 is the larger (the lower centre along the first
    axis on a tie), which makes the numbering independent of k-means' arbitrary order.
    """
    values = points.detach().cpu().double().numpy()
    if values.shape[0] < 3:
        raise ValueError(f"{values.shape[0]} points cannot be split in two groups; give at least 3")
    labels, centres, score = _kmeans_two(values, seed)
    sizes = np.bincount(labels, minlength=2)
    swap = sizes[1] > sizes[0] or (sizes[1] == sizes[0] and centres[1, 0] < centres[0, 0])
    if swap:
        labels, centres = 1 - labels, centres[::-1].copy()
    return TwoGroups(labels=torch.as_tensor(labels, dtype=torch.long),
                     centres=torch.as_tensor(centres, dtype=points.dtype), silhouette=score)


def gaussian_silhouette(points: torch.Tensor, seed: int = 0, draws: int = 5) -> float:
    """Silhouette of a k = 2 k-means split of one Gaussian cloud shaped like `points`.

    Draws `draws` samples of the same size from the normal distribution with the sample mean
    and covariance of `points` and returns the mean silhouette of their k-means splits. k-means
    cuts even a single blob in two with a silhouette well above zero (about 0.4 for a round one,
    more for an elongated one), so this is the value to beat before calling a cloud two clusters.
    """
    values = points.detach().cpu().double().numpy()
    rng = np.random.default_rng(seed)
    mean, cov = values.mean(axis=0), np.cov(values, rowvar=False)
    scores = [_kmeans_two(rng.multivariate_normal(mean, cov, size=values.shape[0]), seed)[2]
              for _ in range(draws)]
    return float(np.mean(scores))


@dataclass
class BranchingCurve:
    """Per step: the silhouette of the k = 2 split of the embedded cloud and of its Gaussian twin."""

    times: list[int]
    silhouette: np.ndarray      # (len(times),)
    gaussian: np.ndarray        # (len(times),)

    @property
    def excess(self) -> np.ndarray:
        """Silhouette above that of one Gaussian cloud of the same shape: > 0 when two groups stand out."""
        return self.silhouette - self.gaussian

    def at(self, t: int) -> tuple[float, float]:
        """(silhouette, gaussian) at step t."""
        k = self.times.index(t)
        return float(self.silhouette[k]), float(self.gaussian[k])


def branching_curve(embedding: Embedding, seed: int = 0, draws: int = 5) -> BranchingCurve:
    """`split_in_two` and `gaussian_silhouette` at every step of an embedding."""
    silhouette = [split_in_two(points, seed).silhouette for points in embedding.points]
    gaussian = [gaussian_silhouette(points, seed, draws) for points in embedding.points]
    return BranchingCurve(times=list(embedding.times), silhouette=np.array(silhouette), gaussian=np.array(gaussian))


def label_counts(predicted: torch.Tensor, groups: torch.Tensor, n_classes: int = 10, n_groups: int = 2) -> torch.Tensor:
    """(n_groups, n_classes): how many trials of each group the classifier gave each class."""
    predicted, groups = predicted.cpu().long(), groups.cpu().long()
    counts = torch.zeros(n_groups, n_classes, dtype=torch.long)
    counts.index_put_((groups, predicted), torch.ones_like(predicted), accumulate=True)
    return counts


def label_fractions(predicted: torch.Tensor, groups: torch.Tensor, label: int, n_groups: int = 2) -> torch.Tensor:
    """(n_groups,) fraction of each group's trials that the classifier labelled `label` (NaN for an empty group)."""
    predicted, groups = predicted.cpu().long(), groups.cpu().long()
    hits = torch.zeros(n_groups).index_add_(0, groups, (predicted == label).float())
    sizes = torch.bincount(groups, minlength=n_groups).float()
    return hits / sizes
