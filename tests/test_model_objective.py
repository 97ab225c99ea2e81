import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vaedyn.model import VAE
from vaedyn.objective import bernoulli_log_likelihood, elbo_terms, gaussian_kl, reparameterize


def test_shapes_and_dtypes():
    model = VAE(n_features=784, nz=100, hidden=1024)
    x = torch.rand(7, 784)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (7, 100) and mu.dtype == torch.float32
    assert torch.equal(model.encode_mean(x), mu)
    out = model.decode_mean(mu)
    assert out.shape == (7, 784) and out.dtype == torch.float32
    assert ((out > 0) & (out < 1)).all()
    terms = elbo_terms(model, x, n_samples=2, generator=torch.Generator().manual_seed(0))
    assert terms.reconstruction.shape == terms.kl.shape == terms.negative_elbo.shape == (7,)


def test_initialisation_is_glorot_uniform_with_zero_bias():
    model = VAE(n_features=784, nz=100, hidden=1024)
    first = model.encoder[0]
    limit = math.sqrt(6 / (784 + 1024))
    assert first.weight.abs().max() <= limit and first.weight.abs().max() > 0.95 * limit
    assert torch.count_nonzero(first.bias) == 0


def test_kl_matches_torch_distributions():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(q, p).sum(dim=1)
    assert torch.allclose(gaussian_kl(mu, logvar), expected, atol=1e-5)


def test_bernoulli_log_likelihood_matches_the_formula_and_stays_finite():
    logits = torch.tensor([[-2.0, 0.5, 3.0]])
    x = torch.tensor([[0.0, 0.3, 1.0]])
    s = torch.sigmoid(logits)
    expected = (x * s.log() + (1 - x) * (1 - s).log()).sum(dim=1)
    assert torch.allclose(bernoulli_log_likelihood(logits, x), expected, atol=1e-6)
    saturated = bernoulli_log_likelihood(torch.tensor([[200.0, -200.0]]), torch.tensor([[1.0, 0.0]]))
    assert torch.isfinite(saturated).all() and saturated.abs().max() < 1e-6


def test_elbo_against_a_hand_computation():
    """n_features=2, nz=1, hidden=1: every quantity of eq. (13) written out with numpy."""
    model = VAE(n_features=2, nz=1, hidden=1)
    w = {"encoder.0.weight": [[0.7, -0.4]], "encoder.0.bias": [0.1],
         "encoder.2.weight": [[1.3], [-0.8]], "encoder.2.bias": [0.2, -0.5],
         "decoder.0.weight": [[0.9]], "decoder.0.bias": [-0.3],
         "decoder.2.weight": [[2.0], [-1.5]], "decoder.2.bias": [0.4, 0.1]}
    with torch.no_grad():
        for name, value in w.items():
            dict(model.named_parameters())[name].copy_(torch.tensor(value))
    x = torch.tensor([[0.2, 0.9], [1.0, 0.0], [0.5, 0.5]])
    with torch.no_grad():
        terms = elbo_terms(model, x, n_samples=3, generator=torch.Generator().manual_seed(11))
    eps = torch.randn((3, 3, 1), generator=torch.Generator().manual_seed(11)).double().numpy()[..., 0]

    a = {k: np.array(v, dtype=np.float64) for k, v in w.items()}
    xn = x.double().numpy()
    h = np.tanh(xn @ a["encoder.0.weight"].T + a["encoder.0.bias"])
    out = h @ a["encoder.2.weight"].T + a["encoder.2.bias"]
    mu, logvar = out[:, 0], out[:, 1]
    kl = -0.5 * (1 + logvar - mu ** 2 - np.exp(logvar))
    z = mu + np.exp(0.5 * logvar) * eps                     # (L, batch)
    g = np.tanh(z[..., None] * a["decoder.0.weight"][0, 0] + a["decoder.0.bias"][0])
    logits = g * a["decoder.2.weight"][:, 0] + a["decoder.2.bias"]   # (L, batch, 2)
    s = 1 / (1 + np.exp(-logits))
    loglik = (xn * np.log(s) + (1 - xn) * np.log(1 - s)).sum(-1)
    recon = -loglik.mean(0)
    np.testing.assert_allclose(terms.kl.numpy(), kl, rtol=1e-5)
    np.testing.assert_allclose(terms.reconstruction.numpy(), recon, rtol=1e-5)
    np.testing.assert_allclose(terms.negative_elbo.numpy(), recon + kl, rtol=1e-5)


def test_reparameterize_has_the_posterior_moments():
    mu, logvar = torch.tensor([[1.5, -2.0]]), torch.tensor([[0.0, math.log(4.0)]])
    z = reparameterize(mu, logvar, 200_000, torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(dim=(0, 1)), mu[0], atol=0.02)
    assert torch.allclose(z.std(dim=(0, 1)), torch.tensor([1.0, 2.0]), atol=0.02)


