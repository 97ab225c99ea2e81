import pytest
import torch

from vaedyn.analysis.pca import captured_variance, principal_plane
from vaedyn.paper.fig5 import (LabelMap, correct_at_every_step, correct_step_counts, first_p_not_always_correct,
                               first_p_without_recovery, label_map_rows, largest_p_always_correct, p_with_recovery,
                               true_runs)


def label_map_from_majorities(majorities, p_grid, label=6):
    """A LabelMap whose every trial predicts the given (len(p), T+1) majority labels."""
    predicted = torch.tensor(majorities).unsqueeze(-1).repeat(1, 1, 3)
    return LabelMap(p_grid=p_grid, label=label, predicted=predicted)


def test_label_map_summaries():
    labels = label_map_from_majorities(
        [[6, 6, 6, 6],      # p=0.0: correct at every t >= 1
         [2, 6, 6, 6],      # p=0.1: t=0 does not count
         [6, 3, 6, 0],      # p=0.2: window (2, 2)
         [6, 6, 6, 6],      # p=0.3: correct again, but p=0.2 broke the run
         [3, 4, 0, 0]],     # p=0.4: never
        p_grid=[0.0, 0.1, 0.2, 0.3, 0.4])
    assert correct_at_every_step(labels).tolist() == [True, True, False, True, False]
    assert correct_step_counts(labels).tolist() == [3, 3, 1, 3, 0]
    assert largest_p_always_correct(labels) == 0.1
    assert p_with_recovery(labels) == [0.0, 0.1, 0.2, 0.3]
    assert first_p_not_always_correct(labels) == 0.2
    assert first_p_without_recovery(labels) == 0.4
    rows = label_map_rows(labels)
    assert rows[2] == {"p": 0.2, "correct_every_step": False, "window": (2, 2), "correct_steps": 1,
                       "label_first_step": 3, "label_last_step": 0, "correct_fraction_last_step": 0.0}
    assert rows[4]["window"] is None and rows[4]["label_first_step"] == 4


def test_largest_p_always_correct_is_none_when_the_smallest_p_fails_and_ignores_grid_order():
    failing = label_map_from_majorities([[6, 0, 6], [6, 6, 6]], p_grid=[0.0, 0.5])
    assert largest_p_always_correct(failing) is None
    assert first_p_not_always_correct(failing) == 0.0
    never = label_map_from_majorities([[0, 0, 0], [1, 1, 1]], p_grid=[0.3, 0.6])
    assert first_p_without_recovery(never) == 0.3 and p_with_recovery(never) == []
    always = label_map_from_majorities([[6, 6, 6], [0, 6, 0]], p_grid=[0.3, 0.6])
    assert first_p_without_recovery(always) is None and first_p_not_always_correct(always) == 0.6
    unsorted = label_map_from_majorities([[6, 0, 6], [6, 6, 6]], p_grid=[0.5, 0.0])
    assert largest_p_always_correct(unsorted) == 0.0


def test_true_runs():
    assert true_runs([False, True, True, False, True]) == [(1, 3), (4, 5)]
    assert true_runs(torch.tensor([True, True])) == [(0, 2)]
    assert true_runs([]) == [] and true_runs([False]) == []


def test_principal_plane_recovers_the_spread_directions():
    generator = torch.Generator().manual_seed(0)
    n, nz = 500, 6
    coords = torch.randn(n, 2, generator=generator) * torch.tensor([5.0, 2.0])
    points = torch.zeros(n, nz)
    points[:, 3], points[:, 1] = coords[:, 0], coords[:, 1]
    points += 0.01 * torch.randn(n, nz, generator=generator) + torch.arange(nz)
    plane = principal_plane(points)
    assert plane.basis.shape == (nz, 2)
    assert torch.allclose(plane.basis.T @ plane.basis, torch.eye(2, dtype=plane.basis.dtype), atol=1e-10)
    assert plane.basis[3, 0] == pytest.approx(1.0, abs=1e-3)     # sign fixed: largest entry positive
    assert plane.basis[1, 1] == pytest.approx(1.0, abs=1e-3)
    assert plane.explained_ratio.sum() == pytest.approx(1.0, abs=1e-4)
    assert captured_variance(plane, points) == pytest.approx(plane.explained_ratio.sum().item(), abs=1e-9)
    projected = plane.project(points)
    assert projected.shape == (n, 2)
    assert torch.allclose(projected.mean(dim=0), torch.zeros(2, dtype=projected.dtype), atol=1e-9)
    assert plane.project(points[:3].unsqueeze(0)).shape == (1, 3, 2)   # leading shapes pass through


def test_principal_plane_rejects_bad_shapes():
    with pytest.raises(ValueError, match="n_components"):
        principal_plane(torch.randn(5, 3), n_components=4)
    with pytest.raises(ValueError, match="shape"):
        principal_plane(torch.randn(1, 3))


def test_a_recovery_must_follow_a_wrong_step_not_precede_it():
    from vaedyn.paper.fig5 import first_p_recovered_after_misreading, recovered_after_misreading
    from vaedyn.paper.registry import REGISTRY, judge

    right, wrong = 6, 2
    majority = torch.tensor([
        [0, right, right, wrong, wrong],    # p = 0.0: right first, then drifts away: no recovery
        [0, wrong, right, right, wrong],    # p = 0.3: misread at t = 1, recovered at t = 2
        [0, right, wrong, wrong, right],    # p = 0.5: right, wrong, right again
        [0, wrong, wrong, wrong, wrong],    # p = 0.9: never right
    ])
    assert recovered_after_misreading(majority, right).tolist() == [False, True, True, False]
    assert first_p_recovered_after_misreading([0.0, 0.3, 0.5, 0.9], majority, right) == 0.3
    assert first_p_recovered_after_misreading([0.0, 0.9], majority[[0, 3]], right) is None
    claim = REGISTRY["suppD.fig5a.window_beyond_failure"]
    drifting = {"readings": {r: {"p_grid": [0.0, 0.9], "majority": {"6": majority[[0, 3]].tolist()}}
                             for r in ("swap", "flip")}}
    assert judge(claim, drifting)["swap"]["verdict"] == "not reproduced"
    recovering = {"readings": {r: {"p_grid": [0.0, 0.3], "majority": {"6": majority[:2].tolist()}}
                               for r in ("swap", "flip")}}
    assert judge(claim, recovering)["flip"] == {"value": 0.3, "verdict": "reproduced"}
