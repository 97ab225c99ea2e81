import os
from pathlib import Path

import pytest
import torch

from vaedyn.config import TrainConfig
from vaedyn.data import load_dataset


class Killed(Exception):
    """Raised from a training's epoch hook to stand for a process killed at that point."""


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8x8 digits, train and test split, on the CPU: what the tiny configs train on."""
    return load_dataset("digits", "train", "cpu"), load_dataset("digits", "test", "cpu")


@pytest.fixture(autouse=True)
def isolated_artifacts(tmp_path, monkeypatch):
    """Every test writes artifacts into its own temporary folder."""
    root = tmp_path / "artifacts"
    monkeypatch.setenv("VAEDYN_ARTIFACTS", str(root))
    return root


@pytest.fixture
def in_thread():
    """Start `call()` in a daemon thread, as a second process would run beside the test: returns (thread,
    box), and box gets "result", or "error" for an exception (pytest.fail's too) the thread would swallow."""
    import threading

    def start(call):
        box = {}

        def target():
            try:
                box["result"] = call()
            except BaseException as error:
                box["error"] = error

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        return thread, box

    return start


@pytest.fixture
def tiny_config():
    """A VAE on scikit-learn's 8x8 digits that trains in about a second."""
    return TrainConfig(dataset="digits", nz=4, hidden=32, epochs=3, batch_size=50, seed=3)


def mnist_available() -> bool:
    root = Path(os.environ.get("VAEDYN_DATA", "data"))
    return (root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").exists()


requires_mnist = pytest.mark.skipif(
    not mnist_available(),
    reason="MNIST .gz files are not under $VAEDYN_DATA/MNIST/raw (run `make data` beside ../shared/data)")


def hand_built_vae(weights: dict) -> "torch.nn.Module":
    """A VAE with n_features = nz = hidden = 1 and the given scalar weights and biases."""
    from vaedyn.model import VAE

    model = VAE(n_features=1, nz=1, hidden=1)
    with torch.no_grad():
        for name, value in weights.items():
            param = dict(model.named_parameters())[name]
            param.copy_(torch.as_tensor(value, dtype=param.dtype).reshape(param.shape))
    return model


def run_cli(argv, capsys):
    """`python -m vaedyn ARGV` in this process: its exit status and what it printed (stdout, stderr)."""
    from vaedyn.cli import main

    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err
