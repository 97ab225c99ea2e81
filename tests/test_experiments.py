import torch

from vaedyn.analysis.concepts import concept_set
from vaedyn.analysis.trials import sem
from vaedyn.paper.fig3 import distance_study
from vaedyn.paper.fig4 import HierarchySweep, hierarchy_sweep
from vaedyn.paper.fig5 import LabelMap, label_map
from vaedyn.training.classifier import ClassifierCNN
from vaedyn.model import VAE


def small_setup():
    torch.manual_seed(0)
    model = VAE(n_features=64, nz=6, hidden=16)
    images, labels = torch.rand(400, 64), torch.arange(400) % 10
    return model, images, labels, concept_set(model, images, labels)


def test_sem_is_std_over_sqrt_n():
    values = torch.tensor([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0], [7.0, 14.0]])
    assert torch.allclose(sem(values), values.std(dim=0) / 2)


def test_distance_study_measures_each_trials_own_memory_vector():
    model, images, labels, concepts = small_setup()
    study = distance_study(model, concepts, images, label=3, trials=12, p=0.0, steps=5)
    assert study.to_concept.shape == study.to_memory.shape == (6, 12)
    assert torch.allclose(study.to_memory[0], torch.zeros(12), atol=1e-6)  # p=0: z(0) is the memory vector
    assert study.approaching_concept.shape == (12,) and study.approaching_concept.dtype == torch.bool


def test_stages_and_boundaries_follow_the_closest_level():
    def flat(values):  # (len(p), trials) with every trial equal
        return torch.tensor(values).unsqueeze(1).repeat(1, 4)

    sweep = HierarchySweep(
        p_grid=[0.0, 0.1, 0.2, 0.3, 0.4],
        min_distance={"memory": flat([0.1, 0.5, 2.0, 3.0, 3.0]),
                      "concept": flat([1.0, 0.4, 0.5, 2.0, 2.5]),
                      "abstract": flat([2.0, 2.0, 1.5, 1.0, 0.5])},
        argmin_step={k: torch.zeros(5, 4, dtype=torch.long) for k in ("memory", "concept", "abstract")})
    assert sweep.stages() == ["I", "II", "II", "III", "III"]
    assert sweep.stage_boundaries() == [
        {"from": "I", "to": "II", "p_below": 0.0, "p_above": 0.1, "p": 0.05},
        {"from": "II", "to": "III", "p_below": 0.2, "p_above": 0.3, "p": 0.25}]


def test_hierarchy_sweep_shapes_and_zero_noise():
    model, images, labels, concepts = small_setup()
    sweep = hierarchy_sweep(model, concepts, images, label=6, p_grid=[0.0, 0.5], trials=8, steps=4)
    assert sweep.min_distance["memory"].shape == (2, 8)
    assert torch.allclose(sweep.min_distance["memory"][0], torch.zeros(8), atol=1e-6)
    assert (sweep.argmin_step["memory"][0] == 0).all()
    assert len(sweep.stages()) == 2


def test_label_map_majority_and_recovery_window():
    predicted = torch.tensor([[[6, 6, 1], [6, 6, 6], [0, 6, 6], [0, 0, 1]],     # p index 0
                              [[3, 3, 3], [4, 4, 6], [0, 0, 0], [0, 1, 0]]])    # p index 1
    labels = LabelMap(p_grid=[0.1, 0.8], label=6, predicted=predicted)
    assert labels.majority().tolist() == [[6, 6, 6, 0], [3, 4, 0, 0]]
    assert labels.recovery_window(0) == (1, 2)
    assert labels.recovery_window(1) is None
    assert torch.allclose(labels.correct_fraction()[0], torch.tensor([2 / 3, 1.0, 2 / 3, 0.0]))


def test_label_map_runs_the_classifier_on_every_step():
    model, images, labels, _ = small_setup()
    result = label_map(model, ClassifierCNN(side=8), images, labels, label=2, p_grid=[0.1, 0.3], trials=5, steps=3)
    assert result.predicted.shape == (2, 4, 5)


def test_trials_at_a_noise_level_do_not_depend_on_the_grid():
    model, images, labels, concepts = small_setup()
    coarse = hierarchy_sweep(model, concepts, images, label=6, p_grid=[0.0, 0.3], trials=8, steps=4)
    fine = hierarchy_sweep(model, concepts, images, label=6, p_grid=[0.1, 0.2, 0.3], trials=8, steps=4)
    assert torch.equal(coarse.min_distance["concept"][1], fine.min_distance["concept"][2])
