"""Where and with what an artifact was made: recorded in its meta.json, never part of its key.

Two runs of one config on different machines or library versions can round differently
(KMeans, PCA and Ledoit-Wolf also depend on scikit-learn, scipy and numpy), so the store keeps,
beside each model, the device and its name, the numeric libraries' versions, the commit of the
code and the training's wall time. Meta files written before this existed have no such record
and stay valid: nothing reads it back to decide anything.
"""
from __future__ import annotations

import datetime
import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

from .files import project_root

# Distributions whose version can change a number in the book (import names differ for some).
LIBRARIES = ("torch", "numpy", "scipy", "scikit-learn", "safetensors")
# What draws and renders the book's pages (the reproducibility page lists them too).
BOOK_LIBRARIES = ("matplotlib", "seaborn", "pandas", "papermill", "jupyter-book", "myst-nb")


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str | None]:
    """{distribution: version} of the numeric libraries (or of `names`); None for one not installed."""
    return dict(_versions(tuple(names)))


@functools.cache   # versions do not change within a process; every stored model asks for them
def _versions(names: tuple[str, ...]) -> tuple[tuple[str, str | None], ...]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return tuple(versions.items())


def device_name(device: str | torch.device) -> str:
    """The model of the GPU (torch's name for it) or of the CPU (from /proc/cpuinfo where there is one)."""
    return _device_name(str(torch.device(device)))


@functools.cache
def _device_name(device: str) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def git_state(root: str | Path, exclude: tuple[str, ...] = ()) -> dict[str, str | bool] | None:
    """{'commit': sha, 'dirty': bool} of the git checkout at `root`, or None when git cannot tell. Dirty
    means tracked files with uncommitted changes, outside the top-level folders named in `exclude`."""
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        changes = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", ".",
                                  *(f":(exclude,top){folder}" for folder in exclude)],
                                 capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(changes)} if commit else None


@functools.lru_cache(maxsize=1)
def source_commit() -> dict[str, str | bool] | None:
    """`git_state` of the checkout this package is imported from, or None when it is not imported from
    a git checkout of vaedyn (e.g. installed into site-packages, where a git repository above the
    environment would otherwise be mistaken for this code's)."""
    root = project_root()
    return None if root is None else git_state(root)


@functools.cache
def _platform() -> str:
    return platform.platform()


def provenance(device: str | torch.device | None = None, wall_time_s: float | None = None, **extra) -> dict:
    """The record stored under "provenance" in a new meta.json: when it was written, the device
    (and its name) it was trained on, the library versions, the commit and the wall time."""
    record = {"written_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "platform": _platform(), "libraries": library_versions(), "source": source_commit()}
    if device is not None:
        record["device"] = str(torch.device(device))
        record["device_name"] = device_name(device)
    if wall_time_s is not None:
        record["wall_time_s"] = round(float(wall_time_s), 3)
    record.update(extra)
    return record
