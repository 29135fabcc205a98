"""§3.3's LRN on the CPU as one C loop each way (``lrn_cpu.c``), for the chunks of
:class:`alexnet.lrn._AnalyticLRN`.

Why C: written in PyTorch operations, the forward and its gradient take about 24 elementwise
passes over each chunk (squares, the window's additions, the power, the products); on an Intel
Xeon that stayed 9.5× the memory floor however the chunks were sized (``bench/NOTES.md``), and
``torch.compile``'s fused loops were slower still beside a busy process. No library exposes a
fast cross-channel LRN for PyTorch on the CPU (oneDNN has one; PyTorch does not call it). The C
loop reads ``a`` and writes ``b`` once forward, reads ``a`` and ``g`` and writes the gradient once
backward, with the window running along the channels of a block of positions held in cache.

The source is compiled at first use with the system's C compiler (``$CC``, else ``cc``), for the
CPU it runs on (``-march=native``), into a per-user cache (``$ALEXNET_KERNELS``, else
``~/.cache/alexnet/kernels``) named by the source, the flags and the CPU, so a home folder shared
by two kinds of CPU keeps one build for each. Where there is no compiler or the build fails, the
PyTorch operations compute the same function, and one warning says why.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor

__all__ = ["available", "build", "library", "openmp", "forward", "backward", "build_folder"]

SOURCE = Path(__file__).with_name("lrn_cpu.c")
#: Compiler flags, most specific first: a compiler that refuses one (-mprefer-vector-width is
#: x86's; -fopenmp needs an OpenMP runtime, which Apple's clang lacks; -march=native is refused
#: by some ARM toolchains) gets the next. The 512-bit vectors (on CPUs that have them) were
#: 15% faster on an Intel Xeon (``bench/NOTES.md``); -ffast-math was not worth its side effects
#: (its shared libraries flush every denormal of the process to zero). With -fopenmp the loop
#: runs on PyTorch's own OpenMP threads (``libgomp.so.1`` is loaded once per process, by name).
FLAGS = (("-O3", "-march=native", "-mprefer-vector-width=512", "-fopenmp", "-fno-math-errno"),
         ("-O3", "-march=native", "-fopenmp", "-fno-math-errno"),
         ("-O3", "-march=native", "-fno-math-errno"), ("-O3", "-fno-math-errno"))
_TYPES = {torch.float32: "float", torch.float64: "double"}


def build_folder() -> Path:
    """Where compiled kernels are kept: ``$ALEXNET_KERNELS``, else ``~/.cache/alexnet/kernels``
    (``$XDG_CACHE_HOME`` respected)."""
    if os.environ.get("ALEXNET_KERNELS"):
        return Path(os.environ["ALEXNET_KERNELS"])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "alexnet" / "kernels"


def _compile(compiler: str, flags: tuple[str, ...], target: Path) -> str | None:
    """Build ``target`` atomically (a temporary file renamed into place); the compiler's last
    error line if it failed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        built = Path(tmp) / target.name
        try:
            done = subprocess.run([compiler, *flags, "-fPIC", "-shared", str(SOURCE), "-o",
                                   str(built), "-lm"], capture_output=True, text=True,
                                  timeout=120)
        except (OSError, subprocess.TimeoutExpired) as error:
            return str(error)
        if done.returncode != 0:
            lines = [x for x in done.stderr.splitlines() if x.strip()]
            return lines[-1] if lines else f"{compiler} exited with {done.returncode}"
        os.replace(built, target)
    return None


