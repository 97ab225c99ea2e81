"""Datasets as whole device-resident tensors.

Training indexes these tensors with a fresh random permutation every epoch, so no
per-sample DataLoader sits on the hot path. MNIST and Fashion-MNIST come through
torchvision (download=True verifies the md5 of files already present and extracts
them, so the official .gz files suffice offline), and each decoded split is cached beside
them (`decoded/`) so that later processes need not import torchvision; `digits` is scikit-learn's 8x8
digits set, bundled with the library, for tiny offline runs; `bach_chorales` is Bach's
chorales from music21's bundled corpus as binary piano rolls (`vaedyn.music.chorales`),
built on first use and cached under the data root.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .config import DATASETS, ConfigError, _check_choice, check_corpus_limit
from .files import atomic_torch_save, project_path, sha256_file

SPLITS = ("train", "test")
_TORCHVISION = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
_RAW_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
# How the pages name the datasets.
DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "digits": "scikit-learn digits",
                  "bach_chorales": "Bach chorales"}
CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "digits": tuple(str(d) for d in range(10)),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "bach_chorales": ("major", "minor"),     # the mode of the segment's chorale; its key is `labels["key"]`
}


class DataUnavailableError(RuntimeError):
    """The dataset files are missing and could not be downloaded."""


@dataclass(frozen=True)
class Dataset:
    """One split: examples flattened to float32 in [0, 1] and integer labels, on one device."""

    x: torch.Tensor          # (n, rows * columns), each example flattened row by row
    y: torch.Tensor          # (n,) int64
    name: str
    split: str
    side: int | None         # images are side x side; None for examples that are not square images
    # (rows, columns) of one example drawn as an image: (side, side) for the image sets, (pitches, steps)
    # for a piano roll. Defaults to (side, side).
    shape: tuple[int, int] | None = None
    labels: dict[str, torch.Tensor] = field(default_factory=dict)   # other labellings by name, e.g. "key"

    def __post_init__(self):
        if self.shape is None and self.side is not None:
            object.__setattr__(self, "shape", (self.side, self.side))

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def n_features(self) -> int:
        return self.x.shape[1]

    def of_label(self, label: int) -> torch.Tensor:
        return self.x[self.y == label]


def data_root() -> Path:
    """Folder that holds `MNIST/raw`, `FashionMNIST/raw`: $VAEDYN_DATA, default the project's data/
    (whatever the working directory)."""
    return Path(os.environ.get("VAEDYN_DATA") or project_path("data"))


def load_dataset(name: str = "mnist", split: str = "train", device: str | torch.device = "cpu",
                 limit: int | None = None, root: str | Path | None = None,
                 corpus_limit: int | None = None) -> Dataset:
    """Load a whole split as tensors on `device`; `limit` keeps the first n examples. `corpus_limit`
    (bach_chorales only) builds the dataset from the first n files of its corpus (see `TrainConfig`)."""
    _check_choice("dataset", name, DATASETS)
    _check_choice("split", split, SPLITS)
    check_corpus_limit(name, corpus_limit)
    shape, labels = None, {}
    if name == "digits":
        x, y, side = _load_digits(split)
    elif name == "bach_chorales":
        from .music.chorales import load_split

        x, y, shape, labels = load_split(split, root, corpus_limit)
        side = None
    else:
        x, y, side = _load_torchvision(name, split, Path(root) if root is not None else data_root())
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"limit={limit!r} is not allowed; it must be >= 1")
        x, y, labels = x[:limit], y[:limit], {k: v[:limit] for k, v in labels.items()}
    return Dataset(x=x.to(device), y=y.to(device), name=name, split=split, side=side, shape=shape,
                   labels={k: v.to(device) for k, v in labels.items()})


def _load_torchvision(name: str, split: str, root: Path):
    cache = _decoded_path(root / _TORCHVISION[name], split)    # hashes the source files once per load
    images, targets = _read_decoded(cache)
    if images is None:
        images, targets = _decode_with_torchvision(name, split, root)
        _write_decoded(cache or _decoded_path(root / _TORCHVISION[name], split), images, targets)  # now extracted
    x = images.reshape(images.shape[0], -1).to(torch.float32) / 255.0
    return x, targets.to(torch.int64), images.shape[-1]


def _decode_with_torchvision(name: str, split: str, root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images (n, side, side), labels) as torchvision reads them, extracting the .gz files first."""
    from torchvision import datasets  # imported here: it is slow to import and digits runs need none of it

    folder = _TORCHVISION[name]
    cls = getattr(datasets, folder)
    try:
        ds = cls(root=str(root), train=(split == "train"), download=True)
    except Exception as error:  # torchvision raises several types (URLError, RuntimeError, OSError)
        raise DataUnavailableError(
            f"{name} is not available under {root.resolve()}: put {', '.join(_RAW_FILES)} in "
            f"{(root / folder / 'raw').resolve()} (or set VAEDYN_DATA to a folder that holds "
            f"{folder}/raw/); the download failed with: {error}") from None
    return ds.data, ds.targets


# Why a cache of our own beside torchvision's files: importing torchvision imports torch._dynamo, about 2 s
# of CPU per process (measured 2026-11-21: 2.2-2.4 s beside two trainings), and every page of the book is a
# new process that loads a split; reading the decoded split back takes about 0.2 s. The cache is keyed by a
# checksum of the extracted files torchvision reads, so changed files are decoded again, never trusted by name.
def _decoded_sources(folder: Path, split: str) -> list[Path]:
    """The extracted files torchvision reads for one split (images, labels)."""
    names = _RAW_FILES[:2] if split == "train" else _RAW_FILES[2:]
    return [folder / "raw" / name.removesuffix(".gz") for name in names]


def _decoded_path(folder: Path, split: str) -> Path | None:
    """Where the decoded split of the files now in `folder/raw` is cached; None before they are extracted."""
    sources = _decoded_sources(folder, split)
    if not all(path.is_file() for path in sources):
        return None
    digest = hashlib.sha256("".join(sha256_file(path) for path in sources).encode()).hexdigest()
    return folder / "decoded" / f"{split}-{digest[:16]}.pt"


def _read_decoded(path: Path | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    if path is None or not path.is_file():
        return None, None
    try:
        cached = torch.load(path, weights_only=True)
        return cached["images"], cached["targets"]
    except Exception:   # a damaged cache (torch raises several types) is decoded again and replaced
        return None, None


def _write_decoded(path: Path | None, images: torch.Tensor, targets: torch.Tensor) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(exist_ok=True)
        atomic_torch_save({"images": images.contiguous(), "targets": targets.contiguous()}, path)
    except OSError:     # a read-only data folder: every load decodes again, as before the cache
        pass


def _load_digits(split: str):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.as_tensor(bunch.data, dtype=torch.float32) / 16.0
    y = torch.as_tensor(bunch.target, dtype=torch.int64)
    # A fixed split (every fifth example is a test example) keeps both splits stratified enough
    # and needs no random state.
    is_test = torch.arange(len(y)) % 5 == 0
    keep = is_test if split == "test" else ~is_test
    return x[keep], y[keep], 8
