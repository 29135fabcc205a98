"""The processes of one run under ``torchrun``: joining the group, and errors that every rank shares.

Some work is done by rank 0 alone: checking and locking the checkpoint folder, reading the
checkpoint, writing it. If it fails there, the other ranks must not wait in their next collective
until gloo or NCCL gives up with a traceback about a closed connection: :func:`on_rank_zero` runs the
work on rank 0 and sends its outcome (a result, or the one line of an
:class:`~alexnet.AlexNetError`) to every rank, so every process stops at the same point with the
same line.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Callable

import torch
import torch.distributed as dist

from .errors import AlexNetError

__all__ = ["distributed", "is_distributed", "rank", "on_rank_zero"]


def is_distributed() -> bool:
    """Whether this process is in an initialised torch.distributed group."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


@contextmanager
def distributed(device: torch.device | None = None):
    """Join the process group when started by torchrun (WORLD_SIZE > 1): NCCL for a CUDA
    ``device``, gloo for the CPU. Yields ``(rank, world_size)``."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield 0, 1
        return
    cuda = device.type == "cuda" if device is not None else torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(device if device is not None else int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield dist.get_rank(), dist.get_world_size()
    finally:
        dist.destroy_process_group()


def on_rank_zero(work: Callable[[], object]):
    """``work()`` on rank 0; every rank returns its result, or raises its AlexNetError.

    Without torch.distributed this is just ``work()``. The result must be picklable (it is
    broadcast). Collective: every rank must call it at the same point.
    """
    if not is_distributed():
        return work()
    outcome = [None, None]
    if dist.get_rank() == 0:
        try:
            outcome[0] = work()
        except AlexNetError as e:
            outcome[1] = str(e)
    dist.broadcast_object_list(outcome, src=0)
    if outcome[1] is not None:
        raise AlexNetError(outcome[1])
    return outcome[0]
