import shutil

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


@requires_mnist
def test_decoded_splits_are_cached_under_the_checksum_of_their_files(tmp_path, monkeypatch):
    from vaedyn import data

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data._RAW_FILES:                          # torchvision extracts all four, whichever split
        shutil.copy(data.data_root() / "MNIST" / "raw" / name, raw / name)
    decoded = tmp_path / "MNIST" / "decoded"
    first = load_dataset("mnist", "test", root=tmp_path)  # through torchvision, which extracts the files
    assert len(list(decoded.glob("test-*.pt"))) == 1

    def refuse(*args):
        raise AssertionError("decoded again although the cache holds these files")

    monkeypatch.setattr(data, "_decode_with_torchvision", refuse)
    second = load_dataset("mnist", "test", root=tmp_path)
    assert torch.equal(first.x, second.x) and torch.equal(first.y, second.y) and second.side == 28
    monkeypatch.undo()

    labels = raw / "t10k-labels-idx1-ubyte"               # a changed file is decoded again, under a new key
    changed = bytearray(labels.read_bytes())
    changed[-1] = (changed[-1] + 1) % 10
    labels.write_bytes(bytes(changed))
    third = load_dataset("mnist", "test", root=tmp_path)
    assert third.y[-1] == (first.y[-1] + 1) % 10 and torch.equal(third.y[:-1], first.y[:-1])
    assert len(list(decoded.glob("test-*.pt"))) == 2
    (sorted(decoded.glob("test-*.pt"), key=lambda p: p.stat().st_mtime)[-1]).write_bytes(b"damaged")
    assert torch.equal(load_dataset("mnist", "test", root=tmp_path).y, third.y)   # a damaged cache is rebuilt
