import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli as run
from vaedyn.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("argv, fragment", [
    (["infer", "--p", "1.5"], "p=1.5"),
    (["infer", "--p", "-0.1"], "p=-0.1"),
    (["train", "--nz", "0"], "0 is not allowed"),
    (["train", "--nz", "-4"], "-4 is not allowed"),
    (["train", "--dataset", "cifar"], "invalid choice: 'cifar'"),
    (["train", "--profile", "huge"], "invalid choice: 'huge'"),
    (["train", "--device", "tpu"], "device='tpu'"),
    (["infer", "--noise", "salt"], "invalid choice: 'salt'"),
    (["infer", "--steps", "0"], "0 is not allowed"),
    (["infer", "--trials", "0"], "0 is not allowed"),
    (["infer", "--label", "12"], "labels are 0-9"),
    (["infer", "--out", "traj.csv"], "must end in .npz"),
    (["train", "--renyi-alpha", "-1"], "-1 is not allowed"),
    (["train", "--kl-warmup-epochs", "-2"], "-2 is not allowed"),
    (["train", "--dataset", "digits", "--renyi-alpha", "0.5", "--kl-warmup-epochs", "3"], "needs renyi_alpha=1"),
    (["train", "--beta", "0"], "beta=0.0 is not allowed"),
    (["train", "--beta", "4", "--renyi-alpha", "0"], "beta=4.0 weights the KL term of the ELBO; it needs renyi_alpha"),
    (["train", "--architecture", "resnet"], "invalid choice: 'resnet'"),
    (["train", "--samples", "0"], "0 is not allowed"),
    (["train", "--architectures", "--nz", "5"], "it takes no model options (got --nz=5)"),
    (["train", "--architectures", "--architecture", "conv"], "(got --architecture='conv')"),
    (["train", "--snapshots", "--nz", "5"], "it takes no model options (got --nz=5)"),
    (["train", "--snapshots", "--architectures"], "(got --snapshots=True)"),
    (["train", "--snapshots", "--profile", "paper"], "profile='paper' keeps no snapshots"),
    (["train", "--snapshots", "--dataset", "bach_chorales"], "dataset='bach_chorales' is not allowed"),
    (["train", "--seed", "-1"], "a seed is an integer in [0, 4294967295]"),
    (["infer", "--seed", str(2**64)], "a seed is an integer in [0, 4294967295]"),
    (["train", "--cross-device", "maybe"], "invalid choice: 'maybe'"),
    (["infer", "--dataset", "digits", "--nz", "2", "--trials", "100000"], "trials=100000 is not allowed"),
    (["infer", "--out", f"{__file__}/t.npz"], "is a file, not a folder"),
    (["sweep"], "the following arguments are required: --grid"),
    (["sweep", "--grid", "fig10"], "invalid choice: 'fig10'"),
    (["sweep", "--grid", "fig8", "--profile", "huge"], "invalid choice: 'huge'"),
    (["sweep", "--grid", "fig8", "--dataset", "cifar"], "invalid choice: 'cifar'"),
    (["sweep", "--grid", "fig8", "--shard", "3/2"], "shard='3/2' is not allowed"),
    (["sweep", "--grid", "fig8", "--shard", "a/b"], "shard='a/b' is not allowed"),
    (["sweep", "--grid", "fig8", "--max-members", "0"], "0 is not allowed"),
    (["sweep", "--grid", "fig8", "--device", "tpu"], "device='tpu'"),
    (["sweep", "--grid", "fig8", "--cross-device", "maybe"], "invalid choice: 'maybe'"),
    (["book", "--profile", "huge"], "invalid choice: 'huge'"),
    (["book", "--device", "tpu"], "device='tpu'"),
    (["book", "--seed", "x"], "'x' is not an integer"),
    (["book", "--seed", "-3"], "a seed is an integer in [0, 4294967295]"),
    (["book", "--out", __file__], "it is a file, give a folder"),
    (["book", "--results", __file__], "it is a file, give a folder"),
    (["book", "--only", "99_nothing"], "only='99_nothing' is not a chapter"),
    (["book", "--only", "fashion_mnist/90_claims"], "only='fashion_mnist/90_claims' is not a chapter"),
    (["book", "--notebooks", "no-such-folder"], "no-such-folder/01_training.ipynb is missing"),
    (["book", "--jobs", "0"], "0 is not allowed; it must be >= 1"),
    (["book", "--only", "spread/seed-7/mnist/03_concept_distances"], "is not a chapter"),
])
def test_bad_arguments_exit_with_one_line_and_write_nothing(argv, fragment, capsys, tmp_path, monkeypatch):
    """Every option of train, infer, sweep and book is checked before any training, sweep or book run."""
    import vaedyn.book
    from vaedyn.training import store, sweep

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the arguments were checked")
    for module, name in [(store, "get_or_train"), (sweep, "run_sweep"), (sweep, "sweep_status"),
                         (vaedyn.book, "build")]:
        monkeypatch.setattr(module, name, no_work)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and fragment in err
    assert list(tmp_path.iterdir()) == []


