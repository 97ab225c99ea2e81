"""Sweeps over latent size (Figs. 8-9): the grid's members trained as ensembles, in shards, resumably.

`run_sweep(..., shard=(i, n))` trains its share of a grid: within each ensemble group
(`ensemble.ensemble_groups`) member j belongs to shard 1 + j mod n, so every shard still
trains batched ensembles and the shards are balanced. Members already in the store are
skipped; an interrupted ensemble resumes from its checkpoint. Every member lands in the
artifact store under exactly the key a lone run of its config would get, so notebooks
load them with `store.load_vae` and never care how they were trained.
"""
from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..config import OPTIONAL_DEFAULTS, ConfigError, SweepGrid, TrainConfig, get_profile, resolve_device
from ..data import load_dataset
from ..provenance import provenance
from .ensemble import ensemble_groups, ensemble_key, train_ensemble
from .store import (TrainedVAE, artifact_root, load_vae, mark_diverged, store_vae, training_lock, training_record,
                    vae_status)


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' with 1 <= i <= n, e.g. '2/4' is the second of four shards."""
    try:
        i, n = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ConfigError(f"shard={text!r} is not allowed; write i/n, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise ConfigError(f"shard={text!r} is not allowed; i must be between 1 and n")
    return i, n


def shard_members(configs: list[TrainConfig], shard: tuple[int, int]) -> list[TrainConfig]:
    i, n = shard
    return [c for group in ensemble_groups(configs) for j, c in enumerate(group) if j % n == i - 1]


@dataclass
class SweepStatus:
    grid: str
    dataset: str
    done: list[TrainConfig] = field(default_factory=list)
    diverged: list[TrainConfig] = field(default_factory=list)
    missing: list[TrainConfig] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    def summary(self) -> str:
        total = len(self.done) + len(self.diverged) + len(self.missing)
        text = (f"{self.grid} {self.dataset}: {len(self.done)}/{total} trained, "
                f"{len(self.diverged)} diverged, {len(self.missing)} missing")
        for config in self.missing:
            text += (f"\n  missing: Nz={config.nz} seed={config.seed} lr={config.lr_values} batch={config.batch_size}"
                     f" epochs={config.epochs}"
                     + "".join(f" {k}={v}" for k, v in config.to_dict().items() if k in OPTIONAL_DEFAULTS))
        return text


def sweep_status(grid: SweepGrid | None, dataset: str, configs: list[TrainConfig] | None = None,
                 root: str | Path | None = None, name: str | None = None) -> SweepStatus:
    """Which of the grid's configs (or of `configs`, reported as `name`) are trained, diverged, missing."""
    status = SweepStatus(grid=name or grid.name, dataset=dataset)
    for config in configs if configs is not None else grid.configs(dataset):
        getattr(status, vae_status(config, root)).append(config)
    return status


def run_sweep(profile: str, grid_name: str, dataset: str = "mnist", shard: tuple[int, int] = (1, 1),
              device: str | torch.device = "auto", root: str | Path | None = None, progress: bool = True,
              max_members: int | None = None, checkpoint_every: int = 1, cross_device: str = "reseed") -> SweepStatus:
    """Train the missing members of this shard of the grid; returns the shard's status afterwards.

    `max_members` caps an ensemble's size (memory); larger groups train as several ensembles. An ensemble
    checkpoints after every epoch: one epoch of the long Fig. 8 grid took 8.5 min of one AVX2 CPU thread, so
    every 5 epochs lost up to 35 min whenever a run was stopped; a torch.save of as many tensors as its
    checkpoint holds (24 members' weights and two Adam moments, about 480 MB) took 0.93 s (not the ensemble's
    own writer, which was not timed).
    `cross_device` is `loop.train`'s: what a checkpoint from another kind of device does.
    """
    grid = get_profile(profile).grid(grid_name)
    if max_members is not None and max_members < 1:
        raise ConfigError(f"max_members={max_members!r} is not allowed; it must be >= 1")
    device = resolve_device(device)
    mine = shard_members(grid.configs(dataset), shard)
    pending = sweep_status(grid, dataset, mine, root).missing
    root_path = Path(root) if root is not None else artifact_root()
    if pending:
        data = (load_dataset(dataset, "train", device, limit=grid.train_limit), load_dataset(dataset, "test", device))
        for group in ensemble_groups(pending):
            step = max_members or len(group)
            for start in range(0, len(group), step):
                train_and_store(group[start:start + step], device, data, root_path, progress, checkpoint_every,
                                cross_device=cross_device)
    return sweep_status(grid, dataset, mine, root)


def train_and_store(members: list[TrainConfig], device, data, root: Path, progress: bool = True,
                    checkpoint_every: int = 1, keep_epochs: tuple[int, ...] = (), cross_device: str = "reseed") -> None:
    """Train one ensemble group (resumably) and store every member under its lone-run key.

    `keep_epochs` (1-based) also stores each member as it stood after those epochs, under the
    key of the same config with `epochs` set to that epoch: for a constant learning rate (and
    schedules that only look at the epoch index) that is the model a run of that length ends with.
    They are stored before the ensemble's checkpoint can claim their epoch, so a run killed in
    between repeats that epoch on resuming and stores them then; nothing is trained twice over.
    """
    if keep_epochs and len(members[0].lr_values) > 1:
        raise ConfigError(f"keep_epochs={keep_epochs!r} needs one constant learning rate, not the schedule "
                          f"{members[0].lr_values}: a snapshot must equal the shorter run it is stored as")
    device = resolve_device(device)
    folder = root / "ensembles" / ensemble_key(members)

    def keep(epoch: int, current) -> None:
        _store_all(current(), root, device, epochs=epoch)

    # The lock sits beside the folder, which is removed when the ensemble is done.
    folder.parent.mkdir(parents=True, exist_ok=True)
    with training_lock(folder.parent / f"{folder.name}.lock", f"an ensemble of {len(members)} ({folder.name})"):
        if all(vae_status(m, root) != "missing" for m in members):   # the process we waited for trained it
            return
        results = train_ensemble(members, device=device, checkpoint_path=folder / "checkpoint.pt",
                                 checkpoint_every=checkpoint_every, progress=progress, data=data, keep=keep,
                                 keep_epochs=tuple(e for e in keep_epochs if e < members[0].epochs),
                                 cross_device=cross_device)
        _store_all(results, root, device)
        shutil.rmtree(folder, ignore_errors=True)


def _store_all(results, root: Path, device: torch.device, epochs: int | None = None) -> None:
    for result in results:
        config = result.config if epochs is None else dataclasses.replace(result.config, epochs=epochs)
        if result.model is None:
            mark_diverged(config, result.diverged_in_epoch, root)
        else:
            store_vae(config, result.model, result.history, root, member_record(result, device, len(results), epochs))


def member_record(result, device: torch.device, members: int, epochs: int | None) -> dict:
    """Provenance of an ensemble member (or of its snapshot after `epochs`): the ensemble's device,
    size and, for the final model, its wall time; any cross-device resume of the member's stream."""
    record = {"device": device, "trained_as": f"member of an ensemble of {members}"}
    if epochs is None:
        record.update({k: v for k, v in training_record(device, result.wall_time_s, result.resumes).items()
                       if k != "device"})
    elif result.resumes:
        record["cross_device_resumes"] = result.resumes
    return provenance(**record)


@dataclass
class GridModels:
    """The trained members of a grid, and which configs diverged."""

    status: SweepStatus
    models: dict[TrainConfig, TrainedVAE]


def grid_models(profile: str, grid_name: str, dataset: str = "mnist", device: str | torch.device = "auto",
                root: str | Path | None = None, train_missing: bool = True, progress: bool = True) -> GridModels:
    """Every trained member of a grid, training the missing ones first unless told not to."""
    grid = get_profile(profile).grid(grid_name)
    status = (run_sweep(profile, grid_name, dataset, device=device, root=root, progress=progress)
              if train_missing else sweep_status(grid, dataset, root=root))
    if status.missing:
        raise FileNotFoundError(status.summary() + f"\ntrain them with: python -m vaedyn sweep --grid {grid_name} "
                                f"--profile {profile} --dataset {dataset} --shard 1/1")
    return GridModels(status=status, models={c: load_vae(c, device, root) for c in status.done})
