"""A checkpoint written on another kind of device (issue 11, point 1).

No GPU is needed: a CUDA checkpoint is simulated by giving a CPU checkpoint a CUDA generator's
state (16 bytes: Philox seed and offset), and a CUDA run by a CPU generator that reports
device 'cuda' (it computes exactly what the CPU run would, so results can be compared bit for bit).
"""
import dataclasses
import importlib
import json

import pytest
import torch

from vaedyn.files import atomic_torch_save
from vaedyn.randomness import CUDA_STATE_BYTES, ForeignCheckpointError, resume_seed
from vaedyn.training import store
from vaedyn.training.ensemble import train_ensemble
from vaedyn.training.integrity import load_payload, with_digest
from conftest import Killed

loop = importlib.import_module("vaedyn.training.loop")   # the package re-exports a function named train
PHILOX_STATE = torch.arange(CUDA_STATE_BYTES, dtype=torch.uint8)   # what a CUDA generator's get_state gives


class GeneratorReportingCuda(torch.Generator):
    """A CPU generator that says it is on CUDA: the resume logic sees a CUDA run."""

    device = property(lambda self: torch.device("cuda"))


def killed_run(config, path, digits):
    """Train `config` with a checkpoint after every epoch and stop after the second."""
    def stop(epoch, record):
        if epoch == 1:
            raise Killed
    with pytest.raises(Killed):
        loop.train(config, device="cpu", checkpoint_path=path, checkpoint_every=1, progress=False, data=digits,
                   on_epoch_end=stop)


def rewrite(path, changes: dict, drop=()):
    state = load_payload(path, "test")
    state.update(changes)
    for key in drop:
        state.pop(key, None)
    atomic_torch_save(with_digest(state), path)


def assert_same_weights(a, b):
    for name, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[name]), name


@pytest.fixture
def config(tiny_config):
    return dataclasses.replace(tiny_config, epochs=4)


@pytest.mark.parametrize("recorded", [True, False], ids=["device-recorded", "old-checkpoint-by-size"])
def test_cuda_checkpoint_resumes_on_cpu_with_a_deterministic_reseed(config, digits, tmp_path, recorded):
    foreign, reference = tmp_path / "foreign.pt", tmp_path / "reference.pt"
    killed_run(config, foreign, digits)
    uninterrupted = loop.train(config, device="cpu", progress=False, data=digits)
    killed_run(config, reference, digits)
    rewrite(foreign, {"generator": PHILOX_STATE, "generator_device": "cuda"},
            drop=() if recorded else ("generator_device",))
    seed = resume_seed(PHILOX_STATE)
    # The same checkpoint continued on CPU from the stream the re-seed promises: what the resume must equal.
    rewrite(reference, {"generator": torch.Generator().manual_seed(seed).get_state()})

    resumed = loop.train(config, device="cpu", checkpoint_path=foreign, progress=False, data=digits)
    expected = loop.train(config, device="cpu", checkpoint_path=reference, progress=False, data=digits)

    assert resumed.resumes == [{"epoch": 2, "from_device": "cuda", "to_device": "cpu", "reseeded_with": seed}]
    assert_same_weights(resumed.model, expected.model)
    assert resumed.history == expected.history
    assert resumed.history[:2] == uninterrupted.history[:2]          # weights and schedule restored exactly
    assert resumed.history[2]["train_negative_elbo"] != uninterrupted.history[2]["train_negative_elbo"]
    # The record survives further checkpoints: a second resume still says it happened.
    assert load_payload(foreign, "test")["resumes"] == resumed.resumes


def test_cuda_checkpoint_on_cpu_can_be_refused_in_one_line(config, digits, tmp_path):
    path = tmp_path / "foreign.pt"
    killed_run(config, path, digits)
    rewrite(path, {"generator": PHILOX_STATE, "generator_device": "cuda"})
    before = path.read_bytes()
    with pytest.raises(ForeignCheckpointError) as error:
        loop.train(config, device="cpu", checkpoint_path=path, progress=False, data=digits, cross_device="stop")
    message = str(error.value)
    assert "\n" not in message and "written on cuda" in message and "this run is on cpu" in message
    assert str(path) in message
    assert path.read_bytes() == before


def test_cpu_checkpoint_resumes_on_cuda_with_a_deterministic_reseed(config, digits, tmp_path, monkeypatch):
    path, reference = tmp_path / "cpu.pt", tmp_path / "reference.pt"
    killed_run(config, path, digits)
    killed_run(config, reference, digits)
    cpu_state = load_payload(path, "test")["generator"]
    seed = resume_seed(cpu_state)
    rewrite(reference, {"generator": torch.Generator().manual_seed(seed).get_state()})
    expected = loop.train(config, device="cpu", checkpoint_path=reference, progress=False, data=digits)

    monkeypatch.setattr(loop, "training_generator",
                        lambda device, seed: GeneratorReportingCuda(device="cpu").manual_seed(seed))
    with pytest.raises(ForeignCheckpointError, match="written on cpu and this run is on cuda"):
        loop.train(config, device="cpu", checkpoint_path=path, progress=False, data=digits, cross_device="stop")
    resumed = loop.train(config, device="cpu", checkpoint_path=path, progress=False, data=digits)
    assert resumed.resumes == [{"epoch": 2, "from_device": "cpu", "to_device": "cuda", "reseeded_with": seed}]
    assert_same_weights(resumed.model, expected.model)
    assert resumed.history == expected.history


