"""Atomic file writes and checksums: a reader never sees a half-written file."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch


def project_root() -> Path | None:
    """The repository this package runs from (an editable install or `PYTHONPATH=src`), or None for an
    installed copy. Default folders (data, artifacts, the book) live there, so a notebook or command
    finds them from any working directory."""
    root = Path(__file__).resolve().parents[2]          # src/vaedyn/files.py -> the checkout
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "vaedyn").is_dir() else None


def project_path(name: str) -> Path:
    """`name` under the project's root; under the working directory for an installed copy."""
    return (project_root() or Path.cwd()) / name


def _atomic_write(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)  # atomic on POSIX: the old file or the new one, never a mix
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj, path: str | Path) -> None:
    _atomic_write(Path(path), lambda handle: torch.save(obj, handle))


def atomic_write_text(text: str, path: str | Path) -> None:
    _atomic_write(Path(path), lambda handle: handle.write(text.encode()))


def atomic_write_json(obj, path: str | Path) -> None:
    atomic_write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", path)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_savez(path: str | Path, **arrays) -> None:
    """np.savez_compressed to exactly `path` (numpy would append .npz to a bare name), atomically."""
    import numpy as np

    _atomic_write(Path(path), lambda handle: np.savez_compressed(handle, **arrays))
