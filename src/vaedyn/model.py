"""The paper's VAE (Methods, eqs. 14-16 and Fig. 10).

Encoder: D -> 1024 (tanh) -> (mu, log sigma^2), each N_z wide.
Decoder: N_z -> 1024 (tanh) -> D logits; sigmoid of the logits gives the Bernoulli means.
Weights start Glorot-uniform with zero biases, the defaults of the Keras version the
authors used, so our initialisation matches theirs in distribution.
"""
from __future__ import annotations

import torch
from torch import nn


def _keras_init(layer: nn.Linear) -> nn.Linear:
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class VAE(nn.Module):
    def __init__(self, n_features: int = 784, nz: int = 100, hidden: int = 1024):
        super().__init__()
        self.n_features, self.nz, self.hidden = n_features, nz, hidden
        self.encoder = nn.Sequential(_keras_init(nn.Linear(n_features, hidden)), nn.Tanh(),
                                     _keras_init(nn.Linear(hidden, 2 * nz)))
        self.decoder = nn.Sequential(_keras_init(nn.Linear(nz, hidden)), nn.Tanh(),
                                     _keras_init(nn.Linear(hidden, n_features)))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters of q(z|x): mean mu and log-variance log sigma^2 (eq. 14, encoder output h^2)."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        """z = E_q(z|x)[z] = mu_phi(x), the recognition step of repeated inference (eq. 26)."""
        return self.encode(x)[0]

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of the Bernoulli means; kept separate so the likelihood can use them stably."""
        return self.decoder(z)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """x = E_p(x|z)[x] = decoder_theta(z), the generation step of repeated inference (eq. 25)."""
        return torch.sigmoid(self.decode_logits(z))

    def extra_repr(self) -> str:
        return f"n_features={self.n_features}, nz={self.nz}, hidden={self.hidden}"
