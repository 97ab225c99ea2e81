"""Summaries that the chapters on Figs. 3 and 4 report, built on `experiments` and `dynamics`.

Fig. 3 (chapter 03): the minimum of a mean distance curve and whether that curve meets the
paper's "approaching" criterion, the typical size of a class cluster, and the Mahalanobis
distance of the same trajectories to the class's cloud of memory vectors (Supp. C).

Fig. 4 (chapter 04): the p at which each stage first appears, whether the stages come in the
order I, II, III, the trend of the argmin step with p, and where the trajectories end (z(T)),
which tells apart a set of distinct end points from a single shared fixed point.

Every function takes tensors shaped as `experiments` returns them: distances (T+1, trials),
sweeps (len(p_grid), trials).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import spearmanr

from .concepts import ConceptSet
from .config import ConfigError, check_probability
from .dynamics import distance_over_time, is_approaching, mahalanobis_over_time
from .experiments import LEVELS, HierarchySweep, seed_for, sem
from .inference import noisy_starts, repeated_inference
from .model import VAE

STAGE_ORDER = ("I", "II", "III")


def check_labels(labels, n_classes: int = 10) -> list[int]:
    """Validate a list of class labels (integers in [0, n_classes)); returns it as a list."""
    values = labels if isinstance(labels, (list, tuple)) else [labels]
    if not values:
        raise ConfigError("labels=[] is not allowed; give at least one label")
    for label in values:
        if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < n_classes:
            raise ConfigError(f"labels={labels!r} is not allowed; each label must be an integer in [0, {n_classes - 1}]")
    return list(values)


def check_p_grid(p_grid) -> list[float] | None:
    """Validate a grid of noise fractions: None (use the profile's), or >= 2 increasing values in [0, 1]."""
    if p_grid is None:
        return None
    if not isinstance(p_grid, (list, tuple)) or len(p_grid) < 2:
        raise ConfigError(f"p_grid={p_grid!r} is not allowed; give a list of at least two noise fractions")
    values = [check_probability("p_grid", p) for p in p_grid]
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ConfigError(f"p_grid={p_grid!r} is not allowed; the values must increase")
    return values


def verdict(passed: int, total: int) -> str:
    """'reproduced' when every case passes, 'not reproduced' when none does, else 'partly reproduced'."""
    if total < 1 or not 0 <= passed <= total:
        raise ValueError(f"passed={passed}, total={total} is not a valid count")
    if passed == total:
        return "reproduced"
    return "not reproduced" if passed == 0 else "partly reproduced"


# --- Fig. 3 ---------------------------------------------------------------------------------------

def mean_curve_minimum(distances: torch.Tensor) -> tuple[int, float]:
    """Step and value of the minimum of the trial-mean curve of distances (T+1, trials)."""
    mean = distances.mean(dim=1)
    step = int(mean.argmin().item())
    return step, float(mean[step].item())


def mean_curve_approaches(distances: torch.Tensor) -> bool:
    """Whether the trial-mean curve itself meets the paper's approaching criterion (`is_approaching`)."""
    return bool(is_approaching(distances.mean(dim=1, keepdim=True))[0].item())


def class_memory(concepts: ConceptSet, label: int) -> torch.Tensor:
    """The memory vectors xi^(i) of one class; (n_label, N_z)."""
    return concepts.memory[concepts.labels == label]


def cluster_radius(concepts: ConceptSet, label: int) -> float:
    """Median Euclidean distance of a class's memory vectors to its concept vector: the cluster's size."""
    distances = distance_over_time(class_memory(concepts, label), concepts.concepts[label])
    return float(distances.median().item())


@dataclass
class ClassMahalanobis:
    """Mahalanobis distances to one class's cloud of memory vectors (Supp. C)."""

    label: int
    trajectory: torch.Tensor   # (T+1, trials): of z(t) of every trial
    members: torch.Tensor      # (n_label,): of the class's own memory vectors, the cluster's scale


def class_mahalanobis(model: VAE, concepts: ConceptSet, images: torch.Tensor, label: int, trials: int, p: float,
                      steps: int, noise: str = "swap", seed: int = 0) -> ClassMahalanobis:
    """Mahalanobis distance over t of the trajectories of `experiments.distance_study` with the same
    arguments (same start images, same noise, so the same z(t)) to the cloud of the class's memory vectors."""
    starts = noisy_starts(images, concepts.labels, label, trials, p, noise, seed)
    z = repeated_inference(model, starts.x0, steps).z
    memory = class_memory(concepts, label)
    return ClassMahalanobis(label=label, trajectory=mahalanobis_over_time(z, memory),
                            members=mahalanobis_over_time(memory.unsqueeze(0), memory)[0])


# --- Fig. 4 ---------------------------------------------------------------------------------------

def stage_sequence(stages: list[str]) -> str:
    """'I I II III III' along p -> 'I-II-III': the distinct stages in the order they occur."""
    return "-".join(s for i, s in enumerate(stages) if i == 0 or s != stages[i - 1])


def stage_onsets(sweep: HierarchySweep) -> dict[str, float | None]:
    """The smallest p of the grid at which each stage occurs (None when it never does)."""
    stages = sweep.stages()
    return {stage: next((p for p, s in zip(sweep.p_grid, stages) if s == stage), None) for stage in STAGE_ORDER}


def unresolved(sweep: HierarchySweep, k_sem: float = 2.0) -> list[bool]:
    """Per p: are the two closest levels within `k_sem` combined standard errors of each other? Then the
    stage at that p is a near tie that the trial count does not resolve."""
    means = torch.stack([sweep.mean(level) for level in LEVELS])          # (3, len(p_grid))
    errors = torch.stack([sweep.sem(level) for level in LEVELS])
    order = means.argsort(dim=0)
    first, second = order[0], order[1]
    columns = torch.arange(means.shape[1])
    gap = means[second, columns] - means[first, columns]
    combined = (errors[first, columns] ** 2 + errors[second, columns] ** 2).sqrt()
    return (gap < k_sem * combined).tolist()


def stages_in_order(sweep: HierarchySweep) -> bool:
    """Whether the stages never step back along the grid (I before II before III; stages may be skipped)."""
    ranks = [STAGE_ORDER.index(s) for s in sweep.stages()]
    return all(a <= b for a, b in zip(ranks, ranks[1:]))


def stage_spans(sweep: HierarchySweep) -> list[dict]:
    """Runs of equal stage along the grid as intervals of p, for shading a plot: each run reaches halfway
    to the neighbouring grid points (half a gap beyond the first and last points)."""
    p, stages = sweep.p_grid, sweep.stages()
    edges = [p[0] - (p[1] - p[0]) / 2] + [(a + b) / 2 for a, b in zip(p, p[1:])] + [p[-1] + (p[-1] - p[-2]) / 2]
    spans = []
    for i, stage in enumerate(stages):
        if spans and spans[-1]["stage"] == stage:
            spans[-1]["p_hi"] = edges[i + 1]
        else:
            spans.append({"stage": stage, "p_lo": edges[i], "p_hi": edges[i + 1]})
    return spans


def argmin_mean(sweep: HierarchySweep, level: str) -> torch.Tensor:
    """Mean over trials of the step at which the distance to `level` is smallest; (len(p_grid),)."""
    return sweep.argmin_step[level].double().mean(dim=1)


def argmin_sem(sweep: HierarchySweep, level: str) -> torch.Tensor:
    """Standard error of that mean; (len(p_grid),)."""
    return sem(sweep.argmin_step[level].double(), dim=1)


def memory_earliest(sweep: HierarchySweep) -> list[bool]:
    """Per p: is the mean argmin step of the memory vector not later than those of both other levels?"""
    memory = argmin_mean(sweep, "memory")
    others = torch.stack([argmin_mean(sweep, level) for level in LEVELS if level != "memory"])
    return (memory <= others.min(dim=0).values).tolist()


def receding(sweep: HierarchySweep, below: float = 1.0) -> list[bool]:
    """Per p: is the mean argmin step of every level below `below` (default one step)? Then the trajectories
    get no closer to any reference vector than they start, and the stage only says which one z(0) is nearest."""
    means = torch.stack([argmin_mean(sweep, level) for level in LEVELS])
    return (means < below).all(dim=0).tolist()


@dataclass
class Trend:
    """How a per-p quantity moves with p: Spearman's rank correlation and the spread of its values."""

    rho: float
    p_value: float
    span: float    # max - min over the grid

    def as_dict(self) -> dict:
        return {"rho": self.rho, "p_value": self.p_value, "span": self.span}


def trend(p_grid, values) -> Trend:
    """Spearman rank correlation of `values` with p and their range (max - min)."""
    values = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values, dtype=float)
    if np.ptp(values) == 0:
        return Trend(rho=0.0, p_value=1.0, span=0.0)
    result = spearmanr(np.asarray(p_grid, dtype=float), values)
    return Trend(rho=float(result.statistic), p_value=float(result.pvalue), span=float(np.ptp(values)))


