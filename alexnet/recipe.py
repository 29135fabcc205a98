"""The recipe of §5 as data: :class:`TrainConfig`, the optimizer's parameter groups and the
learning-rate schedule.

Stochastic gradient descent, batch 128, momentum 0.9, weight decay 0.0005, the same learning rate
for every layer, starting at 0.01 and divided by 10 when the validation error stops improving
(three times in the paper), on the softmax cross-entropy ("multinomial logistic regression", §3.5).

The paper's update is v <- 0.9 v - 0.0005 eps w - eps grad, w <- w + v. PyTorch's
``SGD(lr=eps, momentum=0.9, weight_decay=5e-4)`` computes the same steps while the learning rate is
constant; after a drop PyTorch's velocity takes the new rate at once, the paper's decays to it
(PyTorch documents its form of momentum in ``torch.optim.SGD``'s note).

**Weight decay on weights only.** §5's rule decays ``w``, the weights; the paper never says that
biases are decayed, and Krizhevsky's cuda-convnet sets its decay (``wc``) on weights only (its
layer-parameter files, e.g. cuda-convnet2's ``layer-params-imagenet-1gpu.cfg``). So the optimizer
has two parameter groups (:func:`parameter_groups`): ``"weights"`` (every parameter with more than
one dimension: conv kernels and fc matrices) with ``weight_decay``, and ``"biases"`` with none.

**The learning rate travels one way**: command line or regime -> :class:`TrainConfig` ->
scheduler (:func:`make_scheduler`) -> optimizer. Nothing else writes it.

- ``"plateau"`` (default), the paper's heuristic: divide by 10 (``lr_factor``) when the validation
  top-1 error has not improved for more than ``patience`` epochs, at most ``max_lr_drops`` times
  (three in the paper). The paper decided by eye; ``patience=3`` waits for four epochs in a row
  without a new best before dividing, because one epoch's validation error moves by noise alone
  (on ImageNet's 50,000 validation images its standard error is about 0.2% at 40% error).
- ``"step"``: in epoch ``e`` (counted from 0) the rate is ``lr * lr_factor ** k``, ``k`` the number
  of ``milestones`` ``<= e`` (:func:`step_rate`, in closed form). It reads no data; with no
  milestones it is a constant rate.
"""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .errors import AlexNetError, choice, integer, real

__all__ = ["TrainConfig", "parameter_groups", "make_scheduler", "step_rate", "seed_everything",
           "SCHEDULES", "AMP_DTYPES", "MAX_SEED", "MAX_BATCH_SIZE"]

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
SCHEDULES = ("plateau", "step")
#: Seeds are what ``torch.manual_seed`` takes: integers in [0, 2**64 - 1].
MAX_SEED = 2**64 - 1
#: The largest batch Python's sequences and DataLoader can index (``sys.maxsize``).
MAX_BATCH_SIZE = sys.maxsize


