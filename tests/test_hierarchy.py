import pytest
import torch

from vaedyn.analysis.concepts import ConceptSet, concept_set
from vaedyn.config import ConfigError
from vaedyn.analysis.trials import run_trials
from vaedyn.book.page import check_labels, check_p_grid
from vaedyn.paper.fig3 import class_mahalanobis, cluster_radius, distance_study, mean_curve_approaches, mean_curve_minimum
from vaedyn.paper.fig4 import (HierarchySweep, argmin_mean, argmin_sem, hierarchy_sweep, memory_earliest, receding,
                               stage_onsets, stage_spans, stages_in_order, trend, unresolved)
from vaedyn.model import VAE


def small_setup():
    torch.manual_seed(0)
    model = VAE(n_features=64, nz=6, hidden=16)
    images, labels = torch.rand(400, 64), torch.arange(400) % 10
    return model, images, labels, concept_set(model, images, labels)


def flat(values, trials=4, dtype=torch.float32):
    """(len(values), trials) with every trial equal."""
    return torch.tensor(values, dtype=dtype).unsqueeze(1).repeat(1, trials)


def sweep_of(memory, concept, abstract, steps=None):
    p_grid = [0.1 * k for k in range(len(memory))]
    steps = steps or {k: torch.zeros(len(memory), 4, dtype=torch.long) for k in ("memory", "concept", "abstract")}
    return HierarchySweep(p_grid=p_grid, min_distance={"memory": flat(memory), "concept": flat(concept),
                                                       "abstract": flat(abstract)}, argmin_step=steps)


def test_check_labels_accepts_class_indices_and_names_bad_ones():
    assert check_labels([6, 1]) == [6, 1]
    assert check_labels(3) == [3]
    for bad in ([10], [-1], [], [1.0], [True]):
        with pytest.raises(ConfigError, match="labels="):
            check_labels(bad)


def test_check_p_grid():
    assert check_p_grid(None) is None
    assert check_p_grid([0, 0.5, 1]) == [0.0, 0.5, 1.0]
    for bad in ([0.2], [0.5, 0.2], [0.1, 1.5], "0.1", [0.1, 0.1]):
        with pytest.raises(ConfigError, match="p_grid="):
            check_p_grid(bad)


def test_mean_curve_minimum_and_approach_of_a_dip_and_of_a_monotone_decay():
    dip = torch.tensor([5.0, 3.0, 1.0, 2.0, 4.0]).unsqueeze(1).repeat(1, 3)
    assert mean_curve_minimum(dip) == (2, 1.0)
    assert mean_curve_approaches(dip)
    decay = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0]).unsqueeze(1).repeat(1, 3)
    assert mean_curve_minimum(decay) == (4, 1.0)
    assert not mean_curve_approaches(decay)   # the minimum is at T, not halfway


def test_mean_curve_is_the_trial_mean():
    # trial 0 dips at t=1, trial 1 at t=3; their mean is smallest at t=1 (2.0 + 4.0 < 4.0 + 3.0)
    d = torch.tensor([[6.0, 6.0], [2.0, 4.0], [5.0, 5.0], [6.0, 3.0], [6.0, 6.0]])
    assert mean_curve_minimum(d) == (1, 3.0)


def test_cluster_radius_is_the_median_member_distance():
    memory = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [9.0, 9.0]])
    labels = torch.tensor([0, 0, 0, 1])
    concepts = ConceptSet(memory=memory, labels=labels, concepts=torch.tensor([[0.0, 0.0], [9.0, 9.0]]),
                          abstract=torch.tensor([4.5, 4.5]))
    assert cluster_radius(concepts, 0) == pytest.approx(2.0)


