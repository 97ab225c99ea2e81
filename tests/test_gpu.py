"""The CUDA paths (issue 11, point 11): skipped without a GPU, run with `pytest -m gpu` on one.

They train tiny models on scikit-learn's digits, so they take seconds on any GPU.
"""
import dataclasses
import importlib

import pytest
import torch

from vaedyn.data import load_dataset
from vaedyn.training.ensemble import train_ensemble
from conftest import Killed

loop = importlib.import_module("vaedyn.training.loop")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


@pytest.fixture(scope="module")
def digits_cuda():
    return load_dataset("digits", "train", "cuda"), load_dataset("digits", "test", "cuda")


def test_training_runs_on_the_gpu_with_the_data_resident_there(tiny_config, digits_cuda):
    result = loop.train(tiny_config, device="cuda", progress=False, data=digits_cuda)
    assert next(result.model.parameters()).device.type == "cuda"
    elbo = [r["test_negative_elbo"] for r in result.history]
    assert all(torch.isfinite(torch.tensor(elbo))) and elbo[-1] < elbo[0]


def test_a_killed_gpu_run_resumes_on_the_gpu_to_the_same_model(tiny_config, digits_cuda, tmp_path):
    config = dataclasses.replace(tiny_config, epochs=4)
    whole = loop.train(config, device="cuda", progress=False, data=digits_cuda)

    def stop(epoch, record):
        if epoch == 1:
            raise Killed
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(Killed):
        loop.train(config, device="cuda", checkpoint_path=path, checkpoint_every=1, progress=False, data=digits_cuda,
                   on_epoch_end=stop)
    resumed = loop.train(config, device="cuda", checkpoint_path=path, checkpoint_every=1, progress=False,
                         data=digits_cuda)
    assert resumed.resumes == []            # same kind of device: exact, nothing re-seeded
    for name, value in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=1e-5, atol=1e-6)


def test_a_gpu_checkpoint_resumes_on_the_cpu_with_a_recorded_reseed(tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, epochs=3)

    def stop(epoch, record):
        if epoch == 0:
            raise Killed
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(Killed):
        loop.train(config, device="cuda", checkpoint_path=path, checkpoint_every=1, progress=False,
                   on_epoch_end=stop)
    resumed = loop.train(config, device="cpu", checkpoint_path=path, progress=False)
    assert [(r["from_device"], r["to_device"]) for r in resumed.resumes] == [("cuda", "cpu")]
    assert len(resumed.history) == 3


def test_bf16_training_on_the_gpu_stays_finite(tiny_config, digits_cuda):
    result = loop.train(dataclasses.replace(tiny_config, precision="bf16"), device="cuda", progress=False,
                        data=digits_cuda)
    assert all(torch.isfinite(torch.tensor(r["test_negative_elbo"])) for r in result.history)


def test_a_batched_ensemble_on_the_gpu_matches_its_lone_runs(tiny_config, digits_cuda):
    configs = [dataclasses.replace(tiny_config, nz=nz, epochs=2) for nz in (2, 4)]
    members = train_ensemble(configs, device="cuda", progress=False, data=digits_cuda)
    for member, config in zip(members, configs):
        lone = loop.train(config, device="cuda", progress=False, data=digits_cuda)
        assert member.history[-1]["test_negative_elbo"] == pytest.approx(lone.history[-1]["test_negative_elbo"],
                                                                         rel=1e-3)
