import dataclasses

import pytest
import torch

from vaedyn.data import load_dataset
from vaedyn.training.loop import TrainingDivergedError, train


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_short_digits_training_lowers_the_loss(tiny_config):
    result = train(dataclasses.replace(tiny_config, epochs=6), device="cpu", progress=False)
    losses = [r["train_negative_elbo"] for r in result.history]
    tests = [r["test_negative_elbo"] for r in result.history]
    assert len(result.history) == 6
    assert losses[-1] < losses[0] - 3 and tests[-1] < tests[0] - 3
    for record in result.history:
        assert record["train_negative_elbo"] == pytest.approx(record["train_reconstruction"] + record["train_kl"])


def test_history_records_the_schedule(tiny_config):
    result = train(dataclasses.replace(tiny_config, epochs=6), device="cpu", progress=False)
    assert [r["lr"] for r in result.history] == [5e-4, 5e-4, 1e-4, 1e-4, 5e-5, 5e-5]


def test_training_is_deterministic_for_a_seed(tiny_config):
    a = train(tiny_config, device="cpu", progress=False)
    b = train(tiny_config, device="cpu", progress=False)
    c = train(dataclasses.replace(tiny_config, seed=4), device="cpu", progress=False)
    for key, value in weights(a.model).items():
        assert torch.equal(value, b.model.state_dict()[key])
    assert not torch.equal(a.model.state_dict()["encoder.0.weight"], c.model.state_dict()["encoder.0.weight"])


def test_resume_after_a_kill_gives_the_uninterrupted_weights(tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, epochs=5)
    uninterrupted = train(config, device="cpu", progress=False)

    class Killed(Exception):
        pass

    def kill_after_third_epoch(epoch, record):
        if epoch == 2:
            raise Killed

    checkpoint = tmp_path / "ckpt.pt"
    with pytest.raises(Killed):
        train(config, device="cpu", checkpoint_path=checkpoint, checkpoint_every=1,
              progress=False, on_epoch_end=kill_after_third_epoch)
    assert torch.load(checkpoint, weights_only=False)["epochs_done"] == 3
    resumed = train(config, device="cpu", checkpoint_path=checkpoint, checkpoint_every=1, progress=False)
    for key, value in weights(uninterrupted.model).items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert resumed.history == uninterrupted.history


def test_checkpoint_of_another_config_is_refused(tiny_config, tmp_path):
    checkpoint = tmp_path / "ckpt.pt"
    train(dataclasses.replace(tiny_config, epochs=1), device="cpu", checkpoint_path=checkpoint, progress=False)
    with pytest.raises(ValueError, match="another config"):
        train(dataclasses.replace(tiny_config, epochs=2), device="cpu", checkpoint_path=checkpoint, progress=False)


def test_nan_loss_stops_with_the_epoch(tiny_config):
    train_set = load_dataset("digits", "train")
    test_set = load_dataset("digits", "test")
    poisoned = dataclasses.replace(train_set, x=train_set.x.clone())
    poisoned.x[5, 3] = float("nan")
    with pytest.raises(TrainingDivergedError, match="epoch 1 of 3"):
        train(tiny_config, device="cpu", progress=False, data=(poisoned, test_set))


def test_bf16_training_runs_and_learns(tiny_config):
    result = train(dataclasses.replace(tiny_config, precision="bf16", epochs=4), device="cpu", progress=False)
    losses = [r["train_negative_elbo"] for r in result.history]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    assert result.model.encoder[0].weight.dtype == torch.float32  # autocast keeps fp32 master weights