def test_class_mahalanobis_follows_the_trajectories_of_distance_study():
    model, images, labels, concepts = small_setup()
    study = distance_study(model, concepts, images, label=3, trials=12, p=0.2, steps=5, seed=7)
    maha = class_mahalanobis(study.trials, concepts)
    assert maha.trajectory.shape == study.to_concept.shape == (6, 12)
    assert maha.members.shape == ((labels == 3).sum().item(),)
    assert (maha.trajectory >= 0).all() and torch.isfinite(maha.trajectory).all()
    # With p = 0 each z(0) is the memory vector of its start image, so its distance is one of the members'.
    zero = class_mahalanobis(distance_study(model, concepts, images, label=3, trials=12, p=0.0, steps=5, seed=7).trials,
                             concepts)
    gaps = (zero.trajectory[0].unsqueeze(1) - zero.members.unsqueeze(0)).abs().min(dim=1).values
    assert (gaps < 1e-4).all()


def test_stage_onsets_and_order():
    sweep = sweep_of(memory=[0.1, 0.5, 2.0, 3.0, 3.0], concept=[1.0, 0.4, 0.5, 2.0, 2.5],
                     abstract=[2.0, 2.0, 1.5, 1.0, 0.5])
    assert sweep.stages() == ["I", "II", "II", "III", "III"]
    onsets = stage_onsets(sweep)
    assert onsets["I"] == 0.0 and onsets["II"] == pytest.approx(0.1) and onsets["III"] == pytest.approx(0.3)
    assert stages_in_order(sweep)
    back = sweep_of(memory=[0.1, 0.5, 0.1], concept=[1.0, 0.4, 1.0], abstract=[2.0, 2.0, 2.0])
    assert back.stages() == ["I", "II", "I"] and not stages_in_order(back)
    only_one = sweep_of(memory=[0.1, 0.2], concept=[1.0, 1.0], abstract=[2.0, 2.0])
    assert stage_onsets(only_one) == {"I": 0.0, "II": None, "III": None}


def test_stage_spans_cover_the_grid_with_runs_of_equal_stage():
    sweep = sweep_of(memory=[0.1, 0.5, 2.0, 3.0, 3.0], concept=[1.0, 0.4, 0.5, 2.0, 2.5],
                     abstract=[2.0, 2.0, 1.5, 1.0, 0.5])   # p = 0, 0.1, ..., 0.4; stages I II II III III
    spans = stage_spans(sweep)
    assert [s["stage"] for s in spans] == ["I", "II", "III"]
    assert [round(s["p_lo"], 6) for s in spans] == [-0.05, 0.05, 0.25]
    assert [round(s["p_hi"], 6) for s in spans] == [0.05, 0.25, 0.45]


def test_unresolved_marks_near_ties_of_the_two_closest_levels():
    sweep = HierarchySweep(
        p_grid=[0.0, 0.5],
        min_distance={"memory": torch.tensor([[0.0, 0.2], [5.0, 5.2]]),       # means 0.1 and 5.1
                      "concept": torch.tensor([[1.0, 1.2], [3.0, 3.4]]),      # means 1.1 and 3.2
                      "abstract": torch.tensor([[2.0, 2.2], [3.1, 3.5]])},    # means 2.1 and 3.3
        argmin_step={k: torch.zeros(2, 2, dtype=torch.long) for k in ("memory", "concept", "abstract")})
    # p = 0: memory leads concept by 1.0, SEMs 0.1 -> resolved; p = 0.5: concept leads abstract by 0.1, SEMs 0.2
    assert unresolved(sweep) == [False, True]
    assert unresolved(sweep, k_sem=0.1) == [False, False]


def test_argmin_summaries_and_memory_earliest():
    steps = {"memory": torch.tensor([[0, 0], [2, 4], [9, 9]]),
             "concept": torch.tensor([[5, 5], [3, 3], [8, 8]]),
             "abstract": torch.tensor([[7, 7], [3, 3], [10, 10]])}
    sweep = sweep_of(memory=[0, 0, 0], concept=[1, 1, 1], abstract=[2, 2, 2], steps=steps)
    assert argmin_mean(sweep, "memory").tolist() == [0.0, 3.0, 9.0]
    assert argmin_sem(sweep, "memory")[1].item() == pytest.approx(2 ** 0.5 / 2 ** 0.5)
    assert memory_earliest(sweep) == [True, True, False]
    assert receding(sweep) == [False, False, False]
    assert receding(sweep, below=9.5) == [True, True, False]


