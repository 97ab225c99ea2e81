"""The other models of the architecture comparison: the conv VAE, the beta-VAE, the IWAE, their budgets."""
import dataclasses
import math

import pytest
import torch

from vaedyn.analysis.concepts import concept_set
from vaedyn.analysis.inference import repeated_inference
from vaedyn.config import ARCHITECTURE_RUNS, PROFILES, ConfigError, TrainConfig, kl_weight
from vaedyn.model import VAE, ConvVAE
from vaedyn.objective import elbo_terms, training_loss
from vaedyn.randomness import latent_noise
from vaedyn.training import pretrained
from vaedyn.training.ensemble import train_ensemble
from vaedyn.training.loop import build_model, train
from vaedyn.training.store import get_or_train, load_vae
from vaedyn.training.study import kept_configs


@pytest.fixture
def conv_config():
    """A conv VAE on the first 300 of scikit-learn's 8x8 digits: one epoch takes well under a second."""
    return TrainConfig(dataset="digits", nz=4, epochs=1, batch_size=50, seed=3, train_limit=300, architecture="conv")


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return a.state_dict().keys() == b.state_dict().keys() and all(
        torch.equal(value, b.state_dict()[name]) for name, value in a.state_dict().items())


@pytest.mark.parametrize("side", [28, 8])
def test_conv_vae_takes_and_gives_flat_rows_like_the_mlp(side):
    model = ConvVAE(n_features=side * side, nz=3)
    x = torch.rand(5, side * side)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, 3) and model.image_shape == (1, side, side)
    assert torch.equal(model.encode_mean(x), mu)
    assert model.decode_logits(torch.randn(2, 5, 3)).shape == (2, 5, side * side)   # L samples x batch
    means = model.decode_mean(mu)
    assert means.shape == (5, side * side) and ((means > 0) & (means < 1)).all()
    # Rows are independent: one image encodes the same alone as in a batch.
    torch.testing.assert_close(model.encode_mean(x[2:3]), mu[2:3])


@pytest.mark.parametrize("n_features", [100, 50])
def test_conv_vae_refuses_images_it_cannot_halve_twice(n_features):
    with pytest.raises(ConfigError, match=f"n_features={n_features} is not allowed"):
        ConvVAE(n_features=n_features)


def test_build_model_picks_the_architecture_and_seeds_it():
    assert type(build_model(TrainConfig(nz=4, hidden=8), 64)) is VAE
    conv = TrainConfig(nz=4, architecture="conv")
    assert type(build_model(conv, 64)) is ConvVAE
    assert same_weights(build_model(conv, 64), build_model(conv, 64))
    assert not same_weights(build_model(conv, 64), build_model(dataclasses.replace(conv, seed=1), 64))


def test_the_analysis_runs_unchanged_on_a_conv_model(digits):
    train_set, _ = digits
    model = ConvVAE(n_features=64, nz=4).eval()
    trajectory = repeated_inference(model, train_set.x[:7], steps=3, record_x=True)
    assert trajectory.z.shape == (4, 7, 4) and trajectory.x.shape == (4, 7, 64)
    assert concept_set(model, train_set.x, train_set.y).concepts.shape == (10, 4)


def test_a_conv_model_is_stored_and_loads_back_equal(conv_config):
    trained = get_or_train(conv_config, device="cpu", progress=False)
    assert isinstance(trained.model, ConvVAE) and len(trained.history) == 1
    fresh = train(conv_config, device="cpu", progress=False)   # what the store must hold
    assert not same_weights(fresh.model, build_model(conv_config, 64))      # it did train
    for loaded in (get_or_train(conv_config, device="cpu", progress=False), load_vae(conv_config, device="cpu")):
        assert loaded.path == trained.path and isinstance(loaded.model, ConvVAE)
        assert same_weights(loaded.model, trained.model) and same_weights(loaded.model, fresh.model)


