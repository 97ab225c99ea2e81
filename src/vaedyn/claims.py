"""The claims table: each quantitative claim of the paper, our measured value, and a verdict.

Every verdict follows a rule written here, applied to the results files the chapters write
(`book/results/<dataset>/<notebook>.json`); nothing in the table is typed by hand. The
tolerances are fixed before looking at our numbers and apply to every profile alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

REPRODUCED, PARTLY, NOT, MISSING = "reproduced", "partly", "not reproduced", "not measured"


def within(ours: float | None, paper: float, reproduced: float, partly: float) -> str:
    """Verdict for a number: |ours - paper| <= `reproduced` -> reproduced, <= `partly` -> partly."""
    if ours is None:
        return NOT
    gap = abs(ours - paper) - 1e-9  # grid values such as 0.4 - 0.3 carry float round-off
    return REPRODUCED if gap <= reproduced else PARTLY if gap <= partly else NOT


def share(fraction: float | None, reproduced: float = 0.9, partly: float = 0.5) -> str:
    """Verdict for 'holds for most cases': a fraction of cases (labels, noise levels, trials)."""
    if fraction is None:
        return NOT
    return REPRODUCED if fraction >= reproduced else PARTLY if fraction >= partly else NOT


@dataclass(frozen=True)
class Claim:
    finding: str                 # what the paper says, in our words
    figure: str
    paper: str                   # the paper's value, as it states it
    dataset: str
    notebook: str
    measure: Callable[[dict], float | str | None]    # results values -> our value
    judge: Callable[[object], str]                   # our value -> verdict
    rule: str                    # the verdict rule in words
    unit: str = ""
    source: str = "Nagano et al. 2020"


def _fraction_of_labels(values: dict, key: str, threshold: float = 0.5) -> float:
    """Share of labels for which at least `threshold` of the trajectories meet the criterion
    (`key` holds one fraction per label, as chapter 03 writes it)."""
    per_label = values[key]
    return sum(f >= threshold for f in per_label) / len(per_label)


def _sweep(values: dict, label: str = "6", noise: str = "swap") -> dict:
    """Chapter 04's sweep for one label and noise reading."""
    return values["sweeps"][noise][label]


def _stage_order(values: dict) -> str:
    """The sequence of distinct stages along p for label 6 with swap noise, e.g. 'I-II-III'."""
    from .hierarchy import stage_sequence

    return stage_sequence(_sweep(values)["stages"])


def _recall_fails_at(values: dict) -> float | None:
    """Noise fraction at which stage III (closest to the abstract concept) begins, label 6, swap."""
    for boundary in _sweep(values)["boundaries"]:
        if boundary["to"] == "III":
            return boundary["p"]
    return None


def _memory_earliest(values: dict) -> float:
    """Share of noise levels at which the mean argmin step of the memory distance is the earliest."""
    steps = _sweep(values)["argmin_step_mean"]
    earliest = [m <= c and m <= a for m, c, a in zip(steps["memory"], steps["concept"], steps["abstract"])]
    return sum(earliest) / len(earliest)


def in_range(value: float | None, reproduced: tuple[float, float], partly: tuple[float, float]) -> str:
    """Verdict for a value the paper gives as a range: inside `reproduced` or inside `partly`."""
    if value is None:
        return NOT
    return (REPRODUCED if reproduced[0] <= value <= reproduced[1] else
            PARTLY if partly[0] <= value <= partly[1] else NOT)


def _rises(values: list[float]) -> str:
    """Reproduced when the sequence rises at every step, partly when only last > first."""
    if len(values) < 2:
        return NOT
    if all(b > a for a, b in zip(values, values[1:])):
        return REPRODUCED
    return PARTLY if values[-1] > values[0] else NOT


def _first_p_without_window(values: dict, label: str = "6") -> float | None:
    """Smallest p of chapter 05's grid at which no step's majority label is the true one."""
    for p, window in zip(values["p_grid"], values["recovery_windows"][label]):
        if window is None:
            return p
    return None


def _geodesic_sharper(interval: list[float]) -> str:
    """[mean, low, high] of the paired difference in steepest step, geodesic minus straight line."""
    return REPRODUCED if interval[1] > 0 else PARTLY if interval[0] > 0 else NOT


