"""What every chapter notebook shares: parameter checks, the run header and the results file.

A notebook starts with `run = book.start(...)` right after its `parameters` cell: bad
parameters fail there with one message, and the header (profile, dataset, device, commit)
is shown at the top of the page. `run.save_results({...})` writes the chapter's measured
quantities to `<results_dir>/<dataset>/<notebook>.json` for the claims page.
"""
from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..config import NOISE_MODES, ConfigError, Profile, _check_choice, check_probability, get_profile, resolve_device
from ..data import DATASETS
from ..files import atomic_write_json, project_path
from ..provenance import git_state
from ..training import store

RUN_INFO_TAG = "run-info"
# Where a chapter run directly with papermill writes its results: beside the output notebook in the
# usual case (papermill run from the output's folder), and never into the committed record, which
# only the book's runner writes (it passes results_dir explicitly).
DIRECT_RESULTS = "vaedyn-results"


def resolve_results_dir(results_dir: str | Path | None) -> Path:
    """A page's results folder: as given, or for None (a direct run) vaedyn-results/ under the working
    directory."""
    return Path(results_dir) if results_dir is not None else Path.cwd() / DIRECT_RESULTS


def book_results_dir(book_dir: str | Path) -> Path:
    """Where a build writes the results files of the pages in `book_dir` unless told otherwise."""
    return Path(book_dir) / "results"


def results_file(results_dir: str | Path, dataset: str, notebook: str) -> Path:
    """A run's results file: `<results_dir>/<dataset>/<notebook>.json`, the layout `load_results` reads."""
    return Path(results_dir) / dataset / f"{notebook}.json"


def record_dir(book_dir: str | Path | None = None) -> Path:
    """The folder of executed pages the reader pages summarise: as given, or the project's book/."""
    return Path(book_dir) if book_dir is not None else project_path("book")


def git_commit(cwd: str | Path | None = None, record_dir: str = "book") -> str:
    """Short hash of HEAD, with '-dirty' when tracked files outside the record folder have
    uncommitted changes. The record (executed pages, results files) is what a build rewrites,
    so its own changes say nothing about the code that produced it."""
    state = git_state(cwd if cwd is not None else ".", exclude=(record_dir,))
    if state is None:
        return "unknown"
    return state["commit"][:7] + ("-dirty" if state["dirty"] else "")


def check_trials(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name}={value!r} is not allowed; it must be an integer >= 1")
    return value


