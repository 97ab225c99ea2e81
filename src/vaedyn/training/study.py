"""The models of the chapters beyond the paper (09-11), trained and kept as the profile's `StudyPlan` says.

Members sharing everything but N_z train as one ensemble (`sweep.train_and_store`); with a
constant learning rate each kept snapshot is stored as the model of the shorter run, so
"the N_z = 10 model after 3 epochs" is just `StudyModels.model(plan.plain("mnist", 10), 3)`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import StudyPlan, TrainConfig, get_profile, resolve_device
from ..data import load_dataset
from .ensemble import ensemble_groups
from .store import TrainedVAE, artifact_root, load_vae
from .sweep import SweepStatus, sweep_status, train_and_store


def study_plan(profile: str) -> StudyPlan:
    plan = get_profile(profile).study
    if plan is None:
        raise ValueError(f"profile {profile!r} has no study plan")
    return plan


def kept_configs(plan: StudyPlan, config: TrainConfig) -> list[TrainConfig]:
    """The config of every model kept from one member's run, first epoch first."""
    return [plan.snapshot(config, epoch) for epoch in plan.kept_epochs()]


def study_status(plan: StudyPlan, dataset: str, root: str | Path | None = None) -> SweepStatus:
    configs = [kept for config in plan.configs(dataset) for kept in kept_configs(plan, config)]
    return sweep_status(None, dataset, configs, root, name="study")


@dataclass
class StudyModels:
    plan: StudyPlan
    status: SweepStatus
    models: dict[TrainConfig, TrainedVAE]

    def model(self, config: TrainConfig, epoch: int | None = None) -> TrainedVAE:
        """The member of `config` after `epoch` epochs (default: the last)."""
        key = self.plan.snapshot(config, self.plan.epochs if epoch is None else epoch)
        if key not in self.models:
            raise KeyError(f"no kept model for N_z={config.nz} after {key.epochs} epochs "
                           f"(diverged: {key in self.status.diverged})")
        return self.models[key]


def study_models(profile: str, dataset: str = "mnist", device: str | torch.device = "auto",
                 root: str | Path | None = None, train_missing: bool = True, progress: bool = True) -> StudyModels:
    """Every kept model of the profile's study, training the groups with anything missing first."""
    plan = study_plan(profile)
    device = resolve_device(device)
    status = study_status(plan, dataset, root)
    if status.missing and train_missing:
        missing = set(status.missing)
        pending = [c for c in plan.configs(dataset) if any(k in missing for k in kept_configs(plan, c))]
        data = (load_dataset(dataset, "train", device, limit=plan.train_limit), load_dataset(dataset, "test", device))
        root_path = Path(root) if root is not None else artifact_root()
        for group in ensemble_groups(pending):
            train_and_store(group, device, data, root_path, progress, keep_epochs=tuple(plan.snapshot_epochs))
        status = study_status(plan, dataset, root)
    if status.missing:
        raise FileNotFoundError(status.summary())
    return StudyModels(plan=plan, status=status, models={c: load_vae(c, device, root) for c in status.done})
