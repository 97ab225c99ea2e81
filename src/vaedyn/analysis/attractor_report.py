"""What the attractors of the mean map are, which noisy starts reach them, and whether the training images
are themselves fixed points.

For each attractor (`attractors.group_end_points`): the spectral radius of the Jacobian, the decoded image,
the classifier's label, the nearest concept vector (eq. 5), memory vector (eq. 6) and the distance to the
abstract concept (eq. 8), and its kind by one rule (`attractor_kind`); the basins of noisy training images
of every class as a function of the noise fraction p (`basins`); and the test of Radhakrishnan, Belkin &
Uhler (PNAS 2020) on the training images (`fixed_images`). `study_attractors` runs all of it for one model.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ..config import NOISE_MODES, ConfigError, _check_choice, _check_positive_int, check_probability
from .attractors import (DEFAULT_MAX_PERIOD, DEFAULT_MAX_STEPS, DEFAULT_RELATIVE_TOL, Attractors, Settling,
                         check_tolerance, evaluating, group_end_points, latent_scale, settle, spectral_radius)
from .concepts import ConceptSet, concept_set, memory_vectors
from .inference import generation_step, noisy_starts, recognition_step
from .trials import trial_seed

KINDS = ("memory", "concept", "abstract", "neither")
MEMORY_FRACTION = 0.1    # "at" a memory vector: within this fraction of their spacing (see `attractor_kind`)
CONCEPT_FRACTION = 0.5   # near a concept or the abstract concept: within this fraction of the concepts' spacing
SPACING_SAMPLE = 500     # memory vectors whose nearest-neighbour distance estimates the spacing (a median)
PIXEL_RMS_TOL = 0.01     # an image is fixed when decoder(mu(x)) is within 1% of the intensity range, RMS per pixel
CHUNK = 10_000           # rows per batch over a training set


def nearest(points: torch.Tensor, references: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The k rows of `references` nearest to each point (Euclidean, in float64), nearest first:
    distances and indices, each (n, k). References are read in chunks, so 60 000 of them fit in memory."""
    best = torch.empty(points.shape[0], 0, dtype=torch.float64, device=points.device)
    where = torch.empty(points.shape[0], 0, dtype=torch.long, device=points.device)
    for start in range(0, references.shape[0], CHUNK):
        block = references[start:start + CHUNK]
        best = torch.cat([best, torch.cdist(points.double(), block.double())], dim=1)
        where = torch.cat([where, torch.arange(start, start + block.shape[0], device=points.device)
                           .expand(points.shape[0], -1)], dim=1)
        best, order = best.topk(min(k, best.shape[1]), dim=1, largest=False)
        where = where.gather(1, order)
    return best, where


@dataclass(frozen=True)
class KindRadii:
    """How near an attractor must be to a level of the hierarchy to be of its kind, in latent units."""

    memory: float    # MEMORY_FRACTION x the median distance from a memory vector to its nearest other one
    concept: float   # CONCEPT_FRACTION x the smallest distance between two concept vectors


def kind_radii(concepts: ConceptSet, seed: int = 0) -> KindRadii:
    """The radii of `attractor_kind` for one model's reference vectors; the memory spacing is the median over
    SPACING_SAMPLE memory vectors drawn with `seed` (the second-nearest reference: the nearest is the vector itself)."""
    memory = concepts.memory
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randperm(memory.shape[0], generator=generator)[:SPACING_SAMPLE].to(memory.device)
    spacing = nearest(memory[sample], memory, k=2)[0][:, -1].median().item()
    between = torch.pdist(concepts.concepts.double()).min().item()
    return KindRadii(memory=MEMORY_FRACTION * spacing, concept=CONCEPT_FRACTION * between)


