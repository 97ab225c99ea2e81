"""The CNN that labels generated images (Fig. 5), trained on the original training set.

Input - conv 3x3 (32) - conv 3x3 (64) - max-pool 2 - dropout 0.25 - dense (128) -
dropout 0.5 - softmax, ReLU throughout: the layer sequence the paper lists, with the
widths of the Keras MNIST example it follows. Stored like the VAE, keyed by its config.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..config import ClassifierConfig, resolve_device
from ..data import load_dataset
from ..progress import progress_file
from ..randomness import training_generator
from .store import fetch_or_create


class ClassifierCNN(nn.Module):
    def __init__(self, side: int = 28, n_classes: int = 10):
        super().__init__()
        self.side = side
        pooled = (side - 4) // 2
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(64 * pooled * pooled, 128), nn.ReLU(), nn.Dropout(0.5),
                                  nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits for flattened images x (n, side*side); softmax lives in the loss."""
        return self.head(self.features(x.reshape(-1, 1, self.side, self.side)))


# Labelling is most of chapter 05's time on a CPU. Measured on 1 thread (2026-11-21, 2 000 images):
# batches of 1000 took 3.5 s, of 200 in channels-last layout 2.0 s (1.3 s through the model's own forward,
# same logits); Fig. 5's labelling of 2 labels x 2 p x 20 trials went from 16-18 s to 8.3-8.9 s, and
# its page faults from 1.77 M to 0.5 M (activations of 1000 images, about 150 MB, are fresh pages each batch).
INFERENCE_BATCH = 200


@torch.no_grad()
def predict_probabilities(model: ClassifierCNN, x: torch.Tensor, batch_size: int = INFERENCE_BATCH) -> torch.Tensor:
    """Class probabilities of each flattened image; any leading shape, e.g. (T+1, trials, D) -> (T+1, trials, C)."""
    model.eval()
    flat = x.reshape(-1, x.shape[-1])
    # Weights in channels-last layout: the convolutions follow them (a one-channel input fits either layout).
    layout = torch.channels_last if flat.device.type == "cpu" else torch.contiguous_format
    model.to(memory_format=layout)
    try:
        logits = torch.cat([model(flat[s:s + batch_size]) for s in range(0, flat.shape[0], batch_size)])
    finally:
        model.to(memory_format=torch.contiguous_format)
    return logits.softmax(dim=1).reshape(*x.shape[:-1], -1)


def predict_labels(model: ClassifierCNN, x: torch.Tensor, batch_size: int = INFERENCE_BATCH) -> torch.Tensor:
    """Most probable class of each flattened image; any leading shape, e.g. (T+1, trials, D)."""
    return predict_probabilities(model, x, batch_size).argmax(dim=-1)


@dataclass
class TrainedClassifier:
    model: ClassifierCNN
    test_accuracy: float
    history: list[dict]
    path: Path


def train_classifier(config: ClassifierConfig, device: str | torch.device = "auto",
                     progress: bool = True) -> tuple[ClassifierCNN, list[dict]]:
    device = resolve_device(device)
    train_set = load_dataset(config.dataset, "train", device, limit=config.train_limit)
    test_set = load_dataset(config.dataset, "test", device)
    # Dropout draws from torch's global generator; seed it inside a forked RNG so that the
    # caller's random state is left as it was.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        model = ClassifierCNN(side=train_set.side).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        generator = training_generator(device, config.seed)
        history = []
        for epoch in tqdm(range(config.epochs), desc=f"CNN {config.dataset}", unit="epoch", disable=not progress,
                          file=progress_file()):
            model.train()
            order = torch.randperm(len(train_set), generator=generator, device=device)
            total = torch.zeros((), device=device)
            for start in range(0, len(train_set), config.batch_size):
                idx = order[start:start + config.batch_size]
                loss = F.cross_entropy(model(train_set.x[idx]), train_set.y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * idx.numel()
            accuracy = (predict_labels(model, test_set.x) == test_set.y).float().mean().item()
            history.append({"epoch": epoch + 1, "train_loss": total.item() / len(train_set), "test_accuracy": accuracy})
    return model.eval(), history


def get_or_train_classifier(config: ClassifierConfig, device: str | torch.device = "auto",
                            root: str | Path | None = None, progress: bool = True) -> TrainedClassifier:
    """The trained CNN for `config`, from the store or trained and stored; on `device`, in eval mode."""
    device = resolve_device(device)

    def create(directory: Path):
        model, history = train_classifier(config, device, progress)
        return ({"state_dict": model.state_dict(), "side": model.side, "history": history},
                {"test_accuracy": history[-1]["test_accuracy"]}, {"device": device})

    payload, meta, directory = fetch_or_create("classifier", config.to_dict(), create, root)
    model = ClassifierCNN(side=payload["side"])
    model.load_state_dict(payload["state_dict"])
    return TrainedClassifier(model=model.to(device).eval(), test_accuracy=meta["summary"]["test_accuracy"],
                             history=payload["history"], path=directory)
