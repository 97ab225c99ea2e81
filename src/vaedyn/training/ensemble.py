"""K independent VAEs trained in lockstep in one process, for the latent-size sweeps (Figs. 8-9).

Every layer of the paper's VAE becomes one batched matmul over members (`torch.baddbmm` on
weights stacked along a leading member axis), so K small models cost about as much Python
and kernel-launch overhead as one. Members may differ in N_z and seed: latent units are padded
to the largest N_z and a member's unused units are masked to mu = log sigma^2 = 0 and eps = 0,
which makes their KL term exactly 0, their z exactly 0 and every gradient into them exactly 0,
so each member computes what its own model would (tests/test_ensemble.py checks it).

Each member keeps its own random stream (`randomness.MemberGenerators`), hence its own data
order and noise, identical to a lone run of its config; Adam is element-wise, so one optimizer
over the stacked weights is K independent optimizers. Members must share everything else
(data, epochs, learning-rate schedule, batch size, L, precision): `ensemble_groups` splits a
list of configs accordingly. We stack weights by hand rather than with `torch.func.vmap`
because fused Adam and checkpointing then work on ordinary parameters.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from tqdm import tqdm

from ..config import ConfigError, TrainConfig, kl_weight, learning_rate, resolve_device
from ..data import Dataset, load_dataset
from ..files import atomic_torch_save
from ..model import VAE
from ..progress import progress_file
from ..randomness import MemberGenerators, check_resume_policy, restore_stream, training_generator
from .integrity import load_payload, with_digest
from .loop import (METRICS, build_model, epoch_record, evaluate, make_optimizer, mean_metrics, total_wall_time,
                   train_epoch)

# Config fields members of one ensemble may differ in; all others must agree.
MEMBER_FIELDS = ("nz", "seed")


class StackedVAE(nn.Module):
    """K VAEs of the paper's architecture as stacked weights (layout (K, in, out)).

    encode(x): x is (batch, D) (the same images for every member) or (K, batch, D);
    returns mu and log sigma^2 of shape (K, batch, N_max), zero beyond each member's N_z.
    decode_logits(z): z is (..., K, batch, N_max); returns (..., K, batch, D).
    """

    def __init__(self, members: list[VAE]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        first = members[0]
        if any(m.n_features != first.n_features or m.hidden != first.hidden for m in members):
            raise ValueError("members must share the input size and hidden width")
        self.latent_sizes = [m.nz for m in members]
        self.n_features, self.hidden, self.nz = first.n_features, first.hidden, max(self.latent_sizes)
        k, n = len(members), self.nz

        def stacked(rows):
            return nn.Parameter(torch.stack(rows).contiguous())

        enc_w2 = torch.zeros(k, first.hidden, 2 * n)
        enc_b2 = torch.zeros(k, 1, 2 * n)
        dec_w1 = torch.zeros(k, n, first.hidden)
        mask = torch.zeros(k, 1, n)
        for i, m in enumerate(members):
            weight, bias = m.encoder[2].weight.detach(), m.encoder[2].bias.detach()
            enc_w2[i, :, :m.nz], enc_w2[i, :, n:n + m.nz] = weight[:m.nz].T, weight[m.nz:].T
            enc_b2[i, 0, :m.nz], enc_b2[i, 0, n:n + m.nz] = bias[:m.nz], bias[m.nz:]
            dec_w1[i, :m.nz] = m.decoder[0].weight.detach().T
            mask[i, 0, :m.nz] = 1.0
        self.enc_w1 = stacked([m.encoder[0].weight.detach().T for m in members])
        self.enc_b1 = stacked([m.encoder[0].bias.detach()[None] for m in members])
        self.enc_w2, self.enc_b2 = nn.Parameter(enc_w2), nn.Parameter(enc_b2)
        self.dec_w1 = nn.Parameter(dec_w1)
        self.dec_b1 = stacked([m.decoder[0].bias.detach()[None] for m in members])
        self.dec_w2 = stacked([m.decoder[2].weight.detach().T for m in members])
        self.dec_b2 = stacked([m.decoder[2].bias.detach()[None] for m in members])
        self.register_buffer("mask", mask)

    @property
    def size(self) -> int:
        return len(self.latent_sizes)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Stacked eq. (14): q(z|x) parameters of every member."""
        if x.dim() == 2:
            x = x.expand(self.size, *x.shape)
        hidden = torch.tanh(torch.baddbmm(self.enc_b1, x, self.enc_w1))
        mu, logvar = torch.baddbmm(self.enc_b2, hidden, self.enc_w2).chunk(2, dim=-1)
        return mu * self.mask, logvar * self.mask

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Stacked decoder logits for z of shape (..., K, batch, N_max)."""
        lead, (k, batch, n) = z.shape[:-3], z.shape[-3:]
        flat = z.movedim(-3, 0).reshape(k, -1, n)
        hidden = torch.tanh(torch.baddbmm(self.dec_b1, flat, self.dec_w1))
        logits = torch.baddbmm(self.dec_b2, hidden, self.dec_w2)
        return logits.reshape(k, *lead, batch, self.n_features).movedim(0, -3)

    @torch.no_grad()
    def member(self, i: int) -> VAE:
        """Member i as an ordinary VAE (a copy, on the ensemble's device)."""
        nz, n = self.latent_sizes[i], self.nz
        vae = VAE(n_features=self.n_features, nz=nz, hidden=self.hidden).to(self.enc_w1.device)
        vae.encoder[0].weight.copy_(self.enc_w1[i].T)
        vae.encoder[0].bias.copy_(self.enc_b1[i, 0])
        vae.encoder[2].weight.copy_(torch.cat([self.enc_w2[i, :, :nz], self.enc_w2[i, :, n:n + nz]], dim=1).T)
        vae.encoder[2].bias.copy_(torch.cat([self.enc_b2[i, 0, :nz], self.enc_b2[i, 0, n:n + nz]]))
        vae.decoder[0].weight.copy_(self.dec_w1[i, :nz].T)
        vae.decoder[0].bias.copy_(self.dec_b1[i, 0])
        vae.decoder[2].weight.copy_(self.dec_w2[i].T)
        vae.decoder[2].bias.copy_(self.dec_b2[i, 0])
        return vae.eval()


def shared_fields(config: TrainConfig) -> dict:
    """The part of a config all members of one ensemble must share."""
    return {k: v for k, v in config.to_dict().items() if k not in MEMBER_FIELDS}


def ensemble_groups(configs: list[TrainConfig]) -> list[list[TrainConfig]]:
    """Split configs into groups that can train as one ensemble (same everything but N_z and seed)."""
    groups: dict[str, list[TrainConfig]] = {}
    for config in configs:
        groups.setdefault(json.dumps(shared_fields(config), sort_keys=True), []).append(config)
    return list(groups.values())


@dataclass
class MemberResult:
    config: TrainConfig
    history: list[dict]
    model: VAE | None            # None when the member diverged
    diverged_in_epoch: int | None = None
    resumes: list[dict] = field(default_factory=list)   # re-seeds on resuming another device's checkpoint
    wall_time_s: float | None = None    # the whole ensemble's training time so far (None: not all of it known)


def ensemble_key(configs: list[TrainConfig]) -> str:
    """A name for an ensemble's checkpoint: the hash of its member configs, in order."""
    text = json.dumps([c.to_dict() for c in configs], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def train_ensemble(configs: list[TrainConfig], device: str | torch.device = "auto",
                   checkpoint_path: str | Path | None = None, checkpoint_every: int = 10,
                   progress: bool = True, data: tuple[Dataset, Dataset] | None = None,
                   on_epoch_end: Callable[[int, Callable[[], list[MemberResult]]], None] | None = None,
                   keep: Callable[[int, Callable[[], list[MemberResult]]], None] | None = None,
                   keep_epochs: tuple[int, ...] = (), cross_device: str = "reseed") -> list[MemberResult]:
    """Train every config as one member of an ensemble; each ends where its lone run would.

    Resumes from `checkpoint_path` when it holds a checkpoint of the same configs (written
    atomically every `checkpoint_every` epochs). A member whose loss turns NaN or infinite is
    reported with the epoch (and trains on uselessly; its numbers never touch the others').
    After each epoch e (1-based) in `keep_epochs`, `keep(e, current)` runs *before* a checkpoint
    can claim that epoch, so a run killed in between repeats the epoch and keeps it then;
    `current()` returns the members as they stand (copies), for keeping snapshots.
    `on_epoch_end(epoch, current)` runs after each epoch (0-based), after the checkpoint.
    `cross_device` is `loop.train`'s: what a checkpoint from another kind of device does; each
    member's `resumes` lists the times its stream was re-seeded that way.
    """
    device = resolve_device(device)
    if not configs:
        raise ValueError("train_ensemble needs at least one config")
    foreign = next((c.architecture for c in configs if c.architecture != "mlp"), None)
    if foreign is not None:
        raise ConfigError(f"architecture={foreign!r} is not allowed in an ensemble: StackedVAE stacks the paper's "
                          "MLP only; train that config alone (store.get_or_train)")
    if len(ensemble_groups(configs)) != 1:
        raise ValueError("ensemble members may differ only in " + " and ".join(MEMBER_FIELDS)
                         + "; split the configs with ensemble_groups() first")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every={checkpoint_every!r} is not allowed; it must be >= 1")
    check_resume_policy(cross_device)
    shared = configs[0]
    train_set, test_set = data if data is not None else (
        load_dataset(shared.dataset, "train", device, limit=shared.train_limit, corpus_limit=shared.corpus_limit),
        load_dataset(shared.dataset, "test", device, corpus_limit=shared.corpus_limit))
    x_train, x_test = train_set.x.to(device), test_set.x.to(device)

    model = StackedVAE([build_model(c, x_train.shape[1]) for c in configs]).to(device)
    optimizer = make_optimizer(model, shared.lr_values[0])
    generators = MemberGenerators([training_generator(device, c.seed) for c in configs], [c.nz for c in configs])
    histories: list[list[dict]] = [[] for _ in configs]
    diverged: list[int | None] = [None] * len(configs)
    start_epoch, resumes, earlier_s = 0, [[] for _ in configs], 0.0
    checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
    if checkpoint_path is not None and checkpoint_path.exists():
        start_epoch, histories, diverged, resumes, earlier_s = _restore(checkpoint_path, configs, model, optimizer,
                                                                        generators, cross_device)
    started = time.perf_counter()

    def results() -> list[MemberResult]:
        return _results(model, configs, histories, diverged, resumes, total_wall_time(earlier_s, started))

    n = x_train.shape[0]
    sizes = sorted(set(c.nz for c in configs))
    bar = tqdm(range(start_epoch, shared.epochs), initial=start_epoch, total=shared.epochs, unit="epoch",
               desc=f"ensemble of {len(configs)} {shared.dataset} Nz={sizes}", disable=not progress, file=progress_file())
    model.train()
    for epoch in bar:
        lr = learning_rate(shared, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        train_means = (train_epoch(model, optimizer, x_train, shared, generators, kl_weight(shared, epoch)) / n).cpu()
        test_means = _test_metrics(model, configs, x_test, epoch)
        for i, history in enumerate(histories):
            if diverged[i] is not None:
                continue
            if not torch.isfinite(train_means[i]).all():
                diverged[i] = epoch + 1
                continue
            history.append(epoch_record(epoch, lr, train_means[i].tolist(), test_means[i].tolist()))
        alive = [h[-1]["test_negative_elbo"] for h, d in zip(histories, diverged) if d is None and h]
        if alive:
            bar.set_postfix(best_test=f"{min(alive):.2f}", diverged=sum(d is not None for d in diverged))
        if keep is not None and epoch + 1 in keep_epochs:
            keep(epoch + 1, results)
        if checkpoint_path is not None and ((epoch + 1) % checkpoint_every == 0 or epoch + 1 == shared.epochs):
            _save(checkpoint_path, configs, epoch + 1, model, optimizer, generators, histories, diverged, resumes,
                  total_wall_time(earlier_s, started))
        if on_epoch_end is not None:
            on_epoch_end(epoch, results)
    bar.close()
    return results()


def _results(model: StackedVAE, configs, histories, diverged, resumes, wall_time_s) -> list[MemberResult]:
    return [MemberResult(config=c, history=list(h), model=None if d is not None else model.member(i),
                         diverged_in_epoch=d, resumes=list(r), wall_time_s=wall_time_s)
            for i, (c, h, d, r) in enumerate(zip(configs, histories, diverged, resumes))]


def _test_metrics(model: StackedVAE, configs: list[TrainConfig], x_test: torch.Tensor, epoch: int) -> torch.Tensor:
    """(K, 3) test metrics of every member, each drawn exactly as its lone run's `evaluate` draws them.

    On CUDA the members are evaluated as one batch. On CPU evaluation is bound by memory traffic
    of the element-wise work, which a K-times larger batch makes slower (3.3 s vs 1.8 s for six
    members on the MNIST test set), so there each member is evaluated on its own.
    """
    seeds = [c.seed * 100_003 + epoch for c in configs]
    shared = configs[0]
    if x_test.device.type == "cpu":
        rows = [evaluate(model.member(i), x_test, shared.n_samples, seed=seed, precision=shared.precision)
                for i, seed in enumerate(seeds)]
        return torch.tensor([[row[k] for k in METRICS] for row in rows], dtype=torch.float64)
    generators = MemberGenerators([training_generator(x_test.device, s) for s in seeds],
                                  model.latent_sizes)
    return mean_metrics(model, x_test, shared.n_samples, generators, precision=shared.precision).cpu()


CHECKPOINT_FIELDS = ("configs", "epochs_done", "model", "optimizer", "generators", "histories", "diverged")


def _save(path: Path, configs, epochs_done, model, optimizer, generators, histories, diverged, resumes,
          wall_time_s) -> None:
    # The fields after `diverged` came later; `_restore` reads checkpoints without them.
    atomic_torch_save(with_digest({
        "configs": [c.to_dict() for c in configs], "epochs_done": epochs_done, "model": model.state_dict(),
        "optimizer": optimizer.state_dict(), "generators": generators.get_state(), "histories": histories,
        "diverged": diverged, "generator_device": generators.generators[0].device.type, "resumes": resumes,
        "wall_time_s": wall_time_s}), path)


def _restore(path: Path, configs, model, optimizer, generators, cross_device: str = "reseed"):
    """(epochs done, histories, diverged, cross-device resumes, wall time so far or None) of the
    checkpoint at `path`, whose weights, optimizer state and member streams are loaded into the arguments."""
    state = load_payload(path, f"delete {path} to start this ensemble again from its first epoch", CHECKPOINT_FIELDS)
    if state["configs"] != [c.to_dict() for c in configs]:
        raise ValueError(f"checkpoint {path} was written for other configs; delete it or use its configs")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    resumes = [list(r) for r in state.get("resumes", [[] for _ in configs])]
    for member, generator, saved in zip(resumes, generators.generators, state["generators"]):
        event = restore_stream(generator, saved, state.get("generator_device"), cross_device, str(path))
        if event is not None:
            member.append({"epoch": state["epochs_done"], **event})
    return state["epochs_done"], state["histories"], state["diverged"], resumes, state.get("wall_time_s")

