"""Training runs: one arm, one seed, §5's recipe at the regime's size; kept on disk.

**An arm's run** (:func:`train_arm`) trains converged, by §5's rule read on held-out training
images: the regime's ``val_images`` images outside its training subset, drawn with ``val_seed``
(:func:`.data.for_regime`). :meth:`~alexnet.train.Trainer.fit` divides the learning rate by 10
when their error stops improving (``plateau_patience`` epochs, at most ``max_lr_drops`` times),
stops after ``early_stopping`` epochs without a better one (or at ``epochs``, the most), and
ends with the weights of the best validation epoch. Those weights score the test images once,
and the clean training subset (whole images, no augmentation), so the gap is test − train error
of one network. The record holds the validation curve and the evidence of convergence: the
epoch chosen, the epochs run, whether the validation error (not the cap) ended the run.

**Figure 1's run** (:func:`figure1_run`) is §3.1's: a constant rate, no validation split, until
the training error reaches the target.

A run trains once per machine: its record (per-epoch curve, final metrics, seconds, and the
probes its arm names, measured on the trained network: :mod:`.probes`) is stored in the run cache
(:mod:`.cache`), without the weights, keyed by everything that decides the result:
every field of the arm and of the regime, the seed, the test images, the SHA-256 of the data read,
the device type, the torch version and the code that runs.
A claim that needs a run already made (a shared baseline, the pilot's seeds, a run before a
crash) loads it, so ``alexnet reproduce all`` resumes where it stopped and claims that share a
baseline train it once. Delete the folder to start afresh.
"""
from __future__ import annotations

import itertools
import sys
import time
from dataclasses import asdict

import torch
from torch import nn

from ..model import CifarAlexNet, FourLayerCNN, without_conv
from ..train import Diverged, TrainConfig, Trainer, seed_everything
from . import cache
from .data import EVAL_BATCH, data_sha256, for_regime, loaders
from .probes import probe, start_of
from .settings import Arm, Regime, Scale

__all__ = ["Run", "build", "without_conv", "train_arm", "figure1_run", "epochs_to", "log",
           "train_config", "time_arm"]

#: Seconds this process has spent training runs (not loading them): a claim's own wall time is
#: its elapsed time minus what it trained, plus the seconds of every run it uses.
CLOCK = {"training_seconds": 0.0}


def log(progress: bool, text: str) -> None:
    if progress:
        print(f"reproduce: {text}", file=sys.stderr, flush=True)


class Run:
    """A finished run: its ``record`` (plain values) and, when it was trained in this process,
    its ``model`` (None when it came from the cache, which keeps no weights)."""

    def __init__(self, record: dict, model: nn.Module | None = None) -> None:
        self.record, self.model = record, model

    @property
    def metrics(self) -> dict:
        return self.record["metrics"]


def build(arm: Arm, regime: Regime) -> nn.Module:
    """A fresh network for ``arm`` (seed the generators first: this draws the weights).

    CifarAlexNet keeps PyTorch's default initialisation (``init="pytorch"``): with §5's N(0, 0.01²)
    an 8-layer net this narrow does not leave its starting plateau within a CPU budget."""
    options = dict(arm.options)
    if regime.arch == "four-layer":
        return FourLayerCNN(**options)
    dropout = regime.dropout if arm.dropout is None else arm.dropout
    model = CifarAlexNet(**{"init": "pytorch", "dropout": dropout, **options})
    return without_conv(model, arm.remove) if arm.remove else model


def epochs_to(curve: list[dict], key: str, target: float, start: float = 0.9) -> float | None:
    """Epochs until ``curve[i][key]`` first falls to ``target``, linearly interpolated between
    epochs (epoch 0 = ``start``, chance level for ten classes); None if it never does."""
    previous_epoch, previous = 0.0, start
    for row in curve:
        value = row[key]
        if value <= target:
            if previous <= target:
                return previous_epoch
            share = (previous - target) / (previous - value)
            return previous_epoch + share * (row["epoch"] - previous_epoch)
        previous_epoch, previous = float(row["epoch"]), value
    return None


def _rounded(rows: list[dict], digits: int = 6) -> list[dict]:
    return [{k: round(v, digits) if isinstance(v, float) else v for k, v in row.items()}
            for row in rows]


# ---------------------------------------------------------------- the cache

def _entry(scale: Scale, device: torch.device, data, what: dict) -> cache.Entry:
    """The run cache's entry of a run: ``what`` decides it, with the data read and the device
    (:mod:`.cache` adds the code that runs and the torch version)."""
    return cache.entry(scale, {**what, "device": device.type, "data_sha256": data_sha256(data)})


