"""Training configurations and the named run profiles (`smoke`, `quick`, `paper`).

Everything that changes a trained model lives in a frozen dataclass, so the artifact
store can key a model by the whole config. The three profiles are defined here and
nowhere else; notebooks, the CLI and the tests all ask `get_profile(name)`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch

IMAGE_DATASETS = ("mnist", "fashion_mnist", "digits")
MUSIC_DATASETS = ("bach_chorales",)     # binary piano rolls (`vaedyn.music`), not images
DATASETS = IMAGE_DATASETS + MUSIC_DATASETS
PRECISIONS = ("fp32", "bf16")
NOISE_MODES = ("swap", "flip")
SWEEP_GRIDS = ("fig8", "fig9")
ARCHITECTURES = ("mlp", "conv")         # the paper's fully connected VAE; a convolutional one (model.ConvVAE)


class ConfigError(ValueError):
    """A configuration value outside what is allowed; the message names both."""


def _check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(str, allowed))}")


def _check_positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name}={value!r} is not allowed; it must be an integer >= 1")


def check_corpus_limit(dataset: str, value) -> None:
    """`corpus_limit` (build a music dataset from the first n files of its corpus) is None, or an integer >= 1
    for a music dataset; the image datasets have no corpus to limit."""
    if value is None:
        return
    _check_positive_int("corpus_limit", value)
    if dataset not in MUSIC_DATASETS:
        raise ConfigError(f"corpus_limit={value!r} is not allowed with dataset={dataset!r}; only "
                          f"{', '.join(MUSIC_DATASETS)} is built from a corpus (leave it None)")


def check_probability(name: str, value) -> float:
    """Validate a probability such as the noise fraction p; return it as float."""
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not allowed; it must be a number in [0, 1]") from None
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        raise ConfigError(f"{name}={value!r} is not allowed; it must be in [0, 1]")
    return p


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained VAE (Methods, 'Network architecture and
    optimization procedure'). Defaults are the paper's."""

    dataset: str = "mnist"
    nz: int = 100                       # latent units N_z
    hidden: int = 1024                  # units of the one hidden layer in encoder and decoder (mlp only)
    epochs: int = 1500
    batch_size: int = 100
    lr_values: tuple[float, ...] = (5e-4, 1e-4, 5e-5)       # PAPER_SCHEDULE
    # Epoch indices (0-based) at which the next learning rate starts; None = equal thirds.
    lr_milestones: tuple[int, ...] | None = None
    n_samples: int = 2                  # L, Monte-Carlo samples of z per example in eq. (13)
    seed: int = 0
    precision: str = "fp32"
    train_limit: int | None = None      # train on the first n examples only (smoke runs)
    # Options beyond the paper (see OPTIONAL_DEFAULTS): KL annealing and the Renyi-alpha bound (alpha = 0
    # with n_samples = k trains on the importance-weighted bound of an IWAE, Burda et al. 2016).
    kl_warmup_epochs: int = 0           # KL weight rises linearly from 0 to `beta` over these epochs
    renyi_alpha: float = 1.0            # alpha of the variational Renyi bound; 1 = the ELBO of eq. (13)
    # How the run computes, beyond the paper: torch.compile fuses the training step's element-wise
    # work. The arithmetic is the same but its rounding is not, so a compiled model is its own artifact.
    compile: bool = False
    # The model after the first `stop_epoch` epochs of this run (schedule still over `epochs`):
    # a snapshot of a long run, trained or stored under its own key. None (or = epochs): all of it.
    stop_epoch: int | None = None
    # Other models (issue 12): a beta-VAE's KL weight and the network (see OPTIONAL_DEFAULTS).
    beta: float = 1.0                   # weight of the KL term in the training loss (beta-VAE); 1 = eq. (13)
    architecture: str = "mlp"           # "mlp": the paper's VAE; "conv": model.ConvVAE (no `hidden` layer)
    # Music (issue 13): a music dataset built from the first `corpus_limit` files of its corpus only, a
    # smaller dataset of its own (smoke runs); None: the whole corpus. Images have no corpus.
    corpus_limit: int | None = None

    def __post_init__(self):
        _check_choice("dataset", self.dataset, DATASETS)
        _check_choice("precision", self.precision, PRECISIONS)
        for name in ("nz", "hidden", "epochs", "batch_size", "n_samples"):
            _check_positive_int(name, getattr(self, name))
        if self.train_limit is not None:
            _check_positive_int("train_limit", self.train_limit)
        if not isinstance(self.kl_warmup_epochs, int) or isinstance(self.kl_warmup_epochs, bool) \
                or self.kl_warmup_epochs < 0:
            raise ConfigError(f"kl_warmup_epochs={self.kl_warmup_epochs!r} is not allowed; it must be an integer >= 0")
        try:
            alpha = float(self.renyi_alpha)
        except (TypeError, ValueError):
            alpha = float("nan")
        if not 0.0 <= alpha < math.inf:
            raise ConfigError(f"renyi_alpha={self.renyi_alpha!r} is not allowed; it must be a number >= 0 "
                              "(1 = ELBO, 0 = importance-weighted bound)")
        object.__setattr__(self, "renyi_alpha", alpha)
        if self.kl_warmup_epochs and alpha != 1.0:
            raise ConfigError("kl_warmup_epochs weights the KL term of the ELBO; it needs renyi_alpha=1, "
                              f"not {self.renyi_alpha!r}")
        self._check_beta_and_architecture()
        check_corpus_limit(self.dataset, self.corpus_limit)
        if not isinstance(self.compile, bool):
            raise ConfigError(f"compile={self.compile!r} is not allowed; it must be true or false")
        if self.stop_epoch is not None:
            _check_positive_int("stop_epoch", self.stop_epoch)
            if self.stop_epoch > self.epochs:
                raise ConfigError(f"stop_epoch={self.stop_epoch!r} is not allowed; it must be <= epochs={self.epochs}")
            if self.stop_epoch == self.epochs:
                object.__setattr__(self, "stop_epoch", None)
        if not self.lr_values or any(not (lr > 0) for lr in self.lr_values):
            raise ConfigError(f"lr_values={self.lr_values!r} is not allowed; give one or more positive rates")
        # Normalise lists (from JSON or a CLI) to tuples so equal configs hash equally.
        object.__setattr__(self, "lr_values", tuple(float(v) for v in self.lr_values))
        if self.lr_milestones is not None:
            milestones = tuple(int(m) for m in self.lr_milestones)
            if len(milestones) != len(self.lr_values) - 1 or list(milestones) != sorted(set(milestones)):
                raise ConfigError(
                    f"lr_milestones={self.lr_milestones!r} is not allowed; give {len(self.lr_values) - 1} "
                    "strictly increasing epoch indices, one per change of learning rate")
            object.__setattr__(self, "lr_milestones", milestones)

    def _check_beta_and_architecture(self) -> None:
        try:
            beta = float(self.beta) if not isinstance(self.beta, bool) else math.nan
        except (TypeError, ValueError):
            beta = math.nan
        if not 0.0 < beta < math.inf:
            raise ConfigError(f"beta={self.beta!r} is not allowed; it must be a finite number > 0 (1 = the ELBO)")
        if beta != 1.0 and self.renyi_alpha != 1.0:
            raise ConfigError(f"beta={self.beta!r} weights the KL term of the ELBO; it needs renyi_alpha=1, "
                              f"not {self.renyi_alpha!r}")
        object.__setattr__(self, "beta", beta)
        _check_choice("architecture", self.architecture, ARCHITECTURES)
        if self.architecture != "mlp" and self.hidden != TrainConfig.hidden:
            # The conv model has no such layer; a second key for the same model would train it twice.
            raise ConfigError(f"hidden={self.hidden!r} is not allowed with architecture={self.architecture!r}, "
                              f"which has no hidden layer of that width; leave hidden at {TrainConfig.hidden}")

    @property
    def last_epoch(self) -> int:
        """How many epochs this config trains: `stop_epoch` when set, else all `epochs`."""
        return self.stop_epoch or self.epochs

    def snapshot(self, epoch: int) -> "TrainConfig":
        """The config of this run's model after `epoch` epochs (same schedule, stopped early)."""
        return dataclasses.replace(self, stop_epoch=epoch)

    def milestones(self) -> tuple[int, ...]:
        """Epochs at which each later learning rate begins: equal parts of the run by default."""
        if self.lr_milestones is not None:
            return self.lr_milestones
        parts = len(self.lr_values)
        return tuple(round(self.epochs * k / parts) for k in range(1, parts))

    def to_dict(self) -> dict:
        """All fields, except options beyond the paper left at their defaults: adding an option
        must not change the store key (or the checkpoint check) of any model trained before it."""
        values = dataclasses.asdict(self)
        for name, default in OPTIONAL_DEFAULTS.items():
            if values[name] == default:
                del values[name]
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown TrainConfig fields {sorted(unknown)}; allowed: {sorted(known)}")
        return cls(**values)


