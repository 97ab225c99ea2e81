"""The paper's core findings for any model that meets the model protocol (`vaedyn.protocol`).

`core_findings` measures, on one model and one dataset, what chapters 03-06 measure on the paper's
VAE, with the same library calls, seeds and (by default) the same effort as the profile gives those
chapters: the approach to the concept vectors with the discriminating criterion (Fig. 3, both
readings of the noise), the stages I-III along p (Fig. 4, both readings), the classifier's labels
along the trajectories (Fig. 5, both readings), the active units, the principal components for 70 %
and 99 % and the orthogonality ||C - I||_F of the concept vectors (Fig. 7). Its `values` have, page by
page, the shape of that chapter's results file, so `core_claims` judges them with the registry's own
rules, and a verdict on a model of one's own means what it means in the book.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..analysis.concepts import (ConceptSet, active_units, components_for, concept_set, cosine_similarity_matrix,
                                 orthogonality, rms_off_diagonal_cosine)
from ..analysis.pca import cumulative_contribution
from ..book.claims import verdict_rows
from ..book.page import plain
from ..config import ConfigError, Profile, get_profile, resolve_device
from ..data import CLASS_NAMES, load_dataset
from ..progress import progress_file
from ..protocol import as_inference_model
from ..training.classifier import TrainedClassifier
from . import fig3, fig4, fig5
from .budget import BUDGET_LABELS, FIG5_P_GRID, Effort, budget_effort
from .rules import READINGS

CORE_PAGES = ("03_concept_distances", "04_hierarchy_stages", "05_classifier_steps", "06_latent_geometry")
CORE_LABELS = BUDGET_LABELS     # the classes of Figs. 4 and 5: '6' (panels a) and '1' (Fig. 5b), as chapters 04-05


def label_p_grid(profile: Profile) -> tuple[float, ...]:
    """Fig. 5's grid of p as chapter 05 chooses it: the profile's own grid in `smoke`, else 0.0, 0.2, 0.3,
    ..., 0.7, 0.9 (dense around the paper's boundaries at 0.4 and 0.7)."""
    return tuple(profile.p_grid) if profile.name == "smoke" else FIG5_P_GRID


def core_effort(profile: Profile | str, scale: float = 1.0, p_stride: int = 1) -> Effort:
    """The trials and grids of chapters 03-05 in `profile`; with `scale` < 1 or `p_stride` > 1 a smaller
    run (trial counts times `scale`, at least 10, and every `p_stride`-th p of both grids)."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    effort = budget_effort(profile, scale, p_stride)
    return dataclasses.replace(effort, label_p_grid=label_p_grid(profile)[::p_stride])


@dataclass
class CoreFindings:
    """What `core_findings` measured: the plain `values` per chapter page (what `core_claims` judges and
    a results file would hold) and the measurements themselves, for figures."""

    model: nn.Module                  # the model as the analysis saw it (`as_inference_model`)
    dataset: str
    profile: str
    effort: Effort
    concepts: ConceptSet
    fig3: dict[str, fig3.Fig3]                                # reading -> Fig. 3 of every class
    fig4: dict[str, dict[int, fig4.HierarchySweep]]           # reading -> label -> sweep over p
    fig5: dict[str, dict[int, fig5.LabelMap]]                 # reading -> label -> label map ({} without a classifier)
    cumulative: np.ndarray                                    # cumulative contribution ratio of the memory vectors
    similarity: torch.Tensor                                  # C of eq. (10)
    values: dict[str, dict]                                   # page -> that page's results values


def _classifier(classifier, side: int, device: torch.device) -> tuple[nn.Module | None, float | None]:
    """The CNN module and its test accuracy from a `TrainedClassifier`, a bare module or None."""
    if classifier is None:
        return None, None
    model, accuracy = ((classifier.model, classifier.test_accuracy) if isinstance(classifier, TrainedClassifier)
                       else (classifier, None))
    if getattr(model, "side", side) != side:
        raise ConfigError(f"the classifier reads {model.side}x{model.side} images but the dataset's are {side}x{side}; "
                          "train one on this dataset (get_or_train_classifier(profile.classifier_config(dataset)))")
    return model.to(device).eval(), accuracy


def latent_geometry(concepts: ConceptSet) -> dict:
    """Chapter 06's values of one model: active units, components for 70 % and 99 % of the variance of the
    memory vectors, ||C - I||_F and the RMS off-diagonal cosine of the concept vectors (Fig. 7)."""
    active = active_units(concepts.memory)
    cumulative = cumulative_contribution(concepts.memory)
    similarity = cosine_similarity_matrix(concepts.concepts)
    off_diagonal = similarity[~torch.eye(similarity.shape[0], dtype=torch.bool, device=similarity.device)]
    return {"nz": concepts.memory.shape[1], "active_units": int(active.sum()),
            "active_unit_indices": torch.nonzero(active).flatten(),
            "components_70": components_for(cumulative, 0.70), "components_99": components_for(cumulative, 0.99),
            "cumulative_contribution": cumulative, "orthogonality": orthogonality(concepts.concepts),
            "rms_off_diagonal_cosine": rms_off_diagonal_cosine(concepts.concepts),
            "max_abs_off_diagonal_cosine": off_diagonal.abs().max(), "cosine_similarity": similarity}


@torch.no_grad()
def core_findings(model, dataset: str, profile: Profile | str, classifier=None, *, seed: int = 0,
                  device: str | torch.device = "auto", effort: Effort | None = None,
                  progress: bool = True) -> CoreFindings:
    """Figs. 3, 4, 5 and 7 of the paper for `model` on `dataset`'s training set, under both readings of the
    noise, with `effort` (default: the profile's, `core_effort`) and the trial seed `seed`.

    `model` is anything `as_inference_model` accepts (it is moved to `device`); `classifier` labels the
    generated images of Fig. 5: a `TrainedClassifier` (`get_or_train_classifier(profile.classifier_config(
    dataset))`), a bare CNN, or None to leave Fig. 5 unmeasured.
    """
    profile = get_profile(profile) if isinstance(profile, str) else profile
    effort = effort or core_effort(profile)
    device = resolve_device(device)
    train = load_dataset(dataset, "train", device=device)
    model = as_inference_model(model, n_features=train.n_features).to(device)
    cnn, accuracy = _classifier(classifier, train.side, device)
    stages = 1 + len(READINGS) * (3 if cnn is not None else 2)
    bar = tqdm(total=stages, desc=f"core findings ({dataset}, {profile.name})", unit="part", disable=not progress,
               file=progress_file())

    def done(part: str) -> None:
        bar.set_postfix_str(part)
        bar.update(1)

    concepts = concept_set(model, train.x, train.y)
    done("concept vectors")
    common = {"steps": effort.steps, "seed": seed}
    distances, sweeps, maps = {}, {}, {}
    for reading in READINGS:
        distances[reading] = fig3.run(model, concepts, train.x, effort.trials_distance, effort.fig3_p,
                                      noise=reading, **common)
        done(f"Fig. 3 ({reading})")
        sweeps[reading] = fig4.run(model, concepts, train.x, CORE_LABELS, effort.p_grid, effort.trials_stages,
                                   noise=reading, **common)
        done(f"Fig. 4 ({reading})")
        if cnn is not None:
            maps[reading] = fig5.run(model, cnn, train.x, train.y, CORE_LABELS, effort.label_p_grid,
                                     effort.trials_classifier, noise=reading, **common)
            done(f"Fig. 5 ({reading})")
    bar.close()
    geometry = latent_geometry(concepts)
    values = {
        "03_concept_distances": {"p": effort.fig3_p, "trials": effort.trials_distance, "steps": effort.steps,
                                 "class_names": list(CLASS_NAMES[dataset]),
                                 "readings": {r: fig3.summary(result, concepts) for r, result in distances.items()}},
        "04_hierarchy_stages": {"p_grid": list(effort.p_grid), "labels": list(CORE_LABELS),
                                "trials": effort.trials_stages, "steps": effort.steps,
                                "readings": {r: fig4.summary(by_label) for r, by_label in sweeps.items()}},
        "06_latent_geometry": geometry,
    }
    if cnn is not None:
        values["05_classifier_steps"] = {"p_grid": list(effort.label_p_grid), "labels": list(CORE_LABELS),
                                         "trials": effort.trials_classifier, "steps": effort.steps,
                                         "classifier_test_accuracy": accuracy,
                                         "readings": {r: fig5.summary(by_label) for r, by_label in maps.items()}}
    return CoreFindings(model=model, dataset=dataset, profile=profile.name, effort=effort, concepts=concepts,
                        fig3=distances, fig4=sweeps, fig5=maps, cumulative=geometry["cumulative_contribution"],
                        similarity=geometry["cosine_similarity"], values=plain(values))


def core_claims(values: dict[str, dict], dataset: str) -> list[dict]:
    """The verdict-table rows (`book.claims.verdict_rows`) of every registry claim the core pages measure
    for `dataset`, judged from `CoreFindings.values` (or the same read back from JSON); a page missing
    from `values` (Fig. 5 without a classifier) gives its claims as not measured."""
    return [row for page in CORE_PAGES for row in verdict_rows(page, dataset, values.get(page))]
