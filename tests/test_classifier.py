import torch

from vaedyn.training.classifier import ClassifierCNN, get_or_train_classifier, predict_labels
from vaedyn.config import ClassifierConfig


def test_cnn_shapes_for_mnist_and_digits():
    assert ClassifierCNN(side=28)(torch.rand(3, 784)).shape == (3, 10)
    assert ClassifierCNN(side=8)(torch.rand(3, 64)).shape == (3, 10)
    labels = predict_labels(ClassifierCNN(side=8), torch.rand(4, 5, 64))
    assert labels.shape == (4, 5) and labels.dtype == torch.int64


def test_classifier_learns_digits_and_is_stored(monkeypatch):
    config = ClassifierConfig(dataset="digits", epochs=8, batch_size=32, seed=0)
    trained = get_or_train_classifier(config, device="cpu", progress=False)
    assert trained.test_accuracy > 0.8  # chance is 0.1
    assert trained.history[-1]["test_accuracy"] == trained.test_accuracy
    import vaedyn.training.classifier as module

    monkeypatch.setattr(module, "train_classifier", lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
    again = get_or_train_classifier(config, device="cpu", progress=False)
    assert again.path == trained.path and again.test_accuracy == trained.test_accuracy