OPTIONAL_DEFAULTS = {"kl_warmup_epochs": 0, "renyi_alpha": 1.0, "compile": False, "stop_epoch": None,
                     "beta": 1.0, "architecture": "mlp", "corpus_limit": None}


def kl_weight(config: TrainConfig, epoch: int) -> float:
    """The weight of the KL term in the training loss at a 0-based epoch: `config.beta` (a beta-VAE;
    1 for the paper) times the KL annealing factor epoch / kl_warmup_epochs, capped at 1 (1 throughout
    without warm-up). Training minimises reconstruction + weight * KL; weight 1 is eq. (13)."""
    if config.kl_warmup_epochs == 0:
        return config.beta
    return config.beta * min(1.0, epoch / config.kl_warmup_epochs)


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """Piecewise-constant learning rate of Methods (0.0005 -> 0.0001 -> 0.00005) at a 0-based epoch."""
    stage = sum(epoch >= m for m in config.milestones())
    return config.lr_values[stage]


@dataclass(frozen=True)
class ClassifierConfig:
    """The CNN used to label generated images (Fig. 5)."""

    dataset: str = "mnist"
    epochs: int = 3
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    train_limit: int | None = None

    def __post_init__(self):
        _check_choice("dataset", self.dataset, IMAGE_DATASETS)   # it reads images; a roll is not one
        _check_positive_int("epochs", self.epochs)
        _check_positive_int("batch_size", self.batch_size)
        if self.train_limit is not None:
            _check_positive_int("train_limit", self.train_limit)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SweepGrid:
    """A grid of VAEs trained from scratch for the latent-size figures (Fig. 8: seeds; Fig. 9:
    learning rate x batch size). Each learning-rate entry is a whole schedule (`lr_values`)."""

    name: str
    nz: tuple[int, ...]
    seeds: tuple[int, ...]
    schedules: tuple[tuple[float, ...], ...]
    batch_sizes: tuple[int, ...]
    epochs: int
    train_limit: int | None = None
    compile: bool = False               # TrainConfig.compile for every member

    def __post_init__(self):
        for value, least in [*((v, 1) for v in (*self.nz, *self.batch_sizes, self.epochs)), *((s, 0) for s in self.seeds)]:
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ConfigError(f"grid {self.name}: {value!r} is not allowed; latent sizes, batch sizes and "
                                  "epochs are integers >= 1, seeds integers >= 0")
        if not (self.nz and self.seeds and self.schedules and self.batch_sizes):
            raise ConfigError(f"grid {self.name} is empty; give at least one N_z, seed, schedule and batch size")

    def configs(self, dataset: str) -> list[TrainConfig]:
        """Every member of the grid, ordered schedule, batch, N_z, seed."""
        return [TrainConfig(dataset=dataset, nz=nz, seed=seed, epochs=self.epochs, batch_size=batch,
                            lr_values=schedule, train_limit=self.train_limit, compile=self.compile)
                for schedule in self.schedules for batch in self.batch_sizes
                for nz in self.nz for seed in self.seeds]