def test_help_documents_every_option(capsys):
    parser = build_parser()
    for command in ("train", "infer", "info", "sweep", "book", "report"):
        code, out, _ = run([command, "--help"], capsys)
        assert code == 0
        subparser = parser._subparsers._group_actions[0].choices[command]
        for action in subparser._actions:
            for flag in action.option_strings:
                assert flag in out, f"{command} --help does not mention {flag}"
            assert action.help, f"{command} {action.option_strings} has no help text"


def test_train_infer_info_on_digits(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ["--dataset", "digits", "--nz", "4", "--profile", "smoke", "--device", "cpu", "--no-progress"]
    code, out, _ = run(["train", *common], capsys)
    assert code == 0 and "artifact:" in out and "final test negative ELBO" in out

    code, out, _ = run(["infer", *common, "--trials", "6", "--steps", "5", "--p", "0.3", "--label", "3",
                        "--record-x", "--out", "t.npz"], capsys)
    assert code == 0 and "wrote t.npz" in out
    saved = np.load(tmp_path / "t.npz")
    assert saved["z"].shape == (6, 6, 4) and saved["x"].shape == (6, 6, 64)
    assert saved["indices"].shape == (6,) and float(saved["p"]) == 0.3 and str(saved["noise"]) == "swap"

    code, out, _ = run(["info"], capsys)
    assert code == 0 and "vae" in out and '"dataset": "digits"' in out


def test_infer_with_too_many_trials_trains_and_writes_nothing(capsys, tmp_path, monkeypatch, isolated_artifacts):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["infer", "--dataset", "digits", "--nz", "2", "--profile", "smoke", "--device", "cpu",
                        "--no-progress", "--trials", "100000", "--out", "t.npz"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert re.search(r"trials=100000 is not allowed; only \d+ digits training images have label 6", err)
    assert not (tmp_path / "t.npz").exists() and not isolated_artifacts.exists()   # no model was trained


def test_infer_output_that_is_a_folder_is_refused_before_training(capsys, tmp_path, monkeypatch, isolated_artifacts):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.npz").mkdir()
    code, _, err = run(["infer", "--dataset", "digits", "--nz", "2", "--profile", "smoke", "--out", "t.npz"], capsys)
    assert code == 2 and "'t.npz' is not allowed; it is a folder" in err and not isolated_artifacts.exists()


def test_version_is_the_package_version(capsys):
    code, out, _ = run(["--version"], capsys)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert code == 0 and out.strip() == f"vaedyn {version}"


def test_help_of_sweep_and_book_describes_them(capsys):
    code, out, _ = run(["sweep", "--help"], capsys)
    assert code == 0 and out.startswith("usage: vaedyn sweep") and "--grid {fig8,fig9}" in out
    code, out, _ = run(["book", "--help"], capsys)
    assert code == 0 and out.startswith("usage: vaedyn book") and "--only CHAPTER" in out
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "--version" in out and all(c in out for c in ("train", "infer", "info", "sweep", "book",
                                                                      "report"))


def test_train_spread_trains_the_seed_spreads_model(monkeypatch, capsys):
    """`make long-train` trains seeds 1 and 2 of the long profile's spread with `train --spread`."""
    from vaedyn import cli
    from vaedyn.config import get_profile

    args = build_parser().parse_args(["train", "--profile", "long", "--dataset", "fashion_mnist", "--seed", "2",
                                      "--spread"])
    assert cli._config(args) == get_profile("long").spread_config("fashion_mnist", 2)
    assert cli._config(args).last_epoch == 100
    assert main(["train", "--profile", "long", "--spread", "--epochs", "5"]) == 2
    assert "--spread trains the profile's seed-spread model as it is" in capsys.readouterr().err


def test_train_architectures_trains_the_profiles_four_runs_with_progress(monkeypatch, capsys, tmp_path):
    from types import SimpleNamespace

    from vaedyn.config import get_profile
    from vaedyn.training import store

    trained = []

    def fake_get_or_train(config, **options):
        trained.append(config)
        final = {"test_negative_elbo": 90.0, "test_reconstruction": 80.0, "test_kl": 10.0}
        return SimpleNamespace(path=tmp_path / str(len(trained)), final=final)

    monkeypatch.setattr(store, "get_or_train", fake_get_or_train)
    code, out, _ = run(["train", "--architectures", "--profile", "quick", "--seed", "1", "--no-progress"], capsys)
    assert code == 0
    assert trained == list(get_profile("quick").architecture_configs("mnist", seed=1).values())
    epochs = get_profile("quick").architecture_epochs
    assert f"[2/4] conv: {epochs} epoch(s) on the first 10000 mnist training images" in out
    assert out.count("final test negative ELBO: 90.000 nats") == 4


def test_train_options_reach_the_config():
    """--architecture, --beta and --samples set their TrainConfig fields; at their defaults the config is the
    profile's main model, so `train` without them finds the same artifact as before they existed."""
    from vaedyn import cli
    from vaedyn.config import get_profile

    args = build_parser().parse_args(["train", "--profile", "smoke", "--architecture", "conv", "--beta", "4",
                                      "--samples", "5"])
    assert cli._config(args) == get_profile("smoke").train_config(architecture="conv", beta=4.0, n_samples=5)
    plain = build_parser().parse_args(["train", "--profile", "smoke"])
    assert cli._config(plain) == get_profile("smoke").train_config()
