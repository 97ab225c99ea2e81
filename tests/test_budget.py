"""The budget measurements of one model and the rule that says whether two runs agree."""
import copy
import dataclasses

import pytest

from vaedyn.paper import budget
from vaedyn.training.classifier import ClassifierCNN
from vaedyn.config import get_profile
from vaedyn.data import load_dataset
from vaedyn.training.loop import train

EFFORT = budget.Effort(trials_distance=12, trials_stages=12, trials_classifier=10, steps=6, p_grid=(0.0, 0.4, 0.8))


@pytest.fixture(scope="module")
def measured():
    """A digits model per agreement path (fp32 eager, fp32 compiled, bf16 compiled), measured with a tiny effort."""
    from vaedyn.config import TrainConfig

    digits = load_dataset("digits", "train")
    config = TrainConfig(dataset="digits", nz=6, hidden=32, epochs=4, batch_size=50, seed=1)
    values = {}
    for name, fields in budget.AGREEMENT_PATHS.items():
        trained = train(dataclasses.replace(config, **fields), device="cpu", progress=False)
        values[name] = budget.measure(trained.model, trained.history, digits.x, digits.y, EFFORT,
                                      classifier=ClassifierCNN(side=8).eval())
    return values


def test_measure_reports_every_budget_value(measured):
    values = measured["fp32 eager"]
    assert values["epochs"] == 4 and values["test_negative_elbo"] > 0
    assert 0 <= values["active_units"] <= 6 and 1 <= values["components_70"] <= values["components_99"] <= 6
    assert values["orthogonality"] >= 0 and len(values["approaching_concept"]) == 10
    assert set(values["stages"]) == {"swap/6", "swap/1", "flip/6", "flip/1"}
    for entry in values["stages"].values():
        assert entry["p_grid"] == [0.0, 0.4, 0.8] and len(entry["stages"]) == 3
        assert set(entry["stages"]) <= {"I", "II", "III"} and entry["sequence"].split("-")[0] == entry["stages"][0]
    assert values["first_wrong_p"] in (None, *budget.FIG5_P_GRID)


def test_the_faster_paths_agree_with_the_fp32_eager_reference(measured):
    reference, *faster = budget.AGREEMENT_PATHS
    assert reference == "fp32 eager" and budget.AGREEMENT_PATHS[reference] == {"compile": False}
    for path in faster:
        verdicts = budget.agreement(measured[reference], measured[path])
        assert set(verdicts) == set(budget.AGREEMENT_RULES)
        assert verdicts["test_negative_elbo"] and verdicts["components_70"], path


def test_agreement_fails_when_a_value_moves_beyond_its_tolerance(measured):
    reference = measured["fp32 eager"]
    moved = copy.deepcopy(reference)
    moved["test_negative_elbo"] += 0.6
    moved["orthogonality"] *= 1.2
    key = "swap/6"
    resolved = [i for i, p in enumerate(reference["stages"][key]["p_grid"])
                if p not in reference["stages"][key]["unresolved_p"]]
    if resolved:
        i = resolved[0]
        moved["stages"][key]["stages"][i] = "III" if reference["stages"][key]["stages"][i] != "III" else "I"
    verdicts = budget.agreement(reference, moved)
    assert not verdicts["test_negative_elbo"] and not verdicts["orthogonality"]
    assert verdicts["active_units"] and verdicts["components_70"]
    assert verdicts["stage_sequences"] is (not resolved)
    assert budget.agreement(reference, copy.deepcopy(reference)) == {k: True for k in budget.AGREEMENT_RULES}


def test_effort_scales_a_profile():
    paper = get_profile("paper")
    effort = budget.budget_effort(paper, scale=0.2, p_stride=2)
    assert (effort.trials_stages, effort.trials_distance, effort.trials_classifier) == (100, 60, 40)
    assert effort.p_grid == paper.p_grid[::2] and effort.steps == paper.steps
    assert budget.budget_effort(paper).trials_stages == paper.trials_stages
    assert budget.budget_effort(get_profile("smoke"), scale=0.1).trials_classifier == 10   # never below 10
    with pytest.raises(ValueError, match="scale=0"):
        budget.budget_effort(paper, scale=0)


def test_the_agreement_check_keeps_its_first_config_and_effort():
    """The compiled-vs-eager check was run on a 40-epoch model at the paper's trial counts; a smaller
    quick profile must not silently change what it compares."""
    assert budget.AGREEMENT_EPOCHS == 40
    assert budget.AGREEMENT_EFFORT == budget.budget_effort(get_profile("paper"))


def test_budget_verdicts_follow_the_claims_rules():
    assert budget.verdicts({"active_units": 14, "components_70": 20, "onset_iii": 0.45}) == {
        "active_units": "reproduced", "components_70": "not reproduced", "onset_iii": "reproduced"}
    assert budget.claim_for("first_p_without_recovery").paper == "0.7"


def test_settled_compares_the_last_two_snapshots():
    assert budget.settled([100.0, 90.0, 88.0]) and not budget.settled([100.0, 80.0])
    assert budget.settled([40, 35, 36]) and not budget.settled([40, 30])
    assert budget.settled(["I-III", "I-II-III"]) is False and budget.settled([0.4, 0.4])
    assert budget.settled([None, None]) and budget.settled([5.0]) is None


def test_one_run_tells_snapshots_of_the_run_from_another_run(tiny_config):
    config = dataclasses.replace(tiny_config, epochs=4)
    full = train(config, device="cpu", progress=False).history
    stopped = train(config.snapshot(2), device="cpu", progress=False).history    # trained apart, as --snapshots does
    other = train(dataclasses.replace(config, seed=config.seed + 1).snapshot(2), device="cpu", progress=False).history
    assert budget.one_run({2: stopped, 4: full}) == {"one_run": True, "train_max_difference": 0.0}
    mixed = budget.one_run({2: other, 4: full})
    assert mixed["one_run"] is False and mixed["train_max_difference"] > 0
    shifted = copy.deepcopy(stopped)
    shifted[1]["test_negative_elbo"] += 1e-9                                     # one epoch's value, last digits
    assert budget.one_run({2: shifted, 4: full})["one_run"] is False