@dataclass(frozen=True)
class StudyPlan:
    """The models behind the chapters beyond the paper (training dynamics, representations, bounds).

    Every member trains with one constant learning rate, so the model after epoch e of a run is
    exactly the model a run of e epochs ends with: each snapshot is stored under the key of that
    shorter run, and the chapters load "the model after e epochs" like any other model.
    Members: `kl_sizes` with the plain ELBO (the Renyi alpha = 1 column too); `kl_sizes`' entry
    `warmup_nz` again with KL annealing over `warmup_epochs`; `renyi_sizes` x `alphas`.
    """

    epochs: int
    snapshot_epochs: tuple[int, ...]     # epochs (1-based) after which the model is kept as well
    kl_sizes: tuple[int, ...]
    warmup_nz: int
    warmup_epochs: int
    renyi_sizes: tuple[int, ...]
    alphas: tuple[float, ...]            # Renyi alphas other than 1
    lr: float = 1e-3
    batch_size: int = 100
    n_samples: int = 5                   # samples per example in the loss (the Renyi bound needs several)
    train_limit: int | None = None
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "warmup_epochs", "batch_size", "n_samples", "warmup_nz"):
            _check_positive_int(name, getattr(self, name))
        for n in (*self.kl_sizes, *self.renyi_sizes, *self.snapshot_epochs):
            _check_positive_int("latent sizes and snapshot epochs", n)
        if any(e > self.epochs for e in self.snapshot_epochs):
            raise ConfigError(f"snapshot_epochs={self.snapshot_epochs!r} is not allowed; each must be <= "
                              f"epochs={self.epochs}")
        if self.warmup_nz not in self.kl_sizes:
            raise ConfigError(f"warmup_nz={self.warmup_nz!r} is not allowed; it must be one of kl_sizes "
                              f"{self.kl_sizes}, the plain run it is compared with")
        if any(not (0.0 <= a < math.inf) or a == 1.0 for a in self.alphas):
            raise ConfigError(f"alphas={self.alphas!r} is not allowed; give Renyi alphas >= 0 other than 1 "
                              "(alpha = 1 is the plain ELBO, already in kl_sizes)")

    def _config(self, dataset: str, nz: int, **options) -> TrainConfig:
        return TrainConfig(dataset=dataset, nz=nz, epochs=self.epochs, batch_size=self.batch_size,
                           lr_values=(self.lr,), n_samples=self.n_samples, seed=self.seed,
                           train_limit=self.train_limit, **options)

    def plain(self, dataset: str, nz: int) -> TrainConfig:
        return self._config(dataset, nz)

    def warmup(self, dataset: str) -> TrainConfig:
        return self._config(dataset, self.warmup_nz, kl_warmup_epochs=self.warmup_epochs)

    def renyi(self, dataset: str, nz: int, alpha: float) -> TrainConfig:
        return self._config(dataset, nz, renyi_alpha=alpha)

    def configs(self, dataset: str) -> list[TrainConfig]:
        """Every member trained to the last epoch."""
        return ([self.plain(dataset, n) for n in self.kl_sizes] + [self.warmup(dataset)]
                + [self.renyi(dataset, n, a) for a in self.alphas for n in self.renyi_sizes])

    def snapshot(self, config: TrainConfig, epoch: int) -> TrainConfig:
        """The config whose final model is `config`'s model after `epoch` epochs."""
        if epoch not in (*self.snapshot_epochs, self.epochs):
            raise ConfigError(f"epoch={epoch!r} is not kept; choose one of {sorted({*self.snapshot_epochs, self.epochs})}")
        return dataclasses.replace(config, epochs=epoch)

    def kept_epochs(self) -> list[int]:
        return sorted({*self.snapshot_epochs, self.epochs})


