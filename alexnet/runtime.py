"""Where the code runs: devices, CPU cores, the memory allocator, and the record of a run.

Small helpers that the trainer, the command line, the benchmarks and the experiments share:

- :func:`resolve_device`: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, with one clear line otherwise;
- :func:`amp_support` and :func:`check_amp`: the autocast precisions the device's hardware has
  (its capability decides, never an emulation flag), the one place the trainer, the command line
  and the benchmarks ask; :func:`triton_supports`: whether Triton supports the device;
  :func:`memory_format`: channels-last for convolutional networks on CUDA;
  :func:`exact_float32`: TF32 off inside a block, for equality checks;
- :func:`usable_cpus` and :func:`default_workers`: the cores this process may use (its CPU
  affinity and its cgroup's quota, as in a container or a Colab runtime), and how many
  data-loading workers fit them;
- :func:`keep_freed_memory`: glibc returns every freed block above 32 MiB (many activations of
  the full network) to the system, and the next allocation of that size pays a page fault per
  4 KiB page; this keeps freed memory for reuse, as the jemalloc or tcmalloc that PyTorch's CPU
  tuning guide recommends would;
- :func:`machine` and :func:`provenance`: what a stored number needs beside it (command, commit,
  device, CPU model, threads, load, versions, date), one record for the benchmarks and the
  experiments;
- :func:`write_atomic` and :func:`write_json`: :mod:`alexnet.files`'s one atomic write (a crash
  leaves the old file or the new one; a file the package did not make is not replaced), here
  for the modules that import them from this one.
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import math
import json
import os
import platform
import shlex
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import torch

from .errors import AlexNetError

__all__ = ["positive_int", "nonnegative_int", "positive_float", "nonnegative_float", "probability",
           "resolve_device", "amp_support", "check_amp", "triton_supports", "memory_format",
           "exact_float32", "usable_cpus", "default_workers", "keep_freed_memory", "cpu_model",
           "cpu_caches", "cpu_has_bf16", "machine", "code_state", "provenance", "write_atomic",
           "write_json"]

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- numbers on the command line

def _number(text: str, ok, what: str, cast=float):
    """Parse a command-line number with ``cast`` and check it with ``ok``: one clear line if not."""
    try:
        value = cast(text)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if not (math.isfinite(value) and ok(value)):
        raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _number(text, lambda v: v >= 1, "a positive integer", int)


def nonnegative_int(text: str) -> int:
    return _number(text, lambda v: v >= 0, "an integer >= 0", int)


def positive_float(text: str) -> float:
    return _number(text, lambda v: v > 0, "a positive number")


def nonnegative_float(text: str) -> float:
    return _number(text, lambda v: v >= 0, "a number >= 0")


def probability(text: str) -> float:
    """A dropout rate (§4.2): 0 <= p < 1."""
    return _number(text, lambda v: 0 <= v < 1, "a probability in [0, 1)")


# ---------------------------------------------------------------- devices and cores

def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA if present), ``cpu``, ``cuda`` or ``cuda:N``, with a clear error otherwise."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise AlexNetError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise AlexNetError(f"--device {name}: CUDA is not available on this machine; use "
                               "--device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise AlexNetError(f"--device {name}: this machine has {torch.cuda.device_count()} "
                               "CUDA device(s)")
    elif device.type != "cpu":
        raise AlexNetError(f"unsupported device {name!r}: use auto, cpu, cuda or cuda:N")
    return device


#: The compute capability from which Triton supports NVIDIA GPUs (its README since 3.3), and from
#: which they compute bfloat16 in hardware (Ampere, sm_80). Colab's free T4 is 7.5: neither.
TRITON_MIN_CAPABILITY = (8, 0)
BF16_MIN_CAPABILITY = (8, 0)


def _capability(device: torch.device) -> tuple[int, int]:
    return tuple(torch.cuda.get_device_capability(device))


def amp_support(device: torch.device | str) -> tuple[str, ...]:
    """The autocast precisions ``device`` computes in hardware, the preferred one first.

    - CUDA: ``("bf16", "fp16")`` from capability 8.0 (and on ROCm); below it ``("fp16",)``, since a
      T4 (7.5) has no bfloat16 arithmetic and cuDNN no bfloat16 convolutions there. This is
      ``torch.cuda.is_bf16_supported(including_emulation=False)``, asked of ``device`` rather than
      of the current GPU; the default ``is_bf16_supported()`` counts emulation and says True.
    - CPU: ``("bf16",)`` where oneDNN reports bfloat16 instructions (:func:`cpu_has_bf16`), else
      none; float16 autocast on a CPU is slower than float32 and is not offered.
    """
    device = torch.device(device)
    if device.type == "cuda":
        if torch.version.hip or _capability(device) >= BF16_MIN_CAPABILITY:
            return ("bf16", "fp16")
        return ("fp16",)
    if device.type == "cpu":
        return ("bf16",) if cpu_has_bf16() else ()
    return ()


def check_amp(amp: str | None, device: torch.device | str) -> None:
    """One line if ``device``'s hardware lacks the ``amp`` precision (:func:`amp_support`)."""
    if amp is None:
        return
    device = torch.device(device)
    supported = amp_support(device)
    if amp in supported:
        return
    if device.type == "cuda":
        major, minor = _capability(device)
        raise AlexNetError(f"--amp {amp}: {device} ({torch.cuda.get_device_name(device)}, compute "
                           f"capability {major}.{minor}) has no bfloat16 arithmetic (it needs "
                           "8.0+): use --amp fp16 (with a gradient scaler), or leave --amp out")
    if amp == "fp16":
        raise AlexNetError(f"--amp fp16 needs a CUDA device, but training runs on {device}: use "
                           "--amp bf16 (CPUs with bfloat16 instructions), leave --amp out, or "
                           "train on a GPU")
    raise AlexNetError(f"--amp {amp}: this CPU ({cpu_model()}) has no bfloat16 instructions "
                       "(AVX-512 BF16 or AMX), so bf16 would run emulated and slower than fp32: "
                       "leave --amp out")


