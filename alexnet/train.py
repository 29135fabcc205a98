"""Training and evaluation, §5 of the paper.

Stochastic gradient descent, batch 128, momentum 0.9, weight decay 0.0005, the same learning rate
for every layer, starting at 0.01 and divided by 10 when the validation error stops improving
(three times in the paper), on the softmax cross-entropy ("multinomial logistic regression", §3.5).
Errors are reported as top-1 and top-5 error rates (§6).

The paper's update is v <- 0.9 v - 0.0005 eps w - eps grad, w <- w + v. PyTorch's
``SGD(lr=eps, momentum=0.9, weight_decay=5e-4)`` computes the same steps while the learning rate is
constant; after a drop PyTorch's velocity takes the new rate at once, the paper's decays to it
(PyTorch documents its form of momentum in ``torch.optim.SGD``'s note).

**Weight decay on weights only.** §5's rule decays ``w``, the weights; the paper never says that
biases are decayed, and Krizhevsky's cuda-convnet sets its decay (``wc``) on weights only (its
layer-parameter files, e.g. cuda-convnet2's ``layer-params-imagenet-1gpu.cfg``). So the optimizer
has two parameter groups: ``"weights"`` (every parameter with more than one dimension: conv kernels
and fc matrices) with ``weight_decay``, and ``"biases"`` with none. A checkpoint written before
this (one group, biases decayed) cannot be resumed exactly and is refused with one line.

**The learning-rate schedule** (``TrainConfig.schedule``):

- ``"plateau"`` (default), the paper's heuristic: divide by 10 (``lr_factor``) when the validation
  top-1 error has not improved for more than ``patience`` epochs, at most ``max_lr_drops`` times
  (three in the paper). The paper decided by eye; ``patience=3`` waits for four epochs in a row
  without a new best before dividing, because one epoch's validation error moves by noise alone
  (on ImageNet's 50,000 validation images its standard error is about 0.2% at 40% error).
- ``"step"``: divide by ``lr_factor`` after each epoch count in ``milestones`` (e.g. ``(30, 60,
  80)``). It reads no data, so an experiment that must never look at its test set while training
  can use it.

:class:`Trainer` adds what days of training need: optional bf16/fp16 autocast on GPUs, a metrics
history, checkpoints written atomically after every epoch (:mod:`alexnet.checkpoint`) and exact
resume, one OS lock per checkpoint folder, a stop with a clear message when the loss, the weights
or the validation loss stop being finite (before anything non-finite reaches a checkpoint), and
torch.distributed data parallelism (metrics reduced over ranks, checkpoints written by rank 0,
errors of rank 0's work shared by every rank).
"""
from __future__ import annotations

import random
import sys
import time
import warnings
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from .checkpoint import (check_entries, check_writable, load_checkpoint, load_weights,
                         lock_folder, remove_stale_temporaries, save_checkpoint, weight_mismatch)
from .distributed import is_distributed, on_rank_zero
from .errors import AlexNetError, choice, integer, real

__all__ = ["TrainConfig", "Trainer", "topk_errors", "seed_everything", "parameter_groups",
           "SCHEDULES", "MAX_SEED", "MAX_BATCH_SIZE"]

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
SCHEDULES = ("plateau", "step")
#: Seeds are what ``torch.manual_seed`` takes: integers in [0, 2**64 - 1].
MAX_SEED = 2**64 - 1
#: The largest batch Python's sequences and DataLoader can index (``sys.maxsize``).
MAX_BATCH_SIZE = sys.maxsize
#: Options of a run that its checkpoint's optimizer and schedule state embody: --resume must repeat
#: them (the command-line flag in brackets).
FIXED_ON_RESUME = {"momentum": "momentum", "schedule": "--schedule", "milestones": "--milestones",
                   "lr_factor": "--lr-factor", "patience": "--patience",
                   "max_lr_drops": "max_lr_drops"}