# ---------------------------------------------------------------- arms

def _curve(history: list[dict]) -> list[dict]:
    """The rows of a run's record: the trainer's history without its wall-clock seconds."""
    return _rounded([{k: v for k, v in row.items() if k != "seconds"} for row in history])


def _augmentation(arm: Arm, regime: Regime) -> tuple[bool, bool]:
    """(crops and flips, PCA lighting) of an arm: its own where it sets them, else its regime's."""
    return (regime.augment if arm.augment is None else arm.augment,
            regime.lighting if arm.lighting is None else arm.lighting)


def train_config(regime: Regime, seed: int) -> TrainConfig:
    """The recipe of a regime (§5): its schedule ("constant" is the step schedule without
    milestones), and with a validation split early stopping and the best epoch's weights."""
    validated = regime.val_images > 0
    return TrainConfig(epochs=regime.epochs, lr=regime.lr, weight_decay=regime.weight_decay,
                       batch_size=regime.batch_size,
                       schedule="plateau" if regime.schedule == "plateau" else "step",
                       patience=regime.plateau_patience, max_lr_drops=regime.max_lr_drops,
                       milestones=regime.milestones if regime.schedule == "step" else (),
                       early_stopping=regime.early_stopping if validated else None,
                       restore_best=validated, seed=seed, reseed=False, progress=False)


def _metrics(trainer: Trainer, history: list[dict], sets: dict, regime: Regime) -> dict:
    """The run's numbers with the weights it ends with (the best validation epoch's): test and
    clean training error and loss, their gap, and the evidence of convergence."""
    final = trainer.evaluate(sets["test"], prefix="test")
    seen = trainer.evaluate(sets["clean"], prefix="train")
    best = trainer.best_epoch
    patience = regime.early_stopping if sets["val"] is not None else None
    return {"test_top1": final["test_top1"], "test_loss": final["test_loss"],
            "train_top1": seen["train_top1"], "train_loss": seen["train_loss"],
            "gap": final["test_top1"] - seen["train_top1"],
            "val_top1": history[best - 1]["val_top1"] if best else None,
            "best_epoch": best,
            "stopped_early": bool(best and patience and len(history) - best >= patience)}


def train_arm(arm: Arm, scale: Scale, seed: int, device: torch.device,
              progress: bool = False, test_curve: bool = False) -> Run:
    """Train ``arm`` with ``seed`` (or load the run from the cache): its record and, when trained
    here, its network with the weights of its best validation epoch (module docstring).
    ``test_curve`` also scores the test images after every epoch, for a plot (no decision reads
    them).

    The record: ``arm``, ``regime``, ``seed``, ``model`` (its config), ``augment``,
    ``lighting``, ``crop``, ``val_images``, ``val_seed``, ``epochs`` (run), ``curve`` (per
    epoch: ``epoch``, ``lr``, ``train_top1``, ``train_loss``, ``val_top1``, ``val_loss``...),
    ``metrics`` (``test_top1``, ``test_loss``, ``train_top1``, ``train_loss``, ``gap``,
    ``val_top1``, ``best_epoch``, ``stopped_early``), ``probes`` (:func:`.probes.probe`) and
    ``seconds``."""
    regime = scale.regime(arm.regime)
    augment, lighting = _augmentation(arm, regime)
    seed_everything(seed)
    model = build(arm, regime)
    start = start_of(model) if arm.probes else None
    data = for_regime(regime, scale.test_images)
    entry = _entry(scale, device, data, {"arm": asdict(arm), "regime": asdict(regime),
                                         "seed": seed, "test_images": scale.test_images,
                                         "test_curve": test_curve})
    cached = entry.load()
    if cached is not None:
        return Run(cached)
    model = model.to(device)
    sets = loaders(data, regime.batch_size, seed, device, augment, lighting, arm.crop)
    log(progress, f"{arm.label}, seed {seed}: up to {regime.epochs} epochs on "
                  f"{len(data.train):,} images, validated on {len(data.val):,}")
    began = time.perf_counter()
    trainer = Trainer(model, train_config(regime, seed), device)
    history = trainer.fit(sets["train"], sets["val"],
                          evaluate={"test": sets["test"]} if test_curve else None)
    metrics = _metrics(trainer, history, sets, regime)
    record = {"arm": arm.label, "regime": regime.name, "seed": seed, "model": model.config,
              "augment": augment, "lighting": lighting, "crop": arm.crop,
              "val_images": len(data.val), "val_seed": regime.val_seed, "epochs": len(history),
              "metrics": metrics, "curve": _curve(history),
              "seconds": round(time.perf_counter() - began, 2)}
    record["probes"] = probe(arm, model, start, data, scale, device)
    log(progress, f"  test error {metrics['test_top1']:.2%} at epoch {metrics['best_epoch']} of "
                  f"{len(history)}, gap {metrics['gap']:+.2%} ({record['seconds']:.0f} s)")
    entry.store(record)
    CLOCK["training_seconds"] += record["seconds"]
    return Run(record, model)


