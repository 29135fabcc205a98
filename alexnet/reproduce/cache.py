"""The run cache: a finished run's record, kept under the identity that decides it.

A run trains once per machine; its entry (``$ALEXNET_CACHE/reproduce/<scale>/<key>.pt``) is reused
only by a run that would compute the same numbers. The key is a hash of the run's **identity**:

- what the caller says decides the run (the arm, the regime's settings, the seed, ...), which must
  include the SHA-256 of the data it reads and the device it runs on;
- the scale, the torch version, and the **code that runs**: the SHA-256 of every module of the
  package that :mod:`alexnet.reproduce.runs` imports, followed import by import
  (:func:`code_sha256`), plus the fused LRN of the device (``alexnet/kernels/``): the Triton
  kernel on CUDA, the C loop and its C source on the CPU.
  A package's ``__init__`` counts only where a name is imported from it, not where the import
  names a module of its own (``from . import cache``): so the claims, the statistics and the
  ledger can change while long runs are cached, and a change to the model or the loop cannot.

The identity is stored **inside** the entry and compared on load, so an entry is never trusted by
its file name alone: one whose recorded identity differs (another seed's file copied into place, a
hash collision, a hand edit), that does not load as plain tensors and values
(``weights_only=True``), or whose record fails its schema (non-finite or impossible numbers) is
deleted with a one-line note and the run is trained again. An entry holds no weights: what the
claims measure on a trained network is in its record (:mod:`.probes`). Entries are written atomically (:mod:`alexnet.files`); a full disk is one line.

::

    entry = cache.entry(scale, {"arm": ..., "seed": 0, "data_sha256": ..., "device": "cpu"})
    record = entry.load()               # None: train, then entry.store(record)
"""
from __future__ import annotations

import ast
import hashlib
import json
import sys
from functools import lru_cache
from pathlib import Path

import torch

from .. import schema
from ..datasets import cache_dir
from ..errors import AlexNetError
from ..files import write_atomic
from .settings import Scale

__all__ = ["FORMAT", "RECORD_RULES", "Entry", "entry", "code_sha256", "modules_imported"]

FORMAT = "alexnet-run-cache-3"   # 3: records only, no weights
PACKAGE = Path(__file__).resolve().parents[1]
#: What a cached record must hold where it has it (alexnet.schema).
RECORD_RULES = [("seed", schema.integer(0, optional=True)),
                ("seconds", schema.number(0, optional=True)),
                ("metrics", schema.mapping(optional=True)),
                ("metrics.test_top1", schema.number(0, 1, optional=True)),
                ("metrics.train_top1", schema.number(0, 1, optional=True)),
                ("metrics.test_loss", schema.number(0, optional=True)),
                ("metrics.train_loss", schema.number(0, optional=True)),
                ("curve", schema.listing(optional=True)),
                ("final_train_top1", schema.number(0, 1, optional=True)),
                ("probes", schema.mapping(optional=True))]
#: What every identity must name: the data read and the device run on.
REQUIRED = ("data_sha256", "device")


def _imports(path: Path) -> set[Path]:
    """The package modules ``path`` imports (relative or absolute, at any depth of the file)."""
    here = path.relative_to(PACKAGE).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
            elif (node.module or "").split(".")[0] == "alexnet":
                base = ()
                node = ast.ImportFrom(node.module.partition(".")[2] or None, node.names, 1)
            else:
                continue
            stem = list(base) + (node.module.split(".") if node.module else [])
            submodules = [stem + [alias.name] for alias in node.names]
            # the package's __init__ only where a name is not a module of its own: a run that
            # imports ``from . import cache`` runs cache.py, not what __init__ re-exports
            whole = all(_module_file(s) for s in submodules)
            candidates = submodules + ([] if whole else [stem])
        elif isinstance(node, ast.Import):
            candidates = [n.name.split(".")[1:] for n in node.names
                          if n.name.split(".")[0] == "alexnet"]
        else:
            continue
        found.update(f for f in map(_module_file, candidates) if f)
    return found


