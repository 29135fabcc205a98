"""Runs side by side: ``--jobs N`` processes of one thread each fill the run cache first.

A claim reads its runs one after another (:class:`.pilot.Context`). The runs are independent,
so on a CPU with N cores they can also train N at a time, each on one thread, with no
synchronisation between them (a multi-thread run waits at the end of every operation for its
slowest thread, and for a thread that shares its core with another process, ``bench/NOTES.md``).
With ``jobs > 1`` the runs a step needs are listed first (the pilot's, or every planned seed of
every arm), trained by a pool of ``jobs`` processes, longest first, and stored in the run cache
(:mod:`.cache`); the claims then load them. A run's numbers do not depend
on where it trained: the same identity gives the same cache entry, and a run trained with one
thread computes what a run trained alone with one thread does.

A failed run stops the pool and is raised in the caller; runs that finished stay cached.
"""
from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
from dataclasses import dataclass

import torch

from .measures import figure1
from .runs import train_arm
from .settings import ARMS, SCALES, Scale

__all__ = ["Job", "train_side_by_side"]


@dataclass(frozen=True)
class Job:
    """One unit of work: arm ``index`` of ``regime`` with ``seed``, or (``regime`` "figure1")
    Figure 1's rate search for activation ``index`` and its seeds ``0..seed-1``."""

    regime: str
    index: int | str
    seed: int
    weight: float = 1.0              # expected cost, for longest-first order


@dataclass
class _Figure1Context:
    scale: Scale
    device: torch.device
    progress: bool


def _one_thread() -> None:
    torch.set_num_threads(1)


def _train(scale_name: str, device: str, progress: bool, job: Job) -> None:
    scale, where = SCALES[scale_name], torch.device(device)
    if job.regime == "figure1":
        found = figure1(_Figure1Context(scale, where, progress), job.seed, (job.index,))
        assert found["runs"][job.index], job
        return
    train_arm(ARMS[job.regime][job.index], scale, job.seed, where, progress)


def train_side_by_side(jobs: list[Job], scale: Scale, device: torch.device, workers: int,
                       progress: bool = False) -> None:
    """Train ``jobs`` on ``workers`` processes of one thread each (module docstring)."""
    if workers <= 1 or not jobs:
        return
    ordered = sorted(jobs, key=lambda j: -j.weight)
    spawn = multiprocessing.get_context("spawn")
    with futures.ProcessPoolExecutor(workers, mp_context=spawn, initializer=_one_thread) as pool:
        running = [pool.submit(_train, scale.name, str(device), progress, j) for j in ordered]
        try:
            for done in futures.as_completed(running):
                done.result()
        except BaseException:
            for f in running:
                f.cancel()
            raise
