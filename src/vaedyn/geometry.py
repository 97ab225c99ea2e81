"""Summaries of the classifier label maps (Fig. 5) and a principal plane for pictures of the
latent space (Fig. 6).

`label_map_rows` turns a `LabelMap` into one row per noise fraction (does the majority stay
correct, where is the true label recovered, what is the label at the first and last step), and
`largest_p_always_correct`, `first_p_not_always_correct` and `first_p_without_recovery` reduce
it to the numbers a chapter compares with the paper. `principal_plane` finds the two leading
principal directions of a set of latent vectors, so memory vectors, concept vectors and
trajectories can be drawn in one plane.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .experiments import LabelMap


def correct_at_every_step(labels: LabelMap) -> torch.Tensor:
    """(len(p_grid),) bool: the majority label equals the true label at every step t >= 1."""
    return (labels.majority()[:, 1:] == labels.label).all(dim=1)


def correct_step_counts(labels: LabelMap) -> torch.Tensor:
    """(len(p_grid),) how many steps t >= 1 have the true label as their majority label."""
    return (labels.majority()[:, 1:] == labels.label).sum(dim=1)


def largest_p_always_correct(labels: LabelMap) -> float | None:
    """The largest grid p such that at it and at every smaller grid p the majority label is the
    true one at every step t >= 1; None when the smallest p already fails.

    Grid points are taken in increasing order of p, so an unsorted grid gives the same answer.
    """
    ok = correct_at_every_step(labels).tolist()
    best = None
    for p, good in sorted(zip(labels.p_grid, ok)):
        if not good:
            break
        best = p
    return best


def first_p_not_always_correct(labels: LabelMap) -> float | None:
    """The smallest grid p at which the majority label is wrong at some step t >= 1; None if there is none."""
    ok = correct_at_every_step(labels).tolist()
    return next((p for p, good in sorted(zip(labels.p_grid, ok)) if not good), None)


def first_p_without_recovery(labels: LabelMap) -> float | None:
    """The smallest grid p at which no step t >= 1 has the true label as its majority; None if every p has one.

    The same reading as the claims page (`vaedyn.claims`): the first noise level with no window of recovery.
    """
    found = [p for k, p in enumerate(labels.p_grid) if labels.recovery_window(k) is None]
    return min(found) if found else None


def p_with_recovery(labels: LabelMap) -> list[float]:
    """The grid values of p (ascending) at which the true label is the majority at some step t >= 1."""
    return sorted(p for k, p in enumerate(labels.p_grid) if labels.recovery_window(k) is not None)


def label_map_rows(labels: LabelMap) -> list[dict]:
    """One row per grid p: whether the majority is correct at every step t >= 1, the recovery
    window (first and last correct step, or None), the number of correct steps, the majority label
    at t = 1 and at the last step, and the fraction of trials labelled correctly at the last step."""
    majority = labels.majority()
    fraction = labels.correct_fraction()
    always = correct_at_every_step(labels)
    counts = correct_step_counts(labels)
    rows = []
    for k, p in enumerate(labels.p_grid):
        rows.append({"p": p, "correct_every_step": bool(always[k]), "window": labels.recovery_window(k),
                     "correct_steps": int(counts[k]), "label_first_step": int(majority[k, 1]),
                     "label_last_step": int(majority[k, -1]), "correct_fraction_last_step": float(fraction[k, -1])})
    return rows


def true_runs(mask) -> list[tuple[int, int]]:
    """Maximal runs of True in a 1-d boolean sequence, as (start, stop) with stop exclusive."""
    values = [bool(v) for v in (mask.tolist() if hasattr(mask, "tolist") else mask)]
    runs, start = [], None
    for i, value in enumerate(values + [False]):
        if value and start is None:
            start = i
        elif not value and start is not None:
            runs.append((start, i))
            start = None
    return runs


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
    """The leading principal directions of points (n, N_z), centred at their mean.

    Each direction's sign is fixed so that its largest-magnitude entry is positive, so pictures
    from the same model are comparable between runs.
    """
    if points.dim() != 2 or points.shape[0] < 2:
        raise ValueError(f"points has shape {tuple(points.shape)}; expected (n >= 2, N_z)")
    if not 1 <= n_components <= min(points.shape):
        raise ValueError(f"n_components={n_components} is not allowed; it must be in [1, {min(points.shape)}]")
    data = points.detach().double()
    origin = data.mean(dim=0)
    _, singular, vh = torch.linalg.svd(data - origin, full_matrices=False)
    basis = vh[:n_components].T
    pivot = basis.abs().argmax(dim=0)
    basis = basis * torch.sign(basis[pivot, torch.arange(n_components, device=basis.device)])
    variance = singular ** 2
    return Plane(origin=origin, basis=basis, explained_ratio=variance[:n_components] / variance.sum())


def captured_variance(plane: Plane, points: torch.Tensor) -> float:
    """Share of the total variance of points (n, N_z) that lies in the plane's directions."""
    data = points.detach().double()
    centred = data - data.mean(dim=0)
    total = centred.pow(2).sum()
    inside = (centred @ plane.basis).pow(2).sum()
    return (inside / total).item()
