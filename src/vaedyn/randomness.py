"""The random streams of a training run: data order and the eps of eq. (12), for one model
(a `torch.Generator`) or for an ensemble (`MemberGenerators`, one stream per member)."""
from __future__ import annotations

import hashlib

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


Generator = torch.Generator | MemberGenerators

# A generator's state says which device it belongs to: CPU generators (mt19937) save 5056 bytes,
# CUDA ones (Philox) 16, the seed and the offset. A checkpoint written before it recorded its
# device is recognised by that size.
CPU_STATE_BYTES = torch.Generator().get_state().numel()
CUDA_STATE_BYTES = 16
RESUME_POLICIES = ("reseed", "stop")


class ForeignCheckpointError(RuntimeError):
    """A checkpoint's random stream belongs to another kind of device than the run resuming it."""


def check_resume_policy(policy: str) -> None:
    if policy not in RESUME_POLICIES:
        raise ValueError(f"cross_device={policy!r} is not allowed; choose one of {', '.join(RESUME_POLICIES)}")


def training_generator(device: torch.device, seed: int) -> torch.Generator:
    """The random stream of one training run (data order and eps), seeded."""
    return torch.Generator(device=device).manual_seed(seed)


def state_device(state: torch.Tensor, recorded: str | None = None) -> str:
    """The device type ('cpu', 'cuda') a saved generator state belongs to: as recorded, else by its size."""
    if recorded:
        return recorded
    return {CPU_STATE_BYTES: "cpu", CUDA_STATE_BYTES: "cuda"}.get(
        state.numel(), f"an unknown device (a {state.numel()}-byte generator state)")


def resume_seed(state: torch.Tensor) -> int:
    """A seed derived from a saved generator state alone (sha256 of its bytes): a foreign stream that
    cannot continue is replaced by one that every resume of the same checkpoint draws alike."""
    digest = hashlib.sha256(b"vaedyn resume " + state.to(torch.uint8).contiguous().numpy().tobytes()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def restore_stream(generator: torch.Generator, state: torch.Tensor, recorded_device: str | None, policy: str,
                   checkpoint: str) -> dict | None:
    """Continue `generator` from a checkpoint's `state`; None when it continues exactly.

    A state from another kind of device cannot be loaded (a CPU generator's is a Mersenne twister,
    a CUDA one's a Philox counter; they do not convert). With policy 'reseed' the generator is then
    seeded with `resume_seed(state)` and the returned record says so (from/to device, seed); the
    weights, optimizer and schedule still resume exactly. With 'stop' it raises ForeignCheckpointError.
    """
    check_resume_policy(policy)
    here, there = generator.device.type, state_device(state, recorded_device)
    if here == there:
        generator.set_state(state)
        return None
    if policy == "stop":
        raise ForeignCheckpointError(
            f"checkpoint {checkpoint} was written on {there} and this run is on {here}: its random stream "
            f"cannot continue on {here}; resume it on {there}, allow a deterministic re-seed (cross-device "
            "resume 'reseed'), or delete the checkpoint to start again")
    seed = resume_seed(state)
    generator.manual_seed(seed)
    return {"from_device": there, "to_device": here, "reseeded_with": seed}


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
