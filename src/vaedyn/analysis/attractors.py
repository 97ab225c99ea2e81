"""Attractors of the mean map F(z) = mu(decoder(z)): where repeated inference comes to rest.

The generation step (eq. 25) followed by the recognition step (eq. 26) is the map the paper's
latent trajectories follow, z(t+1) = F(z(t)), so iterating F from z(0) = mu(x(0)) visits exactly the
z(t) of `inference.repeated_inference`. After Radhakrishnan, Belkin & Uhler (PNAS 2020), a point z*
is an attractor when F(z*) = z* and the Jacobian of F at z* has spectral radius below 1; a cycle of
period k is one when the Jacobian of F^k at one of its points does.

Here every trial runs until it settles (`settle`), the end points are grouped into distinct attractors
(`group_end_points`) and the Jacobian's spectral radius is taken at each (`spectral_radius`).

Tolerances are absolute, in latent units, on the Euclidean norm (the norm of the paper's distances,
eq. 7). Callers that compare models pass tol = relative tolerance x `latent_scale`: the size of the
cloud of mu differs by orders of magnitude between latent sizes and along training, so one absolute
number would mean "at rest" for one model and "still far away" for another.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..config import ConfigError, _check_positive_int
from .inference import generation_step, recognition_step

DEFAULT_RELATIVE_TOL = 1e-4   # "at rest": a step below 1e-4 of the latent cloud's RMS radius
DEFAULT_MAX_STEPS = 1000      # at a contraction factor of 0.99, 1000 steps shrink a distance 2e4-fold
DEFAULT_MAX_PERIOD = 8
# End points of one attractor lie within tol / (1 - rho) of it (rho: the local contraction factor), so
# two of them lie within 2 tol / (1 - rho) of each other; 100 tol keeps them together up to rho = 0.98.
# Attractors closer together than this are counted as one: the resolution of the count.
MERGE_FACTOR = 100.0
JACOBIAN_CHUNK = 32           # attractors per vmapped Jacobian: bounds memory at N_z = 100


def check_tolerance(name: str, value) -> float:
    """A tolerance must be a finite number > 0; return it as float."""
    try:
        tol = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not allowed; it must be a finite number > 0") from None
    if not (math.isfinite(tol) and tol > 0):
        raise ConfigError(f"{name}={value!r} is not allowed; it must be a finite number > 0")
    return tol


def merge_distance(tol: float) -> float:
    """End points closer than this belong to one attractor (see MERGE_FACTOR)."""
    return MERGE_FACTOR * tol


def latent_scale(memory: torch.Tensor) -> float:
    """RMS distance of the memory vectors (eq. 6) to their mean: the radius of the data's latent cloud."""
    return (memory - memory.mean(dim=0)).pow(2).sum(dim=1).mean().sqrt().item()


@contextmanager
def evaluating(model):
    """Run `model` in eval mode (no dropout, running batch-norm statistics) and restore its mode after:
    in training mode a batch-norm layer would make F of one trial depend on the other trials."""
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        yield model
    finally:
        if hasattr(model, "train"):
            model.train(was_training)


def mean_map(model, z: torch.Tensor) -> torch.Tensor:
    """F(z) = mu_phi(decoder_theta(z)): eq. (25) then eq. (26), one step z(t) -> z(t+1) of repeated inference."""
    return recognition_step(model, generation_step(model, z))


def iterate_map(model, z: torch.Tensor, times: int) -> torch.Tensor:
    """F^times(z)."""
    for _ in range(times):
        z = mean_map(model, z)
    return z


@dataclass
class Settling:
    """Where each trial came to rest under F; row i is trial i.

    A trial settles at the first step t at which z(t+1) returns within `tol` of one of its last
    `max_period` states, z(t+1-k) (k = 1: a fixed point; k >= 2: a cycle of period k). Its end point is
    z(t+1-k), the state whose return was tested, so ||F^period(end) - end|| = residual < tol holds of
    the end point itself.
    """

    end: torch.Tensor        # (trials, N_z)
    period: torch.Tensor     # (trials,) 1: fixed point; k >= 2: cycle of period k; 0: neither within max_steps
    steps: torch.Tensor      # (trials,) t of the end point z(t); max_steps for the unsettled
    residual: torch.Tensor   # (trials,) ||F^period(end) - end||; unsettled: the last step ||z(T) - z(T-1)||
    orbit: torch.Tensor      # (trials, max_period, N_z) end, F(end), ..., F^(period-1)(end); NaN past the period
    tol: float
    max_steps: int

    @property
    def converged(self) -> torch.Tensor:
        return self.period == 1

    @property
    def cycling(self) -> torch.Tensor:
        return self.period >= 2

    @property
    def settled(self) -> torch.Tensor:
        return self.period >= 1

    def outcome_shares(self) -> dict[str, float]:
        """Share of trials ending at a fixed point, on a cycle, or neither."""
        n = self.period.numel()
        return {"fixed point": self.converged.sum().item() / n, "cycle": self.cycling.sum().item() / n,
                "neither": (~self.settled).sum().item() / n}


