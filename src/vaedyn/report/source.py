"""Where `vaedyn report` gets the model from: a factory named as FILE.py:NAME or MODULE:NAME, its
weights (a safetensors file or a state dict), and the model protocol's adapter (`vaedyn.protocol`).

Each failure is a ConfigError with one line that names the value: a file or module that does not
exist or does not import, a factory that is missing or fails, weights that cannot be read or do not
fit, a model without the two maps, a shape that does not fit the dataset.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import torch
from torch import nn

from ..config import ConfigError
from ..protocol import FlatModel, as_inference_model


def parse_model_spec(text: str) -> tuple[str, str]:
    """'path/to/file.py:factory' or 'package.module:factory' -> (where, factory name)."""
    where, _, name = text.rpartition(":")
    if not where or not name or not all(part.isidentifier() for part in name.split(".")):
        raise ConfigError(f"--model {text!r} is not allowed; give FILE.py:FACTORY or MODULE:FACTORY, e.g. "
                          "tests/example_models.py:tiny_conv_vae")
    return where, name


def _is_file(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def absolute_spec(text: str) -> str:
    """The same factory named from any working folder: a file's path made absolute, a module's name kept."""
    where, name = parse_model_spec(text)
    return f"{Path(where).expanduser().resolve()}:{name}" if _is_file(where) else text


def _import(where: str, text: str):
    """The module named by the part before the colon: a Python file, or an importable module."""
    if _is_file(where):
        path = Path(where).expanduser()
        if not path.is_file():
            raise ConfigError(f"--model {text!r}: the file {path} does not exist")
        name = f"vaedyn_report_model_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module        # dataclasses and pickling look a class's module up here
        loader = spec.loader.exec_module
    else:
        try:
            spec = importlib.util.find_spec(where)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            raise ConfigError(f"--model {text!r}: no module named {where!r} can be imported (give a file as "
                              "path/to/file.py:FACTORY)")
        module, loader = None, None
    try:
        if loader is None:
            return importlib.import_module(where)
        loader(module)
        return module
    except Exception as error:   # whatever the user's module raises while it is imported
        if module is not None:
            sys.modules.pop(module.__name__, None)
        raise ConfigError(f"--model {text!r}: importing {where} failed: {type(error).__name__}: {error}") from None


def build_model(text: str):
    """The object the factory named by `text` returns."""
    where, name = parse_model_spec(text)
    target = _import(where, text)
    for part in name.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"--model {text!r}: {where} has no {name!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"--model {text!r}: {name} in {where} is not callable; give a function or class that "
                          "returns the model")
    try:
        return target()
    except Exception as error:   # the factory's own failure, shown as one line
        raise ConfigError(f"--model {text!r}: calling {name}() failed: {type(error).__name__}: {error}") from None


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict in a .safetensors file or a torch file (a state dict, or a dict holding one under
    'state_dict', as vaedyn's own model.pt does), read without running any code (weights only)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--weights {str(path)!r}: no such file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:   # safetensors and torch raise several types for a file they cannot read
        kind = "safetensors" if path.suffix == ".safetensors" else "a torch state dict (weights only)"
        raise ConfigError(f"--weights {str(path)!r} cannot be read as {kind}: {type(error).__name__}: "
                          f"{error}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise ConfigError(f"--weights {str(path)!r} holds no state dict (a mapping of parameter names to tensors)")
    return state


def _listed(names: list[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def load_weights(model, path: str | Path) -> None:
    """Load the weights in `path` into `model` (into the wrapped model of a `FlatModel`), strictly:
    every parameter and buffer present, none left over, every shape equal."""
    target = model.inner if isinstance(model, FlatModel) else model
    if not isinstance(target, nn.Module):
        raise ConfigError(f"--weights {str(path)!r}: the model ({type(target).__name__}) is not a torch.nn.Module, "
                          "so there is nothing to load weights into")
    state, expected = read_weights(path), target.state_dict()
    problems = []
    if missing := sorted(set(expected) - set(state)):
        problems.append(f"missing {_listed(missing)}")
    if unexpected := sorted(set(state) - set(expected)):
        problems.append(f"unexpected {_listed(unexpected)}")
    if wrong := [f"{k} {tuple(state[k].shape)} (model {tuple(expected[k].shape)})"
                 for k in sorted(set(state) & set(expected)) if state[k].shape != expected[k].shape]:
        problems.append(f"shape of {_listed(wrong)}")
    if problems:
        raise ConfigError(f"--weights {str(path)!r} does not fit {type(target).__name__}: {'; '.join(problems)}")
    target.load_state_dict(state, strict=True)


def load_model(spec: str, weights: str | Path | None = None, input_shape=None, n_features: int | None = None,
               encode_mean: str | None = None, decode_mean: str | None = None, encode: str | None = None):
    """The model `vaedyn report` analyses: built by the factory `spec`, with `weights` loaded (None: the
    factory's own), adapted to the protocol (`as_inference_model`, method names for maps named otherwise)
    and checked against images of `n_features` values when given."""
    model = build_model(spec)
    if weights is not None:
        load_weights(model, weights)
    return as_inference_model(model, input_shape=input_shape, n_features=n_features, encode_mean=encode_mean,
                              decode_mean=decode_mean, encode=encode)
