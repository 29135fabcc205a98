"""Training and evaluation, §5 of the paper.

Stochastic gradient descent, batch 128, momentum 0.9, weight decay 0.0005, the same learning rate
for every layer, starting at 0.01 and divided by 10 when the validation error stops improving
(three times in the paper), on the softmax cross-entropy ("multinomial logistic regression", §3.5).
Errors are reported as top-1 and top-5 error rates (§6).

The paper's update is v <- 0.9 v - 0.0005 eps w - eps grad, w <- w + v. PyTorch's
``SGD(lr=eps, momentum=0.9, weight_decay=5e-4)`` computes the same steps while the learning rate is
constant; after a drop PyTorch's velocity takes the new rate at once, the paper's decays to it
(paper-notes §5).

:class:`Trainer` adds what days of training need: optional bf16/fp16 autocast on GPUs, a metrics
history, checkpoints written atomically after every epoch (:mod:`alexnet.checkpoint`) and exact
resume, a stop with a clear message on a non-finite loss, and torch.distributed data parallelism
(metrics reduced over ranks, checkpoints written by rank 0).
"""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from .checkpoint import (check_writable, load_checkpoint, load_weights, save_checkpoint,
                         weight_mismatch)
from .errors import AlexNetError

__all__ = ["TrainConfig", "Trainer", "topk_errors"]

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainConfig:
    """The recipe of §5; every field has the paper's value as its default where the paper gives one."""

    epochs: int = 90
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_factor: float = 0.1     # "divide the learning rate by 10"
    patience: int = 0          # epochs without improvement before a drop (0: at the first miss)
    max_lr_drops: int = 3      # "reduced three times prior to termination"
    amp: str | None = None     # None, "bf16" or "fp16" (GPUs only)
    seed: int = 0
    progress: bool = True
    checkpoint_dir: str | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise AlexNetError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise AlexNetError(f"batch size must be at least 1, got {self.batch_size}")
        if not self.lr > 0:
            raise AlexNetError(f"learning rate must be positive, got {self.lr}")
        if self.amp not in (None, *AMP_DTYPES):
            raise AlexNetError(f"amp must be one of {sorted(AMP_DTYPES)} or None, got {self.amp!r}")


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
    """Seed Python's, NumPy's and PyTorch's (CPU and CUDA) random number generators."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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


class Trainer:
    """Trains a model with the recipe of §5 and keeps everything needed to resume exactly.

    >>> trainer = Trainer(CifarAlexNet(), TrainConfig(epochs=10), device="cuda")
    >>> history = trainer.fit(train_loader, val_loader)   # one dict of metrics per epoch

    Loaders yield ``(images, targets)`` and may have ``set_epoch(epoch)`` (``alexnet.data`` loaders
    do), which makes each epoch's shuffling and augmentation a function of the seed and the epoch.
    Under ``torch.distributed`` the model is wrapped in DistributedDataParallel, metrics are summed
    over ranks and only rank 0 writes checkpoints and progress bars. A checkpoint keeps every rank's
    random-number state; on resume rank 0 reads it and sends it to the other ranks.
    """

    def __init__(self, model: nn.Module, config: TrainConfig | None = None,
                 device: str | torch.device | None = None) -> None:
        self.config = config or TrainConfig()
        self.module = model
        if hasattr(model, "devices"):                     # TwoTowerAlexNet places itself
            self.device = model.devices[0]
        else:
            self.device = torch.device(device or "cpu")
            model.to(self.device)
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.distributed else 0
        self.model = self._wrap(model)
        c = self.config
        self.optimizer = torch.optim.SGD(model.parameters(), lr=c.lr, momentum=c.momentum,
                                         weight_decay=c.weight_decay)
        floor = c.lr * c.lr_factor ** c.max_lr_drops * (1 - 1e-6)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=c.lr_factor, patience=c.patience, min_lr=floor)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=c.amp == "fp16")
        self.history: list[dict] = []
        self.epoch = 0                                     # epochs completed
        if c.amp and self.device.type != "cuda":
            raise AlexNetError(f"--amp {c.amp} needs a CUDA device, but training runs on "
                               f"{self.device}: leave --amp out, or train on a GPU")

    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.distributed:
            return model
        ids = [self.device] if self.device.type == "cuda" and not hasattr(model, "devices") else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    @property
    def checkpoint_path(self) -> Path | None:
        d = self.config.checkpoint_dir
        return Path(d) / "last.pt" if d else None

    def fit(self, train_loader, val_loader=None, *, resume: bool = False) -> list[dict]:
        """Train for ``config.epochs`` epochs (from the last checkpoint when ``resume``)."""
        if self.checkpoint_path and self.rank == 0:
            check_writable(self.checkpoint_path.parent)
        if not (resume and self.resume()):
            seed_everything(self.config.seed + self.rank)
        for epoch in range(self.epoch, self.config.epochs):
            start = time.perf_counter()
            row = {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
            row.update(self.train_epoch(train_loader, epoch))
            if val_loader is not None:
                row.update(self.evaluate(val_loader))
            row["seconds"] = time.perf_counter() - start
            self.scheduler.step(row["val_top1" if val_loader is not None else "train_top1"])
            self.history.append(row)
            self.epoch = epoch + 1
            self.save()
        return self.history

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
            path = self.checkpoint_path
            kept = f"the last good checkpoint {path} (epoch {self.epoch}) is kept" \
                if path and path.exists() else "no checkpoint was written"
            raise AlexNetError(f"the loss became {float(losses[bad[0]])} at epoch {epoch + 1}, "
                               f"step {first + 1}; training stopped and {kept}: lower the learning rate")

    def _autocast(self):
        dtype = AMP_DTYPES.get(self.config.amp)
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)

    def _progress(self, loader, desc: str):
        return tqdm(loader, desc=desc, leave=False, disable=not self.config.progress or self.rank != 0)

    def state_dict(self) -> dict:
        """Everything a resumed run needs; under torch.distributed, every rank's RNG state too
        (collective: call it on every rank)."""
        state = {"model": self.module.state_dict(), "model_config": getattr(self.module, "config", {}),
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "scaler": self.scaler.state_dict(), "epoch": self.epoch, "history": self.history,
                 "train_config": asdict(self.config), "rng": rng_state()}
        if self.distributed:
            state["rng_ranks"] = [None] * dist.get_world_size()
            dist.all_gather_object(state["rng_ranks"], state["rng"])
        return state

    def save(self) -> None:
        """Write ``last.pt`` atomically (rank 0 writes; every rank takes part)."""
        if self.checkpoint_path:
            state = self.state_dict()
            if self.rank == 0:
                save_checkpoint(state, self.checkpoint_path)

    def resume(self) -> bool:
        """Load ``last.pt`` if there is one; True when training continues from it."""
        state = self._read_checkpoint()
        if state is None:
            return False
        self._check_same_model(state)
        load_weights(self.module, state["model"], source=f"checkpoint {self.checkpoint_path}")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.history = state["epoch"], state["history"]
        self._restore_rng(state)
        return True

    def _read_checkpoint(self) -> dict | None:
        """``last.pt``, or None. Under torch.distributed rank 0 reads it and sends it to every rank,
        so all of them resume from the same state even when only rank 0's machine has the file."""
        path = self.checkpoint_path
        state = [load_checkpoint(path) if self.rank == 0 and path and path.exists() else None]
        if self.distributed and path:
            dist.broadcast_object_list(state, src=0)
        return state[0]

    def _check_same_model(self, state: dict) -> None:
        """A clear error, naming the options and the layers that differ, for another model's
        checkpoint. The devices of a two-tower model may differ (each rank has its own GPUs)."""
        saved, own = dict(state.get("model_config") or {}), dict(getattr(self.module, "config", {}))
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

    def _restore_rng(self, state: dict) -> None:
        """This rank's random-number state as it was; with another number of processes than the
        checkpoint's, a fresh seed per (seed, epoch, rank): training goes on, not bit for bit."""
        saved = state.get("rng_ranks") or [state["rng"]]
        world = dist.get_world_size() if self.distributed else 1
        if len(saved) == world:
            set_rng_state(saved[self.rank])
        else:
            seed_everything(self.config.seed + 1_000_003 * self.epoch + self.rank)
