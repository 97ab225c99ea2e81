"""Measurements on trajectories z(t): distances over time (eq. 7), their minima (eq. 9),
the paper's "approaching" criterion and a stricter one, and a Mahalanobis distance.

Trajectories are tensors of shape (T+1, trials, N_z), as `repeated_inference` returns them.
"""
from __future__ import annotations

import numpy as np
import torch


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


def segment_distance(start: torch.Tensor, end: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Distance from `target` to the nearest point of the straight segment from `start` to `end`, per
    trial: min over s in [0, 1] of ||start + s (end - start) - target||. start, end: (trials, N_z);
    target: (N_z,) or (trials, N_z)."""
    direction = end - start
    length2 = direction.pow(2).sum(dim=-1)
    s = ((target - start) * direction).sum(dim=-1) / length2.clamp(min=torch.finfo(direction.dtype).tiny)
    nearest = start + s.clamp(0.0, 1.0).unsqueeze(-1) * direction
    return torch.linalg.vector_norm(nearest - target, dim=-1)


def passes_closer_than_segment(z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A stricter reading of "approaching" than `is_approaching`, per trial: the trajectory comes closer
    to `target` than any point of the straight latent segment from z(0) to z(T) does.

    `is_approaching` compares the minimum with the chord between d(0) and d(T); a unique interior
    minimum lies below both end values and so always below the chord, so that criterion reduces to
    "the minimum is not at t = 0 or T". Here the path must come closer to the target than the straight
    path from z(0) to z(T) would: it has to bend towards it."""
    closest = distance_over_time(z, target).min(dim=0).values
    return closest < segment_distance(z[0], z[-1], target)


def mahalanobis_over_time(z: torch.Tensor, class_memory: torch.Tensor) -> torch.Tensor:
    """Mahalanobis distance of every z(t) to the cloud of one class's memory vectors; (T+1, trials).

    Checks Fig. 3 against non-spherical clusters (Supp. C). The covariance is scikit-learn's
    Ledoit-Wolf estimate: inactive latent units have almost no variance, so the sample
    covariance is near singular and its inverse would blow up along them; shrinkage keeps it
    well conditioned without a hand-picked ridge.
    """
    from sklearn.covariance import LedoitWolf   # imported here, not at import time (see objective.compiled_training_loss)
    estimator = LedoitWolf().fit(class_memory.detach().cpu().double().numpy())
    points = z.detach().cpu().double().reshape(-1, z.shape[-1]).numpy()
    squared = estimator.mahalanobis(points)
    return torch.as_tensor(np.sqrt(squared), dtype=z.dtype).reshape(z.shape[:-1])