def _module_file(parts: list[str]) -> Path | None:
    """The package file of module ``parts`` (``a/b.py`` or ``a/b/__init__.py``), if any."""
    if not parts:
        return None
    for file in (PACKAGE.joinpath(*parts).with_suffix(".py"),
                 PACKAGE.joinpath(*parts, "__init__.py")):
        if file.is_file():
            return file
    return None


@lru_cache(maxsize=None)
def modules_imported(root: str = "reproduce/runs.py", cuda: bool = False) -> tuple[str, ...]:
    """The package files a run imports, from ``root`` import by import; of ``kernels/``, what
    runs on the device: the Triton LRN for CUDA, the C loop (its module and C source) else."""
    todo, seen = [PACKAGE / root], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(_imports(path) - seen)
    kept = {p for p in seen if p.relative_to(PACKAGE).parts[0] != "kernels"}
    kept |= {PACKAGE / "kernels" / name
             for name in (("lrn.py",) if cuda else ("lrn_cpu.py", "lrn_cpu.c"))}
    return tuple(sorted(p.relative_to(PACKAGE).as_posix() for p in kept))


@lru_cache(maxsize=None)
def code_sha256(cuda: bool = False) -> str:
    """A SHA-256 over the source of every module a run imports (:func:`modules_imported`) and,
    on the CPU, the build of the C loop that computes LRN (:func:`alexnet.kernels.lrn_cpu.build`:
    its compiler, flags and CPU, or none)."""
    digest = hashlib.sha256()
    for name in modules_imported(cuda=cuda):
        digest.update(name.encode() + b"\0" + (PACKAGE / name).read_bytes() + b"\0")
    if not cuda:
        from ..kernels import lrn_cpu

        digest.update(lrn_cpu.build().encode())
    return digest.hexdigest()


def _plain(value):
    """``value`` as JSON would give it back (tuples as lists, keys as strings)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


class Entry:
    """One run's place in the cache: ``load`` it (None: train it), then ``store`` it."""

    def __init__(self, path: Path, identity: dict) -> None:
        self.path, self.identity = path, identity

    def _drop(self, why: str) -> None:
        print(f"reproduce: run cache entry {self.path.name} {why}: deleted, the run is trained "
              "again", file=sys.stderr, flush=True)
        self.path.unlink(missing_ok=True)

    def load(self) -> dict | None:
        """The stored record, or None when there is no entry or it is dropped (a one-line note
        says why)."""
        if not self.path.is_file():
            return None
        try:
            stored = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - a damaged entry is retrained, never trusted
            self._drop(f"does not load as plain tensors and values ({type(e).__name__})")
            return None
        if not isinstance(stored, dict) or stored.get("format") != FORMAT or \
                not isinstance(stored.get("record"), dict):
            self._drop("is not a run-cache entry of this version")
            return None
        if _plain(stored.get("identity")) != _plain(self.identity):
            self._drop("was made by another run (its recorded identity differs)")
            return None
        try:
            schema.validate(stored["record"], RECORD_RULES, self.path, "it is retrained")
        except AlexNetError as e:
            self._drop(f"holds a bad record ({str(e).split(': field ', 1)[-1]})")
            return None
        return stored["record"]

    def store(self, record: dict) -> Path:
        """Write the record and the identity, atomically."""
        entry = {"format": FORMAT, "identity": self.identity, "record": record}
        return write_atomic(self.path, lambda f: torch.save(entry, f), kind="run cache entry",
                            force=True)


def entry(scale: Scale | str, identity: dict) -> Entry:
    """The cache entry of the run ``identity`` describes at ``scale``. ``identity`` must name the
    data's SHA-256 (``data_sha256``) and the device (``device``: its type or name); the code that
    runs, the scale and the torch version are added here."""
    missing = [k for k in REQUIRED if k not in identity]
    if missing:
        raise ValueError(f"a run's identity must name {', '.join(missing)}")
    name = getattr(scale, "name", scale)
    cuda = str(identity["device"]).startswith("cuda")
    full = _plain({**identity, "scale": name, "code": code_sha256(cuda), "torch": torch.__version__,
                   "format": FORMAT})
    key = hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()[:32]
    return Entry(cache_dir() / "reproduce" / name / f"{key}.pt", full)
