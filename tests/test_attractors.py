"""Attractors of the mean map F(z) = mu(decoder(z)): settling, cycles, grouping, Jacobians, basins, kinds and
the fixed-image test, on maps whose answers are known independently, and once on a smoke-trained VAE."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from conftest import requires_mnist
from vaedyn.analysis.attractor_report import (KINDS, KindRadii, attractor_kind, basins, describe_attractors,
                                              fixed_images, kind_radii, study_attractors)
from vaedyn.analysis.attractors import (group_end_points, iterate_map, jacobian, mean_map, merge_distance, settle,
                                        spectral_radius)
from vaedyn.analysis.concepts import ConceptSet, concept_set
from vaedyn.analysis.inference import repeated_inference
from vaedyn.config import ConfigError, get_profile
from vaedyn.model import VAE


class MapModel(nn.Module):
    """An "autoencoder" given by its two mean maps, in float64."""

    def __init__(self, encode, decode, n_features: int, nz: int):
        super().__init__()
        self.encode, self.decode, self.n_features, self.nz = encode, decode, n_features, nz

    def encode_mean(self, x):
        return self.encode(x)

    def decode_mean(self, z):
        return self.decode(z)


def linear_contraction(rho: float = 0.7):
    """encode_mean = x A, decode_mean = z B, so F(z) = z M with M = B A scaled to spectral radius rho."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    b = torch.randn(3, 5, generator=generator, dtype=torch.float64)
    b = b * rho / np.abs(np.linalg.eigvals((b @ a).numpy())).max()
    return MapModel(lambda x: x @ a, lambda z: z @ b, 5, 3), b @ a


def tanh_pixels(pixels: int = 5):
    """mu(x) = 2 (mean pixel - 1/2), decoder(z) = (tanh(3 z) + 1) / 2 in every pixel: F(z) = tanh(3 z), with
    stable fixed points at +-z* and an unstable one at 0."""
    return MapModel(lambda x: 2 * (x.mean(dim=1, keepdim=True) - 0.5),
                    lambda z: ((torch.tanh(3 * z) + 1) / 2).expand(-1, pixels), pixels, 1)