@dataclass
class Run:
    """The resolved parameters of one notebook run."""

    notebook: str
    profile: Profile
    dataset: str
    device: torch.device
    seed: int
    results_dir: Path
    commit: str
    epochs: int | None = None       # the main model stopped after this many epochs (None: all of them)
    started: float = field(default_factory=time.time)
    # How many artifacts the process had read before this run: the later ones are the run's models.
    first_artifact: int = field(default_factory=lambda: len(store.artifacts_read()))

    def main_config(self, nz: int = 100):
        """The page's main model: the profile's, for this run's dataset and seed, stopped after
        `epochs` when the run asks for it (the seed spread of a long profile does)."""
        return self.profile.train_config(self.dataset, nz=nz, seed=self.seed, stop_epoch=self.epochs)

    def classifier_config(self):
        """The CNN that labels generated images. It is an instrument, not the model under study, so
        it keeps seed 0 whatever the run's seed: the seed spread varies the VAE alone."""
        return self.profile.classifier_config(self.dataset, seed=0)

    def classifier_images_text(self) -> str:
        """Which training images the CNN learnt from, as the pages say it: "all" or "the first 40 000"."""
        limit = self.classifier_config().train_limit
        return "all" if limit is None else f"the first {count_text(limit)}"

    def vae_budget_text(self) -> str:
        """How long the page's VAE trained, beside the paper's budget, as the pages say it: a verdict on a
        short run is not one on the paper's (e.g. "a VAE trained for 9 epochs (the quick profile's budget;
        the paper's: 1500)")."""
        from ..config import get_profile

        config, paper_epochs = self.main_config(), get_profile("paper").epochs
        trained = config.last_epoch
        if trained >= paper_epochs:
            return f"a VAE trained for {trained} epochs (the paper's budget)"
        of = "" if trained == config.epochs else f" of its schedule's {config.epochs}"
        return (f"a VAE trained for {trained}{of} epochs (the {self.profile.name} profile's budget; the paper's: "
                f"{paper_epochs})")

    def classifier_budget_text(self) -> str:
        """How long the CNN that labels images trained, as the pages say it."""
        epochs = self.classifier_config().epochs
        return f"a CNN trained for {epochs} epoch{'s' * (epochs != 1)} on {self.classifier_images_text()} training images"

    def header_markdown(self) -> str:
        stamp = _dt.datetime.fromtimestamp(self.started, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        device = self.device.type if self.device.type == "cpu" else torch.cuda.get_device_name(self.device)
        epochs = "" if self.epochs is None else f" · main model after {self.epochs} epochs"
        return (f"**Run** — profile `{self.profile.name}` · dataset `{self.dataset}` · device `{device}` · "
                f"seed {self.seed}{epochs} · commit `{self.commit}` · started {stamp}")

    def results_path(self) -> Path:
        return results_file(self.results_dir, self.dataset, self.notebook)

    def save_results(self, values: dict) -> Path:
        """Write the chapter's measured quantities (JSON-serialisable) with the run's identity: `epochs` is
        the main model's, `models` every model the run loaded, with the epochs each one trained."""
        path = self.results_path()
        atomic_write_json({"notebook": self.notebook, "profile": self.profile.name, "dataset": self.dataset,
                           "device": self.device.type, "seed": self.seed, "epochs": self.epochs or self.profile.epochs,
                           "models": models_behind(store.artifacts_read(self.first_artifact)),
                           "commit": self.commit, "values": plain(values)}, path)
        return path


def models_behind(read: list[dict]) -> list[dict]:
    """One entry per model in `read` (`store.artifacts_read`'s records), in the order first read: kind,
    store key, dataset, N_z (VAEs), seed, the epochs it trained and its training images (None: all), so
    a results file names the budget behind each of its numbers, not only the main model's."""
    from ..config import ClassifierConfig, TrainConfig

    models = {}
    for record in read:
        if record["key"] in models:
            continue
        if record["kind"] == "vae":
            config = TrainConfig.from_dict(record["config"])
            entry = {"nz": config.nz, "epochs": config.last_epoch}
        else:
            config = ClassifierConfig(**record["config"])
            entry = {"epochs": config.epochs}
        models[record["key"]] = {"kind": record["kind"], "key": record["key"], "dataset": config.dataset,
                                 **entry, "seed": config.seed, "train_limit": config.train_limit}
    return list(models.values())


def count_text(n: int) -> str:
    """A count as the book writes it, digits grouped in threes by thin spaces (SI style): "40\u2009000"."""
    return f"{n:,}".replace(",", "\u2009")


def plain(value):
    """Tensors and numpy scalars to plain Python, so json can write them."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    return value


def glue(name: str, value, display: bool = False):
    """myst-nb's glue with numpy scalars and 0-d tensors turned into Python numbers first.

    Under numpy 2 a numpy float's text form is 'np.float64(0.5)', which a formatted
    reference such as {glue:text}`name:.1f` cannot parse; a Python float prints as '0.5'.
    """
    from myst_nb import glue as _myst_glue  # imported late: only notebooks need myst-nb

    if isinstance(value, torch.Tensor) and value.dim() == 0:
        value = value.item()
    elif hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    return _myst_glue(name, value, display=display)


def start(notebook: str, profile: str = "quick", dataset: str = "mnist", device: str = "auto", seed: int = 0,
          results_dir: str | Path | None = None, datasets: tuple[str, ...] = DATASETS,
          p_values: dict | None = None, trials: dict | None = None, noise: str | None = None,
          epochs: int | None = None, show: bool = True) -> Run:
    """Validate a notebook's parameters (all of them, before any work) and show the run header.

    `datasets` narrows the allowed datasets for chapters that need a particular one;
    `p_values` maps parameter names to noise fractions or lists of them, `trials` maps names
    to trial counts, `noise` is the noise reading, `epochs` stops the main model early (None: all
    of the profile's epochs).
    """
    _check_choice("dataset", dataset, datasets)
    resolved_profile = get_profile(profile)
    resolved_device = resolve_device(device)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"seed={seed!r} is not allowed; it must be an integer")
    for name, value in (p_values or {}).items():
        for p in (value if isinstance(value, (list, tuple)) else [value]):
            check_probability(name, p)
    for name, value in (trials or {}).items():
        if value is not None:
            check_trials(name, value)
    if noise is not None:
        _check_choice("noise", noise, NOISE_MODES)
    if epochs is not None:
        if not isinstance(epochs, int) or isinstance(epochs, bool) or not 1 <= epochs <= resolved_profile.epochs:
            raise ConfigError(f"epochs={epochs!r} is not allowed; give None (all of them) or an integer from 1 to "
                              f"{resolved_profile.epochs}, the {resolved_profile.name} profile's epochs")
        if epochs == resolved_profile.epochs:
            epochs = None
    run = Run(notebook=notebook, profile=resolved_profile, dataset=dataset, device=resolved_device, seed=seed,
              results_dir=resolve_results_dir(results_dir), commit=git_commit(project_path(".")), epochs=epochs)
    if show:
        from IPython.display import Markdown, display

        inline_figures()
        display(Markdown(run.header_markdown()))
    return run


def inline_figures() -> None:
    """Draw figures inline in the notebook whatever backend the environment chose. Kernels inherit
    MPLBACKEND (Agg is usual on servers and in CI); under Agg IPython keeps a glued figure as text only,
    and the rendered page has no figure. Outside IPython this does nothing."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")


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