PAPER_SCHEDULE = (5e-4, 1e-4, 5e-5)       # Methods: the learning rate steps down twice
FIG9_RATES = ((1e-2,), (1e-3,), (1e-4,))  # Fig. 9: one constant rate per run
FIG9_BATCHES = (50, 100, 200)
PAPER_LATENT_SIZES = (2, 3, 5, 8, 10, 12, 14, 16, 20, 30, 50, 100)   # dense around the paper's optimum, 14


@dataclass(frozen=True)
class Profile:
    """A named budget: how long models train and how many trials each figure uses."""

    name: str
    epochs: int
    classifier_epochs: int
    train_limit: int | None
    trials_distance: int        # Fig. 3 (paper: 300)
    trials_stages: int          # Fig. 4 (paper: 500)
    trials_classifier: int      # Fig. 5 (paper: 200)
    steps: int                  # T, number of repeated-inference steps
    p_grid: tuple[float, ...] = field(default=tuple(round(0.05 * k, 2) for k in range(20)))
    description: str = ""
    fig8: SweepGrid | None = None       # orthogonality vs N_z, several seeds, the Methods schedule
    fig9: SweepGrid | None = None       # test ELBO vs N_z after selecting lr x batch
    iw_samples: int = 2000              # k of the importance-weighted log-likelihood estimate (Fig. 9)
    iw_examples: int | None = None      # test images it averages over (None: all)
    study: StudyPlan | None = None      # the chapters beyond the paper (09-11)
    compile: bool = False               # TrainConfig.compile of the main models
    # Epochs (1-based) after which the main model is kept as well (`TrainConfig.snapshot`).
    snapshot_epochs: tuple[int, ...] = ()
    # The seed spread: the main model trained with each of these seeds, chapters 02-06 run on each,
    # and every main-model claim counts the seeds that reproduce it. `spread_epochs` stops those
    # models early (same schedule, `TrainConfig.stop_epoch`) where full runs do not fit the budget;
    # None: the profile's own epochs, so seed 0's run is the record itself.
    spread_seeds: tuple[int, ...] = (0,)
    spread_epochs: int | None = None
    spread_datasets: tuple[str, ...] = ("mnist", "fashion_mnist")
    # The other architectures (`architecture_configs`): every run trains `architecture_epochs` epochs on
    # the first `architecture_train_limit` training images (None: all); no epochs: the profile has none.
    architecture_epochs: int | None = None
    architecture_train_limit: int | None = None
    # Chapter 13 measures four models: the share of chapters 03-05's trials, and every n-th p of their
    # grids, that it uses for each (`paper.core.core_effort`).
    architecture_effort_scale: float = 1.0
    architecture_p_stride: int = 1
    # The music chapter (15, issue 13): its VAE (the paper's, N_z = 100, the Methods schedule) trains
    # `music_epochs` epochs on `bach_chorales` built from the first `music_corpus_limit` corpus files (None: all
    # of them); no epochs: the profile has no music runs. Repeated inference on it: `music_trials` noisy starts
    # per class (Fig. 3) and per mode and p (Fig. 4) of every `music_p_stride`-th p of `p_grid`, for
    # `music_steps` steps; concept vectors per key for the keys with >= `music_key_min_segments` training segments.
    music_epochs: int | None = None
    music_corpus_limit: int | None = None
    music_trials: int = 100
    music_steps: int = 100
    music_p_stride: int = 1
    music_key_min_segments: int = 100
    # The CNN that labels decoded images trains on the first `classifier_train_limit` training images;
    # None: the main models' `train_limit`.
    classifier_train_limit: int | None = None

    def __post_init__(self):
        if not self.spread_seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0
                                        for s in self.spread_seeds) or len(set(self.spread_seeds)) < len(self.spread_seeds):
            raise ConfigError(f"profile {self.name}: spread_seeds={self.spread_seeds!r} is not allowed; give one or "
                              "more distinct integer seeds >= 0")
        for dataset in self.spread_datasets:
            _check_choice("spread_datasets", dataset, DATASETS)
        for name in ("architecture_epochs", "architecture_train_limit", "music_epochs", "music_corpus_limit",
                     "classifier_train_limit"):
            if getattr(self, name) is not None:
                _check_positive_int(name, getattr(self, name))
        for name in ("music_trials", "music_steps", "music_p_stride", "music_key_min_segments"):
            _check_positive_int(name, getattr(self, name))
        if self.music_key_min_segments < self.music_trials:
            raise ConfigError(f"profile {self.name}: music_key_min_segments={self.music_key_min_segments!r} is not "
                              f"allowed; a key needs at least music_trials={self.music_trials} segments to start "
                              "that many distinct trials")
        if self.spread_epochs is not None:
            _check_positive_int("spread_epochs", self.spread_epochs)
            if self.spread_epochs > self.epochs:
                raise ConfigError(f"profile {self.name}: spread_epochs={self.spread_epochs!r} is not allowed; it must "
                                  f"be <= epochs={self.epochs}")

    def grid(self, name: str) -> SweepGrid:
        _check_choice("grid", name, SWEEP_GRIDS)
        return getattr(self, name)

    def train_config(self, dataset: str = "mnist", nz: int = 100, seed: int = 0, **overrides) -> TrainConfig:
        """The profile's main model (any field can be overridden, e.g. `epochs` from the CLI). On a music
        dataset it is the music chapter's model: `music_epochs` epochs on every training segment of the
        dataset built from `music_corpus_limit` corpus files, eager."""
        if dataset in MUSIC_DATASETS:
            if self.music_epochs is None:
                raise ConfigError(f"profile={self.name!r} defines no music runs; use one that does "
                                  f"({', '.join(p.name for p in PROFILES.values() if p.music_epochs)})")
            budget = {"epochs": self.music_epochs, "train_limit": None, "compile": False,
                      "corpus_limit": self.music_corpus_limit}
        else:
            budget = {"epochs": self.epochs, "train_limit": self.train_limit, "compile": self.compile}
        return TrainConfig(**{"dataset": dataset, "nz": nz, "seed": seed, **budget, **overrides})

    def music_p_grid(self) -> tuple[float, ...]:
        """The noise fractions of the music chapter's sweep (Fig. 4): every `music_p_stride`-th of `p_grid`."""
        return tuple(self.p_grid[::self.music_p_stride])

    def spread_config(self, dataset: str, seed: int, **overrides) -> TrainConfig:
        """The main model of one seed of the seed spread (stopped after `spread_epochs` when set)."""
        return self.train_config(dataset, seed=seed, stop_epoch=self.spread_epochs, **overrides)

    def snapshot_run(self, dataset: str = "mnist", seed: int = 0) -> tuple[TrainConfig, tuple[int, ...]]:
        """The run that trains every kept snapshot of the main model but its end: the model stopped after
        the last of `snapshot_epochs`, keeping the earlier ones on its way (`get_or_train`'s `keep_epochs`).
        For a main model taken from pretrained/, which ships without its snapshots: training each snapshot
        as its own run would cost their sum (1935 epochs in long) instead of the last (1000)."""
        if not self.snapshot_epochs:
            raise ConfigError(f"profile={self.name!r} keeps no snapshots of its main model; use one that does "
                              f"({', '.join(p.name for p in PROFILES.values() if p.snapshot_epochs)})")
        if dataset in MUSIC_DATASETS:
            raise ConfigError(f"dataset={dataset!r} is not allowed: the snapshots are the image chapters' (budget "
                              f"chapter); choose one of {', '.join(d for d in DATASETS if d not in MUSIC_DATASETS)}")
        *earlier, last = sorted(self.snapshot_epochs)
        return self.train_config(dataset, seed=seed).snapshot(last), tuple(earlier)

    def architecture_configs(self, dataset: str = "mnist", seed: int = 0) -> dict[str, TrainConfig]:
        """The models of the architecture comparison by name (`ARCHITECTURE_RUNS`), all on the same budget
        (epochs, images, the Methods schedule, N_z = 100, eager: compiling each would cost more than it saves)."""
        if self.architecture_epochs is None:
            raise ConfigError(f"profile={self.name!r} defines no architecture runs; use one that does "
                              f"({', '.join(p.name for p in PROFILES.values() if p.architecture_epochs)})")
        return {name: self.train_config(dataset, seed=seed, epochs=self.architecture_epochs,
                                        train_limit=self.architecture_train_limit, compile=False, **options)
                for name, options in ARCHITECTURE_RUNS.items()}

    def classifier_config(self, dataset: str = "mnist", seed: int = 0) -> ClassifierConfig:
        limit = self.train_limit if self.classifier_train_limit is None else self.classifier_train_limit
        return ClassifierConfig(dataset=dataset, epochs=self.classifier_epochs, seed=seed, train_limit=limit)