def triton_supports(device: torch.device | str) -> bool:
    """Whether Triton supports ``device``: NVIDIA GPUs of capability 8.0+ (Triton's README since
    3.3; on a T4, 7.5, "it may work at times"), and AMD GPUs under ROCm."""
    device = torch.device(device)
    if device.type != "cuda":
        return False
    return bool(torch.version.hip) or _capability(device) >= TRITON_MIN_CAPABILITY


def memory_format(model: torch.nn.Module, device: torch.device | str) -> torch.memory_format:
    """Channels-last for a network with 2-d convolutions on CUDA (cuDNN's tensor-core kernels
    are NHWC; ``bench`` measures this layout), the default NCHW elsewhere."""
    convolutional = any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    if torch.device(device).type == "cuda" and convolutional:
        return torch.channels_last
    return torch.contiguous_format


@contextmanager
def exact_float32():
    """TF32 off for matrix products and cuDNN convolutions inside the block (restored after):
    an Ampere or later GPU otherwise rounds float32 operands to 10-bit mantissas (cuDNN's
    default), too coarse for a 1e-5 equality between two float32 computations."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _cgroup_cpus() -> float | None:
    """The CPU quota of this process's cgroup (v2 ``cpu.max``, or v1), in cores; None if none."""
    for quota_file, period_file in (("/sys/fs/cgroup/cpu.max", None),
                                    ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                                     "/sys/fs/cgroup/cpu/cpu.cfs_period_us")):
        try:
            fields = Path(quota_file).read_text().split()
            if period_file:
                fields.append(Path(period_file).read_text().strip())
        except OSError:
            continue
        if len(fields) >= 2 and fields[0] not in ("max", "-1"):
            return int(fields[0]) / int(fields[1])
    return None


def usable_cpus() -> int:
    """Cores this process may run on: its CPU affinity, capped by its cgroup's quota (at least 1)."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:                      # macOS, Windows
        count = os.cpu_count() or 1
    quota = _cgroup_cpus()
    if quota is not None:
        count = min(count, max(1, int(quota)))
    return max(1, count)


def default_workers() -> int:
    """Data-loading worker processes for image folders: one per usable core, at most 8.

    Decoding JPEGs in the training process itself is slower than in workers, and more workers
    than cores only make PyTorch warn. Measured on two Intel Xeon cores with the training process
    on the same cores (``alexnet bench --parts workers``,
    ``bench/results/cpu-intel-xeon-workers.json``, load average 6 from other processes): an
    AlexNet SGD step of batch 32 fed from the ImageNet sample folder took 1.08× (1.06–1.11) the
    time of the same step on a batch in memory with 2 workers, 1.19× (1.10–1.29) with 1 and
    1.26× (1.00–1.51) with none. Decoding plus §4.1's augmentation is 1.5 ms of CPU an image,
    under 1 % of the two cores during a step; the rest of the loss is batching and handing the
    batch over, and an earlier run at load 8 ranked 1 worker above 2, so between one and two
    the difference is within that machine's noise.
    """
    return min(8, usable_cpus())


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks of any size for reuse (``mallopt``); True if it did.

    By default glibc hands blocks over 32 MiB back to the system when they are freed, and the next
    one is new memory that faults in page by page: on a CPU, a training step of the full network
    spends a large share of its time there. The cost is that memory is not returned to the system
    while the process lives (it stays at its peak, as a training run's does anyway). A no-op
    off glibc (macOS, Windows, musl). Called by ``alexnet train``, ``bench`` and ``reproduce`` on
    the CPU; call it yourself before training on a CPU from Python.
    """
    if sys.platform != "linux" or not platform.libc_ver()[0] == "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3      # from glibc's malloc.h
    return bool(libc.mallopt(m_mmap_threshold, 1 << 30)) and \
        bool(libc.mallopt(m_trim_threshold, (1 << 31) - 1))


# ---------------------------------------------------------------- what machine, what code

