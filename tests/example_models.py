"""Models of one's own for the model protocol and `vaedyn report` (tests and the README's example).

`tiny_conv_vae` is a small convolutional VAE that takes images (n, 1, 28, 28) and says so in its
`input_shape`; `renamed_mlp` is a flat model whose maps have other names and which declares neither
its input size nor its latent size, so it needs the adapter's callables. `train_and_save` fits the
conv VAE briefly on MNIST and writes its weights, for a report worth reading.
"""
from __future__ import annotations

import torch
from torch import nn

from vaedyn.objective import bernoulli_log_likelihood, gaussian_kl, reparameterize


class TinyConvVAE(nn.Module):
    """Encoder: two stride-2 convolutions (28 -> 14 -> 7) and a linear layer to (mu, log sigma^2);
    decoder: the mirror image with transposed convolutions; Bernoulli means from a sigmoid."""

    input_shape = (1, 28, 28)

    def __init__(self, nz: int = 8, channels: int = 4):
        super().__init__()
        wide = 2 * channels * 7 * 7
        self.encoder = nn.Sequential(nn.Conv2d(1, channels, 4, 2, 1), nn.Tanh(),
                                     nn.Conv2d(channels, 2 * channels, 4, 2, 1), nn.Tanh(), nn.Flatten(),
                                     nn.Linear(wide, 2 * nz))
        self.decoder = nn.Sequential(nn.Linear(nz, wide), nn.Tanh(), nn.Unflatten(1, (2 * channels, 7, 7)),
                                     nn.ConvTranspose2d(2 * channels, channels, 4, 2, 1), nn.Tanh(),
                                     nn.ConvTranspose2d(channels, 1, 4, 2, 1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return tuple(self.encoder(x).chunk(2, dim=-1))

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)[0]

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z))


def tiny_conv_vae() -> TinyConvVAE:
    """The factory `vaedyn report --model tests/example_models.py:tiny_conv_vae` calls."""
    torch.manual_seed(0)
    return TinyConvVAE()


class RenamedMLP(nn.Module):
    """A flat one-hidden-layer autoencoder whose maps are called `embed` and `reconstruct`."""

    def __init__(self, n_features: int = 64, nz: int = 3, hidden: int = 16):
        super().__init__()
        self.down = nn.Sequential(nn.Linear(n_features, hidden), nn.Tanh(), nn.Linear(hidden, nz))
        self.up = nn.Sequential(nn.Linear(nz, hidden), nn.Tanh(), nn.Linear(hidden, n_features), nn.Sigmoid())

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(x)

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(z)


def renamed_mlp() -> RenamedMLP:
    torch.manual_seed(0)
    return RenamedMLP()


class NoMaps(nn.Module):
    """A module with neither map: what `vaedyn report` must refuse."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def no_maps() -> NoMaps:
    return NoMaps()


def fit(model: TinyConvVAE, images: torch.Tensor, epochs: int = 1, batch_size: int = 100, lr: float = 1e-3,
        seed: int = 0) -> TinyConvVAE:
    """Minimise the negative ELBO of eq. (13) (L = 1) on flat images (n, 784) with Adam."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for rows in images[torch.randperm(len(images), generator=generator)].split(batch_size):
            x = rows.reshape(-1, *model.input_shape)
            mu, logvar = model.encode(x)
            z = reparameterize(mu, logvar, 1, generator)[0]
            logits = model.decode_logits(z).flatten(1)
            loss = (gaussian_kl(mu, logvar) - bernoulli_log_likelihood(logits, rows)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def train_and_save(path: str, epochs: int = 3, limit: int | None = 10_000) -> None:
    """Fit `tiny_conv_vae` on the first `limit` MNIST training images and write its weights to `path`
    (safetensors), for `vaedyn report --weights`."""
    from safetensors.torch import save_file

    from vaedyn.data import load_dataset

    model = fit(tiny_conv_vae(), load_dataset("mnist", "train", limit=limit).x, epochs=epochs)
    save_file(model.state_dict(), path)