@dataclass
class Endpoints:
    """Where the trajectories are after T steps, per noise fraction (same trials as `hierarchy_sweep`)."""

    p_grid: list[float]
    label: int
    spread: torch.Tensor        # (len(p_grid),) RMS distance of z_i(T) to the trials' mean z(T)
    last_move: torch.Tensor     # (len(p_grid),) mean ||z(T) - z(T-1)|| over trials: ~0 at a fixed point
    nearest: torch.Tensor       # (len(p_grid), trials) label of the concept vector nearest to z(T)
    centres: torch.Tensor       # (len(p_grid), N_z) mean of z(T) over trials
    class_spread: float         # RMS distance of the class's memory vectors to their concept vector
    n_classes: int = 10

    def relative_spread(self) -> torch.Tensor:
        """spread / class_spread: 0 when all trials end at one point, about 1 for a cloud the size of the class."""
        return self.spread / self.class_spread

    def true_fraction(self) -> torch.Tensor:
        """Fraction of trials whose z(T) is nearest to their own class's concept vector."""
        return (self.nearest == self.label).double().mean(dim=1)

    def majority(self) -> list[int]:
        """Per p, the most frequent nearest-concept label (lowest on ties)."""
        return torch.nn.functional.one_hot(self.nearest, self.n_classes).sum(dim=1).argmax(dim=1).tolist()

    def centre_distances(self) -> torch.Tensor:
        """(len(p_grid), len(p_grid)) distances between the mean end points of different p."""
        return torch.cdist(self.centres.double(), self.centres.double())