class _First:
    """The first ``steps`` batches of a loader (its ``set_epoch`` kept)."""

    def __init__(self, loader, steps: int) -> None:
        self.loader, self.steps = loader, steps

    def set_epoch(self, epoch: int) -> None:
        self.loader.set_epoch(epoch)

    def __iter__(self):
        return itertools.islice(iter(self.loader), self.steps)


def _seconds(work, device: torch.device) -> float:
    start = time.perf_counter()
    work()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def time_arm(arm: Arm, scale: Scale, device: torch.device, steps: int = 4) -> dict:
    """Seconds per image of ``arm``, measured here on its own loaders and network: training
    (``steps`` batches, after one of warm-up) and scoring (two batches), and the images of one
    run (``train``, ``val``, ``scored`` once at the end: test and clean training images). Trains
    nothing that is kept."""
    regime = scale.regime(arm.regime)
    seed_everything(0)
    data = for_regime(regime, scale.test_images)
    sets = loaders(data, regime.batch_size, 0, device, *_augmentation(arm, regime), arm.crop)
    trainer = Trainer(build(arm, regime), train_config(regime, 0), device)
    trainer.train_epoch(_First(sets["train"], 1), 0)
    train = _seconds(lambda: trainer.train_epoch(_First(sets["train"], steps), 0), device)
    score = _seconds(lambda: trainer.evaluate(_First(sets["test"], 2)), device)
    per_image = min(2 * EVAL_BATCH, len(data.test))
    return {"train": train / min(steps * regime.batch_size, len(data.train)),
            "score": score / per_image,
            "images": {"train": len(data.train), "val": len(data.val),
                       "scored": len(data.test) + min(len(data.train), len(data.test))}}


# ---------------------------------------------------------------- Figure 1

def figure1_run(activation: str, lr: float, seed: int, scale: Scale, device: torch.device,
                budget: int, progress: bool = False) -> dict:
    """Figure 1's setting (§3.1): the four-layer net with no regularisation of any kind, at a
    constant ``lr``, until its training error (as measured during training, as cuda-convnet
    reported it) reaches the target or ``budget`` epochs pass. A rate whose loss becomes NaN or
    infinite counts as diverged."""
    regime = scale.regime("figure1")
    data = for_regime(regime, scale.test_images)
    entry = _entry(scale, device, data, {"figure1": activation, "lr": lr, "seed": seed,
                                         "budget": budget, "regime": asdict(regime),
                                         "target": scale.relu_target})
    cached = entry.load()
    if cached is not None:
        return cached
    seed_everything(seed)
    model = FourLayerCNN(activation=activation)
    loader = loaders(data, regime.batch_size, seed, device, augment=False, lighting=False)["train"]
    config = TrainConfig(epochs=budget, lr=lr, weight_decay=0.0, seed=seed, schedule="step",
                         batch_size=regime.batch_size, progress=False, reseed=False)
    trainer, diverged, start = Trainer(model, config, device), False, time.perf_counter()
    try:
        trainer.fit(loader, stop=lambda row: row["train_top1"] <= scale.relu_target)
    except Diverged:                  # the loss became NaN or infinite: this rate is too high
        diverged = True
    curve = _curve(trainer.history)
    reached = None if diverged else epochs_to(trainer.history, "train_top1", scale.relu_target)
    record = {"activation": activation, "lr": lr, "seed": seed, "budget": budget,
              "diverged": diverged, "epochs_to_target": reached, "curve": curve,
              "final_train_top1": trainer.history[-1]["train_top1"] if curve and not diverged
              else 1.0,
              "seconds": round(time.perf_counter() - start, 2)}
    log(progress, f"Figure 1, {activation} at lr {lr:g}, seed {seed}: " + (
        "diverged" if diverged else f"{'never' if reached is None else f'{reached:.2f} epochs'} "
        f"to {scale.relu_target:.0%} training error"))
    entry.store(record)
    CLOCK["training_seconds"] += record["seconds"]
    return record
