"""Trials: noisy starts of one label at one noise fraction, run through repeated inference once,
so that every measurement of a figure reads the same trajectories.

A trial starts from a distinct training image of the label with its own noise realisation
(Methods). The seed of a set of trials is a function of the run's seed, the label and p, so the
same (label, p) gets the same images and noise whatever grid or chapter asks for it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model import VAE
from .inference import noisy_starts, repeated_inference


def sem(values: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Standard error of the mean along `dim` (sample standard deviation / sqrt(n))."""
    return values.std(dim=dim) / values.shape[dim] ** 0.5


def trial_seed(seed: int, label: int | None, p: float) -> int:
    """Seed of the trials of `label` at noise fraction p: a function of p itself, not of its place in a
    grid, and of the label, so two labels at the same p do not share a noise pattern."""
    return seed * 1_000_003 + round(float(p) * 1_000_000) + 7_919 * (10 if label is None else int(label))


@dataclass
class Trials:
    """One set of trials: the start images, and z(t) (and x(t) when recorded) for t = 0..T."""

    label: int | None
    p: float
    noise: str
    indices: torch.Tensor          # (trials,) rows of the split the clean images came from
    clean: torch.Tensor            # (trials, D)
    x0: torch.Tensor               # (trials, D) the noisy starts
    z: torch.Tensor                # (T+1, trials, N_z)
    x: torch.Tensor | None = None  # (T+1, trials, D) when run with record_x

    @property
    def steps(self) -> int:
        return self.z.shape[0] - 1

    @property
    def size(self) -> int:
        return self.z.shape[1]


def run_trials(model: VAE, images: torch.Tensor, labels: torch.Tensor, label: int | None, trials: int, p: float,
               steps: int, noise: str = "swap", seed: int = 0, record_x: bool = False) -> Trials:
    """`trials` noisy starts of `label` (any label when None) at noise fraction p, iterated T = `steps`
    times (eqs. 1-2), with the seed `trial_seed(seed, label, p)`."""
    starts = noisy_starts(images, labels, label, trials, p, noise, trial_seed(seed, label, p))
    run = repeated_inference(model, starts.x0, steps, record_x=record_x)
    return Trials(label=label, p=float(p), noise=noise, indices=starts.indices, clean=starts.clean, x0=starts.x0,
                  z=run.z, x=run.x)
