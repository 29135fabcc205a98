"""Checkpoints that survive crashes and can be trusted to load.

Training the paper's network took five to six days (§5); days of training meet power cuts and
killed jobs. A checkpoint here holds only tensors and plain values (model, optimizer, scheduler,
epoch, metrics history, random-number state, the model's and the run's configuration), so it loads
with ``torch.load(..., weights_only=True)``: a checkpoint is untrusted input and never runs code.

It is written atomically: to a temporary file in the same folder, flushed and fsync'ed, then renamed
over the old one. A process killed at any moment leaves either the previous checkpoint or the new
one, never half of one. Loading checks every entry's CRC-32 before ``torch.load`` reads it, so a
truncated file or a flipped bit is reported as a corrupt checkpoint instead of loading wrong weights.
"""
from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import torch
from torch import nn

from .errors import AlexNetError
from .runtime import write_atomic

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "load_weights", "weight_mismatch",
           "check_writable"]

FORMAT = "alexnet-checkpoint-1"


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename, fsync the folder)."""
    return write_atomic(path, lambda f: torch.save({"format": FORMAT, **state}, f))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint`, safely (``weights_only=True``)."""
    path = Path(path)
    if path.is_dir():
        raise AlexNetError(f"checkpoint {path} is a folder: pass the file in it, e.g. "
                           f"{path / 'last.pt'}")
    if not path.is_file():
        raise AlexNetError(f"checkpoint {path} does not exist: check the path, or train first")
    try:
        _check_crc(path)
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile,
            pickle.UnpicklingError) as e:
        raise _unreadable(path, e) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise AlexNetError(f"{path} is not an alexnet checkpoint (no '{FORMAT}' marker): "
                           "pass a file written by `alexnet train`")
    return state


def _unreadable(path: Path, error: Exception) -> AlexNetError:
    """Why a checkpoint did not load: objects that are not data (refused), or damage."""
    if isinstance(error, pickle.UnpicklingError) and zipfile.is_zipfile(path):
        return AlexNetError(f"checkpoint {path} holds objects other than tensors and plain values, "
                            "which are never loaded (they could run code): pass a file written by "
                            "`alexnet train`")
    why = str(error) if "checksum" in str(error) else "it cannot be read as a torch file"
    return AlexNetError(f"checkpoint {path} is corrupt or truncated ({why}): restore a copy, or "
                        "delete it and train again")


def _check_crc(path: Path) -> None:
    """Raise ``zipfile.BadZipFile`` unless every entry of a torch (zip) file matches its CRC-32."""
    if not zipfile.is_zipfile(path):
        return                          # truncated, or not a zip: torch.load tells which
    with zipfile.ZipFile(path) as archive:
        bad = archive.testzip()
    if bad is not None:
        raise zipfile.BadZipFile(f"its entry {bad} fails its checksum")


def weight_mismatch(model: nn.Module, state_dict: dict) -> str:
    """The layers of ``state_dict`` that do not fit ``model``, in one clause ('' when all fit)."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
             for k, v in own.items() if k in state_dict and state_dict[k].shape != v.shape]
    parts = ([f"shapes differ (checkpoint vs model): {', '.join(wrong[:4])}"] if wrong else []) + \
            ([f"missing layers: {', '.join(missing[:4])}"] if missing else []) + \
            ([f"unexpected layers: {', '.join(unexpected[:4])}"] if unexpected else [])
    return "; ".join(parts)


def load_weights(model: nn.Module, state_dict: dict, source: str = "checkpoint") -> None:
    """``model.load_state_dict`` with one clear line when the shapes or layer names do not match."""
    problem = weight_mismatch(model, state_dict)
    if problem:
        raise AlexNetError(f"the {source} does not fit this model ({problem}): it was "
                           "trained with another architecture or number of classes")
    model.load_state_dict(state_dict)


def check_writable(folder: str | os.PathLike) -> Path:
    """Fail before training starts, not after the first epoch, if checkpoints cannot be written."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as e:
        raise AlexNetError(f"cannot write checkpoints to {folder} ({e.strerror or e}): "
                           "choose a writable --checkpoint-dir") from None
    return folder
