"""Compiled training and snapshots of a long run (the `long` profile's machinery)."""
import dataclasses

import pytest
import torch

from conftest import run_cli
from vaedyn import config as config_module
from vaedyn.config import ConfigError, get_profile
from vaedyn.training.store import config_key, get_or_train, load_vae, vae_status
from vaedyn.training.loop import train


def test_a_compiled_run_ends_near_the_eager_run_and_is_its_own_artifact(tiny_config):
    eager = train(tiny_config, device="cpu", progress=False)
    compiled_config = dataclasses.replace(tiny_config, compile=True)
    compiled = train(compiled_config, device="cpu", progress=False)
    again = train(compiled_config, device="cpu", progress=False)
    for name, value in eager.model.state_dict().items():
        assert torch.allclose(value, compiled.model.state_dict()[name], rtol=0, atol=1e-4), name
        assert torch.equal(compiled.model.state_dict()[name], again.model.state_dict()[name]), name
    assert config_key("vae", compiled_config.to_dict()) != config_key("vae", tiny_config.to_dict())
    # Options left at their defaults do not enter the key: models stored before them keep theirs.
    assert "compile" not in tiny_config.to_dict() and "stop_epoch" not in tiny_config.to_dict()


def test_a_snapshot_is_the_run_stopped_early_on_the_long_schedule(tiny_config, isolated_artifacts):
    config = dataclasses.replace(tiny_config, epochs=6)
    full = get_or_train(config, device="cpu", progress=False, keep_epochs=(2, 5))
    assert vae_status(config.snapshot(2)) == "done" and vae_status(config.snapshot(5)) == "done"
    assert vae_status(config.snapshot(3)) == "missing"
    kept = load_vae(config.snapshot(2), device="cpu")
    stopped = train(config.snapshot(2), device="cpu", progress=False)
    # The stopped run follows the 6-epoch schedule: thirds of 6 epochs, not of 2.
    assert [r["lr"] for r in stopped.history] == [5e-4, 5e-4]
    for name, value in stopped.model.state_dict().items():
        assert torch.equal(value, kept.model.state_dict()[name]), name
    assert kept.history == stopped.history == full.history[:2]
    assert config.snapshot(6) == config and config.snapshot(6).last_epoch == 6


def test_the_snapshot_run_is_the_run_stopped_at_the_last_snapshot_keeping_the_others():
    config, keep = get_profile("long").snapshot_run("fashion_mnist", seed=2)
    assert config == get_profile("long").train_config("fashion_mnist", seed=2).snapshot(1000)
    assert keep == (10, 25, 50, 100, 250, 500)


def test_train_snapshots_stores_every_kept_snapshot_of_the_main_model_in_one_run(capsys, isolated_artifacts,
                                                                               monkeypatch):
    """For a main model taken from pretrained/ (shipped without its snapshots): one run, not one per snapshot."""
    profile = dataclasses.replace(get_profile("smoke"), epochs=4, snapshot_epochs=(1, 3))
    monkeypatch.setitem(config_module.PROFILES, "smoke", profile)
    code, out, err = run_cli(["train", "--snapshots", "--profile", "smoke", "--dataset", "digits", "--device", "cpu",
                              "--no-progress"], capsys)
    assert code == 0, err
    main = profile.train_config("digits")
    assert vae_status(main.snapshot(1)) == "done" and vae_status(main.snapshot(3)) == "done"
    assert vae_status(main) == "missing"            # the end is not trained: it is the main model itself
    first, last = load_vae(main.snapshot(1), device="cpu"), load_vae(main.snapshot(3), device="cpu")
    assert last.history[:1] == first.history and len(last.history) == 3
    assert "after 1, 3 of its 4 epochs" in out


def test_snapshot_epochs_are_validated(tiny_config):
    with pytest.raises(ConfigError, match="stop_epoch=9"):
        tiny_config.snapshot(9)
    with pytest.raises(ConfigError, match="stop_epoch=0"):
        tiny_config.snapshot(0)
    with pytest.raises(ConfigError, match="compile='yes'"):
        dataclasses.replace(tiny_config, compile="yes")


def test_a_kill_between_a_snapshot_and_its_checkpoint_keeps_the_snapshot(tiny_config, tmp_path):
    """The snapshot of epoch e is written before any checkpoint claims e: a run killed while
    storing it resumes at the last checkpoint, repeats e and keeps it then."""
    config = dataclasses.replace(tiny_config, epochs=4)
    kept = {}

    class Killed(Exception):
        pass

    def keep_then_die(epoch, model, history):
        raise Killed

    checkpoint = tmp_path / "ckpt.pt"
    with pytest.raises(Killed):
        train(config, device="cpu", checkpoint_path=checkpoint, checkpoint_every=1, progress=False,
              keep=keep_then_die, keep_epochs=(3,))
    assert torch.load(checkpoint, weights_only=False)["epochs_done"] == 2
    train(config, device="cpu", checkpoint_path=checkpoint, checkpoint_every=1, progress=False,
          keep=lambda e, model, history: kept.setdefault(e, len(history)), keep_epochs=(3,))
    assert kept == {3: 3}


def test_the_long_profile_trains_the_paper_main_model_exactly():
    long = get_profile("long")
    config = long.train_config("mnist")
    assert (config.epochs, config.batch_size, config.n_samples, config.lr_values, config.nz) == \
        (1500, 100, 2, (5e-4, 1e-4, 5e-5), 100)
    assert config.milestones() == (500, 1000) and config.precision == "fp32" and config.compile
    assert (long.trials_distance, long.trials_stages, long.trials_classifier) == (300, 500, 200)
    assert long.snapshot_epochs == (10, 25, 50, 100, 250, 500, 1000)
    assert all(c.compile for grid in (long.fig8, long.fig9) for c in grid.configs("mnist"))


def test_a_profile_main_model_keeps_its_snapshots_wherever_it_is_trained():
    from vaedyn.config import main_model_snapshots

    quick = get_profile("quick")
    assert main_model_snapshots(quick.train_config("fashion_mnist", seed=3)) == quick.snapshot_epochs
    assert main_model_snapshots(get_profile("long").train_config("mnist")) == (10, 25, 50, 100, 250, 500, 1000)
    assert main_model_snapshots(quick.train_config("mnist", nz=100, epochs=7)) == ()
