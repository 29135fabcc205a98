"""Timing: calls timed back to back or interleaved round by round, ratios of interleaved
rounds, the device's copy bandwidth and matrix-product rate, and busy processes beside the
timed one (``--contention``)."""
from __future__ import annotations

import contextlib
import signal
import statistics
import subprocess
import sys
import time
from typing import Callable

import torch

__all__ = ["time_calls", "interleaved", "ratio", "copy_bandwidth", "matmul_rate", "guarded",
           "contention", "Busy"]


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def _seconds(fn: Callable[[], object], device: str, calls: int) -> float:
    """Seconds per call of ``fn`` over ``calls`` back-to-back calls (CUDA events on the GPU)."""
    if device.startswith("cuda"):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / calls
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def _spread(seconds: list[float]) -> dict:
    return {"median_s": statistics.median(seconds), "min_s": min(seconds), "max_s": max(seconds),
            "n": len(seconds)}


def time_calls(fn: Callable[[], object], device: str, warmup: int, repeats: int) -> dict:
    """Seconds per call of ``fn``: median, min, max over ``repeats`` calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    return _spread([_seconds(fn, device, 1) for _ in range(repeats)])


def interleaved(fns: dict[str, Callable[[], object]], device: str, warmup: int, rounds: int,
                calls: int = 1) -> dict:
    """Time several functions round-robin: in each of ``rounds`` rounds every function runs
    ``calls`` calls. Returns each one's spread of per-round seconds per call, and its per-round
    seconds (``rounds_s``) for ratios taken round by round."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    per_round: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            per_round[name].append(_seconds(fn, device, calls))
    return {name: {**_spread(s), "rounds_s": s} for name, s in per_round.items()}


def ratio(a: dict, b: dict) -> dict:
    """``a``'s time over ``b``'s, round by round: median and range (>1: ``a`` is slower)."""
    values = [x / y for x, y in zip(a["rounds_s"], b["rounds_s"])]
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def copy_bandwidth(device: str) -> dict:
    """Bytes/s of a large device-to-device copy, counting bytes read plus bytes written."""
    nbytes = (1 << 30) if device.startswith("cuda") else (256 << 20)
    source = torch.randint(0, 255, (nbytes,), dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    timing = time_calls(lambda: target.copy_(source), device, 3, 10)
    return {"bytes_per_s": 2 * nbytes / timing["median_s"], "copy_bytes": nbytes, **timing}


def matmul_rate(device: str, dtype: torch.dtype) -> dict:
    """Flop/s of a large square matrix product in ``dtype`` through the installed BLAS (the
    peak a convolution can approach)."""
    n = 8192 if device.startswith("cuda") else 2048
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    timing = time_calls(lambda: a @ b, device, 2, 5)
    return {"flop_per_s": 2 * n ** 3 / timing["median_s"], "size": n, **timing}


def guarded(measure: Callable[[], dict]) -> dict:
    """Run one measurement; an exception becomes an ``error`` entry so the rest still runs."""
    try:
        return measure()
    except Exception as error:  # noqa: BLE001 - a lent GPU's minutes are too dear to lose
        return {"error": f"{type(error).__name__}: {error}"}


class Busy:
    """Busy Python processes (an endless ``while True: pass``), each competing for a core as a
    browser tab, a notebook server or a DataLoader worker does. They run from the start;
    :meth:`pause` stops them (SIGSTOP) and :meth:`running` lets them run for a block, so that
    rounds with and without them can be interleaved."""

    def __init__(self, processes: int) -> None:
        self.processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                          for _ in range(processes)]
        self.pids = [p.pid for p in self.processes]
        time.sleep(0.2 if processes else 0)                 # let them reach their loop

    def _signal(self, number) -> None:
        for process in self.processes:
            process.send_signal(number)

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    @contextlib.contextmanager
    def running(self):
        self.resume()
        try:
            yield
        finally:
            self.pause()

    def stop(self) -> None:
        """Terminate them (killed if they do not end within 5 s)."""
        self.resume()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def contention(processes: int):
    """A :class:`Busy` of ``processes`` processes for the block, stopped however it ends."""
    busy = Busy(processes)
    try:
        yield busy
    finally:
        busy.stop()
