"""What the latent-size chapters measure on each trained member of a sweep (Figs. 8-9, Supp. E-F).

Fig. 8: orthogonality ||C - I||_F of the concept vectors (eq. 10) per N_z, mean and SD over
seeds, and where it levels off. Supp. F: which label's concept a noisy trajectory is drawn
to. Fig. 9: the (learning rate, batch size) chosen per N_z by test loss at the last epoch,
and an importance-weighted log-likelihood beside the ELBO.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..analysis.concepts import ConceptSet, active_units, concept_set, cosine_similarity_matrix, orthogonality
from ..config import TrainConfig
from ..analysis.distances import min_over_time
from ..analysis.trials import run_trials
from ..model import VAE
from ..objective import importance_weighted_log_likelihood
from .rules import NOT, PARTLY, REPRODUCED, Claim, in_range


@dataclass
class MemberGeometry:
    config: TrainConfig
    orthogonality: float          # ||C - I||_F
    similarity: np.ndarray        # C, (n_classes, n_classes)
    active_units: int
    concepts: ConceptSet


def member_geometry(model: VAE, x: torch.Tensor, labels: torch.Tensor, config: TrainConfig) -> MemberGeometry:
    """Concept vectors (eqs. 5-8) of one member over a labelled set, their C (eq. 10) and active units."""
    concepts = concept_set(model, x, labels)
    return MemberGeometry(config=config, orthogonality=orthogonality(concepts.concepts),
                          similarity=cosine_similarity_matrix(concepts.concepts).cpu().numpy(),
                          active_units=int(active_units(concepts.memory).sum()), concepts=concepts)


def by_latent_size(values: dict[int, list[float]]) -> dict[str, np.ndarray]:
    """Mean, sample SD (0 for a single value) and count per N_z, in increasing N_z."""
    sizes = sorted(values)
    return {"nz": np.array(sizes),
            "mean": np.array([np.mean(values[n]) for n in sizes]),
            "sd": np.array([np.std(values[n], ddof=1) if len(values[n]) > 1 else 0.0 for n in sizes]),
            "n": np.array([len(values[n]) for n in sizes])}


def levelling_off(nz: np.ndarray, mean: np.ndarray, tolerance: float = 0.1) -> int | None:
    """The smallest N_z from which the curve stays within `tolerance` of its total drop above its
    minimum: every later mean <= min + tolerance * (max - min). Our rule for "levels off". None when
    no N_z qualifies (the curve rises again at the largest N_z): then it does not level off."""
    nz, mean = np.asarray(nz), np.asarray(mean, dtype=float)
    limit = mean.min() + tolerance * (mean.max() - mean.min())
    return next((int(nz[i]) for i in range(len(nz)) if (mean[i:] <= limit).all()), None)


def attraction_counts(model: VAE, concepts: ConceptSet, images: torch.Tensor, trials: int, p: float,
                      steps: int, noise: str = "swap", seed: int = 0) -> torch.Tensor:
    """Supp. F: (n_classes, n_classes) counts; row = label of the start image, column = the label
    whose concept vector the trajectory comes closest to over t = 1..T (min over t of eq. 7)."""
    n_classes = concepts.concepts.shape[0]
    counts = torch.zeros(n_classes, n_classes, dtype=torch.long)
    for label in range(n_classes):
        z = run_trials(model, images, concepts.labels, label, trials, p, steps, noise, seed).z[1:]   # (T, trials, N_z)
        distances = torch.cdist(z, concepts.concepts.expand(z.shape[0], -1, -1))  # (T, trials, classes)
        closest = min_over_time(distances)[0].argmin(dim=-1)                    # (trials,)
        counts[label] = torch.bincount(closest.cpu(), minlength=n_classes)
    return counts


def final_test_loss(history: list[dict]) -> float:
    """Test negative ELBO (nats) at the last epoch: Fig. 9's selection criterion."""
    return history[-1]["test_negative_elbo"]


def select_hyperparameters(results: dict[TrainConfig, float]) -> dict[int, TrainConfig]:
    """Per N_z, the config with the lowest score (test -ELBO at the last epoch); non-finite scores
    (diverged runs) never win. N_z without any finite score are left out."""
    best: dict[int, TrainConfig] = {}
    for config, score in results.items():
        if not np.isfinite(score):
            continue
        if config.nz not in best or score < results[best[config.nz]]:
            best[config.nz] = config
    return dict(sorted(best.items()))


def importance_weighted_test_nll(model: VAE, x: torch.Tensor, n_importance: int, seed: int = 0) -> float:
    """Mean over x of -log p(x) estimated with n_importance samples (nats); comparable to -ELBO."""
    generator = torch.Generator(device=x.device).manual_seed(seed)
    return -importance_weighted_log_likelihood(model, x, n_importance, generator).mean().item()


# --- claims ----------------------------------------------------------------------------------------

def _rises(values: list[float]) -> str:
    """Reproduced when the sequence rises at every step, partly when only last > first."""
    if len(values) < 2:
        return NOT
    if all(b > a for a, b in zip(values, values[1:])):
        return REPRODUCED
    return PARTLY if values[-1] > values[0] else NOT


CLAIMS: tuple[Claim, ...] = (
    Claim("fig8.orthogonality_trend", "Fig. 8 (trend)", "Concept vectors grow more orthogonal as the latent size "
          "grows", "decreasing", "07_latent_dimension", lambda v: v["spearman_nz_orthogonality"],
          lambda rho: REPRODUCED if rho <= -0.8 else PARTLY if rho <= -0.5 else NOT,
          "Spearman correlation of N_z with mean ||C - I||_F: <= -0.8 reproduced, <= -0.5 partly",
          noise_dependent=False, main_model=False, unit="(Spearman)"),
    Claim("fig8.levels_off_10_20", "Fig. 8 (level)", "Orthogonality levels off near zero from N_z of about 10-20",
          "10-20", "07_latent_dimension", lambda v: v["levelling_off_nz"], lambda n: in_range(n, (10, 20), (5, 50)),
          "levelling-off N_z (latent_size.levelling_off; none when no N_z qualifies) in [10, 20] reproduced, "
          "in [5, 50] partly, none or outside not reproduced",
          fixed=("rule unchanged; since issue 10 `levelling_off` returns none instead of the largest N_z when no "
                 "N_z qualifies, a fallback that had made a curve rising at N_z = 100 'level off' at 100"),
          noise_dependent=False, main_model=False, unit="units"),
    Claim("fig8right.approach_grows_with_nz", "Fig. 8 (right)", "Noisy '6's approach their concept more clearly as "
          "N_z grows (2, 20, 100)", "rises with N_z", "07_latent_dimension", lambda v: v["approaching_fraction"],
          _rises, "share of approaching trajectories rises at each larger N_z: reproduced; only last > first: partly",
          main_model=False),
    Claim("fig9.optimum_nz_14", "Fig. 9", "Test loss is lowest near N_z = 14", "14", "08_generalization",
          lambda v: v["optimum_nz_elbo"], lambda n: in_range(n, (10, 20), (5, 50)),
          "N_z of the lowest selected test -ELBO in [10, 20] reproduced, in [5, 50] partly",
          noise_dependent=False, main_model=False, unit="units"),
)