def test_bernoulli_log_likelihood_passes_gradcheck_in_float64():
    logits = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    x = torch.rand(5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda l: bernoulli_log_likelihood(l, x), (logits,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bernoulli_log_likelihood_equals_the_stock_kernel_in_value_and_gradient(dtype):
    """Same value and gradient as F.binary_cross_entropy_with_logits, with x broadcast over L samples
    of z; the stock fused kernel is what runs on every device (on CUDA the better choice, and on CPU
    the 1500-epoch runs' arithmetic, vae code version 3)."""
    generator = torch.Generator().manual_seed(1)
    logits = (6 * torch.randn(2, 5, 40, generator=generator, dtype=dtype)).requires_grad_()
    x = torch.rand(5, 40, generator=generator, dtype=dtype)
    ours = bernoulli_log_likelihood(logits, x)
    (our_grad,) = torch.autograd.grad(ours.sum(), logits)
    stock = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
    (stock_grad,) = torch.autograd.grad(stock.sum(), logits)
    assert ours.shape == (2, 5) and ours.dtype == dtype
    assert torch.equal(ours, stock) and torch.equal(our_grad, stock_grad)


def test_the_benchmarks_hand_written_likelihood_is_the_same_function():
    """The B of benchmarks/train_throughput.py's A/B (vae code version 2's kernel) computes what vaedyn's
    does, value and gradient, so the A/B times two ways of one computation."""
    spec = importlib.util.spec_from_file_location(
        "train_throughput", Path(__file__).resolve().parents[1] / "benchmarks" / "train_throughput.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    generator = torch.Generator().manual_seed(2)
    logits = (8 * torch.randn(2, 6, 30, generator=generator, dtype=torch.float64)).requires_grad_()
    x = torch.rand(6, 30, generator=generator, dtype=torch.float64)
    for fn in (bernoulli_log_likelihood, benchmark.hand_written_likelihood):
        assert torch.autograd.gradcheck(lambda l: fn(l, x), (logits,))
    hand, stock = benchmark.hand_written_likelihood(logits, x), bernoulli_log_likelihood(logits, x)
    torch.testing.assert_close(hand, stock, rtol=1e-12, atol=1e-10)
    torch.testing.assert_close(torch.autograd.grad(hand.sum(), logits)[0],
                               torch.autograd.grad(stock.sum(), logits)[0], rtol=1e-12, atol=1e-12)
    report = benchmark.likelihood_report({"stock_eager": 0.5, "stock_compiled": 0.4, "hand_eager": 0.75,
                                          "hand_compiled": 0.4})
    assert report.splitlines()[-1] == "bernoulli likelihood, hand / stock: eager=1.50 compiled=1.00"


def test_bernoulli_log_likelihood_has_the_analytic_gradient_where_the_sigmoid_saturates():
    """d log p / d l = x - sigmoid(l), also for logits far into saturation (|l| up to ~30)."""
    generator = torch.Generator().manual_seed(0)
    logits = (8 * torch.randn(2, 6, 50, generator=generator, dtype=torch.float64)).requires_grad_()
    x = torch.rand(6, 50, generator=generator, dtype=torch.float64)
    value = bernoulli_log_likelihood(logits, x)
    (grad,) = torch.autograd.grad(value.sum(), logits)
    l = logits.detach()
    # x log s + (1 - x) log(1 - s) = x l - max(l, 0) - log(1 + exp(-|l|)), exact in float64 with log1p
    direct = (x * l - l.clamp(min=0) - torch.log1p(torch.exp(-l.abs()))).sum(-1)
    assert torch.allclose(value, direct, rtol=1e-12, atol=1e-10)
    assert torch.allclose(grad, x - torch.sigmoid(l), rtol=0, atol=1e-14)


def test_compiled_loss_equals_the_eager_loss_up_to_rounding():
    from vaedyn.objective import compiled_training_loss, training_loss

    model = VAE(n_features=20, nz=3, hidden=8)
    x, eps = torch.rand(6, 20), torch.randn(2, 6, 3)
    for beta, alpha in [(1.0, 1.0), (0.25, 1.0), (1.0, 0.5)]:
        eager = training_loss(model, x, eps, beta, alpha)
        compiled = compiled_training_loss()(model, x, eps, torch.tensor(beta), alpha)
        for a, b in zip(eager, compiled):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)
        grads = [torch.autograd.grad(loss, list(model.parameters())) for loss in (eager[0], compiled[0])]
        for a, b in zip(*grads):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
    assert not torch.allclose(training_loss(model, x, eps, 0.25)[0], training_loss(model, x, eps, 1.0)[0])
