"""Content-addressed artifact store: a trained model is keyed by a hash of its whole config.

Layout: ``$VAEDYN_ARTIFACTS/<kind>/<key>/`` with ``model.pt`` and ``meta.json``; the meta
file holds the config, the code version and the sha256 of ``model.pt`` and is written
last, so an artifact without it is unfinished. A training in progress keeps
``checkpoint.pt`` in the same folder, so a killed run resumes on the next call, and holds
``training.lock`` there, so a second process asking for the same model waits and then loads it.

Every file is checked when read (`integrity`): damage gives `CorruptArtifactError` naming the
file and what to delete, and payloads are read with ``torch.load(weights_only=True)``. Since
issue 11 a meta file also holds ``provenance`` (device, library versions, commit, wall time);
older meta files lack it and stay valid, and the key never depends on it.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from filelock import FileLock, Timeout

from ..config import TrainConfig, main_model_snapshots, resolve_device
from ..files import atomic_torch_save, atomic_write_json, project_path, sha256_file
from ..model import ConvVAE, VAE
from ..provenance import provenance
from .integrity import CorruptArtifactError, load_payload, read_meta

# Bump when a change to a model or its objective makes older artifacts a different experiment.
# vae 2: a hand-written Bernoulli likelihood kernel, which rounds differently from
# F.binary_cross_entropy_with_logits; vae 3: back to the stock kernel (faster where measured, see
# objective.bernoulli_log_likelihood), decided before the long profile's 1500-epoch runs.
CODE_VERSIONS = {"vae": 3, "classifier": 1}
# A member that diverged (NaN/inf loss) leaves this file instead of a model, so sweeps report it
# rather than train it again; the lone-run path raises TrainingDivergedError for the same config.
DIVERGED = "diverged.json"
# What each kind's model.pt must hold; a payload without these fields is reported as damaged.
PAYLOAD_FIELDS = {"vae": ("state_dict", "n_features", "history"), "classifier": ("state_dict", "side", "history")}
__all__ = ["CorruptArtifactError"]   # defined in .integrity; importers keep importing it from here
# Held while a model is trained into its folder (see `training_lock`).
TRAINING_LOCK = "training.lock"
# Every finished artifact this process has read, in order: {"kind", "key", "config"}. A book page lists
# the models behind its numbers from it (`book.page.Run.save_results`), whichever module loaded them.
_READ_LOG: list[dict] = []


def artifact_root() -> Path:
    """$VAEDYN_ARTIFACTS, default the project's artifacts/ (whatever the working directory)."""
    return Path(os.environ.get("VAEDYN_ARTIFACTS") or project_path("artifacts"))