def attractor_kind(memory_distance: torch.Tensor, concept_distance: torch.Tensor, abstract_distance: torch.Tensor,
                   radii: KindRadii) -> list[str]:
    """"memory", "concept", "abstract" or "neither" for each attractor, by one rule.

    The kind is the level of the hierarchy whose nearest vector is nearest to the attractor, provided that
    distance is below the level's radius (`kind_radii`); "neither" otherwise. The radii:
    - memory: MEMORY_FRACTION (1/10) of the median nearest-neighbour spacing of the memory vectors. Among
      codes scattered at random (Poisson) in n dimensions with that median spacing, a point lies within
      f x spacing of one of them with probability 1 - exp(-ln 2 f^n): 0.7% for f = 1/10 at n = 2 (16% for
      f = 1/2), less in more dimensions; so a memory attractor sits at one image's code, not merely among
      dense codes;
    - concept and abstract concept: CONCEPT_FRACTION (1/2) of the smallest distance between two concept
      vectors, so that a near concept vector is unambiguous.
    """
    distances = torch.stack([memory_distance, concept_distance, abstract_distance], dim=1).double().cpu()
    radius = torch.tensor([radii.memory, radii.concept, radii.concept], dtype=torch.float64)
    level = distances.argmin(dim=1)
    near = distances.gather(1, level[:, None]).squeeze(1) < radius[level]
    return [KINDS[k] if is_near else "neither" for k, is_near in zip(level.tolist(), near.tolist())]


@dataclass
class AttractorTable:
    """What each attractor is; row a describes attractor a of an `Attractors`."""

    radius: torch.Tensor             # (A,) spectral radius of the Jacobian of F^period at the point
    image: torch.Tensor              # (A, D) decoder(point)
    predicted: torch.Tensor | None   # (A,) the classifier's label of the image; None without a classifier
    concept_distance: torch.Tensor   # (A,) to the nearest concept vector ...
    concept_class: torch.Tensor      # (A,) ... of this class
    abstract_distance: torch.Tensor  # (A,) to the abstract concept
    memory_distance: torch.Tensor    # (A,) to the nearest memory vector ...
    memory_index: torch.Tensor       # (A,) ... of this training image ...
    memory_class: torch.Tensor       # (A,) ... of this class
    kind: list[str]
    radii: KindRadii

    @property
    def stable(self) -> torch.Tensor:
        return self.radius < 1


@torch.no_grad()
def describe_attractors(model, attractors: Attractors, concepts: ConceptSet, classifier=None,
                        radii: KindRadii | None = None) -> AttractorTable:
    """Spectral radius, decoded image, classifier label, nearest reference vectors and kind of every attractor."""
    from ..training.classifier import predict_labels

    radii = kind_radii(concepts) if radii is None else radii
    points = attractors.points
    radius = spectral_radius(model, points, attractors.period)   # torch.func differentiates under no_grad
    with evaluating(model):
        image = generation_step(model, points)
    concept_distance, concept_class = (v[:, 0] for v in nearest(points, concepts.concepts))
    memory_distance, memory_index = (v[:, 0] for v in nearest(points, concepts.memory))
    abstract_distance = torch.linalg.vector_norm(points.double() - concepts.abstract.double(), dim=-1)
    predicted = None if classifier is None else predict_labels(classifier, image)
    return AttractorTable(radius=radius, image=image, predicted=predicted, concept_distance=concept_distance,
                          concept_class=concept_class, abstract_distance=abstract_distance,
                          memory_distance=memory_distance, memory_index=memory_index,
                          memory_class=concepts.labels[memory_index],
                          kind=attractor_kind(memory_distance, concept_distance, abstract_distance, radii), radii=radii)


@dataclass
class Basins:
    """Which attractor the noisy training images of each class reach, per noise fraction. Trials are ordered
    by p, then class, then trial; attractors are those of `attractors`."""

    p_grid: list[float]
    noise: str
    trials_per_class: int
    counts: torch.Tensor       # (len(p_grid), n_classes, A + 1) trials of start class c ending at attractor a;
    #                            the last column counts the trials that did not settle
    start_p: torch.Tensor      # (trials,) index into p_grid
    start_class: torch.Tensor  # (trials,)
    settling: Settling
    attractors: Attractors

    def shares(self) -> torch.Tensor:
        """counts as shares of each class's trials."""
        return self.counts.double() / self.trials_per_class


def check_basin_run(p_grid, trials_per_class: int, noise: str, max_steps: int, max_period: int) -> list[float]:
    """Validate a basin run's settings before anything is computed; returns p_grid as floats."""
    p_grid = [check_probability("p", p) for p in p_grid]
    if not p_grid:
        raise ConfigError("p_grid=[] is not allowed; give at least one noise fraction")
    _check_positive_int("trials_per_class", trials_per_class)
    _check_choice("noise", noise, NOISE_MODES)
    _check_positive_int("max_steps", max_steps)
    _check_positive_int("max_period", max_period)
    return p_grid


