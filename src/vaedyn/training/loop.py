"""Training loop: Adam on the negative ELBO of eq. (13), Methods' learning-rate schedule.

One plain loop. The training split lives on the device and each epoch indexes it
with a fresh permutation drawn from the run's own `torch.Generator`; the same
generator draws the reparameterisation noise, so a checkpoint that stores its state
resumes bit-for-bit (on CPU) where an uninterrupted run would be. A checkpoint from another
kind of device (CPU vs CUDA) resumes its weights, optimizer and schedule exactly but cannot
continue its random stream; `randomness.restore_stream` re-seeds it deterministically (recorded
in `TrainResult.resumes`, the checkpoint and the artifact's meta.json) or stops, as asked.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from ..config import TrainConfig, kl_weight, learning_rate, resolve_device
from ..data import Dataset, load_dataset
from ..files import atomic_torch_save
from ..model import ConvVAE, VAE
from ..objective import ElboTerms, compiled_training_loss, elbo_terms, training_loss
from ..progress import progress_file
from ..randomness import (Generator, check_resume_policy, latent_noise, random_order, restore_stream,
                          training_generator)
from .integrity import load_payload, with_digest

ADAM_BETAS = (0.9, 0.999)   # Methods: Adam's defaults
ADAM_EPS = 1e-8
METRICS = ("negative_elbo", "reconstruction", "kl")


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class TrainResult:
    model: VAE | ConvVAE
    history: list[dict]      # one record per epoch: lr, train_*, test_* for each of METRICS
    config: TrainConfig
    # Seconds spent training, summed over every session of a resumed run (None when a checkpoint
    # written before this was counted left the earlier sessions' time unknown).
    wall_time_s: float | None = None
    # One record per resume from another kind of device: epoch, from/to device, the new seed.
    resumes: list[dict] = field(default_factory=list)


def autocast(device: torch.device, precision: str):
    """bf16 autocast for precision='bf16' (CPU and CUDA); fp32, the reference, otherwise."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def compute_dtype(precision: str) -> torch.dtype:
    """The dtype autocast computes in, and in which the reparameterisation noise is drawn."""
    return torch.bfloat16 if precision == "bf16" else torch.float32


def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Adam:
    """Adam with Methods' hyperparameters (eqs. 17-22). The fused kernel does the same update
    in one pass over the parameters: on 2 CPU cores it is ~13x faster than the per-tensor path
    (5.3 -> 0.4 ms a step for the paper's model), a quarter of the whole step."""
    return torch.optim.Adam(model.parameters(), lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS, fused=True)


