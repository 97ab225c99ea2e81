"""The hierarchy of latent reference vectors and the geometry of the concept vectors.

memory vector   xi^(i)   = mu(x_i)                        (eq. 6)
concept vector  xi_bar_k = mean of xi^(i) over label k     (eq. 5)
abstract concept xi_bar_all = mean of the 10 concept vectors (eq. 8)
and the cosine-similarity matrix C of the concept vectors (eq. 10), its distance from
the identity, the active units and the cumulative PCA contribution ratio (Fig. 7).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..model import VAE


@torch.no_grad()
def memory_vectors(model: VAE, x: torch.Tensor, batch_size: int = 10_000) -> torch.Tensor:
    """xi^(i) = E_q(z|x_i)[z] = mu(x_i) for every row of x (eq. 6)."""
    model.eval()
    return torch.cat([model.encode_mean(x[s:s + batch_size]) for s in range(0, x.shape[0], batch_size)])


def concept_vectors(memory: torch.Tensor, labels: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """xi_bar_k = (1/N_k) sum_i xi_k^(i), the mean memory vector of each label (eq. 5); (n_classes, N_z)."""
    counts = torch.bincount(labels, minlength=n_classes)
    if (counts == 0).any():
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"labels {missing} have no examples; every class needs one to define its concept vector")
    sums = torch.zeros(n_classes, memory.shape[1], device=memory.device, dtype=memory.dtype)
    sums.index_add_(0, labels, memory)
    return sums / counts.unsqueeze(1).to(memory.dtype)


def abstract_concept(concepts: torch.Tensor) -> torch.Tensor:
    """xi_bar_all = (1/10) sum_num xi_bar_num, the mean of the concept vectors (eq. 8)."""
    return concepts.mean(dim=0)


@dataclass
class ConceptSet:
    """Every reference vector of one model over one data split."""

    memory: torch.Tensor      # (n, N_z), row i belongs to example i of the split
    labels: torch.Tensor      # (n,)
    concepts: torch.Tensor    # (n_classes, N_z)
    abstract: torch.Tensor    # (N_z,)


def concept_set(model: VAE, x: torch.Tensor, labels: torch.Tensor, n_classes: int = 10) -> ConceptSet:
    """Memory, concept and abstract-concept vectors (eqs. 5, 6, 8) of a labelled set, usually the training set."""
    memory = memory_vectors(model, x)
    concepts = concept_vectors(memory, labels, n_classes)
    return ConceptSet(memory=memory, labels=labels, concepts=concepts, abstract=abstract_concept(concepts))


def cosine_similarity_matrix(concepts: torch.Tensor) -> torch.Tensor:
    """C_ij = xi_bar_i . xi_bar_j / (|xi_bar_i| |xi_bar_j|) (eq. 10)."""
    unit = concepts / concepts.norm(dim=1, keepdim=True)
    return unit @ unit.T


def orthogonality(concepts: torch.Tensor) -> float:
    """||C - I||_F = sqrt(sum_ij (C - I)_ij^2): 0 when the concept vectors are mutually orthogonal.

    The paper writes the quantity as ||C - I||_F^2 but defines it with the square root; we
    follow the definition (the root), which is the ordinary Frobenius norm.
    """
    c = cosine_similarity_matrix(concepts)
    return torch.linalg.matrix_norm(c - torch.eye(c.shape[0], device=c.device, dtype=c.dtype)).item()


def rms_off_diagonal_cosine(concepts: torch.Tensor) -> float:
    """Root-mean-square of the off-diagonal cosines C_ij (i != j): ||C - I||_F / sqrt(n (n - 1)) for n
    concept vectors, since the diagonal of C - I is zero. 0 for mutually orthogonal vectors, 1 when all
    point the same way, whatever n; the scale chapter 06 and Fig. 7's claim read."""
    n = concepts.shape[0]
    return orthogonality(concepts) / (n * (n - 1)) ** 0.5


def active_units(memory: torch.Tensor, threshold: float = 0.01) -> torch.Tensor:
    """Boolean mask of latent units whose mean mu varies over the data by more than `threshold`
    (variance of mu across examples; the usual active-unit criterion, Burda et al. 2016)."""
    return memory.var(dim=0) > threshold


def components_for(cumulative: np.ndarray, fraction: float) -> int:
    """Fewest principal components whose cumulative contribution ratio reaches `fraction`."""
    return int(np.searchsorted(cumulative, fraction - 1e-12) + 1)
