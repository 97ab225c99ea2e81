"""Every artifact file is checked on load (issue 11, point 3): damage is one clear line naming
the file and what to delete; payloads are read weights-only; new meta files carry provenance,
old ones (and old checkpoints) stay readable, and no store key changes."""
import dataclasses
import importlib
import json

import pytest
import torch

from vaedyn.cli import main
from vaedyn.config import ClassifierConfig
from vaedyn.data import load_dataset
from vaedyn.files import atomic_write_json, sha256_file
from vaedyn.training import store
from vaedyn.training.classifier import get_or_train_classifier
from vaedyn.training.ensemble import train_ensemble
from vaedyn.training.integrity import CorruptArtifactError, load_payload
from conftest import Killed

loop = importlib.import_module("vaedyn.training.loop")   # the package re-exports a function named train
CLI_MODEL = ["--dataset", "digits", "--nz", "4", "--profile", "smoke", "--device", "cpu", "--no-progress"]


def run_cli(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, *capsys.readouterr()


def killed_checkpoint(config, path):
    def stop(epoch, record):
        if epoch == 1:
            raise Killed
    with pytest.raises(Killed):
        loop.train(config, device="cpu", checkpoint_path=path, checkpoint_every=1, progress=False, on_epoch_end=stop)


def test_store_keys_do_not_change(tiny_config):
    # Pinned: the key this config had before issue 11 (a change would orphan every stored model).
    assert store.config_key("vae", tiny_config.to_dict()) == "a48b68e25004f715"
    assert store.get_or_train(tiny_config, device="cpu", progress=False).path.name == "a48b68e25004f715"


@pytest.mark.parametrize("text, fragment", [("{broken", "is not valid JSON"), ("[1, 2]", "lacks the fields"),
                                            ('{"kind": "vae", "config": {}}', "lacks the fields")])
def test_damaged_meta_file_names_the_file_and_what_to_delete(tiny_config, text, fragment):
    trained = store.get_or_train(tiny_config, device="cpu", progress=False)
    (trained.path / "meta.json").write_text(text)
    for load in (lambda: store.get_or_train(tiny_config, device="cpu", progress=False),
                 lambda: store.load_vae(tiny_config, "cpu"), store.list_artifacts):
        with pytest.raises(CorruptArtifactError) as error:
            load()
        message = str(error.value)
        assert fragment in message and str(trained.path / "meta.json") in message
        assert f"delete the folder {trained.path}" in message and "\n" not in message


def test_cli_prints_a_damaged_artifact_as_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(["train", *CLI_MODEL], capsys)
    folder = out.split("artifact: ")[1].split()[0]
    (tmp_path / folder / "meta.json").write_text("{broken")
    for argv in (["train", *CLI_MODEL], ["infer", *CLI_MODEL, "--trials", "2", "--out", "t.npz"], ["info"]):
        code, out, err = run_cli(argv, capsys)
        assert code == 1 and out == "" and "Traceback" not in err
        assert err.count("\n") == 1 and err.startswith(f"vaedyn {argv[0]}: error: ")
        assert "meta.json is not valid JSON" in err and "delete the folder" in err

    atomic_write_json({"kind": "vae", "config": {}, "sha256": "0" * 64},
                      tmp_path / folder / "meta.json")
    code, out, err = run_cli(["train", *CLI_MODEL], capsys)
    assert code == 1 and err.count("\n") == 1 and "model.pt fails its checksum" in err


@pytest.mark.parametrize("damage", ["truncate", "junk", "flipped_weight", "missing_field"])
def test_damaged_checkpoint_names_the_file_and_what_to_delete(tiny_config, tmp_path, damage):
    config = dataclasses.replace(tiny_config, epochs=4)
    path = tmp_path / "checkpoint.pt"
    killed_checkpoint(config, path)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "junk":
        path.write_bytes(b"{broken")
    else:
        # Bit rot inside a tensor: torch's zip reader loads this silently; the checkpoint's digest must not.
        state = torch.load(path, weights_only=True)
        if damage == "flipped_weight":
            state["model"]["encoder.0.weight"][0, 0] += 1.0
        else:
            del state["optimizer"]
        torch.save(state, path)
    with pytest.raises(CorruptArtifactError) as error:
        loop.train(config, device="cpu", checkpoint_path=path, progress=False)
    message = str(error.value)
    assert str(path) in message and f"delete {path} to start this training again" in message
    assert "\n" not in message


def test_damaged_ensemble_checkpoint_is_reported(tiny_config, tmp_path):
    configs = [dataclasses.replace(tiny_config, nz=nz, seed=s) for nz, s in [(2, 0), (3, 1)]]
    data = load_dataset("digits", "train", "cpu"), load_dataset("digits", "test", "cpu")
    path = tmp_path / "ensemble.pt"

    def stop(epoch, current):
        raise Killed
    with pytest.raises(Killed):
        train_ensemble(configs, device="cpu", checkpoint_path=path, checkpoint_every=1, progress=False, data=data,
                       on_epoch_end=stop)
    state = torch.load(path, weights_only=True)
    state["generators"][1][7] ^= 1
    torch.save(state, path)
    with pytest.raises(CorruptArtifactError, match=f"fails its checksum.*delete {path} to start this ensemble"):
        train_ensemble(configs, device="cpu", checkpoint_path=path, progress=False, data=data)


class RunsCodeWhenUnpickled:
    ran = []

    def __reduce__(self):
        return RunsCodeWhenUnpickled.ran.append, ("code ran",)


def test_payloads_are_loaded_weights_only(tiny_config):
    """A model.pt whose checksum matches but that holds an arbitrary object is refused unread."""
    trained = store.get_or_train(tiny_config, device="cpu", progress=False)
    model_file, meta_file = trained.path / "model.pt", trained.path / "meta.json"
    torch.save({"state_dict": {}, "n_features": 64, "history": [RunsCodeWhenUnpickled()]}, model_file)
    meta = json.loads(meta_file.read_text())
    atomic_write_json({**meta, "sha256": sha256_file(model_file)}, meta_file)
    with pytest.raises(CorruptArtifactError, match="weights_only=True"):
        store.load_vae(tiny_config, "cpu")
    assert RunsCodeWhenUnpickled.ran == []


def test_new_meta_files_record_provenance(tiny_config):
    trained = store.get_or_train(tiny_config, device="cpu", progress=False)
    record = json.loads((trained.path / "meta.json").read_text())["provenance"]
    assert record["device"] == "cpu" and record["device_name"]
    assert record["libraries"]["torch"] == torch.__version__.split("+")[0]
    for library in ("numpy", "scikit-learn", "scipy", "python"):
        assert record["libraries"][library]
    assert record["wall_time_s"] > 0 and record["written_at"]
    assert record["source"] is None or len(record["source"]["commit"]) == 40

    classifier = get_or_train_classifier(ClassifierConfig(dataset="digits", epochs=1, train_limit=200),
                                         device="cpu", progress=False)
    record = json.loads((classifier.path / "meta.json").read_text())["provenance"]
    assert record["device"] == "cpu" and record["wall_time_s"] > 0


def test_old_meta_files_and_checkpoints_stay_readable(tiny_config, tmp_path):
    """Artifacts written before issue 11: meta.json without provenance, checkpoints without the
    device, time, resumes and digest fields (the running long trainings write these)."""
    trained = store.get_or_train(tiny_config, device="cpu", progress=False)
    meta_file = trained.path / "meta.json"
    meta = json.loads(meta_file.read_text())
    del meta["provenance"]
    atomic_write_json(meta, meta_file)
    again = store.load_vae(tiny_config, "cpu")
    assert again.history == trained.history and [r["key"] for r in store.list_artifacts()] == [trained.path.name]

    config = dataclasses.replace(tiny_config, epochs=4)
    path = tmp_path / "old.pt"
    killed_checkpoint(config, path)
    state = load_payload(path, "test")
    torch.save({k: state[k] for k in loop.CHECKPOINT_FIELDS}, path)   # exactly the old format
    resumed = loop.train(config, device="cpu", checkpoint_path=path, progress=False)
    uninterrupted = loop.train(config, device="cpu", progress=False)
    for name, value in uninterrupted.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name
    assert resumed.resumes == [] and resumed.wall_time_s is None   # earlier sessions' time is unknown