def _resolved_cycles(recent: torch.Tensor, separation: float) -> torch.Tensor:
    """(trials, K) bool: does the would-be cycle of period k = column + 1 reach farther than `separation`
    from its end point recent[:, k - 1]? recent[:, j] = z(t - j), newest first."""
    pairs = torch.cdist(recent, recent)                                     # (trials, K, K)
    earlier = torch.ones(recent.shape[1], recent.shape[1], dtype=torch.bool, device=recent.device).triu()
    reach = pairs.masked_fill(~earlier, 0.0).nan_to_num(0.0).amax(dim=1)    # reach[:, k-1] over j < k
    return reach > separation


@torch.no_grad()
def settle(model, z0: torch.Tensor, tol: float, max_steps: int = DEFAULT_MAX_STEPS,
           max_period: int = DEFAULT_MAX_PERIOD) -> Settling:
    """Iterate z(t+1) = F(z(t)) from every row of z0 (trials, N_z) until it settles (see `Settling`).

    `tol` is absolute, on the Euclidean norm, in latent units (pass relative tol x `latent_scale`).
    A return after k >= 2 steps counts as a cycle only when the orbit reaches farther than
    `merge_distance(tol)` from its end point: a spiral into a point (a Jacobian eigenvalue near -1) comes
    back close to where it was two steps before long before its steps fall below tol, and grouping
    would merge such an orbit into one point anyway; it keeps iterating instead. Like the step test, a
    return test at finite tol still cannot tell a cycle from a spiral whose multiplier is within about
    tol / merge_distance of -1 in modulus; the spectral radius at the end point says which.

    `inference.repeated_inference` runs a fixed number of steps and keeps every state; here each trial
    stops at its own step, only the last `max_period` states are kept, and a step evaluates F only on
    the trials still moving, so the loop is written again for latent starting points.
    """
    tol = check_tolerance("tol", tol)
    _check_positive_int("max_steps", max_steps)
    _check_positive_int("max_period", max_period)
    if z0.dim() != 2:
        raise ConfigError(f"z0 has shape {tuple(z0.shape)}; expected (trials, N_z)")
    n, d = z0.shape
    separation = merge_distance(tol)
    end, orbit = z0.clone(), z0.new_full((n, max_period, d), math.nan)
    period = torch.zeros(n, dtype=torch.long, device=z0.device)
    steps = torch.full((n,), max_steps, dtype=torch.long, device=z0.device)
    residual = z0.new_full((n,), math.nan)
    ids = torch.arange(n, device=z0.device)                  # trials still moving
    recent = z0.new_full((n, max_period, d), math.nan)       # recent[:, j] = z(t - j) of those trials
    recent[:, 0] = z0
    columns = torch.arange(max_period, device=z0.device)
    with evaluating(model):
        for t in range(max_steps):
            following = mean_map(model, recent[:, 0])                                          # z(t+1)
            returns = torch.linalg.vector_norm(following[:, None] - recent, dim=-1)            # [:, k-1]: k back
            close = returns < tol                                                              # NaN -> False
            maybe_cycle = close[:, 1:].any(dim=1)
            if maybe_cycle.any():
                close[maybe_cycle, 1:] &= _resolved_cycles(recent[maybe_cycle], separation)[:, 1:]
            done = close.any(dim=1)
            if done.any():
                k = close[done].to(torch.uint8).argmax(dim=1) + 1                               # smallest period
                rows, trial = recent[done], ids[done]
                # orbit[j] = z(t+1-k+j) = recent[k-1-j] for j < k
                source = (k[:, None] - 1 - columns).clamp(min=0)
                cycle = rows.gather(1, source[:, :, None].expand(-1, -1, d))
                orbit[trial] = cycle.masked_fill((columns >= k[:, None])[:, :, None], math.nan)
                end[trial], period[trial], steps[trial] = cycle[:, 0], k, t + 1 - k
                residual[trial] = returns[done].gather(1, (k - 1)[:, None]).squeeze(1)
            moving = ~done
            ids, last_step = ids[moving], returns[moving, 0]
            recent = torch.cat([following[moving, None], recent[moving, :-1]], dim=1)
            if ids.numel() == 0:
                break
    end[ids], residual[ids] = recent[:, 0], last_step
    return Settling(end=end, period=period, steps=steps, residual=residual, orbit=orbit, tol=tol,
                    max_steps=max_steps)


