import math

import numpy as np
import pytest
import torch

from vaedyn.analysis.concepts import (abstract_concept, active_units, components_for, concept_set, concept_vectors,
                                     cosine_similarity_matrix, orthogonality)
from vaedyn.analysis.distances import distance_over_time, is_approaching, mahalanobis_over_time, min_over_time
from vaedyn.analysis.pca import cumulative_contribution, windowed_pca
from vaedyn.model import VAE


def orthogonal_clusters(n_per_class=50, nz=16, scale=3.0):
    """Class k sits at scale * e_k; the noise of each class sums to zero, so its mean is exact."""
    generator = torch.Generator().manual_seed(0)
    memory, labels = [], []
    for k in range(10):
        noise = torch.randn(n_per_class, nz, generator=generator, dtype=torch.float64) * 0.3
        noise -= noise.mean(dim=0)
        centre = torch.zeros(nz, dtype=torch.float64)
        centre[k] = scale
        memory.append(centre + noise)
        labels.append(torch.full((n_per_class,), k))
    return torch.cat(memory), torch.cat(labels)


def test_concept_and_abstract_vectors_of_orthogonal_clusters():
    memory, labels = orthogonal_clusters()
    concepts = concept_vectors(memory, labels)
    expected = torch.zeros(10, 16, dtype=torch.float64)
    expected[torch.arange(10), torch.arange(10)] = 3.0
    assert torch.allclose(concepts, expected, atol=1e-12)
    assert torch.allclose(abstract_concept(concepts), expected.mean(dim=0))
    assert orthogonality(concepts) == pytest.approx(0.0, abs=1e-12)
    assert torch.allclose(cosine_similarity_matrix(concepts), torch.eye(10, dtype=torch.float64))


def test_orthogonality_of_identical_and_of_known_vectors():
    same = torch.ones(10, 4)
    assert orthogonality(same) == pytest.approx(math.sqrt(90), rel=1e-6)
    pair = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    c = cosine_similarity_matrix(pair)
    assert c[0, 1].item() == pytest.approx(1 / math.sqrt(2))
    assert orthogonality(pair) == pytest.approx(1.0, rel=1e-6)  # sqrt(2 * (1/sqrt(2))^2)


def test_concept_set_uses_the_encoder_means():
    model = VAE(n_features=8, nz=3, hidden=5)
    x, labels = torch.rand(40, 8), torch.arange(40) % 10
    cs = concept_set(model, x, labels)
    with torch.no_grad():
        assert torch.allclose(cs.memory, model.encode_mean(x))
    assert torch.allclose(cs.concepts[4], cs.memory[labels == 4].mean(dim=0))
    with pytest.raises(ValueError, match="no examples"):
        concept_vectors(cs.memory[:5], labels[:5])


def test_distances_and_their_minimum():
    z = torch.zeros(4, 2, 3)
    z[:, 0, 0] = torch.tensor([3.0, 1.0, 2.0, 4.0])
    z[:, 1, 1] = torch.tensor([5.0, 4.0, 3.0, 2.0])
    d = distance_over_time(z, torch.zeros(3))
    assert torch.equal(d, torch.tensor([[3.0, 5.0], [1.0, 4.0], [2.0, 3.0], [4.0, 2.0]]))
    per_trial = distance_over_time(z, torch.tensor([[3.0, 0, 0], [0, 5.0, 0]]))
    assert per_trial[0].tolist() == [0.0, 0.0]
    minimum, step = min_over_time(d)
    assert minimum.tolist() == [1.0, 2.0] and step.tolist() == [1, 3]


@pytest.mark.parametrize("curve, expected", [
    ([3.0, 1.0, 2.0, 2.5], True),        # dips once, in the middle
    ([3.0, 2.0, 1.0, 0.5], False),       # monotone: closest at the end
    ([0.5, 1.0, 2.0, 3.0], False),       # closest at the start
    ([3.0, 1.0, 2.0, 1.0, 2.0], False),  # two steps share the minimum
])
def test_approaching_criterion(curve, expected):
    d = torch.tensor(curve).unsqueeze(1)
    assert is_approaching(d).item() is expected


def numpy_windowed_pca(z, t, window, centered):
    stacked = z[t:t + window].reshape(-1, z.shape[-1])
    mean = stacked.mean(axis=0) if centered else np.zeros(z.shape[-1])
    _, s, vt = np.linalg.svd(stacked - mean, full_matrices=False)
    top = vt[:2].T
    top = top * np.sign(top[np.abs(top).argmax(axis=0), [0, 1]])
    return (z[t] - mean) @ top, s ** 2


@pytest.mark.parametrize("centered", [False, True])
def test_windowed_pca_matches_numpy(centered):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(12, 30, 6)) * np.array([5, 3, 1, 0.5, 0.2, 0.1]) + 2.0
    ours = windowed_pca(torch.tensor(z), t=4, window=3, centered=centered)
    projection, eigenvalues = numpy_windowed_pca(z, 4, 3, centered)
    np.testing.assert_allclose(ours.projection.numpy(), projection, atol=1e-9)
    np.testing.assert_allclose(ours.eigenvalues.numpy(), eigenvalues, rtol=1e-9)
    tail = windowed_pca(torch.tensor(z), t=11, window=5)  # the window is cut at T
    assert tail.projection.shape == (30, 2)


def test_active_units_and_cumulative_contribution():
    generator = torch.Generator().manual_seed(0)
    memory = torch.randn(2000, 10, generator=generator) * 0.01
    memory[:, 0] += torch.randn(2000, generator=generator) * 3
    memory[:, 4] += torch.randn(2000, generator=generator) * 2
    memory[:, 7] += torch.randn(2000, generator=generator) * 1
    assert torch.nonzero(active_units(memory)).flatten().tolist() == [0, 4, 7]
    cumulative = cumulative_contribution(memory)
    assert cumulative[-1] == pytest.approx(1.0) and cumulative[2] > 0.999
    assert components_for(cumulative, 0.6) == 1  # 9 / 14 of the variance is on unit 0
    assert components_for(cumulative, 0.9) == 2
    assert components_for(cumulative, 1.0) <= 10


def test_mahalanobis_of_an_isotropic_cloud_is_the_scaled_euclidean_distance():
    generator = torch.Generator().manual_seed(1)
    cloud = torch.randn(20_000, 4, generator=generator, dtype=torch.float64) * 2.0 + 1.0
    z = torch.tensor([[[1.0, 1.0, 1.0, 1.0]], [[5.0, 1.0, 1.0, 1.0]]], dtype=torch.float64)
    d = mahalanobis_over_time(z, cloud)
    assert d.shape == (2, 1)
    assert d[0, 0].item() == pytest.approx(0.0, abs=0.05)
    assert d[1, 0].item() == pytest.approx(2.0, rel=0.03)