#: Options that --resume may change: applied from the next epoch and recorded in the checkpoint's
#: ``config_changes`` (with a warning, except for ``epochs``: more epochs is how a run is extended).
CHANGEABLE_ON_RESUME = ("epochs", "batch_size", "lr", "weight_decay", "amp", "seed")


@dataclass
class TrainConfig:
    """The recipe of §5; every field has the paper's value as its default where the paper gives one.

    ``batch_size`` is the global batch (split over the processes under torchrun): the training
    loader given to :meth:`Trainer.fit` must yield ``batch_size // world_size`` images per batch.
    ``patience`` and ``max_lr_drops`` shape the ``"plateau"`` schedule, ``milestones`` the
    ``"step"`` schedule (see the module docstring). Every value is checked: an absurd one (a rate
    of 0 or infinity, a fractional epoch count, a seed past 2**64 - 1) is one AlexNetError line.
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
        choice("progress", self.progress, (True, False))
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


def topk_errors(logits: Tensor, targets: Tensor, ks: tuple[int, ...] = (1, 5)) -> Tensor:
    """Number of images whose true label is not among the top-k predictions, for each k (§6)."""
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
    hit = top == targets[:, None]
    return torch.stack([(~hit[:, :k].any(dim=1)).sum() for k in ks])


class _Meter:
    """Sums of loss, top-1 and top-5 mistakes and images over an epoch, kept on the device."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.sums = device, None

    def add(self, loss: Tensor, logits: Tensor, targets: Tensor) -> None:
        n = targets.shape[0]
        batch = torch.cat([(loss.detach().double() * n).reshape(1),
                           topk_errors(logits.detach(), targets).double(),
                           torch.tensor([n], dtype=torch.float64, device=targets.device)])
        self.sums = batch if self.sums is None else self.sums + batch

    def result(self, prefix: str) -> dict:
        """Mean loss and error rates; summed over every rank when training is distributed."""
        sums = self.sums.clone() if self.sums is not None else \
            torch.zeros(4, dtype=torch.float64, device=self.device)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(sums)
        loss, top1, top5, n = sums.tolist()
        n = max(n, 1.0)
        return {f"{prefix}_loss": loss / n, f"{prefix}_top1": top1 / n, f"{prefix}_top5": top5 / n}


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's (CPU and CUDA) random number generators.

    Any integer works (PyTorch's seed is taken modulo 2**64, NumPy's modulo 2**32), so derived
    seeds such as ``seed + rank`` never overflow in a later epoch or on another rank."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed % 2**64)


def rng_state() -> dict:
    """Every random-number state a run depends on, as tensors and plain values (weights_only-safe)."""
    import numpy as np

    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
            "numpy": [kind, torch.from_numpy(keys.astype("int64")), pos, has_gauss, gauss]}


def set_rng_state(state: dict) -> None:
    import numpy as np

    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype("uint32"), pos, has_gauss, cached))


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """SGD's two parameter groups (§5's decay on weights only): ``"weights"`` (parameters with
    more than one dimension) decayed by ``weight_decay``, ``"biases"`` (the rest) not decayed."""
    weights = [p for p in model.parameters() if p.dim() > 1]
    biases = [p for p in model.parameters() if p.dim() <= 1]
    return [{"name": "weights", "params": weights, "weight_decay": weight_decay},
            {"name": "biases", "params": biases, "weight_decay": 0.0}]


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig):
    """The learning-rate schedule of ``config`` (§5's plateau heuristic, or fixed milestones)."""
    if config.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, list(config.milestones),
                                                    gamma=config.lr_factor)
    floor = config.lr * config.lr_factor ** config.max_lr_drops * (1 - 1e-6)
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.lr_factor, patience=config.patience, min_lr=floor)


def _classes(loader) -> list[str] | None:
    """The class names a loader knows (``alexnet.data`` loaders do), else None."""
    classes = getattr(loader, "classes", None)
    return [str(c) for c in classes] if classes is not None else None


