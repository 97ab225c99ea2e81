"""The study plan of chapters 09-11: kept snapshots are the shorter runs they are stored as."""
import dataclasses

import pytest
import torch

from vaedyn.training import study, sweep
from vaedyn.config import ConfigError, StudyPlan, TrainConfig, get_profile
from vaedyn.data import load_dataset
from vaedyn.training.store import artifact_root, load_vae
from vaedyn.training.loop import train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train", "cpu"), load_dataset("digits", "test", "cpu")


def test_a_kept_snapshot_is_the_model_of_the_shorter_run(digits):
    members = [TrainConfig(dataset="digits", nz=nz, hidden=32, epochs=4, batch_size=50, lr_values=(1e-3,), seed=s)
               for nz, s in [(2, 0), (3, 1)]]
    sweep.train_and_store(members, "cpu", digits, artifact_root(), progress=False, keep_epochs=(1, 2))
    for config in members:
        for epochs in (1, 2, 4):
            shorter = dataclasses.replace(config, epochs=epochs)
            kept = load_vae(shorter, "cpu")
            lone = train(shorter, device="cpu", progress=False, data=digits)
            for name, value in lone.model.state_dict().items():
                torch.testing.assert_close(kept.model.state_dict()[name], value, rtol=1e-5, atol=1e-5, msg=name)
            assert [r["epoch"] for r in kept.history] == list(range(1, epochs + 1))


def test_snapshots_of_a_stepped_schedule_are_refused(digits):
    config = TrainConfig(dataset="digits", nz=2, hidden=8, epochs=3, lr_values=(1e-3, 1e-4))
    with pytest.raises(ConfigError, match="constant learning rate"):
        sweep.train_and_store([config], "cpu", digits, artifact_root(), progress=False, keep_epochs=(1,))
    assert not (artifact_root() / "vae").exists()


def test_study_models_trains_once_then_loads(monkeypatch):
    plan = get_profile("smoke").study
    models = study.study_models("smoke", "digits", device="cpu", progress=False)
    assert models.status.complete and not models.status.diverged
    assert len(models.models) == len(plan.configs("digits")) * len(plan.kept_epochs())
    monkeypatch.setattr(sweep, "train_ensemble", lambda *a, **k: pytest.fail("trained although everything was stored"))
    again = study.study_models("smoke", "digits", device="cpu", progress=False)
    first = again.model(plan.plain("digits", 2), 1)
    assert first.history[-1]["epoch"] == 1 and len(again.model(plan.plain("digits", 2)).history) == plan.epochs
    assert again.model(plan.renyi("digits", 5, 0.0)).model.nz == 5
    with pytest.raises(ConfigError, match="not kept"):
        again.model(plan.plain("digits", 2), 7)


def test_missing_study_models_are_named_without_training():
    with pytest.raises(FileNotFoundError, match="study digits: 0/"):
        study.study_models("smoke", "digits", device="cpu", train_missing=False)


@pytest.mark.parametrize("changes, fragment", [
    ({"snapshot_epochs": (5,)}, "snapshot_epochs"), ({"warmup_nz": 7}, "warmup_nz"),
    ({"alphas": (1.0,)}, "alphas"), ({"alphas": (-0.5,)}, "alphas"), ({"kl_sizes": (0,)}, "latent sizes"),
])
def test_impossible_plans_are_refused(changes, fragment):
    values = dict(epochs=4, snapshot_epochs=(1,), kl_sizes=(2, 5), warmup_nz=5, warmup_epochs=1,
                  renyi_sizes=(5,), alphas=(0.0,))
    StudyPlan(**values)
    with pytest.raises(ConfigError, match=fragment):
        StudyPlan(**{**values, **changes})


def test_plan_members_differ_only_in_what_they_compare():
    plan = get_profile("quick").study
    plain, warm, renyi = plan.plain("mnist", 30), plan.warmup("mnist"), plan.renyi("mnist", 30, 0.5)
    assert dataclasses.replace(warm, kl_warmup_epochs=0) == plain
    assert dataclasses.replace(renyi, renyi_alpha=1.0) == plain
    assert len(set(plan.configs("mnist"))) == len(plan.configs("mnist"))
