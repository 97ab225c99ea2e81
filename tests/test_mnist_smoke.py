"""The `smoke` profile end to end on real MNIST: the book's notebooks run on exactly this."""
import pytest

from conftest import requires_mnist
from vaedyn.analysis.concepts import concept_set
from vaedyn.config import get_profile
from vaedyn.data import load_dataset
from vaedyn.analysis.inference import noisy_starts, repeated_inference
from vaedyn.training.store import get_or_train

pytestmark = [pytest.mark.slow, requires_mnist]


def test_smoke_training_on_mnist_learns_and_infers():
    config = get_profile("smoke").train_config("mnist")
    trained = get_or_train(config, device="cpu", progress=False)
    first, last = trained.history[0], trained.history[-1]
    assert last["train_negative_elbo"] < first["train_negative_elbo"]
    assert last["test_negative_elbo"] < 300  # the untrained model scores ~570 nats
    train = load_dataset("mnist", "train", limit=2000)
    concepts = concept_set(trained.model, train.x, train.y)
    starts = noisy_starts(train.x, train.y, label=6, trials=8, p=0.2)
    trajectory = repeated_inference(trained.model, starts.x0, steps=10)
    assert trajectory.z.shape == (11, 8, 100) and concepts.concepts.shape == (10, 100)
