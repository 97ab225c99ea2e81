import numpy as np
import pytest
import torch

from vaedyn.config import ConfigError
from vaedyn.dynamics import windowed_pca
from vaedyn.trajectories import (Embedding, branching_curve, check_schedule, embed_over_time, gaussian_silhouette,
                                 label_counts, label_fractions, project, snapshot_times, split_in_two)


def two_blobs(n=60, nz=5, gap=6.0, seed=0):
    """(T+1, 2n, nz): at t = 0 one blob, from t = 1 on two blobs `gap` apart along unit 1."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(4, 2 * n, nz, generator=generator, dtype=torch.float64) * 0.3
    z[..., 0] += 5.0
    z[1:, n:, 1] += gap
    return z


def test_check_schedule_names_the_bad_value():
    check_schedule(steps=30, window=5, branch_step=10)
    with pytest.raises(ConfigError, match="branch_step=30"):
        check_schedule(steps=30, window=5, branch_step=30)
    with pytest.raises(ConfigError, match="window=0"):
        check_schedule(steps=30, window=0, branch_step=10)
    with pytest.raises(ConfigError, match="steps=2.5"):
        check_schedule(steps=2.5, window=5, branch_step=1)


def test_snapshot_times_keep_existing_steps():
    assert snapshot_times((0, 5, 10, 20, 50, 10), steps=30) == [0, 5, 10, 20]


def test_embedding_matches_windowed_pca_and_projects_concepts():
    z = two_blobs()
    emb = embed_over_time(z, [0, 2], window=2)
    for k, t in enumerate([0, 2]):
        pca = windowed_pca(z, t, 2)
        assert torch.allclose(emb.points[k], pca.projection)
        assert torch.allclose(emb.at(t), pca.projection)
        # a latent vector lands where a trial at that vector would
        assert torch.allclose(project(z[t, 3], emb.components[k]), pca.projection[3])
    assert emb.explained.shape == (2, 2) and (emb.explained > 0).all() and (emb.explained.sum(dim=1) <= 1 + 1e-9).all()


def test_aligned_signs_keep_axes_and_follow_previous_frame():
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(6, 40, 4, generator=generator, dtype=torch.float64) + torch.tensor([3.0, 0, 0, 0], dtype=torch.float64)
    plain = embed_over_time(z, range(5), window=1)
    aligned = embed_over_time(z, range(5), window=1, align_signs=True)
    assert torch.allclose(plain.points.abs(), aligned.points.abs())
    for k in range(1, 5):
        assert ((aligned.components[k] * aligned.components[k - 1]).sum(dim=0) >= 0).all()


def test_split_in_two_finds_the_blobs_and_orders_by_size():
    z = two_blobs()
    points = embed_over_time(z, [1], window=1).points[0]
    groups = split_in_two(points[:100])       # 60 in the first blob, 40 in the second
    assert groups.sizes == [60, 40]
    assert (groups.labels[:60] == 0).all() and (groups.labels[60:100] == 1).all()
    assert groups.silhouette > 0.8


def test_branching_curve_separates_one_blob_from_two():
    z = two_blobs()
    curve = branching_curve(embed_over_time(z, [0, 1], window=1), draws=3)
    assert curve.times == [0, 1]
    assert abs(curve.excess[0]) < 0.1           # one Gaussian blob: no better than its Gaussian twin
    assert curve.excess[1] > 0.2                # two blobs stand out
    assert curve.at(1)[0] == pytest.approx(curve.silhouette[1])


def test_gaussian_silhouette_of_a_round_cloud():
    points = torch.as_tensor(np.random.default_rng(0).normal(size=(400, 2)))
    assert 0.3 < gaussian_silhouette(points, draws=3) < 0.5


def test_label_counts_and_fractions():
    predicted = torch.tensor([1, 1, 7, 1, 4, 4])
    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    assert label_counts(predicted, groups).tolist()[0][1] == 2
    assert label_counts(predicted, groups).sum().item() == 6
    assert label_counts(predicted, groups)[1, 4].item() == 2
    assert torch.allclose(label_fractions(predicted, groups, label=1), torch.tensor([2 / 3, 1 / 3]))