def endpoints(model: VAE, concepts: ConceptSet, images: torch.Tensor, label: int, p_grid, trials: int, steps: int,
              noise: str = "swap", seed: int = 0) -> Endpoints:
    """z(T) of the trials that `experiments.hierarchy_sweep` runs with the same arguments (the same
    `seed_for(seed, p)` per p), summarised: their spread, their last step, and the nearest concept vector."""
    spread, last_move, nearest, centres = [], [], [], []
    for p in p_grid:
        starts = noisy_starts(images, concepts.labels, label, trials, p, noise, seed_for(seed, p))
        z = repeated_inference(model, starts.x0, steps).z
        end = z[-1]
        centre = end.mean(dim=0)
        spread.append(distance_over_time(end, centre).pow(2).mean().sqrt())
        last_move.append(distance_over_time(z[-1], z[-2]).mean())
        nearest.append(torch.cdist(end, concepts.concepts).argmin(dim=1))
        centres.append(centre)
    members = class_memory(concepts, label)
    class_spread = float(distance_over_time(members, concepts.concepts[label]).pow(2).mean().sqrt().item())
    return Endpoints(p_grid=[float(p) for p in p_grid], label=label, spread=torch.stack(spread),
                     last_move=torch.stack(last_move), nearest=torch.stack(nearest), centres=torch.stack(centres),
                     class_spread=class_spread, n_classes=concepts.concepts.shape[0])