PESTE, GENTILI, BLOG = "Peşte et al.", "Gentili", "EM-to-SVI tutorial"
CLAIMS: tuple[Claim, ...] = (
    Claim("Noisy '1's branch into two clusters of latent codes near t = 10", "Fig. 2c", "two clusters", "mnist",
          "02_trajectories", lambda v: v["valley_class_branch"],
          lambda c: {"two clusters": REPRODUCED, "undecided": PARTLY}.get(c, NOT),
          "chapter 02's valley-ratio test at the branching step: two clusters reproduced, undecided partly"),
    Claim("At the branch, one cluster decodes to '1's and the other mostly to other digits", "Supp. B",
          "one cluster not '1'", "mnist", "02_trajectories", lambda v: min(v["fraction_label_per_cluster"]),
          lambda f: REPRODUCED if f < 0.5 else PARTLY if f < 0.8 else NOT,
          "smallest share of '1' among the two k-means groups: < 0.5 reproduced, < 0.8 partly", "labelled '1'"),
    Claim("Trajectories from noisy images approach the concept vector of their class once, mid-way",
          "Fig. 3a", "all 10 labels", "mnist", "03_concept_distances",
          lambda v: _fraction_of_labels(v, "approaching_fraction_concept"), share,
          "share of labels where >= 50% of trajectories meet the approaching criterion: "
          ">= 0.9 reproduced, >= 0.5 partly", "of labels"),
    Claim("They pass closest to the memory vector of their own image early on",
          "Fig. 3b", "all 10 labels", "mnist", "03_concept_distances",
          lambda v: _fraction_of_labels(v, "approaching_fraction_memory"), share,
          "as above, for the memory vector", "of labels"),
    Claim("Closest level moves from memory (I) to concept (II) to abstract concept (III) as noise grows",
          "Fig. 4a", "I-II-III", "mnist", "04_hierarchy_stages", _stage_order,
          lambda order: REPRODUCED if order == "I-II-III" else
          PARTLY if order in ("I-II", "II-III", "I-III") else NOT,
          "the stages along p, in order: exactly I-II-III reproduced; two of them in order partly"),
    Claim("Recall fails (stage III begins) near p = 0.4", "Figs. 4a, 5a", "0.4", "mnist", "04_hierarchy_stages",
          _recall_fails_at, lambda p: within(p, 0.4, 0.1, 0.2),
          "|ours - 0.4| <= 0.1 reproduced, <= 0.2 partly", "p"),
    Claim("The memory vector is approached earliest, at every noise level", "Fig. 4b", "every p", "mnist",
          "04_hierarchy_stages", _memory_earliest, lambda f: share(f, 1.0, 0.5),
          "share of p with the earliest mean argmin at the memory vector: 1.0 reproduced, >= 0.5 partly",
          "of p values"),
    Claim("Images from a noisy '6' are classified correctly at every step up to p < 0.4", "Fig. 5a", "0.4",
          "mnist", "05_classifier_steps", lambda v: v["first_p_not_always_correct"]["6"],
          lambda p: within(p, 0.4, 0.1, 0.2),
          "first p at which some step's majority label is wrong: |ours - 0.4| <= 0.1 reproduced, <= 0.2 partly", "p"),
    Claim("A window of steps recovers '6' up to p < 0.7", "Fig. 5a", "0.7", "mnist", "05_classifier_steps",
          _first_p_without_window, lambda p: within(p, 0.7, 0.1, 0.2),
          "first p without any correct step: |ours - 0.7| <= 0.1 reproduced, <= 0.2 partly", "p"),
    Claim("Only 14 of 100 latent units are active", "Fig. 7a", "14", "mnist", "06_latent_geometry",
          lambda v: v["active_units"], lambda n: within(n, 14, 3, 7),
          "|ours - 14| <= 3 reproduced, <= 7 partly", "units"),
    Claim("Nine principal components explain 70% of the latent variance", "Fig. 7b", "9", "mnist",
          "06_latent_geometry", lambda v: v["components_70"], lambda n: within(n, 9, 2, 4),
          "|ours - 9| <= 2 reproduced, <= 4 partly", "components"),
    Claim("Concept vectors grow more orthogonal as the latent size grows", "Fig. 8 (trend)", "decreasing",
          "mnist", "07_latent_dimension", lambda v: v["spearman_nz_orthogonality"],
          lambda rho: REPRODUCED if rho <= -0.8 else PARTLY if rho <= -0.5 else NOT,
          "Spearman correlation of N_z with mean ||C - I||_F: <= -0.8 reproduced, <= -0.5 partly", "(Spearman)"),
    Claim("Orthogonality levels off near zero from N_z of about 10-20", "Fig. 8 (level)", "10-20", "mnist",
          "07_latent_dimension", lambda v: v["levelling_off_nz"],
          lambda n: in_range(n, (10, 20), (5, 50)),
          "levelling-off N_z (latent_size.levelling_off) in [10, 20] reproduced, in [5, 50] partly", "units"),
    Claim("Noisy '6's approach their concept more clearly as N_z grows (2, 20, 100)", "Fig. 8 (right)",
          "rises with N_z", "mnist", "07_latent_dimension", lambda v: v["approaching_fraction"], _rises,
          "share of approaching trajectories rises at each larger N_z: reproduced; only last > first: partly"),
    Claim("Test loss is lowest near N_z = 14", "Fig. 9", "14", "mnist", "08_generalization",
          lambda v: v["optimum_nz_elbo"], lambda n: in_range(n, (10, 20), (5, 50)),
          "N_z of the lowest selected test -ELBO in [10, 20] reproduced, in [5, 50] partly", "units"),
    Claim("Fashion-MNIST trajectories approach their concept vectors too", "Supp. D", "qualitatively as MNIST",
          "fashion_mnist", "03_concept_distances",
          lambda v: _fraction_of_labels(v, "approaching_fraction_concept"), share,
          "as Fig. 3a", "of labels"),
    Claim("Fashion-MNIST shows the three stages", "Supp. D", "qualitatively as MNIST", "fashion_mnist",
          "04_hierarchy_stages", _stage_order,
          lambda order: REPRODUCED if order == "I-II-III" else
          PARTLY if order in ("I-II", "II-III", "I-III") else NOT, "as Fig. 4a"),
    # Beyond the paper: the other documents of the reference folder (chapters 09-10).
    Claim("The KL term grows during training while the loss falls", "Gentili: KL", "rises", "mnist",
          "09_training_dynamics", lambda v: v["kl_rises_fraction"], lambda f: share(f, 1.0, 0.5),
          "share of latent sizes whose test KL is larger after the last epoch than after the first: "
          "1.0 reproduced, >= 0.5 partly", "of latent sizes", source=GENTILI),
    Claim("In a 2-D latent space the digits 4 and 9 lie next to each other", "EM-to-SVI: 2-D map", "adjacent",
          "mnist", "09_training_dynamics", lambda v: v["rank_4_9"],
          lambda r: REPRODUCED if r <= 3 else PARTLY if r <= 10 else NOT,
          "rank of the 4-9 pair among the 45 class pairs by distance between class means: <= 3 reproduced, "
          "<= 10 partly", "of 45 pairs", source=BLOG),
    Claim("A VAE with a 2-D latent space reaches a test loss of about 148 nats", "EM-to-SVI: 2-D loss", "148",
          "mnist", "09_training_dynamics", lambda v: v["two_d_test_negative_elbo"], lambda n: within(n, 148, 5, 15),
          "|ours - 148| <= 5 reproduced, <= 15 partly (their model is convolutional)", "nats", source=BLOG),
    Claim("The number of informative latent components stops growing with the latent size",
          "Peşte: Fig. 2 (left)", "saturates", "mnist", "10_latent_representations",
          lambda v: v["informative_growth_last"], lambda g: REPRODUCED if g <= 0.1 else PARTLY if g <= 0.25 else NOT,
          "relative growth of the mean count (eigenvalue > 0.01) between the two largest N_z of the Fig. 8 grid: "
          "<= 0.1 reproduced, <= 0.25 partly", "(relative growth)", source=PESTE),
    Claim("The principal directions of the posterior means align with the latent axes", "Peşte: Sec. 2.1",
          "aligned", "mnist", "10_latent_representations", lambda v: v["axis_alignment"],
          lambda a: REPRODUCED if a >= 0.9 else PARTLY if a >= 0.7 else NOT,
          "mean largest |entry| of the informative eigenvectors (1 = along an axis) of the largest plain study "
          "model: >= 0.9 reproduced, >= 0.7 partly", source=PESTE),
    Claim("As alpha falls to 0 the Renyi bound comes closer to the log-likelihood", "Peşte: Fig. 2 (right)",
          "gap shrinks", "mnist", "10_latent_representations", lambda v: v["gap_shrinks_fraction"],
          lambda f: share(f, 1.0, 0.5),
          "share of latent sizes where (IW estimate - Renyi bound) is smaller at the smallest alpha than at "
          "alpha = 1: 1.0 reproduced, >= 0.5 partly", "of latent sizes", source=PESTE),
    Claim("A linear probe on the posterior means reaches 93-94 % test accuracy", "Peşte: Fig. 3 (left)",
          "0.93-0.94", "mnist", "10_latent_representations", lambda v: v["best_probe_mean"],
          lambda a: in_range(a, (0.92, 0.95), (0.88, 0.99)),
          "best accuracy over latent sizes after the last epoch in [0.92, 0.95] reproduced, in [0.88, 0.99] partly",
          source=PESTE),
    Claim("Adding the posterior variances to the means improves the probe", "Peşte: Fig. 3 (centre)",
          "improves", "mnist", "10_latent_representations", lambda v: v["variance_helps_fraction"],
          lambda f: share(f, 1.0, 0.5),
          "share of latent sizes where mean+variance beats mean after the last epoch: 1.0 reproduced, "
          ">= 0.5 partly", "of latent sizes", source=PESTE),
    Claim("The variance grows along the Fisher-Rao geodesic between two posteriors", "Peşte: Fig. 4",
          "grows", "mnist", "10_latent_representations", lambda v: v["variance_bulge_fraction"],
          lambda f: share(f, 0.9, 0.5),
          "share of image pairs whose mean sigma along the geodesic rises above both ends: >= 0.9 reproduced, "
          ">= 0.5 partly", "of pairs", source=PESTE),
    Claim("Decoding along the geodesic gives a slightly sharper transition than along the straight line",
          "Peşte: Fig. 5", "sharper", "mnist", "10_latent_representations",
          lambda v: v["sharpness_difference"], _geodesic_sharper,
          "paired difference of the largest one-step rise in the classifier's probability of the end class "
          "(geodesic minus straight line between means), mean [95 % interval]: interval above 0 reproduced, "
          "mean above 0 partly", source=PESTE),
)