def test_same_device_resume_stays_exact_and_records_nothing(config, digits, tmp_path):
    path = tmp_path / "checkpoint.pt"
    killed_run(config, path, digits)
    resumed = loop.train(config, device="cpu", checkpoint_path=path, progress=False, data=digits)
    uninterrupted = loop.train(config, device="cpu", progress=False, data=digits)
    assert resumed.resumes == []
    assert_same_weights(resumed.model, uninterrupted.model)


def test_the_store_records_a_cross_device_resume_in_meta(config, digits, tmp_path):
    directory = store.artifact_dir("vae", config.to_dict())
    killed_run(config, directory / "checkpoint.pt", digits)
    rewrite(directory / "checkpoint.pt", {"generator": PHILOX_STATE, "generator_device": "cuda"})
    trained = store.get_or_train(config, device="cpu", progress=False)
    record = json.loads((trained.path / "meta.json").read_text())["provenance"]
    assert record["device"] == "cpu"
    assert record["cross_device_resumes"] == [{"epoch": 2, "from_device": "cuda", "to_device": "cpu",
                                               "reseeded_with": resume_seed(PHILOX_STATE)}]
    assert trained.path.name == store.config_key("vae", config.to_dict())   # the key does not change


def test_ensemble_checkpoint_from_cuda_resumes_each_member_with_its_own_reseed(tiny_config, digits, tmp_path):
    configs = [dataclasses.replace(tiny_config, epochs=3, nz=nz, seed=seed) for nz, seed in [(2, 0), (3, 1)]]

    def kill(epoch, current):
        if epoch == 0:
            raise Killed

    paths = [tmp_path / "foreign.pt", tmp_path / "reference.pt", tmp_path / "refused.pt"]
    for path in paths:
        with pytest.raises(Killed):
            train_ensemble(configs, device="cpu", checkpoint_path=path, checkpoint_every=1, progress=False,
                           data=digits, on_epoch_end=kill)
    states = [PHILOX_STATE, PHILOX_STATE.flip(0)]
    for path in (paths[0], paths[2]):
        rewrite(path, {"generators": states, "generator_device": "cuda"})
    seeds = [resume_seed(s) for s in states]
    rewrite(paths[1], {"generators": [torch.Generator().manual_seed(s).get_state() for s in seeds]})

    resumed = train_ensemble(configs, device="cpu", checkpoint_path=paths[0], progress=False, data=digits)
    expected = train_ensemble(configs, device="cpu", checkpoint_path=paths[1], progress=False, data=digits)
    for member, reference, seed in zip(resumed, expected, seeds):
        assert member.resumes == [{"epoch": 1, "from_device": "cuda", "to_device": "cpu", "reseeded_with": seed}]
        assert_same_weights(member.model, reference.model)
        assert member.history == reference.history
    assert seeds[0] != seeds[1]
    with pytest.raises(ForeignCheckpointError, match="written on cuda and this run is on cpu"):
        train_ensemble(configs, device="cpu", checkpoint_path=paths[2], progress=False, data=digits,
                       cross_device="stop")


def test_an_unknown_resume_policy_is_refused_before_training(config, digits):
    with pytest.raises(ValueError, match="cross_device='maybe' is not allowed; choose one of reseed, stop"):
        loop.train(config, device="cpu", progress=False, data=digits, cross_device="maybe")


def test_cli_stops_on_a_foreign_checkpoint_in_one_line_when_asked(capsys, tmp_path, monkeypatch):
    from vaedyn.cli import main
    from vaedyn.config import get_profile

    monkeypatch.chdir(tmp_path)
    config = get_profile("smoke").train_config("digits", 4, 0, epochs=4)
    directory = store.artifact_dir("vae", config.to_dict())
    killed_run(config, directory / "checkpoint.pt", None)
    rewrite(directory / "checkpoint.pt", {"generator": PHILOX_STATE, "generator_device": "cuda"})
    argv = ["train", "--dataset", "digits", "--nz", "4", "--profile", "smoke", "--epochs", "4", "--device", "cpu",
            "--no-progress"]
    assert main([*argv, "--cross-device", "stop"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "written on cuda and this run is on cpu" in err
    assert main(argv) == 0 and "artifact:" in capsys.readouterr()[0]
    meta = json.loads((directory / "meta.json").read_text())
    assert meta["provenance"]["cross_device_resumes"] == [{"epoch": 2, "from_device": "cuda", "to_device": "cpu",
                                                           "reseeded_with": resume_seed(PHILOX_STATE)}]
