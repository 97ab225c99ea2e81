"""Repeated inference (eqs. 1-2 and 23-26): z(t) = mu(x(t)), x(t+1) = decoder(z(t)).

The whole batch of trials advances together, one encoder and one decoder call per step.
With the means (the paper's rule) the map is deterministic: all randomness is in x(0).
The stochastic chain (z ~ q(z|x), x ~ p(x|z) or its mean) is the Markov chain of an
autoencoder seen as a transition operator, kept here for the chapter on mixing.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import ConfigError
from ..model import VAE
from ..objective import reparameterize


@dataclass
class Trajectory:
    """z(t) for t = 0..T as (T+1, trials, N_z); x(t) as (T+1, trials, D) when recorded."""

    z: torch.Tensor
    x: torch.Tensor | None = None

    @property
    def steps(self) -> int:
        return self.z.shape[0] - 1


def recognition_step(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """z(t) = E_q(z|x(t))[z] = mu_phi(x(t)) (eqs. 24, 26)."""
    return model.encode_mean(x)


def generation_step(model: VAE, z: torch.Tensor) -> torch.Tensor:
    """x(t+1) = E_p(x|z(t))[x] = decoder_theta(z(t)) (eqs. 23, 25)."""
    return model.decode_mean(z)


@torch.no_grad()
def repeated_inference(model: VAE, x0: torch.Tensor, steps: int, record_x: bool = False,
                       stochastic: bool = False, sample_x: bool = False,
                       generator: torch.Generator | None = None) -> Trajectory:
    """Iterate recognition and generation `steps` times from x(0) = x0 (trials, D).

    Returns z(0..T) and, with `record_x`, x(0..T). With `stochastic=True`, z(t) is drawn from
    q(z|x(t)) instead of taking its mean, and with `sample_x=True` also x(t+1) ~ Bernoulli
    (decoder(z(t))); both draw from `generator` (on x0's device).
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ConfigError(f"steps={steps!r} is not allowed; it must be an integer >= 1")
    if sample_x and not stochastic:
        raise ConfigError("sample_x=True needs stochastic=True: the mean iteration samples nothing")
    if x0.dim() != 2 or x0.shape[1] != model.n_features:
        raise ConfigError(f"x0 has shape {tuple(x0.shape)}; expected (trials, {model.n_features})")
    if stochastic and generator is None:
        generator = torch.Generator(device=x0.device).manual_seed(0)
    was_training = model.training
    model.eval()
    x = x0
    zs, xs = [], [x0] if record_x else None
    for t in range(steps + 1):
        if stochastic:
            z = reparameterize(*model.encode(x), n_samples=1, generator=generator)[0]
        else:
            z = recognition_step(model, x)
        zs.append(z)
        if t == steps:
            break
        x = generation_step(model, z)
        if sample_x:
            x = torch.bernoulli(x, generator=generator)
        if record_x:
            xs.append(x)
    model.train(was_training)
    return Trajectory(z=torch.stack(zs), x=torch.stack(xs) if record_x else None)


@dataclass
class NoisyStarts:
    """Initial points x(0) of a batch of trials and the clean images they came from."""

    x0: torch.Tensor          # (trials, D) noisy images
    clean: torch.Tensor       # (trials, D) the original images
    indices: torch.Tensor     # (trials,) rows of the split they were taken from


def noisy_starts(images: torch.Tensor, labels: torch.Tensor, label: int | None, trials: int, p: float,
                 noise: str = "swap", seed: int = 0) -> NoisyStarts:
    """Pick `trials` different images (of `label`, or of any label when None) and add noise with
    fraction p: one distinct image and one noise realisation per trial, as in Figs. 2-5."""
    from ..noise import inject_noise

    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise ConfigError(f"trials={trials!r} is not allowed; it must be an integer >= 1")
    generator = torch.Generator(device=images.device).manual_seed(seed)
    pool = torch.arange(len(labels), device=labels.device)
    if label is not None:
        pool = pool[labels == label]
    if trials > len(pool):
        raise ConfigError(f"trials={trials} is not allowed; only {len(pool)} images have label {label}")
    chosen = pool[torch.randperm(len(pool), generator=generator, device=images.device)[:trials]]
    clean = images[chosen]
    return NoisyStarts(x0=inject_noise(clean, p, noise, generator=generator), clean=clean, indices=chosen)
