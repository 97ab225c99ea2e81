import pytest
import torch

from vaedyn.config import ConfigError
from vaedyn.noise import inject_noise


def distinct_images(n=200, d=784):
    """Rows with all-distinct intensities, so every moved value is visible."""
    base = torch.arange(d, dtype=torch.float32) / d
    return torch.stack([base[torch.randperm(d, generator=torch.Generator().manual_seed(i))] for i in range(n)])


@pytest.mark.parametrize("mode", ["swap", "flip"])
def test_zero_noise_is_the_identity(mode):
    x = distinct_images(5)
    assert torch.equal(inject_noise(x, 0.0, mode, seed=1), x)


def test_swap_keeps_each_images_intensities():
    x = torch.rand(50, 784, generator=torch.Generator().manual_seed(0))
    noisy = inject_noise(x, 0.3, "swap", seed=2)
    assert torch.equal(noisy.sort(dim=1).values, x.sort(dim=1).values)
    assert not torch.equal(noisy, x)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.7])
def test_swap_moves_about_p_of_the_pixels(p):
    x = distinct_images()
    changed = (inject_noise(x, p, "swap", seed=3) != x).float().mean().item()
    # A uniform permutation of k selected values leaves one of them in place on average.
    expected = p - 1 / 784
    assert abs(changed - expected) < 0.01


def test_swap_changes_only_selected_positions_at_rate_one():
    x = distinct_images(100)
    noisy = inject_noise(x, 1.0, "swap", seed=4)
    assert torch.equal(noisy.sort(dim=1).values, x.sort(dim=1).values)
    assert (noisy != x).float().mean().item() > 0.99


def test_flip_maps_selected_pixels_to_one_minus_x():
    x = distinct_images(100) * 0.5  # values in [0, 0.5): x and 1-x never coincide
    noisy = inject_noise(x, 0.25, "flip", seed=5)
    flipped = noisy != x
    assert torch.allclose(noisy[flipped], 1.0 - x[flipped])
    assert abs(flipped.float().mean().item() - 0.25) < 0.01


def test_noise_is_reproducible_from_its_seed():
    x = distinct_images(10)
    assert torch.equal(inject_noise(x, 0.2, seed=9), inject_noise(x, 0.2, seed=9))
    assert not torch.equal(inject_noise(x, 0.2, seed=9), inject_noise(x, 0.2, seed=10))


def test_bad_noise_arguments():
    x = distinct_images(2)
    with pytest.raises(ConfigError, match="p=1.2"):
        inject_noise(x, 1.2)
    with pytest.raises(ConfigError, match="noise='salt'"):
        inject_noise(x, 0.1, "salt")
    with pytest.raises(ValueError, match="shape"):
        inject_noise(x.reshape(2, 28, 28), 0.1)
