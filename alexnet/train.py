"""Training and evaluation, §5 of the paper: :class:`Trainer`, the package's one training loop.

The recipe (SGD, momentum, weight decay on weights only, the learning-rate schedule) is
:class:`~alexnet.recipe.TrainConfig`, in :mod:`alexnet.recipe`; resuming from a checkpoint is
:mod:`alexnet.resume`. Errors are reported as top-1 and top-5 error rates (§6).

:meth:`Trainer.fit` reads top to bottom: place the model, then for each epoch train, validate,
score the extra evaluation sets (curves for plots, never read by a decision), check that nothing
became non-finite, step the schedule, save; stop early on the validation error or a caller's
condition. Every decision taken while training (the plateau schedule, early stopping, the best
epoch) reads the validation loader, never a test set: the test set is scored once, after training
(:meth:`Trainer.test`).

:class:`Trainer` adds what days of training need: optional bf16/fp16 autocast on GPUs, a metrics
history, checkpoints written atomically after every epoch (:mod:`alexnet.checkpoint`) and exact
resume, one OS lock per checkpoint folder, a stop with a clear message when the loss, the weights
or the validation loss stop being finite (:class:`Diverged`, before anything non-finite reaches a
checkpoint), and torch.distributed data parallelism (metrics reduced over ranks, checkpoints
written by rank 0, errors of rank 0's work shared by every rank).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from .checkpoint import claim_folder, load_weights, save_checkpoint
from .distributed import is_distributed, on_rank_zero
from .errors import AlexNetError
from .recipe import (AMP_DTYPES, MAX_BATCH_SIZE, MAX_SEED, SCHEDULES, TrainConfig, make_scheduler,
                     parameter_groups, seed_everything, step_rate)
from .resume import class_difference, plain_config, restore, rng_state
from .runtime import check_amp, memory_format

__all__ = ["TrainConfig", "Trainer", "Diverged", "topk_errors", "seed_everything",
           "parameter_groups", "make_scheduler", "step_rate", "class_difference", "SCHEDULES",
           "MAX_SEED", "MAX_BATCH_SIZE"]


#: On a GPU, training steps between two reads of the losses (each read waits for the device).
GPU_CHECK_STEPS = 50


class Diverged(AlexNetError):
    """Training stopped because the loss, the weights or the validation loss became NaN or
    infinite (the learning rate is too high); ``epoch`` is the epoch (from 1) where it happened."""

    def __init__(self, message: str, epoch: int) -> None:
        super().__init__(message)
        self.epoch = epoch


def topk_errors(logits: Tensor, targets: Tensor, ks: tuple[int, ...] = (1, 5)) -> Tensor:
    """Number of images whose true label is not among the top-k predictions, for each k (§6)."""
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
    hit = top == targets[:, None]
    return torch.stack([(~hit[:, :k].any(dim=1)).sum() for k in ks])


class Meter:
    """Sums of loss, top-1 and top-5 mistakes and images over an epoch, kept on the device.

    :meth:`add` only launches device work (no tensor is built from a Python number, nothing is
    read back), so a GPU runs ahead of the training loop; :meth:`result` reads the sums once."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.sums = device, None

    def add(self, loss: Tensor, logits: Tensor, targets: Tensor) -> None:
        n = targets.shape[0]
        batch = torch.cat([(loss.detach().double() * n).reshape(1),
                           topk_errors(logits.detach(), targets).double(),
                           targets.new_full((1,), n, dtype=torch.float64)])   # a fill, no copy
        self.sums = batch if self.sums is None else self.sums + batch

    def result(self, prefix: str) -> dict:
        """Mean loss and error rates; summed over every rank when training is distributed."""
        sums = self.sums.clone() if self.sums is not None else \
            torch.zeros(4, dtype=torch.float64, device=self.device)
        if is_distributed():
            dist.all_reduce(sums)
        loss, top1, top5, n = sums.tolist()
        n = max(n, 1.0)
        return {f"{prefix}_loss": loss / n, f"{prefix}_top1": top1 / n, f"{prefix}_top5": top5 / n}