@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what :mod:`platform` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: Cache sizes assumed where the system does not say (per core: L1 data, L2; L3 shared): a
#: typical x86 core of the last decade. :func:`cpu_caches` reports ``"source": "assumed"``.
ASSUMED_CACHES = {"L1d": 32 << 10, "L2": 1 << 20, "L3": 8 << 20}


@lru_cache(maxsize=1)
def cpu_caches() -> dict:
    """The data caches of the CPU this process runs on, in bytes, and where that was read.

    ``{"L1d": ..., "L2": ..., "L3": ..., "L3_shared_by": cores, "source": ...}``. On Linux from
    ``/sys/devices/system/cpu/cpu0/cache/index*/`` (``level``, ``type``, ``size``,
    ``shared_cpu_list``); elsewhere from ``os.sysconf`` (``SC_LEVEL2_CACHE_SIZE``, glibc) or
    macOS's ``sysctl hw.l2cachesize``; any size none of them gives is :data:`ASSUMED_CACHES`'s.
    Block sizes of the CPU code (the LRN's chunks) are derived from these, not tuned constants.
    """
    found, source, shared = {}, None, 1
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level, kind, size = ((index / f).read_text().strip() for f in ("level", "type", "size"))
            cpus = (index / "shared_cpu_list").read_text().strip()
        except OSError:
            continue
        if kind in ("Data", "Unified") and size[:-1].isdigit():
            name = "L1d" if level == "1" else f"L{level}"
            found[name] = int(size[:-1]) << {"K": 10, "M": 20, "G": 30}.get(size[-1], 0)
            if name == "L3":
                shared = sum(1 + (int(b) - int(a) if "-" in part else 0)
                             for part in cpus.split(",") for a, _, b in [part.partition("-")])
            source = "/sys/devices/system/cpu/cpu0/cache"
    for name, key in (("L1d", "SC_LEVEL1_DCACHE_SIZE"), ("L2", "SC_LEVEL2_CACHE_SIZE"),
                      ("L3", "SC_LEVEL3_CACHE_SIZE")):
        if name not in found and key in getattr(os, "sysconf_names", {}):
            value = os.sysconf(key)
            if value > 0:
                found[name], source = value, source or "os.sysconf"
    if "L2" not in found and sys.platform == "darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "hw.l1dcachesize", "hw.l2cachesize"],
                                 capture_output=True, text=True, timeout=5).stdout.split()
            found.update(L1d=int(out[0]), L2=int(out[1]))
            source = "sysctl"
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            pass
    assumed = [name for name in ASSUMED_CACHES if name not in found]
    caches = {**ASSUMED_CACHES, **found, "L3_shared_by": shared}
    caches["source"] = (source or "assumed") + (f"; assumed {', '.join(assumed)}"
                                                if assumed and source else "")
    return caches


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX-512 BF16 or AMX), as oneDNN reports it."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def machine(device: torch.device | str = "cpu") -> dict:
    """The device, and for the CPU its model, cores, threads and current load (1, 5, 15 min)."""
    device = torch.device(device)
    info = {"cpu_model": cpu_model(), "cpu_cores_usable": usable_cpus(),
            "threads": torch.get_num_threads(), "load_average": _load(),
            "cpu_bf16": cpu_has_bf16(), "cpu_caches": cpu_caches()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(device=props.name, gpu_capability=f"{props.major}.{props.minor}",
                    gpu_memory_gib=round(props.total_memory / 2 ** 30, 1))
    else:
        info["device"] = (f"CPU: {info['cpu_model']} ({info['cpu_cores_usable']} usable cores, "
                          f"{info['threads']} threads)")
    return info


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


@lru_cache(maxsize=1)
def code_state() -> dict:
    """The code behind a result, read once per process: the git commit (or ``ALEXNET_COMMIT`` in
    a copy without ``.git``), whether the working tree differs from it and which package files do,
    and a SHA-256 over the package's source files, which ties a result to its code even before
    the code is committed."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    status, commit = _git("status", "--porcelain", "--untracked-files=no"), _git("rev-parse", "HEAD")
    changed = [line[3:] for line in (status or "").splitlines()]
    return {"git_commit": commit.strip() if commit else os.environ.get("ALEXNET_COMMIT"),
            "dirty": bool(changed) if status is not None else None,
            "uncommitted_package_files": sorted(f for f in changed if f.startswith("alexnet/")),
            "source_sha256": digest.hexdigest()}


def _versions() -> dict:
    import numpy
    import torchvision

    from . import __version__

    try:
        import triton
        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    return {"python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "torchvision": torchvision.__version__,
            "triton": triton_version, "numpy": numpy.__version__, "alexnet": __version__}


def provenance(device: torch.device | str = "cpu", command: str | None = None) -> dict:
    """One record for every stored number: command, code, machine, versions, UTC date."""
    argv = getattr(sys, "orig_argv", [sys.executable, *sys.argv])  # orig_argv keeps "-m alexnet"
    return {"command": command or shlex.join(argv), **code_state(), **machine(device),
            "host": platform.node(), "versions": _versions(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


# ---------------------------------------------------------------- files

from .files import write_atomic, write_json  # noqa: E402  (one atomic write: alexnet.files)