def basins(model, images: torch.Tensor, labels: torch.Tensor, p_grid, trials_per_class: int, tol: float,
           noise: str = "swap", seed: int = 0, n_classes: int = 10, max_steps: int = DEFAULT_MAX_STEPS,
           max_period: int = DEFAULT_MAX_PERIOD) -> Basins:
    """Start `trials_per_class` noisy training images of every class at every p (the trials of
    `trials.run_trials`: same images and noise for the same seed, class and p), settle all of them in one
    batch from z(0) = mu(x(0)) and group every end point of every p together, so that attractor a is the same
    point at every p."""
    p_grid = check_basin_run(p_grid, trials_per_class, noise, max_steps, max_period)
    tol = check_tolerance("tol", tol)
    starts = [noisy_starts(images, labels, c, trials_per_class, p, noise, trial_seed(seed, c, p)).x0
              for p in p_grid for c in range(n_classes)]
    settling = settle(model, memory_vectors(model, torch.cat(starts)), tol, max_steps, max_period)
    attractors = group_end_points(settling)
    group = torch.arange(len(p_grid) * n_classes).repeat_interleave(trials_per_class)
    start_p, start_class = group // n_classes, group % n_classes
    column = attractors.member_of.cpu().clone()
    column[column < 0] = attractors.count
    width = attractors.count + 1
    counts = torch.bincount(group * width + column, minlength=len(p_grid) * n_classes * width)
    return Basins(p_grid=p_grid, noise=noise, trials_per_class=trials_per_class,
                  counts=counts.reshape(len(p_grid), n_classes, width), start_p=start_p, start_class=start_class,
                  settling=settling, attractors=attractors)


@dataclass
class FixedImages:
    """Radhakrishnan, Belkin & Uhler's test on a set of training images; rows are images."""

    latent_residual: torch.Tensor   # ||F(mu(x)) - mu(x)||
    pixel_residual: torch.Tensor    # RMS over pixels of decoder(mu(x)) - x
    radius: torch.Tensor            # spectral radius of J_F at mu(x) where the code is fixed; NaN elsewhere
    latent_tol: float
    pixel_tol: float

    @property
    def latent_share(self) -> float:
        return (self.latent_residual < self.latent_tol).double().mean().item()

    @property
    def pixel_share(self) -> float:
        return (self.pixel_residual < self.pixel_tol).double().mean().item()

    @property
    def attractor_share(self) -> float:
        """Share of images whose code is a fixed point of F with spectral radius < 1: a stored attractor."""
        return (self.radius < 1).double().mean().item()


def fixed_images(model, images: torch.Tensor, tol: float, pixel_tol: float = PIXEL_RMS_TOL) -> FixedImages:
    """Which training images are fixed points of the autoencoder, in pixel and in latent space.

    Radhakrishnan et al. iterate their autoencoder f in pixel space and call a training image x stored when
    f(x) = x and the Jacobian of f at x has spectral radius < 1. Our f is G(x) = decoder(mu(x)); the pixel test
    is theirs, with `pixel_tol` on the RMS per pixel (a Bernoulli decoder's means never equal a binary image
    exactly). Since F(mu(x)) = mu(G(x)), a fixed image has a fixed code; the converse is weaker: a fixed code
    means that the reconstruction G(x), not x itself, is a fixed image. The latent test uses `tol`, absolute
    on the Euclidean norm. At a fixed point the Jacobians of G (D x D) and of F (N_z x N_z) are products of
    the same two factors in both orders, J_dec J_mu and J_mu J_dec, so they share their non-zero eigenvalues;
    the spectral radius is taken on the small one, at the codes that pass the latent test only.
    """
    tol, pixel_tol = check_tolerance("tol", tol), check_tolerance("pixel_tol", pixel_tol)
    latent, pixel = [], []
    with torch.no_grad(), evaluating(model):
        for start in range(0, images.shape[0], CHUNK):
            x = images[start:start + CHUNK]
            code = recognition_step(model, x)
            reconstruction = generation_step(model, code)
            latent.append(torch.linalg.vector_norm(recognition_step(model, reconstruction) - code, dim=-1))
            pixel.append((reconstruction - x).pow(2).mean(dim=-1).sqrt())
    latent_residual, pixel_residual = torch.cat(latent), torch.cat(pixel)
    radius = torch.full(latent_residual.shape, float("nan"), dtype=torch.float64)
    fixed = (latent_residual < tol).cpu()
    if fixed.any():
        radius[fixed] = spectral_radius(model, memory_vectors(model, images[fixed.to(images.device)]))
    return FixedImages(latent_residual=latent_residual, pixel_residual=pixel_residual, radius=radius,
                       latent_tol=tol, pixel_tol=pixel_tol)


