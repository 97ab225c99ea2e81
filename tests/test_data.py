import pytest
import torch

from conftest import requires_mnist
from vaedyn.config import ConfigError
from vaedyn.data import DataUnavailableError, load_dataset


def test_digits_split_is_flat_scaled_and_disjoint():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert train.x.shape == (1437, 64) and test.x.shape == (360, 64) and train.side == 8
    assert train.x.dtype == torch.float32 and train.y.dtype == torch.int64
    assert 0.0 <= train.x.min() and train.x.max() <= 1.0
    assert set(train.y.unique().tolist()) == set(range(10))
    assert load_dataset("digits", "train", limit=100).x.shape == (100, 64)


def test_bad_dataset_and_split_names():
    with pytest.raises(ConfigError, match="dataset='cifar10'"):
        load_dataset("cifar10")
    with pytest.raises(ConfigError, match="split='val'"):
        load_dataset("digits", "val")


def test_missing_files_raise_one_clear_error(tmp_path, monkeypatch):
    from torchvision import datasets

    def offline(self):
        raise RuntimeError("network is unreachable")

    monkeypatch.setattr(datasets.MNIST, "download", offline)
    with pytest.raises(DataUnavailableError) as error:
        load_dataset("mnist", "train", root=tmp_path)
    message = str(error.value)
    assert "train-images-idx3-ubyte.gz" in message and str(tmp_path / "MNIST" / "raw") in message
    assert "network is unreachable" in message


@requires_mnist
def test_mnist_matches_the_official_files():
    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    assert train.x.shape == (60000, 784) and test.x.shape == (10000, 784) and train.side == 28
    assert torch.bincount(train.y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert train.x.mean().item() == pytest.approx(0.1307, abs=1e-4)
    assert 0.0 <= train.x.min() and train.x.max() == 1.0