class Trainer:
    """Trains a model with the recipe of §5 and keeps everything needed to resume exactly.

    >>> trainer = Trainer(CifarAlexNet(), TrainConfig(epochs=10), device="cuda")
    >>> history = trainer.fit(train_loader, val_loader)   # one dict of metrics per epoch

    ``device`` is where the model is trained (it is moved there); by default the device its
    parameters are on. A :class:`~alexnet.TwoTowerAlexNet` places itself: its first tower's device
    is the trainer's. Loaders yield ``(images, targets)`` (moved to the device if they are not
    there) and may have ``set_epoch(epoch)`` (``alexnet.data`` loaders do), which makes each
    epoch's shuffling and augmentation a function of the seed and the epoch, and ``classes``,
    which the checkpoint stores. Under ``torch.distributed`` the model is wrapped in
    DistributedDataParallel, metrics are summed over ranks and only rank 0 writes checkpoints and
    progress bars. A checkpoint keeps every rank's random-number state; on resume rank 0 reads it
    and sends it to the other ranks.
    """

    def __init__(self, model: nn.Module, config: TrainConfig | None = None,
                 device: str | torch.device | None = None) -> None:
        self.config = config or TrainConfig()
        self.module = model
        self.device = self._place(model, device)
        self.distributed = is_distributed()
        self.rank = dist.get_rank() if self.distributed else 0
        self.model = self._wrap(model)
        c = self.config
        self.optimizer = torch.optim.SGD(parameter_groups(model, c.weight_decay), lr=c.lr,
                                         momentum=c.momentum)
        self.scheduler = make_scheduler(self.optimizer, c)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=c.amp == "fp16")
        self.history: list[dict] = []
        self.epoch = 0                                     # epochs completed
        self.classes: list[str] | None = None              # of the data, from the loaders
        self.config_changes: list[dict] = []               # options changed by --resume
        self._saved_epoch: int | None = None               # the epoch of the checkpoint on disk
        if c.amp == "fp16" and self.device.type != "cuda":
            raise AlexNetError(f"--amp fp16 needs a CUDA device, but training runs on "
                               f"{self.device}: use --amp bf16 (CPUs with bfloat16 "
                               "instructions), leave --amp out, or train on a GPU")

    @staticmethod
    def _place(model: nn.Module, device) -> torch.device:
        """The one device of the run: the given one (the model moves there), else the model's."""
        if device is not None:
            try:
                device = torch.device(device)
            except (RuntimeError, TypeError):
                raise AlexNetError(f"unknown device {device!r}: use cpu, cuda or cuda:N") from None
        if hasattr(model, "devices"):                     # TwoTowerAlexNet places itself
            if device is not None and not _same_device(device, model.devices[0]):
                raise AlexNetError(f"a TwoTowerAlexNet places its towers itself (on "
                                   f"{', '.join(map(str, model.devices))}): pass device=None, or "
                                   f"build it with devices=({str(device)!r}, ...)")
            return model.devices[0]
        if device is None:
            first = next(model.parameters(), None)
            return first.device if first is not None else torch.device("cpu")
        model.to(device)
        return device

    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.distributed:
            return model
        ids = [self.device] if self.device.type == "cuda" and not hasattr(model, "devices") else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    @property
    def checkpoint_path(self) -> Path | None:
        d = self.config.checkpoint_dir
        return Path(d) / "last.pt" if d else None

    # ------------------------------------------------------------ training

    def fit(self, train_loader, val_loader=None, *, resume: bool = False) -> list[dict]:
        """Train for ``config.epochs`` epochs (from the last checkpoint when ``resume``).

        Holds the checkpoint folder's lock for the whole run (a second run on it stops with one
        line), and removes what killed writes left in it. After every epoch the weights and the
        validation loss are checked before the checkpoint is written: a non-finite model is never
        saved, so the checkpoint on disk is always the last good one."""
        self._check_batch_size(train_loader)
        self.classes = _classes(train_loader) or _classes(val_loader)
        with self._checkpoint_folder():
            if not (resume and self.resume()):
                seed_everything(self.config.seed + self.rank)
            for epoch in range(self.epoch, self.config.epochs):
                start = time.perf_counter()
                row = {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
                row.update(self.train_epoch(train_loader, epoch))
                if val_loader is not None:
                    row.update(self.evaluate(val_loader))
                row["seconds"] = time.perf_counter() - start
                self._check_epoch(row, epoch)
                self._step_schedule(row["val_top1" if val_loader is not None else "train_top1"])
                self.history.append(row)
                self.epoch = epoch + 1
                self.save()
        return self.history

    def _check_batch_size(self, loader) -> None:
        """TrainConfig.batch_size is the global batch: the loader must give its share of it."""
        size = getattr(loader, "batch_size", None)
        world = dist.get_world_size() if self.distributed else 1
        if size is not None and size * world != self.config.batch_size:
            per = f" per process, x {world} processes" if world > 1 else ""
            raise AlexNetError(f"the training loader gives batches of {size} images{per}, but "
                               f"TrainConfig.batch_size is {self.config.batch_size}: build the loader "
                               f"with batch_size=config.batch_size // world_size")

    @contextmanager
    def _checkpoint_folder(self):
        """Rank 0 checks that the folder is writable, locks it and removes stale temporary files;
        if that fails, every rank stops with the same line."""
        with ExitStack() as held:
            folder = self.checkpoint_path.parent if self.checkpoint_path else None
            if folder is not None:
                def claim():
                    check_writable(folder)
                    held.enter_context(lock_folder(folder))
                    remove_stale_temporaries(folder)
                on_rank_zero(claim)
            yield

    def _step_schedule(self, error: float) -> None:
        if self.config.schedule == "plateau":
            self.scheduler.step(error)
        else:
            self.scheduler.step()

    def train_epoch(self, loader, epoch: int) -> dict:
        """One pass over the training set; returns the running train loss and errors."""
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        self.model.train()
        meter, pending = _Meter(self.device), []
        check_every = 1 if self.device.type == "cpu" else 50   # each check waits for the GPU
        for step, (x, y) in enumerate(self._progress(loader, f"epoch {epoch + 1}")):
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with self._autocast():
                logits = self.model(x)
            loss = F.cross_entropy(logits.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            meter.add(loss, logits, y)
            pending.append(loss.detach())
            if len(pending) == check_every:
                self._check_finite(pending, epoch, step)
        if pending:
            self._check_finite(pending, epoch, step)
        return meter.result("train")

    @torch.no_grad()
    def evaluate(self, loader, prefix: str = "val", ten_crop: bool = False) -> dict:
        """Loss and top-1/top-5 error; ``ten_crop`` averages the softmax of 10 patches (§4.1)."""
        from .transforms import ten_crop_predict

        self.model.eval()
        meter = _Meter(self.device)
        for x, y in self._progress(loader, prefix):
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with self._autocast():
                if ten_crop:
                    logits = ten_crop_predict(self.model, x, self.module.image_size).clamp_min(1e-12).log()
                else:
                    logits = self.model(x)
            loss = F.nll_loss(logits.float(), y) if ten_crop else F.cross_entropy(logits.float(), y)
            meter.add(loss, logits, y)
        return meter.result(prefix)

    # ------------------------------------------------------------ nothing non-finite is kept

    def _kept(self) -> str:
        """What is on disk, truthfully: the checkpoint this run wrote or resumed from, or none."""
        if self._saved_epoch is None:
            return "no checkpoint was written"
        return f"the last good checkpoint {self.checkpoint_path} (epoch {self._saved_epoch}) is kept"

    def _check_finite(self, pending: list[Tensor], epoch: int, step: int) -> None:
        """Stop at the first non-finite loss, before it reaches a checkpoint. Under torch.distributed
        the losses are averaged over ranks first, so every rank stops at the same step."""
        losses = torch.stack(pending)
        pending.clear()
        if self.distributed:
            dist.all_reduce(losses)
            losses /= dist.get_world_size()
        bad = (~torch.isfinite(losses)).nonzero()
        if len(bad):
            first = step - len(losses) + 1 + int(bad[0])
            raise AlexNetError(f"the loss became {float(losses[bad[0]])} at epoch {epoch + 1}, "
                               f"step {first + 1}; training stopped and {self._kept()}: lower the "
                               "learning rate")

    def _check_epoch(self, row: dict, epoch: int) -> None:
        """After an epoch, before its checkpoint: the last update may have made the weights
        non-finite (the loss is read before each update), and the validation loss must be finite."""
        self._check_weights(f"in epoch {epoch + 1}")
        value = row.get("val_loss")
        if value is not None and not torch.isfinite(torch.tensor(value)):
            raise AlexNetError(f"the validation loss became {value} after epoch {epoch + 1}; "
                               f"training stopped and {self._kept()}: lower the learning rate")

    def _check_weights(self, when: str) -> None:
        """One line, and nothing saved, if any parameter holds a NaN or an infinity. The weights
        are the same on every rank, so every rank decides the same."""
        for name, p in self.module.named_parameters():
            if not bool(torch.isfinite(p.detach()).all()):
                raise AlexNetError(f"the weights became non-finite ({name}) {when}; training "
                                   f"stopped and {self._kept()}: lower the learning rate")

    def _autocast(self):
        dtype = AMP_DTYPES.get(self.config.amp)
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)

    def _progress(self, loader, desc: str):
        return tqdm(loader, desc=desc, leave=False, disable=not self.config.progress or self.rank != 0)

    # ------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict:
        """Everything a resumed run needs; under torch.distributed, every rank's RNG state too
        (collective: call it on every rank)."""
        state = {"model": self.module.state_dict(), "model_config": getattr(self.module, "config", {}),
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "scaler": self.scaler.state_dict(), "epoch": self.epoch, "history": self.history,
                 "train_config": _plain_config(self.config), "rng": rng_state(),
                 "classes": self.classes, "config_changes": self.config_changes}
        if self.distributed:
            state["rng_ranks"] = [None] * dist.get_world_size()
            dist.all_gather_object(state["rng_ranks"], state["rng"])
        return state

    def save(self) -> None:
        """Write ``last.pt`` atomically (rank 0 writes; every rank takes part). Refuses non-finite
        weights, so a finite checkpoint is never replaced by a diverged one; a failed write (disk
        full) leaves the previous checkpoint and ends in one line on every rank."""
        if not self.checkpoint_path:
            return
        self._check_weights(f"after epoch {self.epoch}")
        state = self.state_dict()
        on_rank_zero(lambda: self._write(state))
        self._saved_epoch = self.epoch

    def _write(self, state: dict) -> None:
        try:
            save_checkpoint(state, self.checkpoint_path)
        except OSError as e:
            before = "the previous checkpoint" if self._saved_epoch is None else \
                f"the checkpoint of epoch {self._saved_epoch}"
            raise AlexNetError(f"cannot write checkpoint {self.checkpoint_path} ({e.strerror or e}); "
                               f"{before} is left as it was: free space on that disk (or choose "
                               "another --checkpoint-dir), then --resume") from None

    def resume(self) -> bool:
        """Load ``last.pt`` if there is one; True when training continues from it.

        Refused with one line: a checkpoint of another model, of other classes, of an older
        version (one parameter group), or of another schedule (``FIXED_ON_RESUME``). A new ``lr``,
        ``weight_decay``, batch size, seed or ``amp`` applies from the next epoch, with a warning;
        every change (``epochs`` too) is recorded in the checkpoint's ``config_changes``, so the
        checkpoint says what ran."""
        state = self._read_checkpoint()
        if state is None:
            return False
        check_entries(state, self.checkpoint_path)
        self._check_same_model(state)
        self._check_same_classes(state)
        self._check_parameter_groups(state)
        changes = self._changes(state)
        load_weights(self.module, state["model"], source=f"checkpoint {self.checkpoint_path}")
        self._load_states(state)
        self.epoch, self.history = state["epoch"], state["history"]
        self._apply(changes)
        self.config_changes = list(state.get("config_changes") or []) + changes
        self._saved_epoch = self.epoch
        self._restore_rng(state)
        return True

    def _read_checkpoint(self) -> dict | None:
        """``last.pt``, or None. Under torch.distributed rank 0 reads it and sends it to every rank,
        so all of them resume from the same state even when only rank 0's machine has the file; if
        it cannot be read, every rank stops with the same line."""
        path = self.checkpoint_path
        if path is None:
            return None
        return on_rank_zero(lambda: load_checkpoint(path) if path.exists() else None)

    def _check_same_model(self, state: dict) -> None:
        """A clear error, naming the options and the layers that differ, for another model's
        checkpoint. The devices of a two-tower model may differ (each rank has its own GPUs)."""
        from .architectures import upgrade_config

        saved = upgrade_config(state.get("model_config") or {})
        own = dict(getattr(self.module, "config", {}))
        for config in (saved, own):
            config.pop("devices", None)
        if saved != own:
            keys = sorted(k for k in set(saved) | set(own) if saved.get(k) != own.get(k))
            options = ", ".join(f"{k} {saved.get(k)!r} vs {own.get(k)!r}" for k in keys[:4])
            layers = weight_mismatch(self.module, state["model"])
            layers = f"; {layers}" if layers else ""
            raise AlexNetError(f"checkpoint {self.checkpoint_path} was trained with other model "
                               f"options (checkpoint vs this run: {options}{layers}): resume with "
                               "the same options, or use another --checkpoint-dir")

    def _check_same_classes(self, state: dict) -> None:
        saved = state.get("classes")
        if saved is not None and self.classes is not None and list(saved) != self.classes:
            raise AlexNetError(f"checkpoint {self.checkpoint_path} was trained on other classes "
                               f"({class_difference(saved, self.classes)}): resume on the data "
                               "it was trained on, or use another --checkpoint-dir")

    def _check_parameter_groups(self, state: dict) -> None:
        """§5's decay on weights only needs two groups; older checkpoints have one."""
        groups = state["optimizer"].get("param_groups")
        names = [g.get("name") for g in groups] if isinstance(groups, list) and \
            all(isinstance(g, dict) for g in groups) else None
        if names == [g["name"] for g in self.optimizer.param_groups]:
            return
        if names is not None and len(names) == 1:
            raise AlexNetError(f"checkpoint {self.checkpoint_path} was written by an older version "
                               "that decayed the biases too (one parameter group; now weight decay "
                               "applies to weights only, §5): it cannot be resumed exactly; start a "
                               "new run in another --checkpoint-dir (`alexnet evaluate` still reads it)")
        raise AlexNetError(f"checkpoint {self.checkpoint_path} has optimizer parameter groups "
                           f"{names} where this version has weights and biases: it was edited by "
                           "hand or written by another version; start a new run in another "
                           "--checkpoint-dir")

    def _changes(self, state: dict) -> list[dict]:
        """Refuse a resume that changes what the saved optimizer and schedule embody; list the
        changes of ``CHANGEABLE_ON_RESUME``, which apply."""
        saved, own = state["train_config"], _plain_config(self.config)
        try:
            TrainConfig(**{k: v for k, v in saved.items() if k in own})
        except (AlexNetError, TypeError) as e:
            raise AlexNetError(f"checkpoint {self.checkpoint_path} has a train_config that this "
                               f"version cannot take ({e}): it was edited by hand or written by "
                               "another version; start a new run in another --checkpoint-dir") from None
        defaults = {"schedule": "plateau", "milestones": []}     # checkpoints from before them
        for name, flag in FIXED_ON_RESUME.items():
            old = saved.get(name, defaults.get(name))
            old = list(old) if isinstance(old, (list, tuple)) else old
            if old != own[name]:
                raise AlexNetError(f"checkpoint {self.checkpoint_path} was trained with {name} "
                                   f"{old!r} but this run asks for {own[name]!r}: resume with the "
                                   f"same {flag} (the saved schedule continues), or start a new run "
                                   "in another --checkpoint-dir")
        return [{"after_epoch": state["epoch"], "option": name, "from": saved[name],
                 "to": own[name]} for name in CHANGEABLE_ON_RESUME
                if name in saved and saved[name] != own[name]]

    def _load_states(self, state: dict) -> None:
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError) as e:
            raise AlexNetError(f"checkpoint {self.checkpoint_path} has an optimizer or schedule "
                               f"state that does not fit this run ({type(e).__name__}): it was "
                               "edited by hand or written by another version; start a new run in "
                               "another --checkpoint-dir") from None

    def _apply(self, changes: list[dict]) -> None:
        """A new ``lr`` scales the current rate (and the plateau floor) by new / old, so the drops
        taken so far are kept; a new ``weight_decay`` replaces the weights group's."""
        for change in changes:
            option, old, new, after = (change[k] for k in ("option", "from", "to", "after_epoch"))
            if option == "epochs":
                continue
            if option == "weight_decay":
                self.optimizer.param_groups[0]["weight_decay"] = new
            if option != "lr":
                self._note(f"resuming with {option} {new!r} where the checkpoint's run used "
                           f"{old!r}: it applies from epoch {after + 1} (so the run is not the one "
                           "an uninterrupted run would be), and the change is recorded in the "
                           "checkpoint")
                continue
            ratio, current = new / old, self.optimizer.param_groups[0]["lr"]
            for group in self.optimizer.param_groups:
                group["lr"] *= ratio
                if "initial_lr" in group:
                    group["initial_lr"] *= ratio
            for name in ("min_lrs", "base_lrs", "_last_lr"):
                if hasattr(self.scheduler, name):
                    setattr(self.scheduler, name, [v * ratio for v in getattr(self.scheduler, name)])
            self._note(f"resuming with learning rate {new:g} where the checkpoint's run started "
                       f"at {old:g}: the rate goes from {current:g} to {current * ratio:g} from "
                       f"epoch {after + 1} (the drops so far are kept), and the change is recorded "
                       "in the checkpoint")

    def _note(self, text: str) -> None:
        if self.rank == 0:
            warnings.warn(text, stacklevel=3)

    def _restore_rng(self, state: dict) -> None:
        """This rank's random-number state as it was; with another number of processes than the
        checkpoint's, a fresh seed per (seed, epoch, rank): training goes on, not bit for bit."""
        saved = state.get("rng_ranks") or [state["rng"]]
        world = dist.get_world_size() if self.distributed else 1
        if len(saved) != world:
            seed_everything(self.config.seed + 1_000_003 * self.epoch + self.rank)
            return
        try:
            set_rng_state(saved[self.rank])
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError) as e:
            raise AlexNetError(f"checkpoint {self.checkpoint_path} has a random-number state that "
                               f"cannot be restored ({type(e).__name__}): it was edited by hand; "
                               "start a new run in another --checkpoint-dir") from None


def _same_device(a: torch.device, b: torch.device) -> bool:
    """``cuda`` names the current GPU, so it matches ``cuda:N``."""
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def _plain_config(config: TrainConfig) -> dict:
    """The config as plain values (milestones as a list), as checkpoints store it."""
    plain = asdict(config)
    plain["milestones"] = list(plain["milestones"])
    return plain


def class_difference(saved: list[str], ours: list[str]) -> str:
    """How two class lists differ, in a few words (checkpoint vs data)."""
    if len(saved) != len(ours):
        return f"{len(saved)} classes in the checkpoint, {len(ours)} in the data"
    i = next(i for i, (a, b) in enumerate(zip(saved, ours)) if a != b)
    return f"class {i} is {saved[i]!r} in the checkpoint and {ours[i]!r} in the data"
