"""Checkpoints that survive crashes and can be trusted to load.

Training the paper's network took five to six days (§5); days of training meet power cuts and
killed jobs. A checkpoint here holds only tensors and plain values (model, optimizer, scheduler,
epoch, metrics history, random-number state, the model's and the run's configuration), so it loads
with ``torch.load(..., weights_only=True)``: a checkpoint is untrusted input and never runs code.

It is written atomically: to a temporary file in the same folder, flushed and fsync'ed, then renamed
over the old one. A process killed at any moment leaves either the previous checkpoint or the new
one, never half of one. Loading checks every entry's CRC-32 before ``torch.load`` reads it, so a
truncated file or a flipped bit is reported as a corrupt checkpoint instead of loading wrong weights.
A file that loads but lacks an entry, or has one this version does not know (a checkpoint edited by
hand, or written by another version), is refused by :func:`check_entries` with one line.

**One run per folder.** :func:`lock_folder` takes an OS lock (``flock``) on ``FOLDER/.lock`` for
as long as a run uses the folder; a second run on the same folder stops at once with one line
naming the holder (process id and host). The kernel releases the lock when the holder exits, however
it exits (SIGKILL included), so a crash never leaves a stale lock. While the lock is held, the
temporary files of writes that were killed half-way (``.last.pt.*.tmp``) cannot belong to a live
run; :func:`remove_stale_temporaries` deletes them. :func:`claim_folder` does all of it, in the
one place where a run takes its folder.
"""
from __future__ import annotations

import os
import pickle
import platform
import tempfile
import warnings
import zipfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

import torch
from torch import nn

from .distributed import on_rank_zero
from .errors import AlexNetError
from .runtime import write_atomic

try:
    import fcntl
except ImportError:                      # Windows: no flock; runs are not protected from each other
    fcntl = None

__all__ = ["FORMAT", "TRAINING_ENTRIES", "save_checkpoint", "load_checkpoint", "check_entries",
           "load_weights", "weight_mismatch", "check_writable", "lock_folder",
           "remove_stale_temporaries", "claim_folder"]

FORMAT = "alexnet-checkpoint-1"
LOCK_NAME = ".lock"
#: What ``alexnet train`` writes and ``--resume`` needs.
TRAINING_ENTRIES = frozenset({"model", "model_config", "optimizer", "scheduler", "scaler", "epoch",
                              "history", "train_config", "rng"})
#: Entries a checkpoint may have besides those: the marker, every rank's random-number state
#: (torch.distributed), the class names of the data, the validation split, the options changed on
#: --resume, and the weights of the best validation epoch (``restore_best``).
OPTIONAL_ENTRIES = frozenset({"format", "rng_ranks", "classes", "split", "config_changes",
                              "best_model"})
_TYPES = {"model": dict, "model_config": dict, "optimizer": dict, "scheduler": dict,
          "scaler": dict, "epoch": int, "history": list, "train_config": dict, "rng": dict,
          "rng_ranks": list, "classes": (list, type(None)), "split": (dict, type(None)),
          "config_changes": list, "best_model": (dict, type(None))}


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename, fsync the folder).
    A full disk or a Ctrl-C during the write is reported as what it is (:mod:`alexnet.files`),
    never torch's ``unexpected pos``; the previous checkpoint stays whole."""
    return write_atomic(path, lambda f: torch.save({"format": FORMAT, **state}, f),
                        kind="checkpoint", recognise=_is_checkpoint)


