import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from vaedyn.analysis.clusters import two_means
from vaedyn.paper.fig2 import reference_clouds


def test_two_means_finds_scikit_learns_optimum_on_every_kind_of_cloud():
    clouds = list(reference_clouds(n=200, seed=3).values())
    rng = np.random.default_rng(1)
    clouds += [torch.as_tensor(rng.normal(size=(200, 2)) * [1.0, 0.2]), torch.as_tensor(rng.uniform(size=(200, 2)))]
    labels, centres, inertia = two_means(torch.stack(clouds), seed=0)
    for k, cloud in enumerate(clouds):
        reference = KMeans(n_clusters=2, n_init=10, random_state=0).fit(cloud.numpy())
        assert inertia[k].item() <= reference.inertia_ * (1 + 1e-6), k
        # the same partition (up to the groups' order) and the same centres
        agree = (labels[k].numpy() == reference.labels_).mean()
        assert max(agree, 1 - agree) > 0.99, k
        ours = centres[k].numpy()[np.argsort(centres[k].numpy()[:, 0])]
        theirs = reference.cluster_centers_[np.argsort(reference.cluster_centers_[:, 0])]
        np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_two_means_is_deterministic_for_a_seed_and_handles_degenerate_sets():
    points = torch.randn(4, 50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    first, second = two_means(points, seed=5), two_means(points, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    same = torch.zeros(1, 10, 2, dtype=torch.float64)                # every point identical
    labels, centres, inertia = two_means(same)
    assert inertia.item() == 0.0 and torch.isfinite(centres).all()
    with pytest.raises(ValueError, match="shape"):
        two_means(torch.zeros(10, 2))
