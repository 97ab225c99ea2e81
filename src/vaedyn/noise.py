"""Noise injection of Methods, 'Inference procedure and noise injection'.

Each pixel is selected independently with probability p and "the intensities of the
selected pixels were swapped". The sentence admits two readings, and both are here:

- ``swap`` (default): the intensities of the selected pixels of one image are randomly
  permuted among those pixels, so the image keeps its multiset of intensities;
- ``flip``: each selected pixel x becomes 1 - x.

Both are vectorised over a batch: one sort per batch, no Python loop per image.
"""
from __future__ import annotations

import torch

from .config import NOISE_MODES, _check_choice, check_probability


def select_pixels(shape: torch.Size | tuple[int, int], p: float, generator: torch.Generator,
                  device: torch.device) -> torch.Tensor:
    """Boolean mask: every pixel selected independently with probability p."""
    return torch.rand(shape, generator=generator, device=device) < p


def swap_selected(x: torch.Tensor, selected: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Permute, within each row, the values at the selected positions uniformly at random.

    Sorting keys put each row's selected positions first, in index order (``targets``) and in
    random order (``sources``); unselected positions follow in index order in both, so they map
    onto themselves. Scattering x[sources] into targets is a uniform random permutation of the
    selected values of every row at once.
    """
    n, d = x.shape
    index = torch.arange(d, device=x.device, dtype=torch.float32).expand(n, d)
    random_keys = torch.rand((n, d), generator=generator, device=x.device)
    targets = torch.argsort(torch.where(selected, index, d + index), dim=1)
    sources = torch.argsort(torch.where(selected, random_keys, 2.0 + index), dim=1)
    out = torch.empty_like(x)
    out.scatter_(1, targets, x.gather(1, sources))
    return out


def flip_selected(x: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
    """Replace each selected intensity x by 1 - x (intensities in [0, 1])."""
    return torch.where(selected, 1.0 - x, x)


def inject_noise(x: torch.Tensor, p: float, mode: str = "swap", generator: torch.Generator | None = None,
                 seed: int | None = None) -> torch.Tensor:
    """Noisy copy x_0 of a batch x (n, pixels): select pixels with probability p, then swap or flip.

    Pass a `torch.Generator` on x's device, or a `seed` to make one; p=0 returns x unchanged.
    """
    p = check_probability("p", p)
    _check_choice("noise", mode, NOISE_MODES)
    if x.dim() != 2:
        raise ValueError(f"x has shape {tuple(x.shape)}; expected (n_images, n_pixels)")
    if generator is None:
        generator = torch.Generator(device=x.device).manual_seed(0 if seed is None else seed)
    selected = select_pixels(x.shape, p, generator, x.device)
    if mode == "flip":
        return flip_selected(x, selected)
    return swap_selected(x, selected, generator)