def config_key(kind: str, config: dict) -> str:
    """Hash of kind, code version and the full config: any change gives a new key."""
    if kind not in CODE_VERSIONS:
        raise ValueError(f"kind={kind!r} is not allowed; choose one of {', '.join(CODE_VERSIONS)}")
    canonical = json.dumps({"kind": kind, "code_version": CODE_VERSIONS[kind], "config": config},
                           sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def artifact_dir(kind: str, config: dict, root: str | Path | None = None) -> Path:
    return Path(root if root is not None else artifact_root()) / kind / config_key(kind, config)


def save_artifact(directory: Path, payload: dict, summary: dict, kind: str, config: dict,
                  record: dict | None = None) -> None:
    """Write model.pt, then meta.json (config, checksum, summary and `record`, the provenance;
    default: this process's libraries and commit, no device)."""
    model_file = directory / "model.pt"
    atomic_torch_save(payload, model_file)
    atomic_write_json({"kind": kind, "key": config_key(kind, config), "code_version": CODE_VERSIONS[kind],
                       "config": config, "sha256": sha256_file(model_file), "summary": summary,
                       "provenance": record if record is not None else provenance()},
                      directory / "meta.json")


def _retrain_hint(directory: Path) -> str:
    return f"delete the folder {directory} to train it again"


def load_artifact(directory: Path) -> tuple[dict, dict]:
    """(payload, meta) of a finished artifact; CorruptArtifactError when meta.json or model.pt is
    damaged (unparsable, missing fields, or a model.pt that fails the checksum in meta.json)."""
    meta = read_meta(directory / "meta.json", _retrain_hint(directory))
    model_file = directory / "model.pt"
    found = sha256_file(model_file) if model_file.exists() else "no file"
    if found != meta["sha256"]:
        raise CorruptArtifactError(
            f"artifact {model_file} fails its checksum "
            f"(recorded {str(meta['sha256'])[:12]}..., found {found[:12]}...): "
            f"it is truncated or corrupted; {_retrain_hint(directory)}")
    payload = load_payload(model_file, _retrain_hint(directory), PAYLOAD_FIELDS.get(meta["kind"], ()))
    _READ_LOG.append({"kind": meta["kind"], "key": directory.name, "config": meta["config"]})   # folder = key
    return payload, meta


def artifacts_read(since: int = 0) -> list[dict]:
    """The artifacts this process has loaded ({"kind", "key", "config"}, in order, repeats included),
    from the `since`-th on: `len(artifacts_read())` taken before some work gives what that work read."""
    return list(_READ_LOG[since:])


def fetch_or_create(kind: str, config: dict, create: Callable[[Path], tuple],
                    root: str | Path | None = None) -> tuple[dict, dict, Path]:
    """Load the artifact for (kind, config), or call create(directory) and store what it returns:
    (payload, summary), or (payload, summary, record) with provenance fields such as the device
    (the wall time of `create` is recorded unless `record` gives one)."""
    directory = artifact_dir(kind, config, root)
    if not (directory / "meta.json").exists():
        directory.mkdir(parents=True, exist_ok=True)
        with training_lock(directory / TRAINING_LOCK, f"{kind} {directory.name}"):
            if not (directory / "meta.json").exists():   # else the process we waited for stored it
                started = time.perf_counter()
                payload, summary, *rest = create(directory)
                record = {"wall_time_s": time.perf_counter() - started, **(rest[0] if rest else {})}
                save_artifact(directory, payload, summary, kind, config, provenance(**record))
    payload, meta = load_artifact(directory)
    return payload, meta, directory


@contextmanager
def training_lock(path: Path, what: str):
    """Hold the lock file `path` while training `what`. A second process that asks for the same model
    (a book page beside `make long-train`, two chains) waits for the first and then loads its result:
    the atomic writes would keep every file whole without it, but the hours of training would be spent
    twice. filelock rather than fcntl: it also works on Windows, and torch already depends on it."""
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"waiting for another process that is training {what} (lock: {path})", file=sys.stderr, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def list_artifacts(root: str | Path | None = None) -> list[dict]:
    """Meta records of every finished artifact, with its folder under 'path'."""
    root = Path(root if root is not None else artifact_root())
    records = []
    for meta_file in sorted(root.glob("*/*/meta.json")):
        meta = read_meta(meta_file, _retrain_hint(meta_file.parent))
        records.append({**meta, "path": str(meta_file.parent)})
    return records


@dataclass
class TrainedVAE:
    model: VAE | ConvVAE
    history: list[dict]
    config: TrainConfig
    path: Path

    @property
    def final(self) -> dict:
        return self.history[-1]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def get_or_train(config: TrainConfig, device: str | torch.device = "auto", root: str | Path | None = None,
                 progress: bool = True, checkpoint_every: int = 10,
                 keep_epochs: tuple[int, ...] | None = None, cross_device: str = "reseed") -> TrainedVAE:
    """The trained VAE for `config`: from the store when present, else trained (resuming a
    checkpoint left by a killed run) and stored. The model is returned on `device`, in eval mode.

    A training also stores the model after each epoch in `keep_epochs` (default: the profile's
    `snapshot_epochs` when `config` is a profile's main model, `config.main_model_snapshots`) as
    the artifact of `config.snapshot(epoch)`, the key a run stopped after that epoch would get.
    `cross_device` is `loop.train`'s: what a checkpoint from another kind of device does."""
    from .pretrained import install  # imports the store; import here to keep the graph one-way
    from .loop import train  # the store is imported by train's callers; keep the import graph one-way

    if not (artifact_dir("vae", config.to_dict(), root) / "meta.json").exists():
        install(config, root)  # weights shipped in pretrained/ for this config: store them, don't train
    device = resolve_device(device)
    keep_epochs = main_model_snapshots(config) if keep_epochs is None else keep_epochs

    def keep(epoch: int, model: VAE | ConvVAE, history: list[dict]) -> None:
        store_vae(config.snapshot(epoch), model, history, root, provenance(device, snapshot_of=config.to_dict()))

    def create(directory: Path):
        result = train(config, device=device, checkpoint_path=directory / "checkpoint.pt",
                       checkpoint_every=checkpoint_every, progress=progress, keep=keep,
                       keep_epochs=tuple(e for e in keep_epochs if e < config.last_epoch), cross_device=cross_device)
        return (*vae_payload(result.model, result.history), training_record(device, result.wall_time_s, result.resumes))

    payload, meta, directory = fetch_or_create("vae", config.to_dict(), create, root)
    (directory / "checkpoint.pt").unlink(missing_ok=True)
    return _trained_vae(payload, config, directory, device)


def training_record(device: torch.device, wall_time_s: float | None, resumes: list[dict]) -> dict:
    """Provenance fields of a finished training: its device, its wall time over all sessions and
    each resume from another device's checkpoint (whose random stream was re-seeded)."""
    record = {"device": device, "wall_time_s": wall_time_s}
    if wall_time_s is None:
        record["wall_time_note"] = "unknown: resumed from a checkpoint written before training time was counted"
    if resumes:
        record["cross_device_resumes"] = resumes
    return record


def vae_payload(model: VAE | ConvVAE, history: list[dict]) -> tuple[dict, dict]:
    """(payload, summary) of a trained VAE as the store keeps it, however it was trained."""
    payload = {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "n_features": model.n_features, "history": history}
    return payload, {"epochs": len(history), **history[-1]}


def _trained_vae(payload: dict, config: TrainConfig, directory: Path, device: torch.device) -> TrainedVAE:
    from .loop import build_model  # the store is imported by train's callers; keep the import graph one-way

    model = build_model(config, payload["n_features"])
    model.load_state_dict(payload["state_dict"])
    return TrainedVAE(model=model.to(device).eval(), history=payload["history"], config=config, path=directory)


def store_vae(config: TrainConfig, model: VAE, history: list[dict], root: str | Path | None = None,
              record: dict | None = None) -> Path:
    """Store a VAE trained elsewhere (an ensemble member) under exactly the key a lone run would get;
    `record` is its provenance (default: this process's libraries and commit, no device)."""
    directory = artifact_dir("vae", config.to_dict(), root)
    directory.mkdir(parents=True, exist_ok=True)
    save_artifact(directory, *vae_payload(model, history), "vae", config.to_dict(), record)
    (directory / DIVERGED).unlink(missing_ok=True)
    return directory


def load_vae(config: TrainConfig, device: str | torch.device = "auto", root: str | Path | None = None) -> TrainedVAE:
    """The stored VAE for `config`; a clear error when it has not been trained (never trains)."""
    directory = artifact_dir("vae", config.to_dict(), root)
    if not (directory / "meta.json").exists():
        raise FileNotFoundError(f"no trained VAE for {config} in {directory}; run its sweep or get_or_train first")
    payload, _ = load_artifact(directory)
    return _trained_vae(payload, config, directory, resolve_device(device))


def vae_status(config: TrainConfig, root: str | Path | None = None) -> str:
    """'done', 'diverged' or 'missing' for the VAE of `config`."""
    directory = artifact_dir("vae", config.to_dict(), root)
    if (directory / "meta.json").exists():
        return "done"
    return "diverged" if (directory / DIVERGED).exists() else "missing"


def mark_diverged(config: TrainConfig, epoch: int, root: str | Path | None = None) -> Path:
    """Record that `config` diverged in `epoch` (1-based), so `vae_status` reports it as 'diverged'."""
    directory = artifact_dir("vae", config.to_dict(), root)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_json({"config": config.to_dict(), "diverged_in_epoch": epoch}, directory / DIVERGED)
    return directory
