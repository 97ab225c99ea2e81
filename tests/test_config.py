import pytest
import torch

from vaedyn.config import (ConfigError, TrainConfig, check_probability, get_profile, learning_rate,
                           resolve_device)


def test_learning_rate_follows_equal_thirds_of_the_run():
    config = TrainConfig(epochs=9)
    assert [learning_rate(config, e) for e in range(9)] == [5e-4] * 3 + [1e-4] * 3 + [5e-5] * 3


def test_learning_rate_of_the_paper_schedule_at_its_boundaries():
    config = TrainConfig(epochs=1500)
    assert config.milestones() == (500, 1000)
    assert learning_rate(config, 0) == 5e-4
    assert learning_rate(config, 499) == 5e-4
    assert learning_rate(config, 500) == 1e-4
    assert learning_rate(config, 999) == 1e-4
    assert learning_rate(config, 1000) == 5e-5
    assert learning_rate(config, 1499) == 5e-5


def test_custom_milestones():
    config = TrainConfig(epochs=10, lr_milestones=(2, 7))
    assert [learning_rate(config, e) for e in (0, 1, 2, 6, 7, 9)] == [5e-4, 5e-4, 1e-4, 1e-4, 5e-5, 5e-5]


def test_paper_profile_matches_methods():
    paper = get_profile("paper")
    config = paper.train_config()
    assert (config.epochs, config.n_samples, config.batch_size, config.hidden, config.nz) == (1500, 2, 100, 1024, 100)
    assert config.lr_values == (5e-4, 1e-4, 5e-5)
    assert (paper.trials_distance, paper.trials_stages, paper.trials_classifier) == (300, 500, 200)
    assert paper.train_limit is None


@pytest.mark.parametrize("field, value", [("nz", 0), ("nz", -3), ("epochs", 0), ("batch_size", 0),
                                          ("n_samples", 0), ("dataset", "cifar"), ("precision", "fp16")])
def test_bad_train_config_names_the_value(field, value):
    with pytest.raises(ConfigError, match=f"{field}={value!r}"):
        TrainConfig(**{field: value})


def test_bad_milestones_are_rejected():
    with pytest.raises(ConfigError, match="lr_milestones"):
        TrainConfig(lr_milestones=(5,))
    with pytest.raises(ConfigError, match="lr_milestones"):
        TrainConfig(lr_milestones=(7, 3))


def test_config_round_trips_through_a_dict():
    config = TrainConfig(nz=7, lr_milestones=(1, 2), epochs=3)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="unknown"):
        TrainConfig.from_dict({"nz": 3, "colour": "red"})


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "abc"])
def test_probability_outside_unit_interval_is_rejected(p):
    with pytest.raises(ConfigError, match="p="):
        check_probability("p", p)


def test_unknown_profile_and_device():
    with pytest.raises(ConfigError, match="profile='huge'"):
        get_profile("huge")
    with pytest.raises(ConfigError, match="device='tpu'"):
        resolve_device("tpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA"):
            resolve_device("cuda")


def test_seed_spread_of_the_profiles():
    from vaedyn.config import PROFILES, Profile

    for profile in PROFILES.values():
        assert 0 in profile.spread_seeds and len(profile.spread_seeds) >= 2
    assert PROFILES["quick"].spread_seeds == PROFILES["paper"].spread_seeds == (0, 1, 2)
    long = PROFILES["long"]
    assert long.spread_config("mnist", 2).last_epoch == long.spread_epochs == 100
    assert long.spread_config("mnist", 0) == long.train_config("mnist").snapshot(100)   # seed 0's kept snapshot
    assert 100 in long.snapshot_epochs
    assert PROFILES["quick"].spread_config("fashion_mnist", 1) == PROFILES["quick"].train_config("fashion_mnist", seed=1)
    with pytest.raises(ConfigError, match="spread_seeds"):
        Profile(name="x", epochs=2, classifier_epochs=1, train_limit=None, trials_distance=1, trials_stages=1,
                trials_classifier=1, steps=1, spread_seeds=(0, 0))
    with pytest.raises(ConfigError, match="spread_epochs=3"):
        Profile(name="x", epochs=2, classifier_epochs=1, train_limit=None, trials_distance=1, trials_stages=1,
                trials_classifier=1, steps=1, spread_epochs=3)


def test_the_classifier_trains_on_its_own_image_limit_or_the_main_models():
    from pathlib import Path

    from vaedyn.book.page import Run
    from vaedyn.config import PROFILES, Profile

    assert PROFILES["smoke"].classifier_config("mnist").train_limit == PROFILES["smoke"].train_limit == 2000
    assert PROFILES["quick"].classifier_config("mnist").train_limit == 40_000
    assert PROFILES["quick"].train_config("mnist").train_limit is None     # the VAE still sees all of them
    assert PROFILES["paper"].classifier_config("fashion_mnist").train_limit is None

    def page_text(profile):
        return Run("01_training", profile, "mnist", torch.device("cpu"), 0, Path("."), "x").classifier_images_text()

    assert page_text(PROFILES["quick"]) == "the first 40\u2009000" and page_text(PROFILES["paper"]) == "all"
    with pytest.raises(ConfigError, match="classifier_train_limit=0"):
        Profile(name="x", epochs=2, classifier_epochs=1, train_limit=None, trials_distance=1, trials_stages=1,
                trials_classifier=1, steps=1, classifier_train_limit=0)


def test_pages_say_how_long_their_models_trained_against_the_papers_budget():
    from pathlib import Path

    from vaedyn.book.page import Run
    from vaedyn.config import PROFILES

    def run(profile, epochs=None):
        return Run("05_classifier_steps", PROFILES[profile], "mnist", torch.device("cpu"), 1, Path("."), "x",
                   epochs=epochs)

    assert run("quick").vae_budget_text() == "a VAE trained for 9 epochs (the quick profile's budget; the paper's: 1500)"
    assert run("quick").classifier_budget_text() == "a CNN trained for 1 epoch on the first 40\u2009000 training images"
    assert run("long").vae_budget_text() == "a VAE trained for 1500 epochs (the paper's budget)"
    assert run("long").classifier_budget_text() == "a CNN trained for 12 epochs on all training images"
    assert run("long", epochs=100).vae_budget_text() == ("a VAE trained for 100 of its schedule's 1500 epochs (the long "
                                                         "profile's budget; the paper's: 1500)")