@functools.lru_cache(maxsize=1)
def library() -> ctypes.CDLL | None:
    """The compiled kernels (built on the first call), or None with one warning saying why."""
    from ..runtime import cpu_model

    compiler = os.environ.get("CC", "cc")
    if shutil.which(compiler) is None:
        return _unavailable(f"no C compiler ({compiler!r}) on the PATH")
    error = "no flags tried"
    for flags in FLAGS:
        key = hashlib.sha256("\n".join([SOURCE.read_text(), compiler, *flags, cpu_model(),
                                        platform.machine()]).encode()).hexdigest()[:16]
        target = build_folder() / f"lrn_cpu-{key}{'.dll' if os.name == 'nt' else '.so'}"
        try:
            error = None if target.is_file() else _compile(compiler, flags, target)
            if error is None:
                lib = _declare(ctypes.CDLL(str(target)))
                lib.build = target.stem
                return lib
        except OSError as failure:
            error = str(failure)
    return _unavailable(f"building {SOURCE.name} failed: {error}")


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    i64, ptr, dbl = ctypes.c_int64, ctypes.c_void_p, ctypes.c_double
    lib.lrn_openmp.argtypes, lib.lrn_openmp.restype = [], ctypes.c_int
    shape = [i64] * 8 + [ctypes.c_int, dbl, dbl, dbl]
    for name in _TYPES.values():
        getattr(lib, f"lrn_forward_{name}").argtypes = [ptr, ptr] + shape
        getattr(lib, f"lrn_backward_{name}").argtypes = [ptr, ptr, ptr] + shape
    return lib


def _unavailable(why: str) -> None:
    warnings.warn(f"LRN on the CPU uses PyTorch operations ({why}); install a C compiler "
                  "(gcc or clang) for the faster C loop", stacklevel=4)
    return None


def build() -> str:
    """Which build computes LRN on this CPU: ``lrn_cpu-<key>`` (the key hashes the source, the
    compiler, its flags and the CPU), or ``pytorch-ops`` where none could be built. The run cache
    keys CPU runs by it (:func:`alexnet.reproduce.cache.code_sha256`): another build rounds
    differently."""
    lib = library()
    return lib.build if lib is not None else "pytorch-ops"


def openmp() -> bool:
    """Whether the build shares a call's blocks out over OpenMP threads itself (one parallel
    region a call, blocks handed out as threads come free); without it the caller cuts the
    tensor into chunks for its own threads."""
    lib = library()
    return lib is not None and bool(lib.lrn_openmp())


def available(dtype: torch.dtype = torch.float32) -> bool:
    """Whether the C loop computes LRN for tensors of ``dtype`` (float32, float64) here."""
    return dtype in _TYPES and library() is not None


def _layout(t: Tensor, dim: int) -> list[int]:
    """A chunk of :func:`alexnet.lrn._blocks`' view as the C loop's (outer, stride, groups,
    stride, N, stride, P, stride): (rows, N, P) for NCHW, (rows, P, groups, N) channels-last."""
    if dim == 1:
        (rows, n, p), (so, sc, sp) = t.shape, t.stride()
        return [rows, so, 1, 0, n, sc, p, sp]
    (rows, p, groups, n), (so, sp, sg, sc) = t.shape, t.stride()
    return [rows, so, groups, sg, n, sc, p, sp]


def _call(name: str, tensors: list[Tensor], dim: int, size: int, alpha: float, beta: float,
          k: float) -> None:
    first = tensors[0]
    assert all(t.shape == first.shape and t.stride() == first.stride()
               and t.dtype == first.dtype for t in tensors)
    function = getattr(library(), f"lrn_{name}_{_TYPES[first.dtype]}")
    if function(*[t.data_ptr() for t in tensors], *_layout(first, dim), size, alpha, beta, k):
        raise MemoryError("LRN's C loop could not allocate its block buffers")


def forward(a: Tensor, b: Tensor, dim: int, size: int, alpha: float, beta: float,
            k: float) -> None:
    """``b`` = LRN of ``a``: one chunk of :func:`alexnet.lrn._blocks`' view (channels along
    ``dim``); ``a`` and ``b`` share shape and strides."""
    _call("forward", [a, b], dim, size, alpha, beta, k)


def backward(a: Tensor, g: Tensor, d: Tensor, dim: int, size: int, alpha: float, beta: float,
             k: float) -> None:
    """``d`` = the gradient of LRN at ``a`` given ``g`` = ∂L/∂b, for one chunk as in
    :func:`forward`."""
    _call("backward", [a, g, d], dim, size, alpha, beta, k)
