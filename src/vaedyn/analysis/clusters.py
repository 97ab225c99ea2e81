"""k-means with k = 2 on many small point sets at once.

Fig. 2's branching test splits the embedded cloud of trajectories in two at every step and, to
judge each split, ten Gaussian clouds of the same shape as well: over a thousand k-means fits of
a few hundred 2-D points per run. scikit-learn's `KMeans` spends about 25 ms of Python overhead
on each such fit, which made that one test the slowest part of its chapter; written here as one
batched Lloyd iteration over all sets, the same algorithm (k-means++ starts, several restarts,
the lowest inertia kept) costs a fraction of that. scikit-learn stays the reference in the tests.
"""
from __future__ import annotations

import torch


def two_means(points: torch.Tensor, restarts: int = 10, iterations: int = 300,
              seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """k-means with k = 2 on each of a batch of point sets (float64 on the CPU).

    points: (B, n, d). Each set gets `restarts` k-means++ starts; Lloyd's iteration runs until no
    centre moves (at most `iterations` rounds) and the start with the lowest inertia (sum of
    squared distances to the nearest centre) is kept. A centre that loses all its points stays
    where it was. Returns labels (B, n), centres (B, 2, d) and inertia (B,).
    """
    if points.dim() != 3 or points.shape[1] < 2:
        raise ValueError(f"points of shape {tuple(points.shape)}: give (sets, n >= 2, d)")
    if restarts < 1 or iterations < 1:
        raise ValueError(f"restarts={restarts!r} and iterations={iterations!r} must be >= 1")
    generator = torch.Generator().manual_seed(seed)
    n_sets, n, d = points.shape
    runs = n_sets * restarts
    x = points.detach().to("cpu", torch.float64).repeat_interleave(restarts, dim=0)   # (runs, n, d)
    rows = torch.arange(runs)
    # k-means++: the first centre uniformly, the second with probability proportional to the
    # squared distance from the first (uniformly again when every point sits on it).
    first = x[rows, torch.randint(n, (runs,), generator=generator)]
    weights = ((x - first[:, None]) ** 2).sum(-1)
    weights = torch.where(weights.sum(-1, keepdim=True) > 0, weights, torch.ones_like(weights))
    second = x[rows, torch.multinomial(weights, 1, generator=generator).squeeze(1)]
    centres = torch.stack([first, second], dim=1)                                       # (runs, 2, d)
    total = x.sum(1)                                                                    # (runs, d)
    for _ in range(iterations):
        labels = _nearest(x, centres)
        in_second = labels.to(x.dtype)
        count = in_second.sum(1, keepdim=True)                                          # (runs, 1)
        sum_second = (in_second[:, None, :] @ x).squeeze(1)                            # (runs, d)
        means = torch.stack([(total - sum_second) / (n - count).clamp(min=1), sum_second / count.clamp(min=1)], 1)
        keep = torch.stack([count == n, count == 0], 1)                                 # an empty group keeps its centre
        moved = torch.where(keep, centres, means)
        if torch.equal(moved, centres):
            break
        centres = moved
    distances = _squared_distances(x, centres)
    labels = distances.argmin(-1)
    inertia = distances.min(-1).values.sum(-1)
    best = rows.view(n_sets, restarts)[torch.arange(n_sets), inertia.view(n_sets, restarts).argmin(1)]
    return labels[best], centres[best], inertia[best]


def _nearest(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(runs, n) bool: whether each point is nearer the second centre than the first. With two centres
    that is one side of the bisecting hyperplane, x . (c1 - c0) > (|c1|^2 - |c0|^2) / 2: one batched
    matrix product instead of two full distance computations."""
    direction = centres[:, 1] - centres[:, 0]                                           # (runs, d)
    offset = ((centres[:, 1] ** 2).sum(-1) - (centres[:, 0] ** 2).sum(-1)) / 2          # (runs,)
    return (x @ direction[:, :, None]).squeeze(-1) > offset[:, None]


def _squared_distances(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(runs, n, 2): exact squared distances (no expansion trick, so ties break the same way always)."""
    return ((x[:, :, None, :] - centres[:, None, :, :]) ** 2).sum(-1)