def claims_table(results: list[dict]) -> list[dict]:
    """One row per claim: finding, figure, the paper's value, ours (with profile), verdict, rule."""
    by_page = {(r["dataset"], r["notebook"]): r for r in results}
    rows = []
    for claim in CLAIMS:
        record = by_page.get((claim.dataset, claim.notebook))
        if record is None:
            ours, verdict, profile = None, MISSING, "-"
        else:
            try:
                ours = claim.measure(record["values"])
                verdict = claim.judge(ours)
            except (KeyError, TypeError, ZeroDivisionError) as error:
                ours, verdict = None, f"{MISSING} ({type(error).__name__}: {error})"
            profile = record["profile"]
        rows.append({"source": claim.source, "figure": claim.figure, "finding": claim.finding,
                     "dataset": claim.dataset, "reported": claim.paper, "ours": _format(ours, claim.unit), "profile": profile,
                     "verdict": verdict, "rule": claim.rule})
    return rows


def verdicts_for(dataset: str, notebook: str, values: dict) -> dict[str, str]:
    """Verdicts of the claims one page measures, keyed by figure, so a page states the same verdict
    as the claims table (without waiting for the table to be built)."""
    page = [c for c in CLAIMS if c.dataset == dataset and c.notebook == notebook]
    return {c.figure: c.judge(c.measure(values)) for c in page}


def _format(value, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.2f}"
    elif isinstance(value, list):
        text = ", ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in value)
    else:
        text = str(value)
    return f"{text} {unit}".strip() if unit not in ("p",) else f"p = {text}"
