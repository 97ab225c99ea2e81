"""The ensemble trainer: each member ends where its lone run would, padding is inert, resume is exact."""
import dataclasses

import pytest
import torch

from vaedyn.config import TrainConfig
from vaedyn.training.ensemble import StackedVAE, ensemble_groups, train_ensemble
from vaedyn.model import VAE
from vaedyn.objective import elbo_terms
from vaedyn.randomness import MemberGenerators
from vaedyn.training.loop import build_model, train


def members(**shared):
    """Three members of different latent sizes and seeds (one ensemble group)."""
    base = TrainConfig(dataset="digits", hidden=32, epochs=3, batch_size=50, **shared)
    return [dataclasses.replace(base, nz=nz, seed=seed) for nz, seed in [(2, 0), (7, 1), (4, 2)]]


def test_each_member_ends_with_the_weights_of_its_lone_run(digits):
    configs = members()
    results = train_ensemble(configs, device="cpu", progress=False, data=digits)
    for config, result in zip(configs, results):
        lone = train(config, device="cpu", progress=False, data=digits)
        for name, value in lone.model.state_dict().items():
            torch.testing.assert_close(result.model.state_dict()[name], value, rtol=1e-5, atol=1e-5, msg=name)
        for ours, theirs in zip(result.history, lone.history):
            assert ours.keys() == theirs.keys()
            for key in ours:
                assert ours[key] == pytest.approx(theirs[key], rel=1e-5), key


def test_stacking_and_unstacking_is_exact():
    vaes = [build_model(c, 64) for c in members()]
    stacked = StackedVAE(vaes)
    for i, vae in enumerate(vaes):
        for name, value in vae.state_dict().items():
            assert torch.equal(stacked.member(i).state_dict()[name], value), name


def test_padded_latent_units_are_inert(digits):
    """Unused units: mu = log sigma^2 = z = 0, no KL, no gradient; the member's ELBO is its lone ELBO."""
    configs = members()
    vaes = [build_model(c, 64) for c in configs]
    stacked = StackedVAE(vaes)
    x = digits[0].x[:20]
    generators = MemberGenerators([torch.Generator().manual_seed(c.seed) for c in configs], [c.nz for c in configs])
    terms = elbo_terms(stacked, x, 2, generators)
    terms.negative_elbo.mean(dim=-1).sum().backward()
    for i, (config, vae) in enumerate(zip(configs, vaes)):
        mu, logvar = stacked.encode(x)
        assert (mu[i, :, config.nz:] == 0).all() and (logvar[i, :, config.nz:] == 0).all()
        assert (stacked.dec_w1.grad[i, config.nz:] == 0).all()
        assert (stacked.enc_w2.grad[i, :, config.nz:stacked.nz] == 0).all()
        lone = elbo_terms(vae, x, 2, torch.Generator().manual_seed(config.seed))
        torch.testing.assert_close(terms.kl[i], lone.kl, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(terms.reconstruction[i], lone.reconstruction, rtol=1e-5, atol=1e-4)


def test_a_broken_member_does_not_touch_the_others(digits):
    configs = members()
    x = digits[0].x[:20]

    def gradients(poison: bool):
        stacked = StackedVAE([build_model(c, 64) for c in configs])
        if poison:
            with torch.no_grad():
                stacked.enc_w1[0].fill_(float("nan"))
        generators = MemberGenerators([torch.Generator().manual_seed(c.seed) for c in configs], [c.nz for c in configs])
        terms = elbo_terms(stacked, x, 2, generators)
        terms.negative_elbo.mean(dim=-1).sum().backward()
        return terms.negative_elbo.detach(), stacked.dec_w2.grad

    clean_loss, clean_grad = gradients(False)
    loss, grad = gradients(True)
    assert torch.isnan(loss[0]).all()
    assert torch.equal(loss[1:], clean_loss[1:]) and torch.equal(grad[1:], clean_grad[1:])


def test_killed_ensemble_resumes_to_the_uninterrupted_weights(digits, tmp_path):
    configs = [dataclasses.replace(c, epochs=4) for c in members()]
    uninterrupted = train_ensemble(configs, device="cpu", progress=False, data=digits)

    class Killed(Exception):
        pass

    def kill_after_second_epoch(epoch, current):
        if epoch == 1:
            raise Killed

    checkpoint = tmp_path / "ensemble.pt"
    with pytest.raises(Killed):
        train_ensemble(configs, device="cpu", checkpoint_path=checkpoint, checkpoint_every=1, progress=False,
                       data=digits, on_epoch_end=kill_after_second_epoch)
    resumed = train_ensemble(configs, device="cpu", checkpoint_path=checkpoint, checkpoint_every=1,
                             progress=False, data=digits)
    for before, after in zip(uninterrupted, resumed):
        for name, value in before.model.state_dict().items():
            assert torch.equal(after.model.state_dict()[name], value), name
        assert after.history == before.history


def test_a_diverging_member_is_reported_with_its_epoch(digits):
    config = TrainConfig(dataset="digits", nz=3, hidden=32, epochs=2, batch_size=50, lr_values=(1e30,))
    (result,) = train_ensemble([config], device="cpu", progress=False, data=digits)
    assert result.model is None and result.diverged_in_epoch == 1 and result.history == []


def test_groups_split_on_everything_but_size_and_seed():
    base = members()
    other_rate = [dataclasses.replace(c, lr_values=(1e-3,)) for c in base]
    other_batch = [dataclasses.replace(c, batch_size=100) for c in base]
    groups = ensemble_groups(base + other_rate + other_batch)
    assert sorted(len(g) for g in groups) == [3, 3, 3]
    assert all(len({(c.lr_values, c.batch_size) for c in g}) == 1 for g in groups)
    with pytest.raises(ValueError, match="differ only in nz and seed"):
        train_ensemble(base[:1] + other_rate[:1], device="cpu", progress=False)


def test_members_need_one_input_size():
    with pytest.raises(ValueError, match="share the input size"):
        StackedVAE([VAE(64, 2, 32), VAE(784, 2, 32)])


def test_batched_evaluation_draws_what_each_lone_evaluation_draws(digits):
    """The CUDA path of train_ensemble evaluates all members at once; on CPU we can still check it."""
    from vaedyn.training.loop import evaluate, mean_metrics

    configs = members()
    vaes = [build_model(c, 64) for c in configs]
    x = digits[1].x
    generators = MemberGenerators([torch.Generator().manual_seed(10 + k) for k in range(3)], [c.nz for c in configs])
    batched = mean_metrics(StackedVAE(vaes), x, 2, generators, batch_size=100)
    for k, vae in enumerate(vaes):
        lone = evaluate(vae, x, 2, seed=10 + k, batch_size=100)
        assert batched[k].tolist() == pytest.approx(list(lone.values()), rel=1e-5)
