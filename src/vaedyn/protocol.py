"""What the analysis asks of a model, and the adapter that lets any model answer.

Repeated inference (eqs. 23-26) needs two maps: the recognition step z = mu(x) (`encode_mean`) and
the generation step x = E[x|z] (`decode_mean`); the stochastic chains also need the parameters of
q(z|x) (`encode`, returning mu and log sigma^2). The analysis functions call these on flat rows
(n, D) and read `n_features` (D), `nz`, the train/eval state and the parameters' device, as the
paper's `VAE` provides them. `as_inference_model` gives any model that shape: a model taking images
(n, 1, 28, 28), one whose maps have other names, one that does not say its latent size. A model that
already has it (the paper's VAE) comes back unchanged, so the analysis has no special case.
"""
from __future__ import annotations

import math
from typing import Callable, Protocol, runtime_checkable

import torch
from torch import nn

from .config import ConfigError

MAPS = ("encode_mean", "decode_mean")
PROBE_BATCH = 2      # rows of the probe: 2, so that a map that drops or mixes the batch axis shows


class ProtocolError(ConfigError):
    """A model that the analysis cannot use as it is; the message says what is wrong and how to adapt it."""


@runtime_checkable
class InferenceModel(Protocol):
    """The two maps of the mean iteration (eqs. 25-26); `encode` (mu, log sigma^2) is optional."""

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor: ...

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor: ...


class FlatModel(nn.Module):
    """A model seen through flat rows: inputs (..., D) are reshaped to the model's `image_shape`
    before its maps are called, and its outputs are reshaped back to (..., D) and (..., N_z).

    The wrapped model (`inner`) is a submodule when it is an `nn.Module`, so `.eval()`, `.train()`,
    `.to(device)` and `.parameters()` reach it; weights are loaded into `inner`, under its own names.
    """

    def __init__(self, inner, image_shape: tuple[int, ...], nz: int, encode_mean: Callable,
                 decode_mean: Callable, encode: Callable | None = None):
        super().__init__()
        self.inner = inner
        self.image_shape = tuple(image_shape)
        self.n_features = math.prod(self.image_shape)
        self.nz = nz
        # Kept out of nn.Module's registry: a map that is itself a module (e.g. inner.encoder) is
        # already reached through `inner`.
        object.__setattr__(self, "_maps", {"encode_mean": encode_mean, "decode_mean": decode_mean, "encode": encode})

    @property
    def device(self) -> torch.device:
        return model_device(self)

    def _images(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Size]:
        return x.reshape(-1, *self.image_shape), x.shape[:-1]

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        """z = mu(x) (eq. 26) for rows x (..., D); (..., N_z)."""
        images, lead = self._images(x)
        return self._maps["encode_mean"](images).reshape(*lead, self.nz)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """x = E[x|z] (eq. 25) for latents z (..., N_z), as rows (..., D)."""
        lead = z.shape[:-1]
        return self._maps["decode_mean"](z.reshape(-1, self.nz)).reshape(*lead, self.n_features)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log sigma^2) of q(z|x) for rows x (..., D), when the model provides them."""
        if self._maps["encode"] is None:
            raise ProtocolError(f"{type(self.inner).__name__} provides no encode(x) -> (mu, logvar); the stochastic "
                                "chain needs it: give it with as_inference_model(model, encode=...)")
        images, lead = self._images(x)
        mu, logvar = self._maps["encode"](images)
        return mu.reshape(*lead, self.nz), logvar.reshape(*lead, self.nz)

    def extra_repr(self) -> str:
        return f"image_shape={self.image_shape}, nz={self.nz}"


def model_device(model) -> torch.device:
    """The device of a model's first parameter (or buffer); the CPU for a model that has neither."""
    if isinstance(model, nn.Module):
        for tensor in (*model.parameters(), *model.buffers()):
            return tensor.device
    return torch.device("cpu")


def _shape(name: str, value) -> tuple[int, ...] | None:
    """An input shape as a tuple of positive integers (None stays None)."""
    if value is None:
        return None
    try:
        shape = tuple(int(n) for n in value)
    except (TypeError, ValueError):
        shape = ()
    if not shape or any(n < 1 for n in shape) or any(isinstance(n, bool) for n in value):
        raise ProtocolError(f"{name}={value!r} is not allowed; give the shape of one input without the batch axis, "
                            "e.g. (1, 28, 28) or (784,)")
    return shape


def _map(model, name: str, given) -> Callable | None:
    """The callable for map `name`: as given, the model's method named by a given string, or the
    model's own method of that name."""
    if callable(given):
        return given
    attribute = given if isinstance(given, str) else name
    if given is not None and not isinstance(given, str):
        raise ProtocolError(f"{name}={given!r} is not allowed; give a callable or the name of one of the model's "
                            "methods")
    found = getattr(model, attribute, None)
    if given is not None and not callable(found):
        raise ProtocolError(f"{name}={given!r}: {type(model).__name__} has no method {given!r}")
    return found if callable(found) else None


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


def _call(name: str, function: Callable, argument: torch.Tensor):
    try:
        return function(argument)
    except Exception as error:   # any failure of the user's code is reported as one line
        raise ProtocolError(f"{name} failed on a probe batch of shape {tuple(argument.shape)}: "
                            f"{type(error).__name__}: {error}") from None


