"""Sweeps: shards split the grid, members land under their lone-run keys, a rerun trains nothing."""
import importlib

import pytest
import torch

from vaedyn import cli

from vaedyn.training import sweep
from vaedyn.config import ConfigError, get_profile
from vaedyn.training.store import get_or_train, vae_status

GRID = get_profile("smoke").grid("fig9")   # 8 members in 4 (lr, batch) groups of 2 latent sizes


def test_shards_partition_the_grid_and_keep_groups_batched():
    configs = GRID.configs("digits")
    shards = [sweep.shard_members(configs, (i, 3)) for i in (1, 2, 3)]
    assert sorted(map(str, sum(shards, []))) == sorted(map(str, configs))
    assert len(shards[0]) == 4 and len(shards[2]) == 0


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_bad_shards_are_refused(text):
    with pytest.raises(ConfigError, match="shard"):
        sweep.parse_shard(text)


def test_sharded_sweep_fills_the_store_and_resumes(monkeypatch):
    first = sweep.run_sweep("smoke", "fig9", "digits", shard=(1, 2), device="cpu", progress=False)
    assert first.complete and len(first.done) + len(first.diverged) == 4
    overall = sweep.sweep_status(GRID, "digits")
    assert len(overall.missing) == 4

    calls = []
    real = sweep.train_ensemble
    monkeypatch.setattr(sweep, "train_ensemble", lambda members, **kw: calls.append(len(members)) or real(members, **kw))
    sweep.run_sweep("smoke", "fig9", "digits", shard=(1, 2), device="cpu", progress=False)
    assert calls == [], "a finished shard trained again"
    second = sweep.run_sweep("smoke", "fig9", "digits", shard=(2, 2), device="cpu", progress=False)
    assert calls == [1, 1, 1, 1] and second.complete   # one member of each group
    assert sweep.sweep_status(GRID, "digits").complete


def test_members_load_through_the_lone_run_path(monkeypatch):
    sweep.run_sweep("smoke", "fig8", "digits", shard=(1, 1), device="cpu", progress=False)
    config = get_profile("smoke").grid("fig8").configs("digits")[0]
    assert vae_status(config) == "done"
    monkeypatch.setattr(importlib.import_module("vaedyn.training.loop"), "train", lambda *a, **k: pytest.fail("the store trained instead of loading"))
    trained = get_or_train(config, device="cpu", progress=False)
    assert trained.model.nz == config.nz and len(trained.history) == config.epochs
    models = sweep.grid_models("smoke", "fig8", "digits", device="cpu", train_missing=False)
    assert set(models.models) == set(get_profile("smoke").grid("fig8").configs("digits"))


def test_diverged_members_are_recorded_not_retrained(monkeypatch):
    from vaedyn.training.ensemble import MemberResult

    def all_diverge(members, **kwargs):
        return [MemberResult(config=c, history=[], model=None, diverged_in_epoch=1) for c in members]

    monkeypatch.setattr(sweep, "train_ensemble", all_diverge)
    status = sweep.run_sweep("smoke", "fig8", "digits", shard=(1, 1), device="cpu", progress=False)
    assert status.complete and len(status.diverged) == 4 and not status.done


def test_grid_models_without_training_names_the_missing_members():
    with pytest.raises(FileNotFoundError, match="missing: Nz=2"):
        sweep.grid_models("smoke", "fig8", "digits", device="cpu", train_missing=False)


def test_cli_reports_then_trains_then_reports(capsys):
    assert cli.main(["sweep", "--grid", "fig8", "--profile", "smoke", "--dataset", "digits"]) == 1
    assert "0/4 trained" in capsys.readouterr().out
    assert cli.main(["sweep", "--grid", "fig8", "--profile", "smoke", "--dataset", "digits", "--shard", "1/1",
                     "--device", "cpu", "--no-progress", "--max-members", "1"]) == 0
    assert "4/4 trained" in capsys.readouterr().out
    assert cli.main(["sweep", "--grid", "fig8", "--profile", "smoke", "--dataset", "digits"]) == 0


@pytest.mark.parametrize("changes", [{"nz": (0, 5)}, {"batch_sizes": (0,)}, {"epochs": 0}, {"seeds": (-1,)},
                                     {"nz": ()}])
def test_grids_refuse_impossible_sizes(changes):
    import dataclasses

    with pytest.raises(ConfigError, match="grid fig9"):
        dataclasses.replace(GRID, **changes)


def test_an_ensemble_another_process_is_training_is_waited_for_not_trained_twice(monkeypatch, in_thread):
    from filelock import FileLock

    from vaedyn.data import load_dataset
    from vaedyn.training.ensemble import ensemble_key
    from vaedyn.training.store import artifact_root

    grid = get_profile("smoke").grid("fig8")
    members = grid.configs("digits")
    data = (load_dataset("digits", "train", "cpu", limit=grid.train_limit), load_dataset("digits", "test", "cpu"))
    results = sweep.train_ensemble(members, device="cpu", progress=False, data=data)   # the other process's run
    monkeypatch.setattr(sweep, "train_ensemble", lambda *a, **k: pytest.fail("trained an ensemble twice"))
    lock_path = artifact_root() / "ensembles" / f"{ensemble_key(members)}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    held = FileLock(lock_path)
    held.acquire()
    thread, box = in_thread(lambda: sweep.train_and_store(members, "cpu", data, artifact_root(), False))
    thread.join(timeout=1.0)
    assert thread.is_alive(), "it trained beside the process that holds the lock"
    sweep._store_all(results, artifact_root(), torch.device("cpu"))
    held.release()
    thread.join(timeout=30)
    assert not thread.is_alive() and "error" not in box, box.get("error")
    assert all(vae_status(c) == "done" for c in members)