# The architecture comparison (issue 12) by the names the pages give its models: the paper's MLP and
# three others, each one TrainConfig option away from it. The IWAE is the Renyi bound at alpha = 0 with
# k = L = 5 samples (Burda et al. 2016), so it needs no loss of its own.
ARCHITECTURE_RUNS: dict[str, dict] = {
    "MLP": {}, "conv": {"architecture": "conv"}, "beta-VAE (beta = 4)": {"beta": 4.0},
    "IWAE (k = 5)": {"renyi_alpha": 0.0, "n_samples": 5}}

# Their budgets, from CPU seconds per epoch on the first 10 000 MNIST images with one thread (train pass +
# the per-epoch test evaluation on all 10 000 test images, which costs the same whatever the images),
# measured 2026-11-21 beside two long trainings: MLP 4.9 (3.8 + 1.1), conv 19.5 (12.2 + 7.3), beta-VAE 5.3
# (4.2 + 1.1), IWAE k = 5 8.5 (5.7 + 2.8); 38 s for the four, 25.7 of it scaling with the images.
# The conv model's weights in channels-last layout then took its epoch from 31-41 s to 25-30 s in
# alternating runs beside the same trainings. quick: 2 epochs on 10 000 images (3 epochs and 0.3 of the
# trials put the quick book at 30.1 min); long: 20 epochs on all 60 000, about
# 20 x (6 x 25.7 + 12.3) = 3330 s, 55 min before the layout change.

