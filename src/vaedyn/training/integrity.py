"""Reading the store's files so that damage is reported in one line, never as a traceback.

Every file the store reads back (``model.pt``, ``meta.json``, a training's ``checkpoint.pt``)
goes through this module. A file that cannot be parsed, lacks a field or fails its checksum
raises `CorruptArtifactError` naming the file and what to delete. Payloads are read with
``torch.load(weights_only=True)``: they hold only tensors and plain Python data, and a file
that holds anything else is refused instead of being unpickled (which could run code).

A checkpoint is rewritten every few epochs and has no meta file to carry its checksum, so it
carries its own: `content_digest` of everything else in it, stored under ``"sha256"``. torch's
zip reader checks no CRC, and a flipped byte in a tensor loads silently without this.
Checkpoints written before the digest existed have none and are read unchecked.
"""
from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import torch

DIGEST_KEY = "sha256"


class CorruptArtifactError(RuntimeError):
    """An artifact's file is damaged: it fails its checksum, cannot be parsed or lacks a field.
    The message (one line) names the file and what to delete."""


def _one_line(error: BaseException) -> str:
    """The first line of an error's message (torch's weights-only refusal runs to a page)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def load_payload(path: str | Path, remedy: str, required: tuple[str, ...] = ()) -> dict:
    """The dict saved in `path` by torch.save, read with weights_only=True; CorruptArtifactError
    (ending in `remedy`, e.g. "delete X to train it again") when it cannot be read, is not a dict
    with the `required` keys, or fails the digest it carries."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            payload = torch.load(handle, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CorruptArtifactError(f"{path} is missing; {remedy}") from None
    except pickle.UnpicklingError as error:
        # weights_only refuses anything but tensors and plain data; so does a file of junk.
        raise CorruptArtifactError(
            f"{path} is not a file of tensors and plain data that torch.load(weights_only=True) accepts "
            f"({_one_line(error)}); it is damaged or was not written by vaedyn; {remedy}") from None
    except Exception as error:   # torch's zip reader raises RuntimeError, ValueError, UnicodeDecodeError ...
        raise CorruptArtifactError(f"{path} cannot be read ({_one_line(error)}): it is truncated or "
                                   f"corrupted; {remedy}") from None
    missing = [key for key in required if not isinstance(payload, dict) or key not in payload]
    if not isinstance(payload, dict) or missing:
        found = sorted(map(str, payload)) if isinstance(payload, dict) else type(payload).__name__
        raise CorruptArtifactError(f"{path} lacks the fields {missing} (found {found}): it was not written "
                                   f"by this code; {remedy}")
    if DIGEST_KEY in payload:
        recorded = payload.pop(DIGEST_KEY)
        found = content_digest(payload)
        if found != recorded:
            raise CorruptArtifactError(
                f"{path} fails its checksum (recorded {str(recorded)[:12]}..., found {found[:12]}...): "
                f"it is corrupted; {remedy}")
    return payload


def with_digest(payload: dict) -> dict:
    """`payload` plus the digest `load_payload` checks, for files that have no meta file to hold one."""
    return {**payload, DIGEST_KEY: content_digest(payload)}


def content_digest(value) -> str:
    """sha256 of a nest of dicts, lists, tuples, tensors and plain scalars: of every tensor's dtype,
    shape and bytes and every scalar's repr, walked in a fixed order (dict keys sorted by repr),
    so the same content always gives the same digest whatever the file's zip layout."""
    digest = hashlib.sha256()

    def walk(item) -> None:
        if isinstance(item, torch.Tensor):
            flat = item.detach().to("cpu").contiguous().reshape(-1)
            digest.update(f"T{item.dtype}{tuple(item.shape)};".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
        elif isinstance(item, dict):
            digest.update(f"D{len(item)};".encode())
            for key in sorted(item, key=repr):
                digest.update(f"{key!r}:".encode())
                walk(item[key])
        elif isinstance(item, (list, tuple)):   # a tuple may come back as either; treat them alike
            digest.update(f"L{len(item)};".encode())
            for element in item:
                walk(element)
        else:
            digest.update(f"{item!r};".encode())

    walk(value)
    return digest.hexdigest()


def read_meta(path: str | Path, remedy: str, required: tuple[str, ...] = ("kind", "config", "sha256")) -> dict:
    """A meta.json as a dict; CorruptArtifactError when it is not JSON or lacks a `required` field."""
    path = Path(path)
    try:
        meta = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:   # JSONDecodeError is a ValueError
        raise CorruptArtifactError(f"{path} is not valid JSON ({_one_line(error)}); {remedy}") from None
    if not isinstance(meta, dict) or any(key not in meta for key in required):
        raise CorruptArtifactError(f"{path} lacks the fields {list(required)} a meta file must have; {remedy}")
    return meta
