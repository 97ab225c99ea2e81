import hashlib
import importlib
import json
from pathlib import Path

import pytest
import safetensors
import torch

from vaedyn.training import pretrained, store
from vaedyn.config import TrainConfig
from vaedyn.training.store import CorruptArtifactError, TrainedVAE, get_or_train

train_module = importlib.import_module("vaedyn.training.loop")  # the package re-exports a function named train
ROOT = Path(__file__).resolve().parents[1]
CONFIG = TrainConfig(dataset="digits", nz=3, hidden=16, epochs=2)


@pytest.fixture(scope="module")
def trained() -> TrainedVAE:
    """One tiny VAE for the whole module (about a second of CPU)."""
    result = train_module.train(CONFIG, device="cpu", progress=False)
    return TrainedVAE(model=result.model, history=result.history, config=CONFIG, path=Path("unused"))


@pytest.fixture
def shipped_dir(tmp_path, monkeypatch):
    directory = tmp_path / "pretrained"
    monkeypatch.setenv("VAEDYN_PRETRAINED", str(directory))
    return directory


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("trained although shipped weights exist")

    monkeypatch.setattr(train_module, "train", refuse)


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    a_state, b_state = a.state_dict(), b.state_dict()
    assert a_state.keys() == b_state.keys()
    for key, value in a_state.items():
        assert torch.equal(value, b_state[key]), key


def test_export_then_install_gives_the_same_model_and_get_or_train_does_not_train(
        trained, shipped_dir, tmp_path, no_training):
    path = pretrained.export_vae(trained, shipped_dir)
    assert path.name == "digits_nz3_2ep.safetensors"
    with safetensors.safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
        assert all(handle.get_tensor(k).dtype == torch.float32 for k in handle.keys())
    assert json.loads(metadata["config"]) == json.loads(json.dumps(CONFIG.to_dict()))
    assert metadata["store_key"] == store.config_key("vae", CONFIG.to_dict())
    assert [(m.path, m.config) for m in pretrained.shipped()] == [(path, CONFIG)]

    root = tmp_path / "store"
    directory = pretrained.install(CONFIG, root)
    assert directory == store.artifact_dir("vae", CONFIG.to_dict(), root)
    assert (directory / "meta.json").exists()
    installed = store.load_vae(CONFIG, device="cpu", root=root)
    assert_same_weights(installed.model, trained.model)
    assert installed.history == trained.history

    again = get_or_train(CONFIG, device="cpu", root=root, progress=False)  # no_training: must load
    assert again.path == directory and again.history == trained.history
    assert_same_weights(again.model, trained.model)


def test_get_or_train_installs_into_an_empty_store(trained, shipped_dir, tmp_path, no_training):
    pretrained.export_vae(trained, shipped_dir)
    result = get_or_train(CONFIG, device="cpu", root=tmp_path / "store", progress=False)
    assert_same_weights(result.model, trained.model)
    assert result.history == trained.history


def test_corrupted_file_is_refused_and_nothing_is_stored(trained, shipped_dir, tmp_path):
    path = pretrained.export_vae(trained, shipped_dir)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    root = tmp_path / "store"
    with pytest.raises(CorruptArtifactError, match=path.name) as error:
        pretrained.install(CONFIG, root)
    assert "checksum" in str(error.value) and "git checkout" in str(error.value)
    assert not (store.artifact_dir("vae", CONFIG.to_dict(), root) / "meta.json").exists()


def test_missing_or_unlisted_file_is_refused(trained, shipped_dir):
    path = pretrained.export_vae(trained, shipped_dir)
    with pytest.raises(CorruptArtifactError, match="not listed"):
        pretrained.verify(path, None)
    path.unlink()
    with pytest.raises(CorruptArtifactError, match="no file"):
        pretrained.shipped()