def bisect(f, lo: float, hi: float) -> float:
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(lo) * f(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


def test_a_linear_contraction_has_one_attractor_at_zero_with_the_matrix_spectral_radius():
    model, m = linear_contraction(0.7)
    z0 = torch.randn(30, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    settling = settle(model, z0, tol=1e-9)
    assert settling.converged.all()
    assert (torch.linalg.vector_norm(settling.end @ m - settling.end, dim=1) < 1e-9).all()
    for i in (0, 7):   # the end point is z(steps) = z0 M^steps
        power = torch.linalg.matrix_power(m, int(settling.steps[i]))
        assert torch.allclose(settling.end[i], z0[i] @ power, atol=1e-14)
    attractors = group_end_points(settling)
    assert attractors.count == 1 and attractors.size.tolist() == [30] and attractors.member_of.tolist() == [0] * 30
    assert attractors.points.abs().max() < 1e-8
    expected = np.abs(np.linalg.eigvals(m.numpy())).max()
    assert spectral_radius(model, attractors.points).item() == pytest.approx(expected, abs=1e-10)


def test_settling_visits_the_states_of_repeated_inference():
    torch.manual_seed(0)
    model = VAE(n_features=16, nz=3, hidden=8)
    x0 = torch.rand(6, 16)
    settling = settle(model, model.encode_mean(x0).detach(), tol=1e-30, max_steps=5)   # a tol never reached
    assert (settling.period == 0).all() and (settling.steps == 5).all()
    run = repeated_inference(model, x0, steps=5)
    assert torch.allclose(settling.end, run.z[-1], atol=1e-6)
    assert torch.allclose(settling.residual, torch.linalg.vector_norm(run.z[-1] - run.z[-2], dim=1), atol=1e-6)


def test_an_attracting_two_cycle_is_found_and_both_phases_are_one_attractor():
    # F(z) = -(1.5 z - 0.5 z^3) swaps +1 and -1; F(F(z)) has derivative 0 there, and 0 is a repelling fixed point.
    model = MapModel(lambda x: x, lambda z: -(1.5 * z - 0.5 * z ** 3), 1, 1)
    starts = torch.linspace(0.2, 1.4, 9, dtype=torch.float64)
    settling = settle(model, torch.cat([starts, -starts])[:, None], tol=1e-9)
    assert (settling.period == 2).all()
    assert settling.end.abs().flatten().tolist() == pytest.approx([1.0] * 18, abs=1e-9)
    assert set(settling.end.sign().flatten().tolist()) == {-1.0, 1.0}   # the trials stop at both phases
    assert torch.allclose(settling.orbit[:, 1], -settling.end, atol=1e-9)   # the orbit's other point
    assert torch.isnan(settling.orbit[:, 2:]).all()
    attractors = group_end_points(settling)
    assert attractors.count == 1 and attractors.period.tolist() == [2] and attractors.size.tolist() == [18]
    assert spectral_radius(model, attractors.points, attractors.period).item() == pytest.approx(0.0, abs=1e-6)


def test_a_spiral_into_a_point_is_not_taken_for_a_cycle():
    # F(z) = -0.9 z comes back near z(t-2) long before its steps are small: still a fixed point, at 0.
    model = MapModel(lambda x: x, lambda z: -0.9 * z, 1, 1)
    settling = settle(model, torch.tensor([[1.0], [-3.0]], dtype=torch.float64), tol=1e-9)
    assert settling.converged.all() and settling.end.abs().max() < 1e-8


def test_a_map_without_fixed_points_leaves_every_trial_unsettled_and_no_attractor():
    model = MapModel(lambda x: x.mean(dim=1, keepdim=True), lambda z: (z + 1).expand(-1, 5), 5, 1)   # F(z) = z + 1
    images, labels = two_class_images()
    found = basins(model, images, labels, [0.0, 0.3], trials_per_class=4, tol=1e-6, n_classes=2, max_steps=20)
    assert found.settling.outcome_shares() == {"fixed point": 0.0, "cycle": 0.0, "neither": 1.0}
    assert (found.settling.steps == 20).all() and found.settling.residual.tolist() == pytest.approx([1.0] * 16)
    assert found.attractors.count == 0 and found.counts.shape == (2, 2, 1) and (found.counts == 4).all()
    table = describe_attractors(model, found.attractors, concept_set(model, images, labels, n_classes=2))
    assert table.kind == [] and table.radius.shape == (0,)


def test_two_stable_fixed_points_are_told_apart_with_their_basins():
    model = tanh_pixels()
    z_star = bisect(lambda z: math.tanh(3 * z) - z, 0.5, 1.0)
    z0 = torch.linspace(-1, 1, 41, dtype=torch.float64)[:, None]
    z0[20] = 0.0                                                      # the unstable fixed point
    settling = settle(model, z0, tol=1e-10)
    assert settling.converged.all()
    attractors = group_end_points(settling)
    assert attractors.count == 3 and attractors.size.tolist() == [20, 20, 1]
    assert attractors.points.flatten().tolist() == pytest.approx([-z_star, z_star, 0.0], abs=1e-9)
    expected = torch.where(z0[:, 0] < 0, 0, torch.where(z0[:, 0] > 0, 1, 2))
    assert torch.equal(attractors.member_of, expected)
    radius = spectral_radius(model, attractors.points)
    assert radius.tolist() == pytest.approx([3 * (1 - z_star ** 2)] * 2 + [3.0], abs=1e-9)
    assert attractors.distance == merge_distance(1e-10)


def test_the_jacobian_matches_finite_differences_on_a_tiny_vae():
    torch.manual_seed(0)
    model = VAE(n_features=16, nz=3, hidden=8).double()
    points = torch.randn(4, 3, dtype=torch.float64)
    h = 1e-6
    steps = torch.eye(3, dtype=torch.float64) * h
    with torch.no_grad():   # column j of the Jacobian: (F(z + h e_j) - F(z - h e_j)) / 2h
        numeric = torch.stack([(mean_map(model, points + e) - mean_map(model, points - e)) / (2 * h) for e in steps],
                              dim=-1)
    assert torch.allclose(jacobian(model, points), numeric, atol=1e-8)
    expected = np.abs(np.linalg.eigvals(numeric.numpy())).max(axis=-1)
    assert spectral_radius(model, points).numpy() == pytest.approx(expected, rel=1e-6)
    with torch.no_grad():
        after = mean_map(model, points)
    chain = jacobian(model, after) @ jacobian(model, points)          # J_{F^2}(z) = J_F(F(z)) J_F(z)
    assert torch.allclose(jacobian(model, points, period=2), chain, atol=1e-12)


def two_class_images(per_class: int = 10):
    """Constant 5-pixel images: class 0 at intensities 0.05..0.15, class 1 at 0.85..0.95."""
    level = torch.linspace(0.05, 0.15, per_class, dtype=torch.float64)
    images = torch.cat([level, 1 - level])[:, None].expand(-1, 5).contiguous()
    return images, torch.arange(2).repeat_interleave(per_class)


def test_basins_follow_the_noise_reading():
    model, (images, labels) = tanh_pixels(), two_class_images()
    flip = basins(model, images, labels, [0.0, 0.5, 1.0], trials_per_class=8, tol=1e-10, noise="flip", n_classes=2)
    assert flip.counts.shape == (3, 2, flip.attractors.count + 1)
    assert (flip.counts.sum(dim=-1) == 8).all() and flip.counts[..., -1].sum() == 0
    assert flip.attractors.count == 2   # no start lands on the unstable 0: 5 pixels never average to 1/2
    assert flip.counts[0, :, :2].tolist() == [[8, 0], [0, 8]]   # attractor 0 is -z*, reached first
    assert flip.counts[2, :, :2].tolist() == [[0, 8], [8, 0]]   # every pixel flipped: the classes swap basins
    assert flip.shares().sum(dim=-1).tolist() == [[1.0, 1.0]] * 3
    # Swapping intensities within a constant image changes nothing: the basins are those of p = 0 at every p.
    swap = basins(model, images, labels, [0.0, 0.5, 1.0], trials_per_class=8, tol=1e-10, noise="swap", n_classes=2)
    assert (swap.counts[:, :, :2] == torch.tensor([[8, 0], [0, 8]])).all()


def test_attractors_are_described_against_their_reference_vectors():
    model, (images, labels) = tanh_pixels(), two_class_images()
    found = basins(model, images, labels, [0.0], trials_per_class=10, tol=1e-10, noise="flip", n_classes=2)
    concepts = concept_set(model, images, labels, n_classes=2)

    class MeanPixelClassifier(nn.Module):
        def forward(self, x):
            return torch.stack([0.5 - x.mean(dim=1), x.mean(dim=1) - 0.5], dim=1)

    table = describe_attractors(model, found.attractors, concepts, classifier=MeanPixelClassifier())
    z_star = bisect(lambda z: math.tanh(3 * z) - z, 0.5, 1.0)
    assert table.concept_class.tolist() == [0, 1] and table.predicted.tolist() == [0, 1]
    assert table.memory_class.tolist() == [0, 1] and table.memory_index.tolist() == [0, 10]   # the extreme images
    assert table.memory_distance.tolist() == pytest.approx([z_star - 0.9] * 2, abs=1e-9)
    assert table.abstract_distance.tolist() == pytest.approx([z_star] * 2, abs=1e-9)
    assert torch.allclose(table.image, ((torch.tanh(3 * found.attractors.points) + 1) / 2).expand(-1, 5))
    assert table.stable.tolist() == [True, True]


def test_the_kind_rule_takes_the_nearest_level_only_when_it_is_near():
    radii = KindRadii(memory=0.1, concept=0.5)
    kinds = attractor_kind(memory_distance=torch.tensor([0.05, 0.3, 0.6, 0.3, 0.09]),
                           concept_distance=torch.tensor([0.2, 0.2, 0.6, 0.9, 0.08]),
                           abstract_distance=torch.tensor([0.9, 0.9, 0.4, 0.9, 0.9]), radii=radii)
    # nearest memory within 0.1; concept within 0.5; abstract within 0.5; nothing near; concept nearer than memory
    assert kinds == ["memory", "concept", "abstract", "neither", "concept"]
    assert attractor_kind(torch.tensor([0.2]), torch.tensor([0.6]), torch.tensor([0.7]), radii) == ["neither"]
    assert set(KINDS) == {"memory", "concept", "abstract", "neither"}


def test_kind_radii_are_fractions_of_the_spacings():
    memory = torch.stack([torch.arange(8.0), torch.zeros(8)], dim=1)   # memory vectors 1 apart on a line
    concepts = torch.tensor([[0.0, 0.0], [0.0, 3.0], [4.0, 0.0]])        # closest pair 3 apart
    radii = kind_radii(ConceptSet(memory=memory, labels=torch.zeros(8, dtype=torch.long), concepts=concepts,
                                  abstract=concepts.mean(dim=0)))
    assert radii.memory == pytest.approx(0.1) and radii.concept == pytest.approx(1.5)


def test_the_fixed_image_share_is_one_for_a_sharp_identity_and_zero_for_a_shift():
    images = torch.randint(0, 2, (30, 6), generator=torch.Generator().manual_seed(0)).double()
    sharp = MapModel(lambda x: x, lambda z: torch.sigmoid(20 * (z - 0.5)), 6, 6)   # binary images are attractors
    fixed = fixed_images(sharp, images, tol=1e-3, pixel_tol=1e-3)
    assert fixed.latent_share == 1.0 and fixed.pixel_share == 1.0 and fixed.attractor_share == 1.0
    assert fixed.radius.max() < 1e-3
    identity = fixed_images(MapModel(lambda x: x, lambda z: z, 6, 6), images, tol=1e-3, pixel_tol=1e-3)
    assert identity.latent_share == 1.0 and identity.attractor_share == 0.0   # fixed but not attracting (radius 1)
    shift = fixed_images(MapModel(lambda x: x, lambda z: z + 1, 6, 6), images, tol=1e-3, pixel_tol=1e-3)
    assert shift.latent_share == 0.0 and shift.pixel_share == 0.0 and shift.attractor_share == 0.0
    assert torch.isnan(shift.radius).all()


@pytest.mark.parametrize("call, named", [
    (lambda m, z, x, y: settle(m, z, tol=0), "tol=0"),
    (lambda m, z, x, y: settle(m, z, tol=-1e-3), "tol=-0.001"),
    (lambda m, z, x, y: settle(m, z, tol=float("nan")), "tol=nan"),
    (lambda m, z, x, y: settle(m, z, tol=1e-6, max_steps=0), "max_steps=0"),
    (lambda m, z, x, y: settle(m, z, tol=1e-6, max_period=0), "max_period=0"),
    (lambda m, z, x, y: basins(m, x, y, [0.0, 1.5], 2, 1e-6, n_classes=2), "p=1.5"),
    (lambda m, z, x, y: basins(m, x, y, [-0.1], 2, 1e-6, n_classes=2), "p=-0.1"),
    (lambda m, z, x, y: basins(m, x, y, [0.1], 2, 1e-6, noise="blur", n_classes=2), "noise='blur'"),
    (lambda m, z, x, y: study_attractors(m, x, y, [0.1], 2, relative_tol=0), "relative_tol=0"),
    (lambda m, z, x, y: fixed_images(m, x, tol=1e-3, pixel_tol=-1), "pixel_tol=-1"),
])
def test_bad_settings_raise_one_error_naming_the_value(call, named):
    model, (images, labels) = tanh_pixels(), two_class_images()
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(".", r"\.")):
        call(model, torch.zeros(3, 1, dtype=torch.float64), images, labels)


@pytest.mark.slow
@requires_mnist
def test_attractors_of_a_smoke_trained_vae_are_consistent():
    from vaedyn.data import load_dataset
    from vaedyn.training.store import get_or_train

    model = get_or_train(get_profile("smoke").train_config("mnist"), device="cpu", progress=False).model
    train = load_dataset("mnist", "train", limit=2000)
    study = study_attractors(model, train.x, train.y, p_grid=(0.0, 0.5), trials_per_class=5, max_steps=300)
    found, settling, table = study.basins, study.basins.settling, study.table
    assert (found.counts.sum(dim=-1) == 5).all()
    assert found.counts[..., :-1].sum().item() == found.attractors.size.sum().item() == settling.settled.sum().item()
    with torch.no_grad():   # every settled end point returns within tol, recomputed in another batch (float32 slack)
        for k in settling.period[settling.settled].unique().tolist():
            rows = settling.period == k
            back = iterate_map(model, settling.end[rows], k)
            assert (torch.linalg.vector_norm(back - settling.end[rows], dim=1) < settling.tol * 1.001 + 1e-6).all()
    assert len(table.kind) == found.attractors.count == study.summary.attractors >= 1
    assert set(table.kind) <= set(KINDS) and sum(study.summary.kinds.values()) == found.attractors.count
    assert torch.isfinite(table.radius).all() and (table.radius >= 0).all()
    assert sum(study.summary.outcome_shares.values()) == pytest.approx(1.0)
    assert study.summary.tol == pytest.approx(1e-4 * study.summary.scale)
    assert 0.0 <= study.summary.latent_fixed_share <= 1.0 and study.fixed_images.latent_residual.shape == (2000,)