def test_shipped_conv_weights_install_as_a_conv_model(conv_config, tmp_path, monkeypatch):
    monkeypatch.setenv("VAEDYN_PRETRAINED", str(tmp_path / "pretrained"))
    trained = get_or_train(conv_config, device="cpu", progress=False, root=tmp_path / "trained here")
    pretrained.export_vae(trained, tmp_path / "pretrained")
    assert pretrained.install(conv_config, tmp_path / "elsewhere") is not None
    installed = load_vae(conv_config, device="cpu", root=tmp_path / "elsewhere")
    assert isinstance(installed.model, ConvVAE) and same_weights(installed.model, trained.model)


def test_a_killed_conv_training_resumes_to_the_uninterrupted_weights(conv_config, tmp_path):
    config = dataclasses.replace(conv_config, epochs=2)
    uninterrupted = train(config, device="cpu", progress=False)

    class Killed(Exception):
        pass

    def kill_after_first_epoch(epoch, record):
        raise Killed

    checkpoint = tmp_path / "checkpoint.pt"
    with pytest.raises(Killed):
        train(config, device="cpu", checkpoint_path=checkpoint, checkpoint_every=1, progress=False,
              on_epoch_end=kill_after_first_epoch)
    resumed = train(config, device="cpu", checkpoint_path=checkpoint, progress=False)
    assert same_weights(resumed.model, uninterrupted.model) and resumed.history == uninterrupted.history


def test_the_ensemble_refuses_a_conv_member(conv_config):
    with pytest.raises(ConfigError, match="architecture='conv' is not allowed in an ensemble"):
        train_ensemble([conv_config], device="cpu", progress=False)


def test_beta_weights_the_kl_term_of_the_training_loss_and_composes_with_warm_up(digits):
    config = TrainConfig(dataset="digits", nz=4, hidden=16, beta=4.0)
    assert kl_weight(config, 0) == 4.0
    warm = dataclasses.replace(config, epochs=10, kl_warmup_epochs=2)
    assert [kl_weight(warm, e) for e in range(4)] == [0.0, 2.0, 4.0, 4.0]

    model, x = build_model(config, 64), digits[0].x[:100]
    eps = latent_noise(model, x, config.n_samples, torch.Generator().manual_seed(1))
    loss, reconstruction, kl = training_loss(model, x, eps, kl_weight(config, 0), config.renyi_alpha)
    terms = elbo_terms(model, x, config.n_samples, torch.Generator().manual_seed(1))   # the same eps
    torch.testing.assert_close(loss, (terms.reconstruction + 4.0 * terms.kl).mean())
    torch.testing.assert_close(reconstruction, terms.reconstruction)
    assert (terms.kl > 0).all()   # so beta changes the loss


def test_a_beta_vae_trains_on_its_loss_but_reports_the_true_elbo():
    base = TrainConfig(dataset="digits", nz=4, hidden=16, epochs=1, batch_size=50, seed=3, train_limit=300)
    plain = train(base, device="cpu", progress=False).history[0]
    beta = train(dataclasses.replace(base, beta=4.0), device="cpu", progress=False).history[0]
    assert beta["train_kl"] < plain["train_kl"]   # the heavier KL weight pulls q(z|x) to the prior
    for split in ("train", "test"):
        assert beta[f"{split}_negative_elbo"] == pytest.approx(beta[f"{split}_reconstruction"] + beta[f"{split}_kl"])


def test_the_iwae_config_trains_on_burdas_bound_which_is_tighter_than_the_elbo(digits):
    """The IWAE (k = 5) is renyi_alpha = 0 with n_samples = 5: its loss is -log (1/k) sum_j w_j
    (Burda et al. 2016, eq. 8), at most the negative ELBO, whose k-sample estimate it bounds by Jensen."""
    config = PROFILES["smoke"].architecture_configs("digits")["IWAE (k = 5)"]
    assert (config.renyi_alpha, config.n_samples) == (0.0, 5)
    model, x = build_model(dataclasses.replace(config, nz=4, hidden=16), 64), digits[0].x[:500]
    eps = latent_noise(model, x, config.n_samples, torch.Generator().manual_seed(2))
    iw_loss = training_loss(model, x, eps, kl_weight(config, 0), config.renyi_alpha)[0]
    elbo_loss = training_loss(model, x, eps, 1.0, 1.0)[0]
    log_w = elbo_terms(model, x, config.n_samples, torch.Generator().manual_seed(2), log_weights=True).log_weights
    torch.testing.assert_close(iw_loss, -(torch.logsumexp(log_w, dim=0) - math.log(5)).mean())
    assert iw_loss < -log_w.mean() and iw_loss < elbo_loss - 0.1