def test_config_without_shipped_weights_gives_none(trained, shipped_dir, tmp_path):
    assert pretrained.install(CONFIG, tmp_path / "store") is None        # nothing shipped at all
    pretrained.export_vae(trained, shipped_dir)
    other = TrainConfig(dataset="digits", nz=3, hidden=16, epochs=2, seed=1)
    assert pretrained.install(other, tmp_path / "store") is None
    assert not (tmp_path / "store").exists()


def test_weights_of_another_code_version_are_refused(trained, shipped_dir, tmp_path, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setitem(store.CODE_VERSIONS, "vae", store.CODE_VERSIONS["vae"] + 1)
        pretrained.export_vae(trained, shipped_dir)
    with pytest.raises(pretrained.StaleWeightsError, match="another code version"):
        pretrained.install(CONFIG, tmp_path / "store")
    assert not (store.artifact_dir("vae", CONFIG.to_dict(), tmp_path / "store") / "meta.json").exists()


def test_sums_file_is_in_sha256sum_format(trained, shipped_dir):
    first = pretrained.export_vae(trained, shipped_dir)
    snapshot = TrainedVAE(model=trained.model, history=trained.history[:1], config=CONFIG.snapshot(1),
                          path=Path("unused"))
    second = pretrained.export_vae(snapshot, shipped_dir)
    pretrained.export_vae(trained, shipped_dir)   # exporting again replaces its line, adds none
    lines = (shipped_dir / "SHA256SUMS").read_text().splitlines()
    expected = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}"      # sorted by file name
                for p in sorted((first, second), key=lambda p: p.name)]
    assert lines == expected


def test_export_refuses_to_overwrite_another_config(trained, shipped_dir):
    pretrained.export_vae(trained, shipped_dir)
    other = TrainedVAE(model=trained.model, history=trained.history,
                       config=TrainConfig(dataset="digits", nz=3, hidden=16, epochs=2, seed=1), path=Path("unused"))
    with pytest.raises(FileExistsError, match="another config"):
        pretrained.export_vae(other, shipped_dir)


REAL_FILES = sorted((ROOT / "pretrained").glob("*.safetensors"))


@pytest.mark.skipif(not REAL_FILES, reason="no .safetensors files shipped in pretrained/ yet")
def test_shipped_files_verify_and_install_without_training(tmp_path, monkeypatch, no_training):
    monkeypatch.delenv("VAEDYN_PRETRAINED", raising=False)
    models = {m.path.name: m for m in pretrained.shipped(ROOT / "pretrained")}
    assert sorted(models) == [p.name for p in REAL_FILES]
    for model in models.values():
        pretrained.verify(model.path, model.sha256)
        directory = pretrained.install(model.config, tmp_path / "store", ROOT / "pretrained")
        assert directory is not None and (directory / "meta.json").exists()
        loaded = get_or_train(model.config, device="cpu", root=tmp_path / "store", progress=False)
        assert loaded.path == directory and len(loaded.history) == model.config.last_epoch
    # What `make book PROFILE=long` asks for: the long profile's main model of each dataset.
    from vaedyn.config import get_profile
    assert {m.config for m in models.values()} == {get_profile("long").train_config(d) for d in ("mnist", "fashion_mnist")}


@pytest.mark.skipif(not REAL_FILES, reason="no .safetensors files shipped in pretrained/ yet")
def test_a_damaged_copy_of_a_shipped_file_is_refused_and_nothing_reaches_the_store(tmp_path):
    original = REAL_FILES[0]
    copy = tmp_path / "pretrained"
    copy.mkdir()
    data = bytearray(original.read_bytes())
    data[-1] ^= 0xFF                                   # the last byte of the last weight inverted
    (copy / original.name).write_bytes(bytes(data))
    pretrained.write_sums(copy, {original.name: pretrained.read_sums(ROOT / "pretrained")[original.name]})
    (model,) = pretrained.shipped(copy)                # the header still reads: only the checksum can tell
    with pytest.raises(CorruptArtifactError, match="fails its checksum"):
        pretrained.install(model.config, tmp_path / "store", copy)
    assert not (store.artifact_dir("vae", model.config.to_dict(), tmp_path / "store") / "meta.json").exists()
