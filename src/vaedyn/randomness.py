"""The random streams of a training run: data order and the eps of eq. (12), for one model
(a `torch.Generator`) or for an ensemble (`MemberGenerators`, one stream per member)."""
from __future__ import annotations

import torch


class MemberGenerators:
    """One random stream per member of an ensemble (see `ensemble.StackedVAE`).

    Member k draws exactly what the same config trained alone would draw from its own
    generator, in the same order and shape (its own N_z), so an ensemble member and a lone
    run see the same data order and the same eps. Draws for unused (padded) latent units are 0.
    """

    def __init__(self, generators: list[torch.Generator], latent_sizes: list[int]):
        if len(generators) != len(latent_sizes):
            raise ValueError("give one generator per member")
        self.generators, self.latent_sizes = generators, list(latent_sizes)

    def randn(self, n_samples: int, like: torch.Tensor) -> torch.Tensor:
        """(n_samples, K, batch, N_max) standard normals, zero beyond each member's N_z."""
        eps = torch.zeros((n_samples, *like.shape), device=like.device, dtype=like.dtype)
        for k, (generator, nz) in enumerate(zip(self.generators, self.latent_sizes)):
            eps[:, k, :, :nz] = torch.randn((n_samples, like.shape[1], nz), generator=generator,
                                            device=like.device, dtype=like.dtype)
        return eps

    def randperm(self, n: int, device: torch.device) -> torch.Tensor:
        """(K, n): each member's own random order of the training examples."""
        return torch.stack([torch.randperm(n, generator=g, device=device) for g in self.generators])

    def get_state(self) -> list[torch.Tensor]:
        return [g.get_state() for g in self.generators]

    def set_state(self, states: list[torch.Tensor]) -> None:
        for generator, state in zip(self.generators, states):
            generator.set_state(state)


Generator = torch.Generator | MemberGenerators


def random_order(n: int, generator: Generator, device: torch.device) -> torch.Tensor:
    """A fresh permutation of n examples: (n,) for one model, (K, n) for an ensemble."""
    if isinstance(generator, MemberGenerators):
        return generator.randperm(n, device)
    return torch.randperm(n, generator=generator, device=device)


def standard_normal_noise(n_samples: int, like: torch.Tensor, generator: Generator | None = None) -> torch.Tensor:
    """eps ~ N(0, I) of shape (n_samples, *like.shape), drawn from the run's generator (eq. 12)."""
    if isinstance(generator, MemberGenerators):
        return generator.randn(n_samples, like)
    return torch.randn((n_samples, *like.shape), generator=generator, device=like.device, dtype=like.dtype)


def latent_shape(model, x: torch.Tensor) -> tuple[int, ...]:
    """Shape of mu for input x, without running the encoder: (batch, N_z) for a VAE,
    (K, batch, N_max) for an ensemble (whose `size` is K)."""
    members = getattr(model, "size", None)
    return (x.shape[-2], model.nz) if members is None else (members, x.shape[-2], model.nz)


def latent_noise(model, x: torch.Tensor, n_samples: int, generator: Generator | None,
                 dtype: torch.dtype | None = None) -> torch.Tensor:
    """The eps of eq. (12) for a batch x, drawn before the encoder runs (it draws no random numbers,
    so this is the eps a draw after it would give), in `dtype` (the autocast dtype; default float32)."""
    like = torch.empty(latent_shape(model, x), device=x.device, dtype=dtype or torch.float32)
    return standard_normal_noise(n_samples, like, generator)
