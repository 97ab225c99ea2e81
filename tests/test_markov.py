"""Repeated inference as a Markov chain: modes, stays and exits of chapter 11."""
import numpy as np
import pytest
import torch

from vaedyn.analysis import markov
from vaedyn.analysis.concepts import concept_set
from vaedyn.config import ConfigError
from vaedyn.analysis.inference import repeated_inference
from vaedyn.model import VAE


def test_run_lengths_mark_the_last_stay_as_incomplete():
    labels = torch.tensor([[1, 2], [1, 2], [3, 2], [3, 2], [1, 2]])
    lengths, complete = markov.run_lengths(labels)
    assert lengths.tolist() == [2, 2, 1, 5] and complete.tolist() == [True, True, False, False]


def test_mixing_measures_on_hand_made_chains():
    labels = torch.tensor([[1, 2, 3], [1, 2, 4], [5, 2, 4], [5, 2, 3], [1, 2, 3]])
    mix = markov.Mixing(labels=labels, start=labels[0])
    assert mix.switch_rate() == pytest.approx(4 / 12)
    assert mix.modes_visited().tolist() == [2, 1, 2]
    assert mix.left_start() == pytest.approx(2 / 3)
    assert mix.first_exit().tolist() == [2, 5, 1]
    assert sorted(mix.dwell_times().tolist()) == [1, 2, 2, 2]
    assert mix.final_in_start() == pytest.approx(1.0)
    assert mix.occupancy(burn_in=4)[[1, 2, 3]].tolist() == pytest.approx([1 / 3] * 3)


def test_the_mean_chain_is_repeated_inference_and_sampled_chains_repeat_with_their_seed():
    torch.manual_seed(0)
    model = VAE(n_features=16, nz=3, hidden=8)
    x0 = torch.rand(6, 16)
    means = markov.run_chain(model, x0, 5, "means (paper)")
    torch.testing.assert_close(means.x, repeated_inference(model, x0, 5, record_x=True).x)
    sampled = markov.run_chain(model, x0, 5, "sampled z and x", seed=2)
    assert torch.equal(sampled.x, markov.run_chain(model, x0, 5, "sampled z and x", seed=2).x)
    assert set(sampled.x[1:].unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(sampled.x, markov.run_chain(model, x0, 5, "sampled z and x", seed=3).x)
    with pytest.raises(ConfigError, match="chain='gibbs'"):
        markov.run_chain(model, x0, 5, "gibbs")


def test_modes_are_the_nearest_concepts_of_the_codes():
    torch.manual_seed(0)
    model = VAE(n_features=16, nz=3, hidden=8)
    x = torch.rand(40, 16)
    labels = torch.arange(40) % 10
    concepts = concept_set(model, x, labels)
    modes = markov.nearest_concept(model, concepts, x.reshape(4, 10, 16))
    mu = model.encode_mean(x)
    expected = torch.cdist(mu, concepts.concepts).argmin(dim=1).reshape(4, 10)
    assert torch.equal(modes, expected)
    assert np.unique(modes.numpy()).size > 1