# Chapters 09-11 must stay within 10 min of CPU: ten epochs on the first 10 000 images, with
# L = 2 as in the paper (L = 5 measured 3.0 s against 1.6 s per member-epoch).
LONG_STUDY = StudyPlan(epochs=10, snapshot_epochs=(1, 3), kl_sizes=(2, 10, 30), warmup_nz=30, warmup_epochs=5,
                       renyi_sizes=(10, 30), alphas=(0.0, 0.5), n_samples=2, train_limit=10_000)
# The quick book's: 6 epochs. Chapter 09 took 313 s of the 27.3-min quick book at 10, so chapters 13-14 could
# fit at 7 (226 s); at 7 the book with chapter 15 took 30.6-30.7 min, so 6.
QUICK_STUDY = dataclasses.replace(LONG_STUDY, epochs=6)

# The long profile's latent-size grids: what fits about 90 min of 2 CPU cores per dataset for both
# figures, next to the paper's 60 models of 1500 epochs (Fig. 8) and 108 of 100 epochs (Fig. 9).
LONG_GRID_NOTE = ("Fig. 8: the paper's 12 latent sizes x 2 seeds (paper: 5) for 20 epochs (paper: 1500) on all "
                  "60 000 images with the Methods schedule; Fig. 9: 6 latent sizes (2, 5, 10, 14, 20, 50) x the "
                  "paper's 9 learning-rate x batch settings for 10 epochs (paper: 100) on the first 10 000 images")
LONG_FIG8 = SweepGrid("fig8", nz=PAPER_LATENT_SIZES, seeds=(0, 1), schedules=(PAPER_SCHEDULE,), batch_sizes=(100,),
                      epochs=20, compile=True)
