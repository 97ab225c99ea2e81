import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from vaedyn.analysis.inference import noisy_starts, repeated_inference
from vaedyn.analysis.pca import cumulative_contribution, principal_components
from vaedyn.analysis.representations import pca_spectrum
from vaedyn.analysis.trials import run_trials, trial_seed
from vaedyn.model import VAE


def small_setup():
    torch.manual_seed(0)
    model = VAE(n_features=64, nz=6, hidden=16)
    images, labels = torch.rand(400, 64), torch.arange(400) % 10
    return model, images, labels


def test_run_trials_is_noisy_starts_then_repeated_inference_with_its_seed():
    model, images, labels = small_setup()
    run = run_trials(model, images, labels, label=3, trials=7, p=0.3, steps=4, noise="flip", seed=5, record_x=True)
    starts = noisy_starts(images, labels, 3, 7, 0.3, "flip", trial_seed(5, 3, 0.3))
    assert torch.equal(run.indices, starts.indices) and torch.equal(run.x0, starts.x0)
    assert torch.equal(run.z, repeated_inference(model, starts.x0, 4).z)
    assert run.z.shape == (5, 7, 6) and run.x.shape == (5, 7, 64) and run.steps == 4 and run.size == 7
    assert (labels[run.indices] == 3).all()


def test_trial_seed_depends_on_seed_label_and_p_but_not_on_a_grid():
    assert trial_seed(0, 6, 0.4) == trial_seed(0, 6, 0.40000000001)
    assert len({trial_seed(0, 6, 0.4), trial_seed(1, 6, 0.4), trial_seed(0, 1, 0.4), trial_seed(0, 6, 0.45),
                trial_seed(0, None, 0.4)}) == 5


def test_centred_principal_components_match_scikit_learn():
    points = torch.randn(200, 5, dtype=torch.float64) @ torch.diag(torch.tensor([5.0, 3.0, 2.0, 1.0, 0.5],
                                                                                 dtype=torch.float64))
    ours = principal_components(points)
    reference = PCA().fit(points.numpy())
    np.testing.assert_allclose(ours.variances.numpy(), reference.explained_variance_, rtol=1e-10)
    # Same axes up to sign; ours fix the sign by the largest entry.
    np.testing.assert_allclose(np.abs(ours.components.T.numpy()), np.abs(reference.components_), atol=1e-8)
    assert (ours.components.abs().argmax(dim=0) == ours.components.argmax(dim=0)).all()
    np.testing.assert_allclose(cumulative_contribution(points), np.cumsum(reference.explained_variance_ratio_),
                               rtol=1e-10)
    spectrum = pca_spectrum(points.float())
    np.testing.assert_allclose(spectrum.eigenvalues, reference.explained_variance_, rtol=1e-5)


def test_uncentred_principal_components_decompose_the_second_moment():
    points = torch.randn(50, 4, dtype=torch.float64) + 3.0
    ours = principal_components(points, centered=False)
    eigenvalues = np.linalg.eigvalsh(points.numpy().T @ points.numpy())[::-1]
    np.testing.assert_allclose(ours.eigenvalues.numpy(), eigenvalues, rtol=1e-10)
    assert torch.equal(ours.mean, torch.zeros(4, dtype=torch.float64))
    # The leading uncentred axis points along the mean, as eqs. (3)-(4) intend.
    mean_direction = points.mean(dim=0) / points.mean(dim=0).norm()
    assert abs(float(ours.components[:, 0] @ mean_direction)) > 0.99


def test_principal_components_reject_a_vector():
    with pytest.raises(ValueError, match="expected"):
        principal_components(torch.randn(5))