@dataclass
class Attractors:
    """Distinct attractors found by a settling; attractor a is row a, numbered by decreasing basin size."""

    points: torch.Tensor     # (A, N_z) the member end point with the smallest residual
    period: torch.Tensor     # (A,) 1 for a fixed point, k for a cycle (the period of that member)
    size: torch.Tensor       # (A,) trials ending there
    member_of: torch.Tensor  # (trials,) attractor of each trial; -1 for a trial that did not settle
    distance: float          # end points closer than this were grouped

    @property
    def count(self) -> int:
        return self.points.shape[0]


def _single_linkage(points: np.ndarray, distance: float) -> np.ndarray:
    """Cluster of each point under single linkage cut at `distance` (scipy), numbered from 0."""
    if len(points) < 2:
        return np.zeros(len(points), dtype=np.int64)
    return fcluster(linkage(points, method="single"), t=distance, criterion="distance").astype(np.int64) - 1


def group_end_points(settling: Settling, distance: float | None = None) -> Attractors:
    """Group the settled trials into distinct attractors: single linkage over every point of every orbit,
    cut at `distance` (default `merge_distance(settling.tol)`), with the points of one cycle joined into
    one attractor however far apart they lie, so that trials reaching a cycle at different phases share it.

    Single linkage puts two end points together when a chain of end points links them in steps shorter
    than `distance`, which is how the end points of one attractor, spread along the directions of
    slowest approach, are connected. Memory grows as (number of orbit points)^2 (scipy's pdist).
    """
    distance = merge_distance(settling.tol) if distance is None else check_tolerance("distance", distance)
    n, max_period, _ = settling.orbit.shape
    valid = ~torch.isnan(settling.orbit[..., 0])                            # (trials, max_period)
    points = settling.orbit[valid].detach().double().cpu().numpy()
    owner = torch.arange(n, device=valid.device)[:, None].expand(n, max_period)[valid].cpu().numpy()
    cluster = _single_linkage(points, distance)
    settled = settling.settled.cpu().numpy()
    member_of = np.full(n, -1, dtype=np.int64)
    if len(points):
        # Points are in trial order and a settled trial's orbit starts at its end point, so the first point
        # of a trial is where its owner first occurs; linking every point to it joins each orbit's clusters.
        first_of_owner = np.searchsorted(owner, owner)
        links = coo_matrix((np.ones(len(points)), (cluster, cluster[first_of_owner])), shape=(cluster.max() + 1,) * 2)
        component = connected_components(links, directed=False)[1]
        member_of[settled] = component[cluster[np.searchsorted(owner, np.flatnonzero(settled))]]
    # Number by decreasing size, ties by the first trial that reached them, so that runs are comparable.
    labels, first_trial, size = np.unique(member_of[settled], return_index=True, return_counts=True)
    order = np.lexsort((first_trial, -size))
    renumber = np.full(labels.max() + 1 if len(labels) else 0, -1, dtype=np.int64)
    renumber[labels[order]] = np.arange(len(labels))
    member_of[settled] = renumber[member_of[settled]]
    residual = settling.residual.detach().cpu().numpy()
    members = np.flatnonzero(settled)
    by_attractor = members[np.lexsort((residual[members], member_of[members]))]
    best = by_attractor[np.unique(member_of[by_attractor], return_index=True)[1]]
    best_t = torch.as_tensor(best, dtype=torch.long, device=settling.end.device)
    return Attractors(points=settling.end[best_t], period=settling.period[best_t],
                      size=torch.as_tensor(size[order], dtype=torch.long),
                      member_of=torch.as_tensor(member_of, dtype=torch.long), distance=distance)


def jacobian(model, points: torch.Tensor, period: int = 1) -> torch.Tensor:
    """(A, N_z, N_z) Jacobian of F^period at each row of `points`, by reverse-mode autodiff (torch.func)."""
    _check_positive_int("period", period)

    def power(z: torch.Tensor) -> torch.Tensor:
        return iterate_map(model, z[None], period)[0]   # models take rows (n, N_z)

    with evaluating(model):
        return torch.func.vmap(torch.func.jacrev(power), chunk_size=JACOBIAN_CHUNK)(points).detach()


def spectral_radius(model, points: torch.Tensor, period: torch.Tensor | None = None) -> torch.Tensor:
    """max |eigenvalue| of the Jacobian of F^k at each point, k = its period (1 when `period` is None): below 1
    for an attractor. Eigenvalues in float64 on the CPU. Returns (A,) float64."""
    period = torch.ones(points.shape[0], dtype=torch.long) if period is None else period.cpu()
    radius = torch.empty(points.shape[0], dtype=torch.float64)
    for k in period.unique().tolist():                     # one vmapped Jacobian per distinct period
        rows = period == k
        matrices = jacobian(model, points[rows.to(points.device)], int(k)).cpu().double()
        radius[rows] = torch.linalg.eigvals(matrices).abs().amax(dim=-1)
    return radius
