"""Every file the package writes goes through here: atomic, owned, and checked before the work.

- :func:`write_atomic` writes to a temporary file beside the destination, fsyncs it, renames it
  over the destination and fsyncs the folder: a crash at any moment leaves the old file or the
  new one, never half of one, and a failure removes the temporary file.
- **Nothing it did not make is replaced.** Each folder the package writes into keeps a record
  (``.alexnet-written.json``) of the files it wrote there: their *kind* (checkpoint, result,
  bench, ...), size, modification time and SHA-256. An existing file is replaced only when the
  record says the package wrote it, as the same kind, and it is unchanged since; anything else (a
  file of the user's, a checkpoint under a benchmark's ``--out``, a result edited by hand) is
  refused with one line unless ``force`` (``--force`` on the command line: :func:`replacing`).
- :func:`check_destination` runs the same check, and whether the folder can be written, so a
  command calls it *before* the work (hours of training, minutes of measuring), not after.
- :func:`write_all` writes a set of files all or none: every temporary first, then the renames.
- Faults are raised as what they are: a full disk as its ``OSError`` (ENOSPC, naming the
  destination), which the command line prints in one line, and a Ctrl-C as
  ``KeyboardInterrupt``. torch's zip writer turns either into ``RuntimeError: [enforce fail at
  inline_container.cc] unexpected pos``; the file handed to it records the first error its
  ``write`` met, and that error is raised instead.
- The record is written before each rename and keeps the version it replaces too, so a process
  killed between the two leaves a file the record still vouches for.
- :func:`locked` holds an OS lock on a folder (``flock``) for a read-merge-write
  (:func:`update_json`) that two processes may do at once.
"""
from __future__ import annotations

import contextvars
import errno
import hashlib
import json
import os
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterable

from .errors import AlexNetError

try:
    import fcntl
except ImportError:                        # Windows: no flock; concurrent merges are not guarded
    fcntl = None

__all__ = ["RECORD", "PROTECTED", "protect", "replacing", "check_destination", "write_atomic",
           "write_json", "write_all", "json_text", "locked", "update_json", "disk_error"]

#: The record, in each folder written into, of the files the package wrote there.
RECORD = ".alexnet-written.json"
_FORCE = contextvars.ContextVar("alexnet_force", default=False)
_HELD: set[str] = set()                    # folders this process holds the lock of
#: Folders written only when asked for by name and with force: the results the package ships.
PROTECTED: set[str] = set()


def protect(folder: str | os.PathLike) -> None:
    """Make ``folder`` writable only with ``force`` (``--out FOLDER --force``), new files too."""
    PROTECTED.add(os.path.realpath(folder))


@contextmanager
def replacing(force: bool):
    """Inside the block, writes may replace files the package did not make (``--force``)."""
    token = _FORCE.set(bool(force))
    try:
        yield
    finally:
        _FORCE.reset(token)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def _record(folder: Path) -> dict:
    try:
        found = json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _version(path: Path) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": _sha256(path)}


def _made_here(path: Path, kind: str, recognise: Callable | None) -> bool:
    """Whether the package wrote ``path`` as ``kind`` and nobody changed it since: it is one of
    the versions the record holds (the last one written, and the one before it, which is still
    there if the process died between recording the new one and renaming it into place)."""
    entry = _record(path.parent).get(path.name)
    if isinstance(entry, dict) and entry.get("kind") == kind:
        stat, versions = path.stat(), entry.get("versions", [])
        if any([stat.st_size, stat.st_mtime_ns] == [v.get("size"), v.get("mtime_ns")]
               for v in versions):
            return True
        if any(stat.st_size == v.get("size") for v in versions):
            digest = _sha256(path)
            if any(digest == v.get("sha256") for v in versions):
                return True
    return recognise is not None and bool(recognise(path))


