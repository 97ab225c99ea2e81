"""Training options beyond the paper: KL annealing and the variational Renyi bound."""
import dataclasses
import math

import pytest
import torch

from vaedyn.config import ConfigError, TrainConfig, kl_weight
from vaedyn.data import load_dataset
from vaedyn.training.ensemble import train_ensemble
from vaedyn.objective import renyi_bound
from vaedyn.training.store import config_key
from vaedyn.training.loop import train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train", "cpu"), load_dataset("digits", "test", "cpu")


def test_kl_weight_rises_linearly_then_stays_at_one():
    config = TrainConfig(epochs=10, kl_warmup_epochs=4)
    assert [kl_weight(config, e) for e in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert {kl_weight(TrainConfig(), e) for e in range(5)} == {1.0}


@pytest.mark.parametrize("changes, fragment", [
    ({"kl_warmup_epochs": -1}, "kl_warmup_epochs=-1"), ({"kl_warmup_epochs": 1.5}, "kl_warmup_epochs=1.5"),
    ({"renyi_alpha": -0.5}, "renyi_alpha=-0.5"), ({"renyi_alpha": "x"}, "renyi_alpha='x'"),
    ({"renyi_alpha": float("inf")}, "renyi_alpha=inf"), ({"renyi_alpha": 0.5, "kl_warmup_epochs": 3}, "needs renyi_alpha=1"),
])
def test_bad_options_are_refused(changes, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        TrainConfig(**changes)


def test_options_at_their_defaults_leave_every_store_key_unchanged():
    plain = TrainConfig().to_dict()
    assert "kl_warmup_epochs" not in plain and "renyi_alpha" not in plain
    assert TrainConfig.from_dict(plain) == TrainConfig()
    keys = {config_key("vae", c.to_dict()) for c in
            (TrainConfig(), TrainConfig(kl_warmup_epochs=5), TrainConfig(renyi_alpha=0.5), TrainConfig(renyi_alpha=0))}
    assert len(keys) == 4


def test_renyi_bound_spans_elbo_to_importance_weighted_and_falls_with_alpha():
    log_w = torch.randn(8, 5, dtype=torch.float64) * 3
    assert torch.allclose(renyi_bound(log_w, 1.0), log_w.mean(dim=0))
    assert torch.allclose(renyi_bound(log_w, 0.0), torch.logsumexp(log_w, 0) - math.log(8))
    assert torch.allclose(renyi_bound(log_w, 1.0 - 1e-6), log_w.mean(dim=0), atol=1e-4)
    values = torch.stack([renyi_bound(log_w, a) for a in (0.0, 0.25, 0.5, 0.99, 1.0)])
    assert (values[1:] <= values[:-1] + 1e-12).all()


def test_warm_up_lets_the_kl_grow_in_the_first_epoch(digits):
    base = TrainConfig(dataset="digits", nz=4, hidden=32, epochs=1, batch_size=50, seed=3)
    plain = train(base, device="cpu", progress=False, data=digits)
    annealed = train(dataclasses.replace(base, kl_warmup_epochs=5), device="cpu", progress=False, data=digits)
    assert annealed.history[0]["train_kl"] > plain.history[0]["train_kl"]


def test_renyi_training_learns(digits):
    config = TrainConfig(dataset="digits", nz=4, hidden=32, epochs=4, batch_size=50, seed=3, renyi_alpha=0.0,
                         n_samples=5)
    history = train(config, device="cpu", progress=False, data=digits).history
    assert history[-1]["test_negative_elbo"] < history[0]["test_negative_elbo"]


@pytest.mark.parametrize("option", [{"kl_warmup_epochs": 2}, {"renyi_alpha": 0.5}])
def test_ensemble_members_match_lone_runs_under_each_option(digits, option):
    base = TrainConfig(dataset="digits", hidden=32, epochs=3, batch_size=50, **option)
    configs = [dataclasses.replace(base, nz=nz, seed=seed) for nz, seed in [(2, 0), (5, 1)]]
    for config, member in zip(configs, train_ensemble(configs, device="cpu", progress=False, data=digits)):
        lone = train(config, device="cpu", progress=False, data=digits)
        for name, value in lone.model.state_dict().items():
            torch.testing.assert_close(member.model.state_dict()[name], value, rtol=1e-5, atol=1e-5, msg=name)