def _is_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a checkpoint of ``alexnet train`` (one written before folders kept a
    record of what the package wrote in them, see :mod:`alexnet.files`)."""
    try:
        load_checkpoint(path)
    except AlexNetError:
        return False
    return True


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


def check_entries(state: dict, path, needed=TRAINING_ENTRIES) -> dict:
    """One line for a checkpoint (a dict that loaded) that lacks an entry of ``needed``, has an entry
    this version does not know, or holds an entry of the wrong kind (weights that are not tensors,
    an epoch that is not a count)."""
    missing = sorted(set(needed) - set(state))
    unknown = sorted(map(str, set(state) - TRAINING_ENTRIES - OPTIONAL_ENTRIES))
    if missing or unknown:
        parts = ([f"lacks {', '.join(missing)}"] if missing else []) + \
                ([f"has entries this version does not know ({', '.join(unknown)})"] if unknown else [])
        raise AlexNetError(f"checkpoint {path} {' and '.join(parts)}: it was edited by hand or "
                           "written by another program or version; pass a checkpoint written by "
                           "`alexnet train`")
    for name, kind in _TYPES.items():
        if name in state and (not isinstance(state[name], kind) or isinstance(state[name], bool)):
            raise AlexNetError(f"checkpoint {path} has a {type(state[name]).__name__} for '{name}': "
                               "it was edited by hand; pass a checkpoint written by `alexnet train`")
    weights = state.get("model", {})
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
        raise AlexNetError(f"checkpoint {path} has weights that are not tensors: it was edited by "
                           "hand; pass a checkpoint written by `alexnet train`")
    if state.get("epoch", 0) < 0:
        raise AlexNetError(f"checkpoint {path} says epoch {state['epoch']}: it was edited by hand; "
                           "pass a checkpoint written by `alexnet train`")
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


# ---------------------------------------------------------------- one run per folder

_HELD: dict[str, list] = {}   # real path of a locked folder -> [file descriptor, depth]


@contextmanager
def lock_folder(folder: str | os.PathLike):
    """Hold an exclusive OS lock on ``folder`` (``flock`` on ``folder/.lock``) while the block runs.

    A second process asking for it gets one line naming the holder; the same process may enter
    again (the command line takes the lock before it loads the data, the trainer inside it). The
    kernel releases the lock when the process ends, even by SIGKILL. Where ``flock`` is missing
    (Windows) or refused (some network filesystems), a warning says the folder is unprotected.
    """
    folder = Path(folder)
    key = os.path.realpath(folder)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield folder
        finally:
            _HELD[key][1] -= 1
        return
    fd = _acquire(folder)
    _HELD[key] = [fd, 1]
    try:
        yield folder
    finally:
        del _HELD[key]
        if fd is not None:
            os.ftruncate(fd, 0)
            os.close(fd)                # releases the lock


def _acquire(folder: Path) -> int | None:
    """Lock ``folder/.lock`` and write this process's id and host into it; None if unsupported."""
    if fcntl is None:
        warnings.warn(f"cannot lock {folder} on this system: make sure no other run uses it")
        return None
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise AlexNetError(f"cannot write checkpoints to {folder} ({e.strerror or e}): choose a "
                           "writable --checkpoint-dir") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "a process starting up"
        os.close(fd)
        raise AlexNetError(f"checkpoint folder {folder} is in use by another run ({holder}): wait "
                           "for it to end (or stop it), or choose another --checkpoint-dir") from None
    except OSError as e:
        os.close(fd)
        warnings.warn(f"cannot lock {folder} ({e.strerror or e}): make sure no other run uses it")
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {platform.node() or 'this host'}\n".encode(), 0)
    return fd


def remove_stale_temporaries(folder: str | os.PathLike, name: str = "last.pt") -> list[Path]:
    """Delete what killed writes of ``folder/name`` left (``.name.*.tmp``, as large as a
    checkpoint). Call it only while holding :func:`lock_folder`: then no live run is writing them."""
    stale = sorted(Path(folder).glob(f".{name}.*.tmp")) + sorted(Path(folder).glob(".write-test-*"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


@contextmanager
def claim_folder(folder: str | os.PathLike | None, *, new_run: bool = False):
    """The one place a run takes its checkpoint folder, for as long as the block runs: rank 0
    checks that it is writable, locks it (:func:`lock_folder`: the command line takes it before
    it loads the data, the trainer again inside it) and removes stale temporary files; with
    ``new_run`` a ``last.pt`` already there is refused (days of training lost to a forgotten
    --resume). If any of it fails, every rank stops with the same line. ``None``: no folder."""
    with ExitStack() as held:
        if folder is not None:
            folder = Path(folder)

            def claim():
                check_writable(folder)
                held.enter_context(lock_folder(folder))
                remove_stale_temporaries(folder)
                if new_run and (folder / "last.pt").exists():
                    raise AlexNetError(f"{folder / 'last.pt'} already exists: pass --resume to "
                                       "continue that run, or choose another --checkpoint-dir")
            on_rank_zero(claim)
        yield