def build_model(config: TrainConfig, n_features: int) -> VAE | ConvVAE:
    """The network `config.architecture` names, for images of `n_features` pixels: the one place
    that turns a config into a model (training, the store, shipped weights). Initialised on CPU from
    the config's seed, so every device starts from the same weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.architecture == "conv":
            return ConvVAE(n_features=n_features, nz=config.nz)
        return VAE(n_features=n_features, nz=config.nz, hidden=config.hidden)


@torch.no_grad()
def evaluate(model: VAE, x: torch.Tensor, n_samples: int = 2, seed: int = 0, batch_size: int = 2000,
             precision: str = "fp32") -> dict[str, float]:
    """Mean per-example negative ELBO, reconstruction and KL (nats) of x; seeded, so repeatable.
    The true ELBO of eq. (13) (KL weight 1) for every model, a beta-VAE's and an IWAE's too, so the
    test -ELBO of the history compares across training objectives."""
    generator = torch.Generator(device=x.device).manual_seed(seed)
    return dict(zip(METRICS, mean_metrics(model, x, n_samples, generator, batch_size, precision).tolist()))


@torch.no_grad()
def mean_metrics(model, x: torch.Tensor, n_samples: int, generator: Generator, batch_size: int = 2000,
                 precision: str = "fp32") -> torch.Tensor:
    """Per-example means of METRICS over x: shape (3,) for a VAE, (K, 3) for an ensemble."""
    totals = None
    was_training = model.training
    model.eval()
    with autocast(x.device, precision):
        for start in range(0, x.shape[0], batch_size):
            sums = summed_metrics(elbo_terms(model, x[start:start + batch_size], n_samples, generator,
                                             noise_dtype=compute_dtype(precision)))
            totals = sums if totals is None else totals + sums
    model.train(was_training)
    return totals / x.shape[0]


def summed_metrics(terms) -> torch.Tensor:
    """Batch sums of (negative ELBO, reconstruction, KL), float64, on the device: (3,) or (K, 3)."""
    return torch.stack([terms.negative_elbo.sum(-1), terms.reconstruction.sum(-1), terms.kl.sum(-1)],
                       dim=-1).detach().double()


def training_step(model: VAE, optimizer: torch.optim.Optimizer, batch: torch.Tensor, config: TrainConfig,
                  generator: Generator, beta: float = 1.0) -> torch.Tensor:
    """One Adam step on the batch mean of the config's loss; returns the batch's summed
    (negative ELBO, reconstruction, KL) as a device tensor, so the caller need not sync.

    The loss is `objective.training_loss` (beta = `config.kl_weight` of the epoch); the metrics
    are always the plain ELBO's (KL weight 1, whatever `config.beta`, warm-up or Renyi alpha), so
    every model's history compares with every other's. `config.compile` runs it, and so its
    backward, through torch.compile."""
    with autocast(batch.device, config.precision):
        eps = latent_noise(model, batch, config.n_samples, generator, compute_dtype(config.precision))
        if config.compile:
            loss, reconstruction, kl = compiled_training_loss()(
                model, batch, eps, torch.tensor(beta, device=batch.device), config.renyi_alpha)
        else:
            loss, reconstruction, kl = training_loss(model, batch, eps, beta, config.renyi_alpha)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return summed_metrics(ElboTerms(reconstruction.detach(), kl.detach()))


def train_epoch(model: VAE, optimizer: torch.optim.Optimizer, x_train: torch.Tensor, config: TrainConfig,
                generator: Generator, beta: float = 1.0) -> torch.Tensor:
    """One pass over the device-resident training tensor in a fresh random order; the summed
    metrics of all its minibatches (running means, as Keras reports them, once divided by n).
    An ensemble gives each member its own order: its batches are gathered as (K, batch, D)."""
    order = random_order(x_train.shape[0], generator, x_train.device)
    totals = 0
    for start in range(0, x_train.shape[0], config.batch_size):
        totals = totals + training_step(model, optimizer, x_train[order[..., start:start + config.batch_size]],
                                        config, generator, beta)
    return totals


def epoch_record(epoch: int, lr: float, train_values, test_values) -> dict:
    """One history entry: 1-based epoch, learning rate, and train_/test_ values in METRICS order."""
    return {"epoch": epoch + 1, "lr": lr, **{f"train_{k}": float(v) for k, v in zip(METRICS, train_values)},
            **{f"test_{k}": float(v) for k, v in zip(METRICS, test_values)}}


def train(config: TrainConfig, device: str | torch.device = "auto", checkpoint_path: str | Path | None = None,
          checkpoint_every: int = 10, progress: bool = True,
          on_epoch_end: Callable[[int, dict], None] | None = None,
          data: tuple[Dataset, Dataset] | None = None,
          keep: Callable[[int, VAE, list[dict]], None] | None = None,
          keep_epochs: tuple[int, ...] = (), cross_device: str = "reseed") -> TrainResult:
    """Train a VAE as `config` says; resume from `checkpoint_path` when it holds a checkpoint.

    Trains `config.last_epoch` epochs: all of them, or the first `stop_epoch` of the schedule.
    A checkpoint (model, optimizer, generator state, config, history) is written atomically
    every `checkpoint_every` epochs and after the last. After each epoch e (1-based) in
    `keep_epochs`, `keep(e, model, history)` runs *before* a checkpoint can claim that epoch,
    so a run killed in between repeats the epoch and keeps it then. `on_epoch_end(epoch,
    record)` runs after each epoch (0-based), after the checkpoint. `data` = (train, test)
    skips loading. `cross_device` says what a checkpoint from another kind of device does:
    'reseed' (resume, re-seeding the random stream from the checkpoint) or 'stop'.
    """
    device = resolve_device(device)
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every={checkpoint_every!r} is not allowed; it must be >= 1")
    check_resume_policy(cross_device)
    train_set, test_set = data if data is not None else (
        load_dataset(config.dataset, "train", device, limit=config.train_limit, corpus_limit=config.corpus_limit),
        load_dataset(config.dataset, "test", device, corpus_limit=config.corpus_limit))
    x_train, x_test = train_set.x.to(device), test_set.x.to(device)

    model = build_model(config, x_train.shape[1]).to(device)
    optimizer = make_optimizer(model, config.lr_values[0])
    generator = training_generator(device, config.seed)
    history: list[dict] = []
    start_epoch, earlier_s, resumes = 0, 0.0, []
    checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
    if checkpoint_path is not None and checkpoint_path.exists():
        start_epoch, history, earlier_s, resumes = _restore(checkpoint_path, config, model, optimizer, generator,
                                                            cross_device)
    started = time.perf_counter()

    n = x_train.shape[0]
    bar = tqdm(range(start_epoch, config.last_epoch), initial=start_epoch, total=config.last_epoch,
               desc=f"VAE {config.dataset} Nz={config.nz}", unit="epoch", disable=not progress, file=progress_file())
    model.train()
    for epoch in bar:
        lr = learning_rate(config, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        totals = train_epoch(model, optimizer, x_train, config, generator, kl_weight(config, epoch))
        train_metrics = dict(zip(METRICS, (totals / n).tolist()))
        if not all(torch.isfinite(torch.tensor(list(train_metrics.values())))):
            raise TrainingDivergedError(
                f"training diverged in epoch {epoch + 1} of {config.epochs}: the train loss is "
                f"{train_metrics['negative_elbo']} (lr={lr}, precision={config.precision}); "
                "lower the learning rate or train in fp32")
        test_metrics = evaluate(model, x_test, config.n_samples, seed=config.seed * 100_003 + epoch,
                                precision=config.precision)
        record = epoch_record(epoch, lr, train_metrics.values(), test_metrics.values())
        history.append(record)
        bar.set_postfix(train=f"{record['train_negative_elbo']:.2f}", test=f"{record['test_negative_elbo']:.2f}")
        if keep is not None and epoch + 1 in keep_epochs:
            keep(epoch + 1, model, history)
        if checkpoint_path is not None and ((epoch + 1) % checkpoint_every == 0 or epoch + 1 == config.last_epoch):
            _save(checkpoint_path, config, epoch + 1, model, optimizer, generator, history,
                  total_wall_time(earlier_s, started), resumes)
        if on_epoch_end is not None:
            on_epoch_end(epoch, record)
    bar.close()
    model.eval()
    return TrainResult(model=model, history=history, config=config, wall_time_s=total_wall_time(earlier_s, started),
                       resumes=resumes)


def total_wall_time(earlier_s: float | None, started: float) -> float | None:
    """Training seconds so far: earlier sessions' (None if unknown) plus this one's since `started`."""
    return None if earlier_s is None else earlier_s + time.perf_counter() - started


CHECKPOINT_FIELDS = ("config", "epochs_done", "model", "optimizer", "generator", "history")


def _save(path: Path, config: TrainConfig, epochs_done: int, model, optimizer, generator, history,
          wall_time_s: float | None, resumes: list[dict]) -> None:
    # The fields after `history` came later (device, time, resumes, digest); `_restore` reads a
    # checkpoint without them, so a run started by older code resumes with this code.
    atomic_torch_save(with_digest({
        "config": config.to_dict(), "epochs_done": epochs_done, "model": model.state_dict(),
        "optimizer": optimizer.state_dict(), "generator": generator.get_state(), "history": history,
        "generator_device": generator.device.type, "wall_time_s": wall_time_s, "resumes": resumes}), path)


def _restore(path: Path, config: TrainConfig, model, optimizer, generator, cross_device: str = "reseed"):
    """(epochs done, history, wall time so far or None, cross-device resumes) of the checkpoint at
    `path`, whose weights, optimizer state and random stream are loaded into the arguments."""
    state = load_payload(path, f"delete {path} to start this training again from its first epoch", CHECKPOINT_FIELDS)
    if state["config"] != config.to_dict():
        raise ValueError(f"checkpoint {path} was written for another config; delete it or use its config")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    resumes = list(state.get("resumes", []))
    event = restore_stream(generator, state["generator"], state.get("generator_device"), cross_device, str(path))
    if event is not None:
        resumes.append({"epoch": state["epochs_done"], **event})
    return state["epochs_done"], state["history"], state.get("wall_time_s"), resumes
