"""Kept snapshots are stored before the checkpoint that claims their epoch (issue 11, point 2).

A run killed between the two must lose nothing, and its resume must not retrain the group: the
store's fix-up path trains whatever is missing from scratch, which for `paper` is 1000 epochs.
"""
import dataclasses
import importlib

import pytest
import torch

from vaedyn.config import TrainConfig
from vaedyn.training import ensemble, store, sweep
from vaedyn.training.integrity import load_payload
from vaedyn.training.store import artifact_root, load_vae, vae_status
from conftest import Killed

loop = importlib.import_module("vaedyn.training.loop")   # the package re-exports a function named train


def counting(monkeypatch, module):
    """Replace module.train_epoch by a wrapper that counts the epochs trained."""
    calls, real = [], module.train_epoch

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(module, "train_epoch", counted)
    return calls


def kill_at(monkeypatch, module, epoch, when):
    """Raise Killed when the checkpoint for `epoch` is about to be written ('before') or just was ('after')."""
    real = module._save

    def save(path, configs, epochs_done, *rest):
        if when == "before" and epochs_done == epoch:
            raise Killed
        real(path, configs, epochs_done, *rest)
        if when == "after" and epochs_done == epoch:
            raise Killed
    monkeypatch.setattr(module, "_save", save)
    return real


def same_weights(a, b):
    return all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


@pytest.mark.parametrize("when", ["before", "after"])
def test_ensemble_kill_around_the_checkpoint_loses_no_snapshot_and_retrains_nothing(digits, monkeypatch, when):
    members = [TrainConfig(dataset="digits", nz=nz, hidden=32, epochs=3, batch_size=50, lr_values=(1e-3,), seed=s)
               for nz, s in [(2, 0), (3, 1)]]
    kept = [dataclasses.replace(c, epochs=e) for c in members for e in (1, 2)]
    real_save = kill_at(monkeypatch, ensemble, 2, when)
    with pytest.raises(Killed):
        sweep.train_and_store(members, "cpu", digits, artifact_root(), progress=False, checkpoint_every=1,
                              keep_epochs=(1, 2))
    assert [vae_status(c) for c in kept] == ["done"] * 4          # nothing lost by the kill
    checkpoint = artifact_root() / "ensembles" / ensemble.ensemble_key(members) / "checkpoint.pt"
    assert load_payload(checkpoint, "test")["epochs_done"] == (2 if when == "after" else 1)

    monkeypatch.setattr(ensemble, "_save", real_save)
    epochs = counting(monkeypatch, ensemble)
    sweep.train_and_store(members, "cpu", digits, artifact_root(), progress=False, checkpoint_every=1,
                          keep_epochs=(1, 2))
    assert len(epochs) == (1 if when == "after" else 2)            # the resume trains only what is left
    assert [vae_status(c) for c in kept + members] == ["done"] * 6
    for config in kept + members:                                   # each kept model is its shorter lone run
        lone = loop.train(config, device="cpu", progress=False, data=digits)
        torch.testing.assert_close(load_vae(config, "cpu").model.state_dict(), lone.model.state_dict(),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("when", ["before", "after"])
def test_lone_run_kill_around_the_checkpoint_loses_no_snapshot_and_retrains_nothing(tiny_config, digits,
                                                                                     monkeypatch, when):
    config = dataclasses.replace(tiny_config, epochs=4)
    real_save = kill_at(monkeypatch, loop, 2, when)
    with pytest.raises(Killed):
        store.get_or_train(config, device="cpu", progress=False, checkpoint_every=1, keep_epochs=(2,))
    assert vae_status(config.snapshot(2)) == "done"

    monkeypatch.setattr(loop, "_save", real_save)
    epochs = counting(monkeypatch, loop)
    trained = store.get_or_train(config, device="cpu", progress=False, checkpoint_every=1, keep_epochs=(2,))
    assert len(epochs) == (2 if when == "after" else 3)
    uninterrupted = loop.train(config, device="cpu", progress=False)
    assert same_weights(trained.model, uninterrupted.model)
    snapshot = loop.train(config.snapshot(2), device="cpu", progress=False)
    assert same_weights(load_vae(config.snapshot(2), "cpu").model, snapshot.model)
