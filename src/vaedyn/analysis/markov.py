"""Repeated inference as a Markov chain (the inference survey's view of an autoencoder as a
transition operator): does the chain move between the modes (digits) of the data, how long does
it stay in one, and where does it go?

The paper's iteration takes means at both steps and is deterministic once x(0) is fixed; the
stochastic chains draw z ~ q(z|x) and, fully stochastic, x ~ p(x|z) too (`inference.repeated_inference`).
A state x(t) is put in a mode by the nearest concept vector to its code mu(x(t)) (eqs. 5, 7), and,
as a check, by the CNN classifier.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .concepts import ConceptSet
from ..config import ConfigError
from .inference import Trajectory, repeated_inference
from ..model import VAE
from .representations import posterior_parameters

CHAINS = {"means (paper)": {"stochastic": False, "sample_x": False},
          "sampled z": {"stochastic": True, "sample_x": False},
          "sampled z and x": {"stochastic": True, "sample_x": True}}


def nearest_concept(model: VAE, concepts: ConceptSet, x: torch.Tensor) -> torch.Tensor:
    """Mode of each image: the class whose concept vector is nearest to mu(x) (eq. 7); any leading shape."""
    mu = posterior_parameters(model, x.reshape(-1, x.shape[-1]))[0]
    return torch.cdist(mu, concepts.concepts).argmin(dim=1).reshape(x.shape[:-1])


def run_lengths(labels: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Lengths of the runs of equal labels along dim 0 of (T+1, chains), and whether each run is
    complete (False for the run still going at the last step, whose length is only a lower bound)."""
    labels = labels.cpu().numpy()
    lengths, complete = [], []
    for chain in labels.T:
        change = np.flatnonzero(np.diff(chain)) + 1
        bounds = np.concatenate([[0], change, [len(chain)]])
        lengths.extend(np.diff(bounds))
        complete.extend([True] * (len(bounds) - 2) + [False])
    return np.array(lengths), np.array(complete)


@dataclass
class Mixing:
    """How a batch of chains moves between modes; `labels` is (T+1, chains), `start` (chains,)."""

    labels: torch.Tensor
    start: torch.Tensor

    @property
    def steps(self) -> int:
        return self.labels.shape[0] - 1

    def switch_rate(self) -> float:
        """Mode changes per step, averaged over chains and steps."""
        return float((self.labels[1:] != self.labels[:-1]).float().mean())

    def modes_visited(self) -> torch.Tensor:
        """(chains,) how many different modes each chain entered."""
        return torch.nn.functional.one_hot(self.labels, 10).amax(dim=0).sum(dim=1)

    def left_start(self) -> float:
        """Share of chains that were ever in another mode than the one they started in."""
        return float((self.labels != self.start).any(dim=0).float().mean())

    def first_exit(self) -> torch.Tensor:
        """(chains,) first step in another mode than the start's, or T+1 if never."""
        away = self.labels != self.start
        return torch.where(away.any(dim=0), away.float().argmax(dim=0), torch.full_like(self.start, self.steps + 1))

    def dwell_times(self) -> np.ndarray:
        """Lengths of the completed stays in one mode (censored last stays left out)."""
        lengths, complete = run_lengths(self.labels)
        return lengths[complete]

    def final_in_start(self) -> float:
        """Share of chains whose last state is in the mode they started in."""
        return float((self.labels[-1] == self.start).float().mean())

    def occupancy(self, burn_in: int = 0) -> torch.Tensor:
        """(10,) share of all states after `burn_in` steps in each mode: where the chains spend their time."""
        counts = torch.bincount(self.labels[burn_in:].flatten(), minlength=10).float()
        return counts / counts.sum()


def run_chain(model: VAE, x0: torch.Tensor, steps: int, chain: str, seed: int = 0) -> Trajectory:
    """`steps` transitions of one of the CHAINS from x0 (trials, D), recording x(0..T)."""
    if chain not in CHAINS:
        raise ConfigError(f"chain={chain!r} is not allowed; choose one of {', '.join(CHAINS)}")
    generator = torch.Generator(device=x0.device).manual_seed(seed)
    return repeated_inference(model, x0, steps, record_x=True, generator=generator, **CHAINS[chain])


def mixing(model: VAE, concepts: ConceptSet, trajectory: Trajectory) -> Mixing:
    """Modes of every recorded state; each chain's start mode is that of its x(0)."""
    labels = nearest_concept(model, concepts, trajectory.x)
    return Mixing(labels=labels, start=labels[0])