@dataclass
class AttractorSummary:
    """One model's attractors in plain numbers, for a chapter to glue."""

    attractors: int
    fixed_points: int
    cycles: int
    stable: int                       # spectral radius < 1
    kinds: dict[str, int]             # attractors of each kind (KINDS)
    sizes: list[int]                  # trials ending at each attractor, largest first
    radii: list[float]                # spectral radius of each attractor
    outcome_shares: dict[str, float]  # share of trials ending at a fixed point, on a cycle, or neither
    latent_fixed_share: float         # training images whose code is a fixed point of F (`fixed_images`)
    pixel_fixed_share: float          # training images that are fixed points of decoder(mu(x))
    attractor_share: float            # training images whose code is a fixed point with spectral radius < 1
    tol: float                        # absolute tolerance used, latent units
    scale: float                      # the latent scale it is relative to (`attractors.latent_scale`)
    stable_end_share: float           # trials that end at an attractor with spectral radius < 1
    end_kind_shares: dict[str, float]  # trials by the kind of the attractor they end at (KINDS)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class AttractorStudy:
    basins: Basins
    table: AttractorTable
    fixed_images: FixedImages
    summary: AttractorSummary


def summarize(basins: Basins, table: AttractorTable, fixed: FixedImages, scale: float) -> AttractorSummary:
    period = basins.attractors.period
    sizes, trials = basins.attractors.size.double().cpu(), basins.start_class.numel()
    return AttractorSummary(
        attractors=basins.attractors.count, fixed_points=int((period == 1).sum()), cycles=int((period >= 2).sum()),
        stable=int(table.stable.sum()), kinds={kind: table.kind.count(kind) for kind in KINDS},
        sizes=basins.attractors.size.tolist(), radii=table.radius.tolist(),
        outcome_shares=basins.settling.outcome_shares(), latent_fixed_share=fixed.latent_share,
        pixel_fixed_share=fixed.pixel_share, attractor_share=fixed.attractor_share, tol=basins.settling.tol,
        scale=scale, stable_end_share=(sizes[table.stable.cpu()].sum() / trials).item(),
        end_kind_shares={kind: sum(size for size, k in zip(sizes.tolist(), table.kind) if k == kind) / trials
                         for kind in KINDS})


def study_attractors(model, images: torch.Tensor, labels: torch.Tensor, p_grid, trials_per_class: int,
                     noise: str = "swap", seed: int = 0, classifier=None, concepts: ConceptSet | None = None,
                     relative_tol: float = DEFAULT_RELATIVE_TOL, max_steps: int = DEFAULT_MAX_STEPS,
                     max_period: int = DEFAULT_MAX_PERIOD, fixed_image_limit: int | None = None) -> AttractorStudy:
    """The attractors of one model, found from noisy training images (`basins`), described against its
    reference vectors over `images` (the training set; `concepts` when already computed), and the fixed-image
    test on the first `fixed_image_limit` images (all when None). The tolerance is relative_tol x the latent
    scale of the training set's memory vectors."""
    p_grid = check_basin_run(p_grid, trials_per_class, noise, max_steps, max_period)
    relative_tol = check_tolerance("relative_tol", relative_tol)
    if fixed_image_limit is not None:
        _check_positive_int("fixed_image_limit", fixed_image_limit)
    concepts = concept_set(model, images, labels) if concepts is None else concepts
    scale = latent_scale(concepts.memory)
    tol = relative_tol * scale
    found = basins(model, images, labels, p_grid, trials_per_class, tol, noise, seed, concepts.concepts.shape[0],
                   max_steps, max_period)
    table = describe_attractors(model, found.attractors, concepts, classifier)
    fixed = fixed_images(model, images[:fixed_image_limit], tol)
    return AttractorStudy(basins=found, table=table, fixed_images=fixed,
                          summary=summarize(found, table, fixed, scale))
