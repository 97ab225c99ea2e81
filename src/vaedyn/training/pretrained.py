"""Trained VAE weights shipped with the repository, and their installation into the artifact store.

The long runs (1500 epochs on two CPU cores) take hours; shipping their weights lets a fresh
checkout build the book without training. Each model is one ``.safetensors`` file in
``pretrained/``: the weights only (fp32 tensors, no pickle, so loading one cannot run code),
with the config, the per-epoch history, ``n_features``, the code version and the store key in
the file's string metadata. ``pretrained/SHA256SUMS`` lists every shipped file in the format of
``sha256sum`` (``sha256sum -c SHA256SUMS`` checks them by hand), so a truncated download or a
Git LFS pointer left in place of the file is refused instead of loaded.

``store.get_or_train`` calls :func:`install` before it would train: a shipped model whose config
equals the requested one is copied into the store under exactly the key a local run would get.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import safetensors
import safetensors.torch

from . import store
from .loop import build_model
from ..config import TrainConfig
from ..files import atomic_write_text, project_path, sha256_file
from ..provenance import provenance

# The repository's pretrained/ folder (src/vaedyn/training/pretrained.py -> parents[3] is the repository root).
PRETRAINED_DIR = project_path("pretrained")
SUMS_FILE = "SHA256SUMS"
SUFFIX = ".safetensors"


class StaleWeightsError(RuntimeError):
    """A shipped file was made by another code version: its weights are a different experiment."""


@dataclass
class ShippedModel:
    path: Path
    config: TrainConfig
    sha256: str          # as recorded in SHA256SUMS, not recomputed (see `verify`)


def pretrained_dir() -> Path:
    """$VAEDYN_PRETRAINED when set, else the repository's pretrained/ folder; read at each call
    so a test (or a user) can point it elsewhere without re-importing the package."""
    return Path(os.environ.get("VAEDYN_PRETRAINED") or PRETRAINED_DIR)


def shipped_name(config: TrainConfig) -> str:
    """`<dataset>_nz<nz>_<epochs>ep.safetensors`, epochs being those the model was trained for
    (`last_epoch`, so a snapshot of a long run gets its own name)."""
    return f"{config.dataset}_nz{config.nz}_{config.last_epoch}ep{SUFFIX}"


def read_sums(directory: Path) -> dict[str, str]:
    """{filename: sha256} from SHA256SUMS; empty when the file is absent (nothing shipped)."""
    sums_file = Path(directory) / SUMS_FILE
    if not sums_file.exists():
        return {}
    sums = {}
    for line in sums_file.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest.lower()   # sha256sum writes '*name' in binary mode
    return sums


def write_sums(directory: Path, sums: dict[str, str]) -> None:
    """Rewrite SHA256SUMS atomically, sorted, one `<hex>  <filename>` line per file (sha256sum's format)."""
    atomic_write_text("".join(f"{sums[name]}  {name}\n" for name in sorted(sums)), Path(directory) / SUMS_FILE)


def read_metadata(path: Path) -> dict[str, str]:
    """The file's string metadata; reads the header only, not the tensors."""
    try:
        with safetensors.safe_open(str(path), "pt") as handle:
            return handle.metadata() or {}
    except Exception as error:   # safetensors raises its own SafetensorError (or OSError) on a damaged header
        raise store.CorruptArtifactError(
            f"pretrained file {path} cannot be read as safetensors ({error}); restore it with "
            f"`git checkout -- {path.parent.name}/` (or fetch it again)") from None


def _atomic_save_file(tensors: dict, path: Path, metadata: dict[str, str]) -> None:
    """safetensors.torch.save_file to a temp file beside `path`, then os.replace: a reader sees
    the old file or the new one, never a half-written one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        safetensors.torch.save_file(tensors, tmp, metadata=metadata)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_vae(trained: store.TrainedVAE, directory: str | Path) -> Path:
    """Write `trained` as a shipped file in `directory` and record its checksum in SHA256SUMS.

    Refuses to overwrite a file of the same name that holds another config (e.g. another seed),
    since the name carries only dataset, N_z and epochs."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = trained.config
    path = directory / shipped_name(config)
    if path.exists():
        existing = json.loads(read_metadata(path).get("config", "null"))
        if existing != json.loads(json.dumps(config.to_dict())):
            raise FileExistsError(f"{path} already holds another config ({existing}); export {config} "
                                  "to another folder or remove that file first")
    tensors = {k: v.detach().to("cpu").float().contiguous() for k, v in trained.model.state_dict().items()}
    metadata = {"config": json.dumps(config.to_dict(), sort_keys=True),
                "history": json.dumps(trained.history),
                "n_features": str(trained.model.n_features),
                "code_version": str(store.CODE_VERSIONS["vae"]),
                "store_key": store.config_key("vae", config.to_dict())}
    _atomic_save_file(tensors, path, metadata)
    write_sums(directory, {**read_sums(directory), path.name: sha256_file(path)})
    return path


def shipped(directory: str | Path | None = None) -> list[ShippedModel]:
    """Every model listed in SHA256SUMS, with its config read from the file's header."""
    directory = Path(directory) if directory is not None else pretrained_dir()
    models = []
    for name, digest in sorted(read_sums(directory).items()):
        path = directory / name
        if not path.exists():
            verify(path, digest)   # raises the missing-file error
        config = TrainConfig.from_dict(json.loads(read_metadata(path)["config"]))
        models.append(ShippedModel(path=path, config=config, sha256=digest))
    return models


def verify(path: str | Path, expected_sha256: str | None) -> None:
    """Raise CorruptArtifactError unless `path` exists and its sha256 is `expected_sha256`
    (None: the file is not listed in SHA256SUMS, so nothing vouches for it)."""
    path = Path(path)
    fix = f"restore it with `git checkout -- {path.parent.name}/` (or fetch it again, e.g. `git lfs pull`)"
    if expected_sha256 is None:
        raise store.CorruptArtifactError(f"pretrained file {path} is not listed in {path.parent / SUMS_FILE}; "
                                         f"export it with pretrained.export_vae or {fix}")
    found = sha256_file(path) if path.exists() else "no file"
    if found != expected_sha256:
        raise store.CorruptArtifactError(
            f"pretrained file {path} fails its checksum (recorded {expected_sha256}, found {found}): "
            f"it is missing, truncated or corrupted; {fix}")


def install(config: TrainConfig, root: str | Path | None = None,
            directory: str | Path | None = None) -> Path | None:
    """Copy the shipped model of `config` into the artifact store; its store folder, or None
    when nothing shipped has this config. Checks the checksum and the code version first, so
    a damaged or stale file never reaches the store (and `store_vae` writes atomically)."""
    wanted = config.to_dict()
    match = next((m for m in shipped(directory) if m.config.to_dict() == wanted), None)
    if match is None:
        return None
    verify(match.path, match.sha256)
    metadata = read_metadata(match.path)
    key, version = store.config_key("vae", wanted), str(store.CODE_VERSIONS["vae"])
    if metadata.get("code_version") != version or metadata.get("store_key") != key:
        raise StaleWeightsError(
            f"pretrained file {match.path} was made by another code version (vae code_version "
            f"{metadata.get('code_version')}, store key {metadata.get('store_key')}; this code: {version}, {key}): "
            "its weights are a different experiment. Export it again from a model trained with this code, "
            f"or remove it and its line in {match.path.parent / SUMS_FILE} to train locally")
    tensors = safetensors.torch.load_file(str(match.path), device="cpu")
    model = build_model(config, int(metadata["n_features"]))
    model.load_state_dict(tensors, strict=True)
    return store.store_vae(config, model, json.loads(metadata["history"]), root,
                           provenance(installed_from=f"{match.path.parent.name}/{match.path.name}",
                                      installed_sha256=match.sha256))
