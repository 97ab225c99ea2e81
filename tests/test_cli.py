import numpy as np
import pytest

from vaedyn.cli import build_parser, main


def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


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
])
def test_bad_arguments_exit_with_one_line_and_write_nothing(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and fragment in err
    assert list(tmp_path.iterdir()) == []


def test_help_documents_every_option(capsys):
    parser = build_parser()
    for command in ("train", "infer", "info"):
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


def test_infer_with_too_many_trials_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["infer", "--dataset", "digits", "--nz", "2", "--profile", "smoke", "--device", "cpu",
                        "--no-progress", "--trials", "100000", "--out", "t.npz"], capsys)
    assert code == 2 and "trials=100000" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "t.npz").exists()