@dataclass
class TrainConfig:
    """The recipe of §5; every field has the paper's value as its default where the paper gives one.

    ``batch_size`` is the global batch (split over the processes under torchrun): the training
    loader given to :meth:`~alexnet.train.Trainer.fit` must yield ``batch_size // world_size``
    images per batch. ``patience`` and ``max_lr_drops`` shape the ``"plateau"`` schedule,
    ``milestones`` the ``"step"`` schedule (see the module docstring).

    ``early_stopping``: once the rate is at its last value (§5: "reduced three times prior to
    termination": every drop of the plateau schedule taken, or past the step schedule's last
    milestone), stop when the validation top-1 error has not improved for that many epochs
    (None: train all ``epochs``). ``restore_best``: end with the weights of the epoch of the best
    validation error (kept in memory on the CPU, and in the checkpoint), so that the test set is
    scored once, at the epoch the validation split chose. ``reseed``: ``fit`` seeds every generator
    from ``seed`` before the first epoch; False leaves them as the caller set them (a caller that
    seeded before building its model). Every value is checked: an absurd one (a rate of 0 or
    infinity, a fractional epoch count, a seed past 2**64 - 1) is one AlexNetError line.
    """

    epochs: int = 90
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_factor: float = 0.1     # "divide the learning rate by 10"
    patience: int = 3          # plateau: epochs without improvement tolerated before a drop
    max_lr_drops: int = 3      # plateau: "reduced three times prior to termination"
    schedule: str = "plateau"  # "plateau" (the paper's) or "step" (at fixed milestones)
    milestones: tuple = ()     # step: epochs after which the rate is divided by 1 / lr_factor
    amp: str | None = None     # None, "bf16" (CUDA, or CPUs with bfloat16) or "fp16" (CUDA)
    seed: int = 0
    progress: bool = True
    checkpoint_dir: str | None = None
    early_stopping: int | None = None   # epochs without a better validation error before a stop
    restore_best: bool = False          # end with the best validation epoch's weights
    reseed: bool = True                 # fit seeds the generators from ``seed``

    def __post_init__(self) -> None:
        integer("epochs", self.epochs, 1)
        integer("batch size", self.batch_size, 1, MAX_BATCH_SIZE)
        real("learning rate", self.lr, 0, low_open=True)
        real("momentum", self.momentum, 0, 1, high_open=True)
        real("weight decay", self.weight_decay, 0)
        real("lr_factor", self.lr_factor, 0, 1, low_open=True, high_open=True)
        integer("patience", self.patience, 0)
        integer("max_lr_drops", self.max_lr_drops, 0)
        choice("schedule", self.schedule, SCHEDULES)
        self.milestones = _milestones(self.milestones)
        if self.milestones and self.schedule != "step":
            raise AlexNetError(f"milestones {list(self.milestones)} apply to schedule='step' only: "
                               "pass schedule='step' (--schedule step), or leave them out")
        choice("amp", self.amp, (None, *AMP_DTYPES))
        integer("seed", self.seed, 0, MAX_SEED)
        for name in ("progress", "restore_best", "reseed"):
            choice(name, getattr(self, name), (True, False))
        if self.early_stopping is not None:
            integer("early_stopping", self.early_stopping, 1)
        if self.checkpoint_dir is not None:
            if not isinstance(self.checkpoint_dir, (str, Path)):
                raise AlexNetError(f"checkpoint_dir must be a folder path, got "
                                   f"{self.checkpoint_dir!r}")
            self.checkpoint_dir = str(self.checkpoint_dir)


def _milestones(values) -> tuple[int, ...]:
    """Epoch counts after which the step schedule divides the rate: positive and increasing."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise AlexNetError(f"milestones must be a list of epoch counts, got {values!r}")
    values = tuple(integer("a milestone", v, 1) for v in values)
    if any(b <= a for a, b in zip(values, values[1:])):
        raise AlexNetError(f"milestones must increase, got {list(values)}: list each epoch once, "
                           "in order")
    return values


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """SGD's two parameter groups (§5's decay on weights only): ``"weights"`` (parameters with
    more than one dimension) decayed by ``weight_decay``, ``"biases"`` (the rest) not decayed."""
    weights = [p for p in model.parameters() if p.dim() > 1]
    biases = [p for p in model.parameters() if p.dim() <= 1]
    return [{"name": "weights", "params": weights, "weight_decay": weight_decay},
            {"name": "biases", "params": biases, "weight_decay": 0.0}]


def step_rate(epoch: int, milestones, factor: float = 0.1) -> float:
    """The step schedule's multiplier in ``epoch`` (from 0): ``factor ** k``, ``k`` the number of
    milestones ``<= epoch``. The learning rate of the epoch is ``lr * step_rate(...)``."""
    return factor ** sum(epoch >= m for m in milestones)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig):
    """The learning-rate schedule of ``config``: §5's plateau heuristic, or the closed-form step
    schedule (``LambdaLR``: each epoch's rate is ``lr * step_rate(epoch)``, not a running product)."""
    if config.schedule == "step":
        milestones, factor = config.milestones, config.lr_factor
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: step_rate(epoch, milestones, factor))
    floor = config.lr * config.lr_factor ** config.max_lr_drops * (1 - 1e-6)
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.lr_factor, patience=config.patience, min_lr=floor)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's (CPU and CUDA) random number generators.

    Any integer works (PyTorch's seed is taken modulo 2**64, NumPy's modulo 2**32), so derived
    seeds such as ``seed + rank`` never overflow in a later epoch or on another rank."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed % 2**64)