LONG_FIG9 = SweepGrid("fig9", nz=(2, 5, 10, 14, 20, 50), seeds=(0,), schedules=FIG9_RATES, batch_sizes=FIG9_BATCHES,
                      epochs=10, train_limit=10_000, compile=True)

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", epochs=2, classifier_epochs=1, train_limit=2000,
        trials_distance=20, trials_stages=20, trials_classifier=10, steps=30,
        p_grid=(0.0, 0.2, 0.5, 0.8),
        description=("seconds: checks that the pipeline runs, shows no finding; the four architectures 1 epoch on "
                     "500 images"),
        fig8=SweepGrid("fig8", nz=(2, 5), seeds=(0, 1), schedules=(PAPER_SCHEDULE,), batch_sizes=(100,),
                       epochs=1, train_limit=500),
        fig9=SweepGrid("fig9", nz=(2, 5), seeds=(0,), schedules=((1e-2,), (1e-3,)), batch_sizes=(50, 100),
                       epochs=1, train_limit=500),
        iw_samples=4, iw_examples=100, snapshot_epochs=(1,),
        study=StudyPlan(epochs=2, snapshot_epochs=(1,), kl_sizes=(2, 5), warmup_nz=5, warmup_epochs=1,
                        renyi_sizes=(5,), alphas=(0.0,), n_samples=2, train_limit=500),
        spread_seeds=(0, 1), architecture_epochs=1, architecture_train_limit=500,
        # Music: 2 epochs on the chorales of the first 30 corpus files (21 chorales, 259 segments; a 7-s build
        # instead of the whole corpus's 50 s of CPU); the page took 36 s beside two trainings (2026-11-21).
        music_epochs=2, music_corpus_limit=30, music_trials=10, music_steps=20, music_key_min_segments=20),
    "quick": Profile(
        name="quick", epochs=9, classifier_epochs=1, train_limit=None, classifier_train_limit=40_000,
        trials_distance=70, trials_stages=70, trials_classifier=20, steps=100,
        p_grid=tuple(round(0.1 * k, 1) for k in range(10)),
        description=("CPU book (target: 30 min from scratch on 2 cores with 2 jobs; see the README for the last "
                     "measured time): main models of 9 epochs on all 60 000 images, 3 seeds for MNIST (1 for "
                     "Fashion-MNIST), the CNN 1 epoch on the first 40 000; 70 / 70 / 20 trials on a 0.1 grid of "
                     "p; the four architectures 2 epochs on the first 10 000 images, measured with 0.2 of those "
                     "trials on every other p"),
        # The whole quick book, seed spread included, must fit 30 min on 2 cores. The first such build
        # (2026-11-21, fresh clone, 2 jobs of 1 thread) took 40.5 min: each 01 page about 520 s, most of
        # it the CNN; 07 and 08 about 250 and 270 s per dataset, most of it their grids; chapters 02-06
        # about 280 s per model. So the CNN trains 1 epoch, Fig. 8's grid 6 sizes for 2 epochs and
        # Fig. 9's 1 epoch (both on the first 10 000 images; Fig. 9 without batch size 50, the slowest);
        # with a lane per page, faster labelling and lazy imports the next build took 27.3 min: 01 about
        # 320 s, 07 and 08 about 170 and 140 s per dataset, 09 310 s, each spread seed 410 s. With
        # chapters 13-14 (188 and 85 s at their quick budget below) it took 28.3 min; with chapter 15 (106-113 s)
        # 30.6-30.7 min in two builds (the second with each decoded MNIST split cached, but on a slower day:
        # 01 340 s against 330), so Fig. 9's grid trains on the first 6 000 images instead of 10 000, chapter
        # 09 6 epochs instead of 7, the architectures are measured with 0.15 of the trials instead of 0.25.
        # The build after these cuts took 30.3 min (30:18 + HTML): still over, since page times moved by up to
        # 10 % between builds on this machine. So, for a margin of about 2 min (2026-11-22): the main models
        # train 9 epochs instead of 10 (the Methods schedule's thirds fall on whole epochs; about 19 s of one
        # core per epoch and model, four models), the CNN on the first 40 000 images instead of 60 000 (43 s
        # less on each 01 page, the book's first stage; test accuracy 97.6 % against 98.2 % on MNIST, 85.4 %
        # against 86.9 % on Fashion-MNIST; on 20 000 it fell to 96.6 % and 80.9 %), and chapters 03-04 and 12
        # use 70 trials instead of 100 (chapter 13 keeps about 15 per model with 0.2 of them). The next build
        # took 27:53 + 11 s of HTML: stage 1 (the two 01 pages) 294 s instead of 336-350, stage 2 1346 s.
        fig8=SweepGrid("fig8", nz=(2, 5, 10, 20, 50, 100), seeds=(0, 1), schedules=(PAPER_SCHEDULE,),
                       batch_sizes=(100,), epochs=2, train_limit=10_000),
        fig9=SweepGrid("fig9", nz=(2, 5, 10, 20, 50), seeds=(0,), schedules=FIG9_RATES,
                       batch_sizes=(100, 200), epochs=1, train_limit=6_000),
        iw_samples=100, iw_examples=1000,
        study=QUICK_STUDY, snapshot_epochs=(2, 5), spread_seeds=(0, 1, 2), spread_datasets=("mnist",),
        # Chapters 13-14 first took 279 and 105 s (3 epochs, 0.3 of the trials): the book then took 30.1
        # min, so the architectures train 2 epochs and are measured with a quarter of the trials; with chapter
        # 15, 0.15 of them (chapter 13's measurements took 143 s at a quarter); 0.2 of 70 since 2026-11-22.
        architecture_epochs=2, architecture_train_limit=10_000, architecture_effort_scale=0.2,
        architecture_p_stride=2,
        # Music: the page must fit about 2 min of one core with its first build of the dataset. Measured in
        # two quick builds from scratch (2026-11-21): the page 113 and 106 s, of which the build 59 s (music21
        # parsing the MusicXML files: about three quarters of it), the 10 epochs 21 s, repeated inference 18 s
        # with 40 trials; 30 trials since.
        music_epochs=10, music_trials=30, music_steps=50, music_p_stride=2),
    "long": Profile(
        name="long", epochs=1500, classifier_epochs=12, train_limit=None,
        trials_distance=300, trials_stages=500, trials_classifier=200, steps=100,
        description=("the paper's main models on 2 CPU cores: the MNIST and Fashion-MNIST VAEs (N_z = 100) exactly "
                     "as Methods train them (1500 epochs, 5e-4 -> 1e-4 -> 5e-5 over thirds, L = 2, batch 100), "
                     "compiled with torch.compile, kept after 10 ... 1500 epochs, with the paper's trial counts. "
                     "Differs from paper in the latent-size grids (see LONG_GRID_NOTE), in Fig. 9's importance-weighted "
                     "estimate (k = 1000 on 2000 test images; paper profile: k = 2000 on all) and in chapters 09-11, "
                     "which use quick's study plan, in the seed spread, which compares seeds 0-2 after 100 epochs, "
                     "and in the four architectures, 20 epochs on all images (about 1 h of one thread)"),
        fig8=LONG_FIG8, fig9=LONG_FIG9, iw_samples=1000, iw_examples=2000,
        study=LONG_STUDY, compile=True, snapshot_epochs=(10, 25, 50, 100, 250, 500, 1000),
        # Seeds 1 and 2 for 1500 epochs would cost another 14 h of CPU per dataset; the spread compares
        # all three seeds after the first 100 epochs of the same schedule (seed 0: its kept snapshot).
        spread_seeds=(0, 1, 2), spread_epochs=100, architecture_epochs=20,
        music_epochs=200, music_trials=200, music_p_stride=2, music_key_min_segments=200),
    "paper": Profile(
        name="paper", epochs=1500, classifier_epochs=12, train_limit=None,
        trials_distance=300, trials_stages=500, trials_classifier=200, steps=100,
        description="Methods exactly: 1500 epochs, the three-step schedule, L=2, 300/500/200 trials; the four "
                    "architectures the same",
        fig8=SweepGrid("fig8", nz=PAPER_LATENT_SIZES, seeds=(0, 1, 2, 3, 4), schedules=(PAPER_SCHEDULE,),
                       batch_sizes=(100,), epochs=1500),
        fig9=SweepGrid("fig9", nz=PAPER_LATENT_SIZES, seeds=(0,), schedules=FIG9_RATES,
                       batch_sizes=FIG9_BATCHES, epochs=100),
        iw_samples=2000, iw_examples=None,
        # Peşte et al. train 1000 epochs with k = 30, 40, 50 latent units.
        study=StudyPlan(epochs=1000, snapshot_epochs=(1, 10, 100), kl_sizes=(2, 10, 20, 30, 50), warmup_nz=30,
                        warmup_epochs=10, renyi_sizes=(30, 40, 50), alphas=(0.0, 0.25, 0.5, 0.75),
                        n_samples=5),
        spread_seeds=(0, 1, 2), architecture_epochs=1500,
        music_epochs=1500, music_trials=300, music_key_min_segments=300),
}


def main_model_snapshots(config: TrainConfig) -> tuple[int, ...]:
    """The epochs after which `config`'s model is kept as well: a profile's `snapshot_epochs` when
    `config` is that profile's main model (any dataset, N_z and seed), else none. So whoever trains
    a main model first (chapter 01, the CLI, `make long-train`) keeps the budget chapter's snapshots."""
    if config.dataset in MUSIC_DATASETS:   # the snapshots are the image chapters' (12); music keeps none
        return ()
    return tuple(sorted({e for profile in PROFILES.values()
                         if config == profile.train_config(config.dataset, config.nz, config.seed)
                         for e in profile.snapshot_epochs}))


def get_profile(name: str) -> Profile:
    _check_choice("profile", name, tuple(PROFILES))
    return PROFILES[name]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' picks CUDA when present, else CPU; an explicit device must exist."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device={device!r} is not allowed; use auto, cpu, cuda or cuda:N") from None
    if resolved.type not in ("cpu", "cuda"):
        raise ConfigError(f"device={device!r} is not allowed; use auto, cpu, cuda or cuda:N")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} was asked for but no CUDA device is available; use auto or cpu")
    return resolved