@torch.no_grad()
def _probe(model, image_shape: tuple[int, ...], maps: dict[str, Callable | None],
           encode_given: bool) -> tuple[int, bool]:
    """Call the maps once on a batch of mid-grey inputs; returns N_z and whether `encode` returns
    (mu, logvar) of that size. ProtocolError naming what came back when a map fails or returns
    another shape."""
    was_training = model.training if isinstance(model, nn.Module) else None
    if isinstance(model, nn.Module):
        model.eval()
    try:
        x = torch.full((PROBE_BATCH, *image_shape), 0.5, device=model_device(model))
        z = _call("encode_mean", maps["encode_mean"], x)
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[0] != PROBE_BATCH:
            raise ProtocolError(f"encode_mean returned {_describe(z)} for a batch of {PROBE_BATCH} inputs of shape "
                                f"{image_shape}; it must return one latent row per input, ({PROBE_BATCH}, N_z)")
        nz = z.shape[1]
        decoded = _call("decode_mean", maps["decode_mean"], z)
        flat = (PROBE_BATCH, math.prod(image_shape))
        if (not isinstance(decoded, torch.Tensor) or decoded.shape[0] != PROBE_BATCH
                or decoded.numel() != math.prod(flat)):
            shapes = " or ".join(str(s) for s in dict.fromkeys([(PROBE_BATCH, *image_shape), flat]))
            raise ProtocolError(f"decode_mean returned {_describe(decoded)} for {PROBE_BATCH} latent rows; it must "
                                f"return {shapes}, the shape of the inputs")
        encode_works = False
        if maps["encode"] is not None:
            try:
                pair = maps["encode"](x)
                encode_works = (isinstance(pair, (tuple, list)) and len(pair) == 2
                                and all(isinstance(t, torch.Tensor) and tuple(t.shape) == (PROBE_BATCH, nz)
                                        for t in pair))
            except Exception as error:   # a method called `encode` that means something else is not used
                if encode_given:
                    raise ProtocolError(f"encode failed on a probe batch of shape {tuple(x.shape)}: "
                                        f"{type(error).__name__}: {error}") from None
            if encode_given and not encode_works:
                raise ProtocolError(f"encode returned {_describe(pair)}; it must return (mu, logvar), each "
                                    f"({PROBE_BATCH}, {nz}) like encode_mean")
        return nz, encode_works
    finally:
        if was_training is not None:
            model.train(was_training)


def as_inference_model(model, *, input_shape=None, n_features: int | None = None, encode_mean=None,
                       decode_mean=None, encode=None):
    """`model` as the analysis uses it: flat rows in and out, `n_features`, `nz`, train/eval, a device.

    The maps are the model's `encode_mean` and `decode_mean` methods, or the callables (or method
    names) given for them; `encode` likewise, optional. The input shape is the model's `input_shape`
    attribute, else `input_shape`, else flat with the model's `n_features`. `n_features` is the size
    of the data's images: when given, the model's input must have that many values. The maps are
    called once on a probe batch to check them and to find N_z. A model that already takes flat rows
    and says its `n_features` and `nz` (the paper's VAE, or a model this function returned) is
    returned unchanged; any other is wrapped in a `FlatModel`. ProtocolError (one line) otherwise.
    """
    asked = _shape("input_shape", input_shape)
    renamed = encode_mean is not None or decode_mean is not None or encode is not None
    if isinstance(model, FlatModel) and asked in (None, model.image_shape) and not renamed:
        if n_features is not None and n_features != model.n_features:
            raise ProtocolError(f"the model takes inputs of shape {model.image_shape} ({model.n_features} values) but "
                                f"the dataset's images have {n_features} values")
        return model
    maps = {"encode_mean": _map(model, "encode_mean", encode_mean),
            "decode_mean": _map(model, "decode_mean", decode_mean),
            "encode": _map(model, "encode", encode)}
    missing = [name for name in MAPS if maps[name] is None]
    if missing:
        raise ProtocolError(
            f"{type(model).__name__} has no {' and no '.join(missing)}; the analysis needs encode_mean(x) -> z and "
            "decode_mean(z) -> x: name the model's methods so, or adapt it with as_inference_model(model, "
            "encode_mean=..., decode_mean=...) (on the command line: --encode-mean NAME --decode-mean NAME)")
    declared = _shape(f"{type(model).__name__}.input_shape", getattr(model, "input_shape", None))
    if declared is not None and asked is not None and declared != asked:
        raise ProtocolError(f"input_shape={asked} is not allowed; {type(model).__name__} declares input_shape="
                            f"{declared}")
    own_features = getattr(model, "n_features", None)
    shape = declared or asked
    if shape is None:
        if not isinstance(own_features, int) and n_features is None:
            raise ProtocolError(f"the input shape of {type(model).__name__} is unknown: give input_shape (e.g. "
                                "(1, 28, 28)), or declare input_shape or n_features on the model")
        shape = (own_features if isinstance(own_features, int) else n_features,)
    size = math.prod(shape)
    if n_features is not None and size != n_features:
        raise ProtocolError(f"the model's input shape {shape} holds {size} values but the dataset's images have "
                            f"{n_features} (e.g. {_side_text(n_features)}); give the input shape that fits them")
    if isinstance(own_features, int) and own_features != size:
        raise ProtocolError(f"input shape {shape} ({size} values) is not allowed; {type(model).__name__} declares "
                            f"n_features={own_features}")
    nz, encode_works = _probe(model, shape, maps, encode_given=encode is not None)
    flat = len(shape) == 1 and not renamed
    if (flat and isinstance(model, nn.Module) and own_features == size and getattr(model, "nz", None) == nz):
        return model
    return FlatModel(model, shape, nz, maps["encode_mean"], maps["decode_mean"],
                     maps["encode"] if encode_works else None)


def _side_text(n_features: int) -> str:
    side = math.isqrt(n_features)
    return f"(1, {side}, {side})" if side * side == n_features else f"({n_features},)"