@pytest.mark.parametrize("changes, fragment", [
    ({"architecture": "resnet"}, "architecture='resnet' is not allowed; choose one of mlp, conv"),
    ({"beta": 0}, "beta=0 is not allowed"), ({"beta": -1.0}, "beta=-1.0 is not allowed"),
    ({"beta": "x"}, "beta='x' is not allowed"), ({"beta": float("inf")}, "beta=inf is not allowed"),
    ({"beta": 4, "renyi_alpha": 0}, "beta=4 weights the KL term of the ELBO; it needs renyi_alpha=1"),
    ({"architecture": "conv", "hidden": 32}, "hidden=32 is not allowed with architecture='conv'"),
])
def test_bad_architecture_options_are_refused_naming_the_value(changes, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")) as error:
        TrainConfig(**changes)
    assert len(str(error.value).splitlines()) == 1


def test_the_new_options_at_their_defaults_leave_every_existing_key_unchanged():
    """Models trained before these options keep their store keys: at the defaults the options are not in
    `to_dict`, which the key hashes (its other fields as before: the paper's eleven)."""
    paper_fields = {"dataset", "nz", "hidden", "epochs", "batch_size", "lr_values", "lr_milestones", "n_samples",
                    "seed", "precision", "train_limit"}
    assert set(TrainConfig().to_dict()) == paper_fields
    existing = [TrainConfig()]
    for profile in PROFILES.values():
        existing += [profile.train_config("mnist"), profile.spread_config("fashion_mnist", 1),
                     profile.fig8.configs("mnist")[0], profile.fig9.configs("mnist")[-1],
                     *kept_configs(profile.study, profile.study.configs("mnist")[-1])]
    for config in existing:
        values = config.to_dict()
        assert "beta" not in values and "architecture" not in values, config
        assert TrainConfig.from_dict(values) == config
    assert TrainConfig(beta=4.0).to_dict()["beta"] == 4.0
    assert TrainConfig(architecture="conv").to_dict()["architecture"] == "conv"


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_profile_trains_the_four_architectures_on_one_budget(profile):
    configs = PROFILES[profile].architecture_configs("mnist", seed=1)
    assert list(configs) == list(ARCHITECTURE_RUNS) == ["MLP", "conv", "beta-VAE (beta = 4)", "IWAE (k = 5)"]
    budgets = {(c.epochs, c.train_limit, c.lr_values, c.batch_size, c.nz, c.seed, c.dataset, c.compile)
               for c in configs.values()}
    assert len(budgets) == 1 and len(set(configs.values())) == 4
    mlp = configs["MLP"]
    assert configs["conv"] == dataclasses.replace(mlp, architecture="conv")
    assert configs["beta-VAE (beta = 4)"] == dataclasses.replace(mlp, beta=4.0)
    assert configs["IWAE (k = 5)"] == dataclasses.replace(mlp, renyi_alpha=0.0, n_samples=5)


def test_architecture_budgets_per_profile():
    budget = {name: (p.architecture_configs()["MLP"].epochs, p.architecture_configs()["MLP"].train_limit)
              for name, p in PROFILES.items()}
    assert budget["smoke"] == (1, 500) and budget["quick"][1] == 10_000 and budget["paper"] == (1500, None)
    assert budget["long"][1] is None
    assert PROFILES["paper"].architecture_configs()["MLP"] == PROFILES["paper"].train_config()   # the main model
    with pytest.raises(ConfigError, match="profile='x' defines no architecture runs"):
        dataclasses.replace(PROFILES["smoke"], name="x", architecture_epochs=None).architecture_configs()