def test_trend_of_rising_flat_and_falling_values():
    p = [0.0, 0.1, 0.2, 0.3]
    rising = trend(p, [1.0, 2.0, 5.0, 9.0])
    assert rising.rho == pytest.approx(1.0) and rising.span == pytest.approx(8.0)
    assert trend(p, torch.tensor([3.0, 3.0, 3.0, 3.0])).as_dict() == {"rho": 0.0, "p_value": 1.0, "span": 0.0}
    assert trend(p, [4.0, 3.0, 2.0, 1.0]).rho == pytest.approx(-1.0)


def test_endpoints_are_those_of_the_sweep_trials():
    model, images, labels, concepts = small_setup()
    sweep = hierarchy_sweep(model, concepts, images, label=6, p_grid=[0.0, 0.5], trials=8, steps=4, seed=2)
    ends = sweep.endpoints
    assert ends.spread.shape == ends.last_move.shape == (2,)
    assert ends.nearest.shape == (2, 8) and ends.centres.shape == (2, 6)
    assert ends.class_spread > 0 and (ends.relative_spread() >= 0).all()
    assert ends.true_fraction().shape == (2,) and len(ends.majority()) == 2
    assert ends.centre_distances().shape == (2, 2)
    # run_trials with the same arguments gives the same trials (its seed depends on seed, label and p only).
    end = run_trials(model, images, labels, 6, 8, 0.5, 4, "swap", seed=2).z[-1]
    assert torch.allclose(ends.centres[1], end.mean(dim=0))
    to_abstract = torch.linalg.vector_norm(end - concepts.abstract, dim=-1)
    assert (to_abstract >= sweep.min_distance["abstract"][1] - 1e-6).all()


def test_endpoints_of_a_map_with_one_fixed_point_have_no_spread():
    """A model whose decoder ignores z sends every trial to the same z(1) = mu(decoder(.)): spread 0."""
    model, images, labels, concepts = small_setup()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("dec") and "weight" in name:
                param.zero_()
    ends = hierarchy_sweep(model, concepts, images, label=1, p_grid=[0.2, 0.6], trials=10, steps=3).endpoints
    assert torch.allclose(ends.spread, torch.zeros(2), atol=1e-5)
    assert torch.allclose(ends.last_move, torch.zeros(2), atol=1e-5)
    assert len(set(ends.nearest.flatten().tolist())) == 1


def test_a_straight_path_never_passes_closer_than_its_segment_and_a_bent_one_does():
    from vaedyn.analysis.distances import is_approaching, passes_closer_than_segment, segment_distance

    target = torch.tensor([0.0, 1.0])
    line = torch.stack([torch.tensor([-1.0 + 0.2 * t, 0.0]) for t in range(11)]).unsqueeze(1)   # (11, 1, 2)
    assert not passes_closer_than_segment(line, target).item()
    assert is_approaching(torch.linalg.vector_norm(line - target, dim=-1)).item()   # the paper's criterion holds
    bent = line.clone()
    bent[5, 0, 1] = 0.8                                                              # a detour towards the target
    assert passes_closer_than_segment(bent, target).item()
    assert segment_distance(line[0], line[-1], target).item() == pytest.approx(1.0)


def test_figure_3_summary_has_one_value_per_class_and_reading_independent_keys():
    from vaedyn.paper import fig3

    model, images, labels, concepts = small_setup()
    result = fig3.run(model, concepts, images, trials=12, p=0.2, steps=5, noise="flip", seed=1)
    values = fig3.summary(result, concepts)
    assert values["noise"] == "flip" and values["trials"] == 12
    for key in ("approaching_fraction_concept", "strict_fraction_concept", "segment_fraction_concept",
                "other_concepts_segment_fraction_max", "argmin_step_mean_concept", "dip_depth_relative"):
        assert len(values[key]) == 10
    assert all(0 <= s <= g <= 1 for s, g in zip(values["strict_fraction_concept"], values["segment_fraction_concept"]))
    assert result.other_concepts[3].shape == (12, 10)
    # The control's own column is the class's own "closer than the straight path" share.
    assert result.other_concepts[3][:, 3].float().mean().item() == pytest.approx(values["segment_fraction_concept"][3])
