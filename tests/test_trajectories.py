import pytest
import torch

from vaedyn.config import ConfigError
from vaedyn.analysis.pca import windowed_pca
from vaedyn.paper.fig2 import (TwoGroups, Valley, branching_curve, check_schedule, embed_over_time, label_counts,
                                 label_fractions, project, reference_clouds, settling_step, snapshot_times, split_in_two,
                                 valley, valley_occupancy)


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
    curve = branching_curve(embed_over_time(z, [0, 1], window=1), draws=5)
    assert curve.times == [0, 1]
    assert curve.ratio[0] > 0.6                 # one Gaussian blob: the strip is as full as in its Gaussian twin
    assert curve.ratio[1] < 0.1                 # two blobs: the strip between them is empty
    assert curve.at(1).ratio == pytest.approx(curve.ratio[1])
    assert curve.at(0).classify() == "one cloud" and curve.at(1).classify() == "two clusters"
    assert curve.first_split(0.5) == 1 and curve.first_split(0.0) is None
    assert (curve.low <= curve.ratio).all() and (curve.ratio <= curve.high).all()
    assert curve.silhouette[1] > curve.silhouette[0]


def test_valley_ratio_orders_clouds_as_the_docstring_says():
    ratio = {name: valley(x).ratio for name, x in reference_clouds().items()}
    assert ratio["one blob"] == pytest.approx(1.0, abs=0.25)
    assert 0.5 < ratio["arc"] < 0.85
    assert 0.2 < ratio["touching"] < 0.5
    assert ratio["apart"] < 0.1


def test_valley_occupancy_counts_the_middle_strip():
    points = torch.tensor([[0.0, 0.0], [0.0, 1.0], [5.0, 0.0], [10.0, 0.0], [10.0, 1.0]], dtype=torch.float64)
    # centres at x = 0 and x = 10: the default strip, |x - 5| <= 1, holds only the point at x = 5
    centres = torch.tensor([[0.0, 0.5], [10.0, 0.5]], dtype=torch.float64)
    fixed = TwoGroups(labels=torch.tensor([0, 0, 0, 1, 1]), centres=centres, silhouette=0.0)
    assert valley_occupancy(points, fixed) == pytest.approx(1 / 5)
    assert valley_occupancy(points, fixed, half_width=0.6) == pytest.approx(1.0)


def test_label_counts_and_fractions():
    predicted = torch.tensor([1, 1, 7, 1, 4, 4])
    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    assert label_counts(predicted, groups).tolist()[0][1] == 2
    assert label_counts(predicted, groups).sum().item() == 6
    assert label_counts(predicted, groups)[1, 4].item() == 2
    assert torch.allclose(label_fractions(predicted, groups, label=1), torch.tensor([2 / 3, 1 / 3]))


def test_image_slant_of_lines():
    from vaedyn.paper.fig2 import image_slant

    side = 9
    upright, forward, backward = (torch.zeros(side, side) for _ in range(3))
    for r in range(side):
        upright[r, 4] = 1.0
        forward[r, side - 1 - r] = 1.0      # '/': the top row is furthest right
        backward[r, r] = 1.0                # '\'
    slant = image_slant(torch.stack([upright, forward, backward, torch.zeros(side, side)]).reshape(4, -1), side)
    assert torch.allclose(slant, torch.tensor([0.0, 1.0, -1.0, 0.0]), atol=1e-6)


def test_valley_interval_and_classes():
    few = Valley(count=3, n=300, gaussian=0.12, silhouette=0.0)     # 1 % in the strip: clearly two clusters
    full = Valley(count=36, n=300, gaussian=0.12, silhouette=0.0)   # as full as a Gaussian: one cloud
    borderline = Valley(count=18, n=300, gaussian=0.12, silhouette=0.0)
    low, high = few.interval()
    assert low < few.ratio < high and high < 0.5
    assert few.classify() == "two clusters" and full.classify() == "one cloud"
    assert borderline.ratio == pytest.approx(0.5) and borderline.classify() == "undecided"
    # more confidence, wider interval
    assert borderline.interval(0.99)[0] < borderline.interval(0.9)[0]


def test_settling_step():
    assert settling_step([0.0, 0.5, 0.85, 0.95, 1.0, 0.9]) == 3
    assert settling_step([1.0, 1.0, 1.0]) == 0


def test_centered_embedding_explains_variance():
    z = two_blobs()
    centred = embed_over_time(z, [1], window=1, centered=True)
    # two blobs along one latent unit: the first centred component carries most of the variance
    assert centred.explained[0, 0] > 0.8


def test_the_supp_b_sentence_says_what_the_two_groups_are_in_every_case():
    from vaedyn.paper.fig2 import split_sentence

    assert split_sentence([0.95, 0.9], [0.5, 0.1], "1").endswith("how the digits lean (mean slant 0.50 against "
                                                                  "0.10 pixels per row).")
    assert "differ little" in split_sentence([0.95, 0.9], [0.5, 0.45], "1")
    # chapter 02 under long: both groups mostly '1', one below 80 % (it used to say "differ in class")
    assert split_sentence([0.732, 0.816], [0.0, 0.0], "1") == ("Both groups are mostly '1' (73.2 % and 81.6 % '1'), "
                                                               "but not both 80 % or more.")
    assert split_sentence([0.9, 0.2], [0.0, 0.0], "1").startswith("One group is mostly '1' and the other")
    assert split_sentence([0.007, 0.0], [0.0, 0.0], "Trouser") == "Neither group is mostly 'Trouser' (0.7 % and 0.0 % 'Trouser')."
    assert split_sentence([float("nan"), 0.3], [0.0, 0.0], "1").startswith("Neither group")
