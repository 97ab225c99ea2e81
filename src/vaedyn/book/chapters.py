"""Which runs a build of the book has: the pages (one source notebook for one dataset), the seed
spread's runs, how `--only` selects among them and how parallel jobs group them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError


@dataclass(frozen=True)
class Chapter:
    """One executed page: a source notebook run for one dataset. A run of the seed spread
    (`spread_seed` set) is not a page of the book: only its results file is kept."""

    notebook: str
    dataset: str = "mnist"
    spread_seed: int | None = None

    def output(self, book_dir: Path) -> Path:
        if self.spread_seed is not None:
            return Path(book_dir).parent / "_build" / "spread" / f"seed-{self.spread_seed}" / self.dataset / \
                f"{self.notebook}.ipynb"
        folder = book_dir if self.dataset == "mnist" else book_dir / self.dataset
        return folder / f"{self.notebook}.ipynb"

    def name(self) -> str:
        base = self.notebook if self.dataset == "mnist" else f"{self.dataset}/{self.notebook}"
        return base if self.spread_seed is None else f"spread/seed-{self.spread_seed}/{self.dataset}/{self.notebook}"

    def selectors(self) -> set[str]:
        """The names `build(only=...)` selects this run by. A page: its notebook's name (every dataset's
        page) or DATASET/NAME. A run of the seed spread: 'spread' (all of them), 'spread/NAME' (every
        seed's and dataset's run of one notebook) or its own `name()`."""
        if self.spread_seed is None:
            return {self.notebook, f"{self.dataset}/{self.notebook}"}
        return {"spread", f"spread/{self.notebook}", self.name()}


# In execution order: 01 trains the models the others load; the claims and reproducibility
# pages read what the chapters before them wrote.
CHAPTERS = (
    Chapter("01_training"), Chapter("02_trajectories"), Chapter("03_concept_distances"),
    Chapter("04_hierarchy_stages"), Chapter("05_classifier_steps"), Chapter("06_latent_geometry"),
    Chapter("07_latent_dimension"), Chapter("08_generalization"),
    Chapter("01_training", "fashion_mnist"), Chapter("02_trajectories", "fashion_mnist"),
    Chapter("03_concept_distances", "fashion_mnist"), Chapter("04_hierarchy_stages", "fashion_mnist"),
    Chapter("05_classifier_steps", "fashion_mnist"), Chapter("06_latent_geometry", "fashion_mnist"),
    Chapter("07_latent_dimension", "fashion_mnist"), Chapter("08_generalization", "fashion_mnist"),
    Chapter("12_training_budget"), Chapter("12_training_budget", "fashion_mnist"),
    Chapter("09_training_dynamics"), Chapter("10_latent_representations"), Chapter("11_markov_chains"),
    Chapter("13_architectures"), Chapter("14_attractors"), Chapter("15_music", "bach_chorales"),
    Chapter("90_claims"), Chapter("91_reproducibility"), Chapter("92_reproduction_report"),
)


READER_PAGES = ("90_claims", "91_reproducibility", "92_reproduction_report")   # take book_dir, not a dataset


# The chapters whose claims are about the main model: the seed spread runs them once per seed.
SPREAD_NOTEBOOKS = ("02_trajectories", "03_concept_distances", "04_hierarchy_stages", "05_classifier_steps",
                    "06_latent_geometry")


def spread_runs_needed(profile) -> list[int]:
    """The seeds of `profile`'s spread that need runs of their own. Seed 0 of a spread at the profile's
    own epochs is the record itself; a spread stopped early (`spread_epochs`) reruns seed 0 as well."""
    return [s for s in profile.spread_seeds if s != 0 or profile.spread_epochs is not None]


def chapters_for(profile) -> list[Chapter]:
    """Every run of a build under `profile`, in execution order: the pages, with the seed spread's
    runs before the reader pages that count them."""
    spread = [Chapter(notebook, dataset, seed) for seed in spread_runs_needed(profile)
              for dataset in profile.spread_datasets for notebook in SPREAD_NOTEBOOKS]
    pages = [c for c in CHAPTERS if c.notebook not in READER_PAGES]
    return pages + spread + [c for c in CHAPTERS if c.notebook in READER_PAGES]


def select_runs(profile, only: list[str] | None = None) -> list[Chapter]:
    """The runs of a build under `profile` (a Profile) that `only` names (all without it), in execution
    order; ConfigError for a name that selects nothing (see `Chapter.selectors`)."""
    runs = chapters_for(profile)
    known = set().union(*(c.selectors() for c in runs))
    for name in only or []:
        if name not in known:
            raise ConfigError(f"only={name!r} is not a chapter; choose from {', '.join(sorted(known))}")
    return [c for c in runs if not only or c.selectors() & set(only)]


# Within stage 2 of a parallel build every page depends only on stage 1's models, except these: chapter
# 10 reads the MNIST Fig. 8 grid that chapter 07 trains and the study models that chapter 09 trains, and
# chapter 14 reads that grid and the architecture models of chapter 13, so the five share a lane, in that
# order; a seed's spread runs read the model its 02 run trains.
SHARED_LANE = (("mnist", "07_latent_dimension"), ("mnist", "09_training_dynamics"),
               ("mnist", "10_latent_representations"), ("mnist", "13_architectures"), ("mnist", "14_attractors"))


def _lane_key(chapter: Chapter) -> tuple:
    if chapter.spread_seed is not None:
        return ("spread", chapter.spread_seed, chapter.dataset)
    if (chapter.dataset, chapter.notebook) in SHARED_LANE:
        return ("shared",)
    return ("page", chapter.name())


def lanes(runs: list[Chapter], expected: dict[str, float] | None = None) -> list[list[list[Chapter]]]:
    """The runs grouped for parallel jobs: stages run one after the other, the lanes of a stage side by
    side, the runs of a lane in order. Stage 1: each dataset's training page (it trains the models and
    the classifier the rest load). Stage 2: every other page in a lane of its own, except the runs that
    read what another trains (`SHARED_LANE`, each seed's spread runs), longest lane first by `expected`
    seconds per run name (the last record's; the mean where unknown), so that a free worker takes the
    longest lane left. Stage 3: the reader pages, which read everything before them."""
    expected = expected or {}
    first = [[c] for c in runs if c.notebook == "01_training" and c.spread_seed is None]
    readers = [c for c in runs if c.notebook in READER_PAGES]
    middle: dict[tuple, list[Chapter]] = {}
    for c in runs:
        if [c] not in first and c not in readers:
            middle.setdefault(_lane_key(c), []).append(c)
    typical = sum(expected.values()) / len(expected) if expected else 1.0

    def length(lane: list[Chapter]) -> float:
        return sum(expected.get(c.name(), typical) for c in lane)

    stages = [first, sorted(middle.values(), key=length, reverse=True), [readers] if readers else []]
    return [stage for stage in stages if stage]
