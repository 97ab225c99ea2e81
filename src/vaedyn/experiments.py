"""The measurements behind Figs. 3-5, composed from the equations in `concepts` and `dynamics`.

Each function runs many noisy trials as one batch and returns plain tensors (means, standard
errors, per-trial values), so a notebook only plots. Trials start from distinct training
images of one label, each with its own noise realisation (Methods).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .concepts import ConceptSet
from .dynamics import distance_over_time, is_approaching, min_over_time
from .inference import noisy_starts, repeated_inference
from .model import VAE

LEVELS = ("memory", "concept", "abstract")   # the hierarchy of Fig. 4, fine to coarse
STAGES = {"memory": "I", "concept": "II", "abstract": "III"}


def seed_for(seed: int, p: float) -> int:
    """Seed of the trials at noise fraction p: a function of p itself, not of its place in a grid,
    so the same p gets the same images and noise whatever grid it belongs to."""
    return seed * 1_000_003 + round(float(p) * 1_000_000)


def sem(values: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Standard error of the mean along `dim` (sample standard deviation / sqrt(n))."""
    return values.std(dim=dim) / values.shape[dim] ** 0.5


@dataclass
class DistanceStudy:
    """Distances of one label's trajectories to its concept and to each trial's memory vector."""

    label: int
    to_concept: torch.Tensor      # (T+1, trials), eq. (7) with xi = xi_bar_label
    to_memory: torch.Tensor       # (T+1, trials), eq. (7) with xi = xi^(i) of the trial's clean image
    approaching_concept: torch.Tensor   # (trials,) bool
    approaching_memory: torch.Tensor    # (trials,) bool


def distance_study(model: VAE, concepts: ConceptSet, images: torch.Tensor, label: int, trials: int, p: float,
                   steps: int, noise: str = "swap", seed: int = 0) -> DistanceStudy:
    """Fig. 3 for one label: distances over t to the concept and to the memory vector."""
    starts = noisy_starts(images, concepts.labels, label, trials, p, noise, seed)
    z = repeated_inference(model, starts.x0, steps).z
    to_concept = distance_over_time(z, concepts.concepts[label])
    to_memory = distance_over_time(z, concepts.memory[starts.indices])
    return DistanceStudy(label=label, to_concept=to_concept, to_memory=to_memory,
                         approaching_concept=is_approaching(to_concept), approaching_memory=is_approaching(to_memory))


@dataclass
class HierarchySweep:
    """Fig. 4: per noise fraction p, min over t of the distance to each level, and when it occurs."""

    p_grid: list[float]
    min_distance: dict[str, torch.Tensor]   # level -> (len(p_grid), trials), eq. (9)
    argmin_step: dict[str, torch.Tensor]    # level -> (len(p_grid), trials)

    def mean(self, level: str) -> torch.Tensor:
        return self.min_distance[level].mean(dim=1)

    def sem(self, level: str) -> torch.Tensor:
        return sem(self.min_distance[level], dim=1)

    def closest_level(self) -> list[str]:
        """Per p, the level whose mean minimum distance is smallest."""
        means = torch.stack([self.mean(level) for level in LEVELS])
        return [LEVELS[i] for i in means.argmin(dim=0).tolist()]

    def stages(self) -> list[str]:
        """Per p, stage I, II or III: closest to the memory, concept or abstract-concept vector."""
        return [STAGES[level] for level in self.closest_level()]

    def stage_boundaries(self) -> list[dict]:
        """Each change of stage along the grid: the stages on both sides and the p between them."""
        stages = self.stages()
        return [{"from": a, "to": b, "p_below": self.p_grid[i], "p_above": self.p_grid[i + 1],
                 "p": (self.p_grid[i] + self.p_grid[i + 1]) / 2}
                for i, (a, b) in enumerate(zip(stages, stages[1:])) if a != b]


def hierarchy_sweep(model: VAE, concepts: ConceptSet, images: torch.Tensor, label: int, p_grid, trials: int,
                    steps: int, noise: str = "swap", seed: int = 0) -> HierarchySweep:
    """Fig. 4a/4b: min_t ||z(t) - xi|| (eq. 9) for xi = memory, concept and abstract concept, over p."""
    minima = {level: [] for level in LEVELS}
    steps_at = {level: [] for level in LEVELS}
    for p in p_grid:
        starts = noisy_starts(images, concepts.labels, label, trials, p, noise, seed_for(seed, p))
        z = repeated_inference(model, starts.x0, steps).z
        targets = {"memory": concepts.memory[starts.indices], "concept": concepts.concepts[label],
                   "abstract": concepts.abstract}
        for level, target in targets.items():
            minimum, step = min_over_time(distance_over_time(z, target))
            minima[level].append(minimum)
            steps_at[level].append(step)
    return HierarchySweep(p_grid=[float(p) for p in p_grid],
                          min_distance={k: torch.stack(v) for k, v in minima.items()},
                          argmin_step={k: torch.stack(v) for k, v in steps_at.items()})


@dataclass
class LabelMap:
    """Fig. 5: classifier labels of the generated images x(t) over (p, t)."""

    p_grid: list[float]
    label: int
    predicted: torch.Tensor       # (len(p_grid), T+1, trials) class of x(t)
    n_classes: int = 10

    def counts(self) -> torch.Tensor:
        """(len(p_grid), T+1, n_classes) how many trials were given each class."""
        return torch.nn.functional.one_hot(self.predicted, self.n_classes).sum(dim=2)

    def majority(self) -> torch.Tensor:
        """(len(p_grid), T+1) the most frequent predicted class (lowest class on ties)."""
        return self.counts().argmax(dim=-1)

    def correct_fraction(self) -> torch.Tensor:
        return (self.predicted == self.label).float().mean(dim=-1)

    def recovery_window(self, p_index: int) -> tuple[int, int] | None:
        """First and last step t >= 1 at which the majority label is the true one, for one p."""
        hits = torch.nonzero(self.majority()[p_index, 1:] == self.label).flatten()
        return None if hits.numel() == 0 else (hits[0].item() + 1, hits[-1].item() + 1)


def label_map(model: VAE, classifier: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, label: int,
              p_grid, trials: int, steps: int, noise: str = "swap", seed: int = 0) -> LabelMap:
    """Classify x(t) of every trial at every step for each noise fraction (Fig. 5)."""
    from .classifier import predict_labels

    predicted = []
    for p in p_grid:
        starts = noisy_starts(images, labels, label, trials, p, noise, seed_for(seed, p))
        x = repeated_inference(model, starts.x0, steps, record_x=True).x
        predicted.append(predict_labels(classifier, x))
    return LabelMap(p_grid=[float(p) for p in p_grid], label=label, predicted=torch.stack(predicted))
