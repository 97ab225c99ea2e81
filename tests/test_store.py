import dataclasses
import importlib

import pytest
import torch

from vaedyn.training import store
from vaedyn.config import ClassifierConfig, TrainConfig
from vaedyn.training.store import CorruptArtifactError, config_key, get_or_train, list_artifacts

train_module = importlib.import_module("vaedyn.training.loop")  # the package re-exports a function named train


@pytest.mark.parametrize("field, value", [
    ("dataset", "fashion_mnist"), ("nz", 20), ("hidden", 512), ("epochs", 10), ("batch_size", 50),
    ("lr_values", (1e-3, 1e-4, 1e-5)), ("lr_milestones", (1, 2)), ("n_samples", 1), ("seed", 1),
    ("precision", "bf16"), ("train_limit", 100), ("beta", 4.0), ("architecture", "conv")])
def test_every_config_field_changes_the_key(field, value):
    base = TrainConfig()
    changed = dataclasses.replace(base, **{field: value})
    assert config_key("vae", changed.to_dict()) != config_key("vae", base.to_dict())
    assert config_key("vae", TrainConfig().to_dict()) == config_key("vae", base.to_dict())


def test_code_version_and_kind_change_the_key(monkeypatch):
    config = TrainConfig().to_dict()
    before = config_key("vae", config)
    monkeypatch.setitem(store.CODE_VERSIONS, "vae", store.CODE_VERSIONS["vae"] + 1)
    assert config_key("vae", config) != before
    assert config_key("classifier", ClassifierConfig().to_dict()) != config_key("vae", ClassifierConfig().to_dict())


def test_second_call_loads_instead_of_training(tiny_config, monkeypatch):
    first = get_or_train(tiny_config, device="cpu", progress=False)
    assert (first.path / "meta.json").exists() and not (first.path / "checkpoint.pt").exists()

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although the artifact exists")

    monkeypatch.setattr(train_module, "train", no_training)
    second = get_or_train(tiny_config, device="cpu", progress=False)
    assert second.path == first.path and second.history == first.history
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key])
    assert [r["key"] for r in list_artifacts()] == [first.path.name]


@pytest.mark.parametrize("damage", ["truncate", "flip_byte"])
def test_damaged_artifact_is_detected(tiny_config, damage):
    trained = get_or_train(tiny_config, device="cpu", progress=False)
    model_file = trained.path / "model.pt"
    data = bytearray(model_file.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(CorruptArtifactError, match="checksum"):
        get_or_train(tiny_config, device="cpu", progress=False)


def test_killed_training_resumes_from_the_store_checkpoint(tiny_config, monkeypatch):
    config = dataclasses.replace(tiny_config, epochs=4)
    reference = train_module.train(config, device="cpu", progress=False)
    real_train = train_module.train

    def killed_after_two_epochs(*args, **kwargs):
        def stop(epoch, record):
            if epoch == 1:
                raise KeyboardInterrupt
        return real_train(*args, **kwargs, on_epoch_end=stop)

    monkeypatch.setattr(train_module, "train", killed_after_two_epochs)
    with pytest.raises(KeyboardInterrupt):
        get_or_train(config, device="cpu", progress=False, checkpoint_every=1)
    directory = store.artifact_dir("vae", config.to_dict())
    assert (directory / "checkpoint.pt").exists() and not (directory / "meta.json").exists()
    monkeypatch.setattr(train_module, "train", real_train)
    resumed = get_or_train(config, device="cpu", progress=False, checkpoint_every=1)
    for key, value in reference.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key])


def test_a_second_process_waits_for_the_training_and_loads_its_model(tiny_config, monkeypatch, capfd, in_thread):
    from filelock import FileLock

    reference = train_module.train(tiny_config, device="cpu", progress=False)
    directory = store.artifact_dir("vae", tiny_config.to_dict())
    directory.mkdir(parents=True)
    calls = []
    monkeypatch.setattr(train_module, "train", lambda *a, **k: calls.append(a) or reference)
    held = FileLock(directory / store.TRAINING_LOCK)   # the other process, training the same config
    held.acquire()
    thread, box = in_thread(lambda: get_or_train(tiny_config, device="cpu", progress=False))
    thread.join(timeout=1.0)
    assert thread.is_alive(), "it trained beside the process that holds the lock"
    assert "waiting for another process that is training vae" in capfd.readouterr().err
    store.store_vae(tiny_config, reference.model, reference.history)   # what the other process stores
    held.release()
    thread.join(timeout=30)
    assert not thread.is_alive() and "error" not in box, box.get("error")
    assert calls == [], "it trained again what the process it waited for had stored"
    assert box["result"].history == reference.history