class Trainer:
    """Trains a model with the recipe of §5 and keeps everything needed to resume exactly.

    >>> trainer = Trainer(CifarAlexNet(), TrainConfig(epochs=10), device="cuda")
    >>> history = trainer.fit(train_loader, val_loader)   # one dict of metrics per epoch
    >>> trainer.test(test_loader)                         # once, at the end

    ``device`` is where the model is trained (it is moved there); by default the device its
    parameters are on. A :class:`~alexnet.TwoTowerAlexNet` places itself: its first tower's device
    is the trainer's. Loaders yield ``(images, targets)`` (moved to the device if they are not
    there) and may have ``set_epoch(epoch)`` (``alexnet.data`` loaders do), which makes each
    epoch's shuffling and augmentation a function of the seed and the epoch, ``classes`` and
    ``split`` (the validation split), which the checkpoint stores. Under ``torch.distributed`` the
    model is wrapped in DistributedDataParallel, metrics are summed over ranks and only rank 0
    writes checkpoints and progress bars.
    """

    def __init__(self, model: nn.Module, config: TrainConfig | None = None,
                 device: str | torch.device | None = None) -> None:
        self.config = c = config or TrainConfig()
        self.module = model
        self.device = _place(model, device)
        check_amp(c.amp, self.device)                      # the hardware has it, or one line
        self.memory_format = memory_format(model, self.device)
        model.to(memory_format=self.memory_format)         # channels-last for conv nets on CUDA
        self.distributed = is_distributed()
        self.rank = dist.get_rank() if self.distributed else 0
        self.model = self._wrap(model)
        self.optimizer = torch.optim.SGD(parameter_groups(model, c.weight_decay), lr=c.lr,
                                         momentum=c.momentum)
        self.scheduler = make_scheduler(self.optimizer, c)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=c.amp == "fp16")
        self.history: list[dict] = []
        self.epoch = 0                                     # epochs completed
        self.classes: list[str] | None = None              # of the data, from the loaders
        self.split: dict | None = None                     # the validation split, from the loaders
        self.config_changes: list[dict] = []               # options changed by --resume
        self.saved_epoch: int | None = None                # the epoch of the checkpoint on disk
        self.best_state: dict | None = None                # restore_best: the best epoch's weights

    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.distributed:
            return model
        ids = [self.device] if self.device.type == "cuda" and not hasattr(model, "devices") else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    @property
    def checkpoint_path(self) -> Path | None:
        d = self.config.checkpoint_dir
        return Path(d) / "last.pt" if d else None

    @property
    def check_every(self) -> int:
        """Steps between the checks for a non-finite loss: each check waits for a GPU, so on one it
        comes every :data:`GPU_CHECK_STEPS` steps (and at the epoch's end); every step on a CPU."""
        return 1 if self.device.type == "cpu" else GPU_CHECK_STEPS

    @property
    def best_epoch(self) -> int | None:
        """The epoch (from 1) of the lowest validation top-1 error so far (the first, on a tie)."""
        scored = [row for row in self.history if "val_top1" in row]
        return min(scored, key=lambda row: row["val_top1"])["epoch"] if scored else None

    # ------------------------------------------------------------ the loop

    def fit(self, train_loader, val_loader=None, *, resume: bool = False,
            evaluate: dict | None = None, stop: Callable[[dict], bool] | None = None) -> list[dict]:
        """Train for ``config.epochs`` epochs (from the last checkpoint when ``resume``); returns
        the history, one dict a epoch: ``epoch``, ``lr``, ``train_*``, ``val_*`` (with a
        ``val_loader``), ``<name>_*`` for each loader of ``evaluate``, ``seconds``.

        - ``val_loader``: the validation set, which every decision reads (plateau schedule, early
          stopping, ``restore_best``); without it the plateau schedule reads the training error.
        - ``evaluate``: ``{name: loader}`` scored after every epoch for curves (e.g. ``{"test":
          test_loader}`` gives ``test_top1``...): for plots only, never read by a decision.
        - ``stop``: ``stop(row) -> bool``, called after each epoch is saved; True ends training
          (e.g. a target error reached).

        A non-finite loss, weight or validation loss raises :class:`Diverged` before anything is
        saved, so the checkpoint on disk is always the last good one. Holds the checkpoint
        folder's lock for the whole run (:func:`~alexnet.checkpoint.claim_folder`)."""
        self._check_loaders(train_loader, val_loader, evaluate or {})
        self.classes = _classes(train_loader) or _classes(val_loader)
        self.split = getattr(val_loader, "split", None) or getattr(train_loader, "split", None)
        with claim_folder(self.checkpoint_path.parent if self.checkpoint_path else None):
            if not (resume and restore(self)) and self.config.reseed:
                seed_everything(self.config.seed + self.rank)
            for epoch in range(self.epoch, self.config.epochs):
                row = self._epoch(epoch, train_loader, val_loader, evaluate or {})
                self.history.append(row)
                self.epoch = epoch + 1
                self._keep_best(row)
                self.save()
                if (stop is not None and stop(row)) or self._no_progress():
                    break
        if self.config.restore_best and self.best_state is not None:
            load_weights(self.module, self.best_state, source="best validation epoch")
        return self.history

    def _epoch(self, epoch: int, train_loader, val_loader, evaluate: dict) -> dict:
        """Train one epoch, score it, check it, and step the schedule: the epoch's history row."""
        start = time.perf_counter()
        row = {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
        row.update(self.train_epoch(train_loader, epoch))
        if val_loader is not None:
            row.update(self.evaluate(val_loader))
        for name, loader in evaluate.items():
            row.update(self.evaluate(loader, prefix=name))
        row["seconds"] = time.perf_counter() - start
        self._check_epoch(row, epoch)
        if self.config.schedule == "plateau":
            self.scheduler.step(row["val_top1" if val_loader is not None else "train_top1"])
        else:
            self.scheduler.step()
        return row

    def _keep_best(self, row: dict) -> None:
        """With ``restore_best``, a CPU copy of the weights of the best validation epoch."""
        if self.config.restore_best and self.best_epoch == row["epoch"]:
            self.best_state = {k: v.detach().to("cpu", copy=True)
                               for k, v in self.module.state_dict().items()}

    def _no_progress(self) -> bool:
        """Early stopping as §5 ends training, "reduced three times prior to termination": once
        the rate is at its last value (the plateau schedule has made its ``max_lr_drops`` drops, or
        the step schedule is past its last milestone), stop when the validation error has not
        improved for ``early_stopping`` epochs since the later of the best epoch and that drop."""
        patience, best = self.config.early_stopping, self.best_epoch
        if patience is None or best is None:
            return False
        rates = [row["lr"] for row in self.history] + [self.optimizer.param_groups[0]["lr"]]
        drops = [i for i in range(1, len(rates)) if rates[i] < rates[i - 1]]
        c = self.config
        final = len(drops) >= c.max_lr_drops if c.schedule == "plateau" else \
            self.epoch >= max(c.milestones, default=0)
        return final and self.epoch - max(best, drops[-1] if drops else 0) >= patience

    def _check_loaders(self, train_loader, val_loader, evaluate: dict) -> None:
        """TrainConfig.batch_size is the global batch: the loader must give its share of it.
        Early stopping and restore_best read a validation set; extra sets need their own names."""
        size = getattr(train_loader, "batch_size", None)
        world = dist.get_world_size() if self.distributed else 1
        if size is not None and size * world != self.config.batch_size:
            per = f" per process, x {world} processes" if world > 1 else ""
            raise AlexNetError(f"the training loader gives batches of {size} images{per}, but "
                               f"TrainConfig.batch_size is {self.config.batch_size}: build the loader "
                               f"with batch_size=config.batch_size // world_size")
        if val_loader is None and (self.config.early_stopping or self.config.restore_best):
            raise AlexNetError("early_stopping and restore_best read the validation error: pass a "
                               "validation loader to fit")
        clash = sorted(set(evaluate) & {"train", "val"})
        if clash:
            raise AlexNetError(f"evaluation set names {clash} are taken by the training and "
                               "validation metrics: name the extra sets otherwise, e.g. 'test'")

    def train_epoch(self, loader, epoch: int) -> dict:
        """One pass over the training set; returns the running train loss and errors."""
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        self.model.train()
        meter, pending = Meter(self.device), []
        check_every = self.check_every
        for step, (x, y) in enumerate(self._progress(loader, f"epoch {epoch + 1}")):
            x, y = self._to_device(x, y)
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
        meter = Meter(self.device)
        for x, y in self._progress(loader, prefix):
            x, y = self._to_device(x, y)
            with self._autocast():
                if ten_crop:
                    logits = ten_crop_predict(self.model, x, self.module.image_size).clamp_min(1e-12).log()
                else:
                    logits = self.model(x)
            loss = F.nll_loss(logits.float(), y) if ten_crop else F.cross_entropy(logits.float(), y)
            meter.add(loss, logits, y)
        return meter.result(prefix)

    def test(self, loader, ten_crop: bool = False) -> dict:
        """Score the test set once, after training: ``test_loss``, ``test_top1``, ``test_top5``,
        added to the last history row and saved with it (collective under torch.distributed)."""
        result = self.evaluate(loader, prefix="test", ten_crop=ten_crop)
        if self.history:
            self.history[-1].update(result)
            with claim_folder(self.checkpoint_path.parent if self.checkpoint_path else None):
                self.save()
        return result

    def _to_device(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """A batch on the trainer's device, in the model's memory format (asynchronous copies)."""
        return (x.to(self.device, non_blocking=True, memory_format=self.memory_format),
                y.to(self.device, non_blocking=True))

    def _autocast(self):
        dtype = AMP_DTYPES.get(self.config.amp)
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)

    def _progress(self, loader, desc: str):
        return tqdm(loader, desc=desc, leave=False, disable=not self.config.progress or self.rank != 0)

    # ------------------------------------------------------------ nothing non-finite is kept

    def _kept(self) -> str:
        """What is on disk, truthfully: the checkpoint this run wrote or resumed from, or none."""
        if self.saved_epoch is None:
            return "no checkpoint was written"
        return f"the last good checkpoint {self.checkpoint_path} (epoch {self.saved_epoch}) is kept"

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
            raise Diverged(f"the loss became {float(losses[bad[0]])} at epoch {epoch + 1}, "
                           f"step {first + 1}; training stopped and {self._kept()}: lower the "
                           "learning rate", epoch + 1)

    def _check_epoch(self, row: dict, epoch: int) -> None:
        """After an epoch, before its checkpoint: the last update may have made the weights
        non-finite (the loss is read before each update), and the validation loss must be finite."""
        self._check_weights(f"in epoch {epoch + 1}", epoch + 1)
        value = row.get("val_loss")
        if value is not None and not torch.isfinite(torch.tensor(value)):
            raise Diverged(f"the validation loss became {value} after epoch {epoch + 1}; "
                           f"training stopped and {self._kept()}: lower the learning rate",
                           epoch + 1)

    def _check_weights(self, when: str, epoch: int) -> None:
        """One line, and nothing saved, if any parameter holds a NaN or an infinity. The weights
        are the same on every rank, so every rank decides the same."""
        for name, p in self.module.named_parameters():
            if not bool(torch.isfinite(p.detach()).all()):
                raise Diverged(f"the weights became non-finite ({name}) {when}; training "
                               f"stopped and {self._kept()}: lower the learning rate", epoch)

    # ------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict:
        """Everything a resumed run needs; under torch.distributed, every rank's RNG state too
        (collective: call it on every rank)."""
        state = {"model": self.module.state_dict(), "model_config": getattr(self.module, "config", {}),
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "scaler": self.scaler.state_dict(), "epoch": self.epoch, "history": self.history,
                 "train_config": plain_config(self.config), "rng": rng_state(),
                 "classes": self.classes, "split": self.split,
                 "config_changes": self.config_changes}
        if self.config.restore_best:
            state["best_model"] = self.best_state
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
        self._check_weights(f"after epoch {self.epoch}", self.epoch)
        state = self.state_dict()
        on_rank_zero(lambda: self._write(state))
        self.saved_epoch = self.epoch

    def _write(self, state: dict) -> None:
        try:
            save_checkpoint(state, self.checkpoint_path)
        except OSError as e:
            before = "the previous checkpoint" if self.saved_epoch is None else \
                f"the checkpoint of epoch {self.saved_epoch}"
            raise AlexNetError(f"cannot write checkpoint {self.checkpoint_path} ({e.strerror or e}); "
                               f"{before} is left as it was: free space on that disk (or choose "
                               "another --checkpoint-dir), then --resume") from None

    def resume(self) -> bool:
        """Load ``last.pt`` if there is one; True when training continues from it
        (:func:`alexnet.resume.restore`: what is refused, what may change)."""
        return restore(self)


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


def _same_device(a: torch.device, b: torch.device) -> bool:
    """``cuda`` names the current GPU, so it matches ``cuda:N``."""
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def _classes(loader) -> list[str] | None:
    """The class names a loader knows (``alexnet.data`` loaders do), else None."""
    classes = getattr(loader, "classes", None)
    return [str(c) for c in classes] if classes is not None else None