def check_destination(path: str | os.PathLike, kind: str = "file", force: bool | None = None,
                      recognise: Callable | None = None) -> Path:
    """One line, before any work, if ``path`` cannot be written or would replace a file the
    package did not make as ``kind`` (unless ``force``). ``recognise(path)`` may vouch for a
    file written before folders kept a record (an ``alexnet train`` checkpoint)."""
    path = Path(path)
    force = _FORCE.get() if force is None else force
    if path.is_dir():
        raise AlexNetError(f"{path} is a folder: give a file name")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise AlexNetError(f"cannot write {path}: {blocker} is a file, not a folder")
    if not force and os.path.realpath(path.parent) in PROTECTED:
        raise AlexNetError(f"{path.parent} holds the files the package ships and is written only "
                           f"when asked for: pass --out {path.parent} with --force (force=True) "
                           "to regenerate them, or write elsewhere with --out")
    if path.exists() and not force and not _made_here(path, kind, recognise):
        raise AlexNetError(f"{path} already exists and alexnet did not write it as a {kind} (or "
                           "it changed since): choose another path, or pass --force "
                           "(force=True) to replace it")
    existing = next(p for p in (path.parent, *path.parents) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise AlexNetError(f"cannot write {path}: {existing} is not writable; choose another "
                           "path")
    return path


def disk_error(path: Path, error: BaseException) -> OSError:
    """The ``OSError`` a failed write of ``path`` is: the disk's own (a full disk: ENOSPC), named
    by the destination rather than the temporary file, or, for a writer that hid it (torch's
    ``unexpected pos``), an I/O error saying so. The command line prints it in one line."""
    if isinstance(error, OSError):
        return OSError(error.errno, error.strerror or str(error), str(path))
    first = str(error).strip().splitlines()[0][:160] if str(error).strip() else repr(error)
    return OSError(errno.EIO, f"the disk failed while writing ({first})", str(path))


class _Watched:
    """A file whose ``write`` remembers the first error it raised (a full disk, a Ctrl-C), which
    torch's zip writer would otherwise replace by its own ``RuntimeError``."""

    def __init__(self, file) -> None:
        self.file, self.error = file, None

    def write(self, data):
        try:
            return self.file.write(data)
        except BaseException as e:
            self.error = self.error or e
            raise

    def __getattr__(self, name):
        return getattr(self.file, name)


def _temporary(path: Path, write: Callable, binary: bool) -> str:
    """``write`` into a fsynced temporary file beside ``path``; its name. On failure it is
    removed and the error re-raised as what it is."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    watched = None
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            watched = _Watched(f)
            write(watched)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; these files are as readable as any
        return tmp
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        cause = watched.error if watched is not None and watched.error is not None else e
        if isinstance(cause, (KeyboardInterrupt, SystemExit)):
            raise cause from None
        if isinstance(cause, OSError) or "inline_container" in str(cause) or \
                "PytorchStreamWriter" in str(cause):
            raise disk_error(path, cause) from None
        raise


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:                                  # e.g. Windows: folders cannot be opened
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def locked(folder: str | os.PathLike):
    """An exclusive OS lock (``flock``) on ``folder`` itself while the block runs; it waits for
    another holder. A no-op where ``flock`` is missing."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(folder)
    if fcntl is None or key in _HELD:                # this process holds it already
        yield folder
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD.add(key)
        yield folder
    finally:
        _HELD.discard(key)
        os.close(fd)                                 # releases the lock


def _remember(paths: Iterable[tuple[Path, str, str]]) -> None:
    """Record the files about to be renamed into place (``(path, kind, temporary)``), before the
    rename: their new version first, the one they replace second."""
    by_folder: dict[Path, list] = {}
    for path, kind, tmp in paths:
        by_folder.setdefault(path.parent, []).append((path, kind, tmp))
    for folder, written in by_folder.items():
        with locked(folder):
            record = _record(folder)
            for path, kind, tmp in written:
                old = record.get(path.name)
                kept = old.get("versions", [])[:1] if isinstance(old, dict) and \
                    old.get("kind") == kind and path.exists() else []
                record[path.name] = {"kind": kind, "versions": [_version(Path(tmp)), *kept]}
            text = json.dumps(record, indent=1, sort_keys=True)
            tmp = _temporary(folder / RECORD, lambda f: f.write(text), binary=False)
            os.replace(tmp, folder / RECORD)


def write_all(files: list[tuple], force: bool | None = None) -> list[Path]:
    """Write ``files`` (``(path, write, binary, kind)`` each) all or none: every destination is
    checked, every temporary written, and only then are they renamed into place."""
    files = [(Path(p), w, b, k) for p, w, b, k in files]
    for path, _, _, kind in files:
        check_destination(path, kind, force)
    done = []
    try:
        for path, write, binary, kind in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            done.append((path, _temporary(path, write, binary), kind))
        with ExitStack() as held:
            for folder in sorted({path.parent for path, _, _ in done}):
                held.enter_context(locked(folder))
            for path, _, kind in done:          # again, now that no other writer can step in
                check_destination(path, kind, force)
            _remember((path, kind, tmp) for path, tmp, kind in done)
            for path, tmp, _ in done:
                os.replace(tmp, path)
            for folder in {path.parent for path, _, _ in done}:
                _fsync_folder(folder)
    finally:
        for _, tmp, _ in done:
            Path(tmp).unlink(missing_ok=True)
    return [path for path, _, _ in done]


def write_atomic(path: str | os.PathLike, write: Callable, binary: bool = True, *,
                 kind: str = "file", force: bool | None = None,
                 recognise: Callable | None = None) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path`` and rename it over ``path``
    (:func:`check_destination` before and again under the folder's lock): the old file or the
    new one, never half of one."""
    path = check_destination(path, kind, force, recognise)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path, write, binary)
    try:
        with locked(path.parent):
            check_destination(path, kind, force, recognise)
            _remember([(path, kind, tmp)])
            os.replace(tmp, path)
            _fsync_folder(path.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def json_text(obj) -> str:
    """``obj`` as indented JSON; NaN and infinity are not JSON and are refused."""
    try:
        return json.dumps(obj, indent=1, allow_nan=False) + "\n"
    except ValueError as e:
        raise AlexNetError(f"refusing to write a non-finite number as JSON ({e})") from None


def write_json(obj, path: str | os.PathLike, *, kind: str = "json",
               force: bool | None = None) -> Path:
    """``obj`` as indented JSON, written atomically (:func:`write_atomic`)."""
    text = json_text(obj)
    return write_atomic(path, lambda f: f.write(text), binary=False, kind=kind, force=force)


def update_json(path: str | os.PathLike, merge: Callable[[dict | None], dict], *,
                kind: str = "json", read: Callable | None = None) -> dict:
    """Read ``path`` (``read(path)``, default plain JSON; None if absent), ``merge`` it with what
    this process adds, and write the result, all under :func:`locked` on its folder: two
    processes updating one file at once both keep their part."""
    path = Path(path)
    with locked(path.parent):
        current = None
        if path.is_file():
            current = read(path) if read else json.loads(path.read_text())
        merged = merge(current)
        write_json(merged, path, kind=kind)
    return merged
