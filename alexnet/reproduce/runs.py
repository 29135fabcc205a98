"""Training runs: one arm, one seed, §5's recipe at the regime's size; kept on disk.

A run trains once per machine: its record (per-epoch curve, final metrics, seconds) and its final
weights are stored in the cache (``$ALEXNET_CACHE/reproduce/<scale>/``), keyed by everything that
decides the result: the arm, the regime, the seed, the device type and a hash of the package's
training code. A claim that needs a run already made (a shared baseline, the pilot's seeds, a run
before a crash) loads it, so ``alexnet reproduce all`` resumes where it stopped and claims that
share a baseline train it once. Delete the folder to start afresh.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..data import cache_dir
from ..errors import AlexNetError
from ..model import CifarAlexNet, FourLayerCNN, without_conv
from ..runtime import write_atomic
from ..train import Diverged, TrainConfig, Trainer, seed_everything
from .data import cifar, loaders
from .settings import Arm, Regime, Scale

__all__ = ["Run", "build", "without_conv", "train_arm", "figure1_run", "epochs_to", "log"]

#: The package files whose code decides what a run computes.
TRAINING_CODE = ("activations.py", "data.py", "datasets.py", "dropout.py", "folders.py",
                 "loaders.py", "lrn.py", "model.py", "pooling.py", "recipe.py", "resume.py",
                 "train.py", "transforms.py", "two_tower.py", "reproduce/data.py",
                 "reproduce/runs.py")


#: Seconds this process has spent training runs (not loading them): a claim's own wall time is
#: its elapsed time minus what it trained, plus the seconds of every run it uses.
CLOCK = {"training_seconds": 0.0}


def log(progress: bool, text: str) -> None:
    if progress:
        print(f"reproduce: {text}", file=sys.stderr, flush=True)


@lru_cache(maxsize=1)
def training_code_sha256() -> str:
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in TRAINING_CODE:
        digest.update(name.encode() + b"\0" + (package / name).read_bytes())
    return digest.hexdigest()


class Run:
    """A finished run: its ``record`` (plain values) and, for arms, its trained ``model``."""

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

def _cache_path(scale: Scale, what: dict) -> Path:
    what = {**what, "code": training_code_sha256(), "torch": torch.__version__}
    key = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return cache_dir() / "reproduce" / scale.name / f"{key}.pt"


def _load(path: Path, model: nn.Module | None) -> Run | None:
    if not path.is_file():
        return None
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        if model is not None:
            model.load_state_dict(stored["state"])
        return Run(stored["record"], model)
    except Exception:  # noqa: BLE001 - a damaged cache entry is retrained, not trusted
        path.unlink(missing_ok=True)
        return None


def _store(path: Path, run: Run) -> None:
    state = {k: v.cpu() for k, v in run.model.state_dict().items()} if run.model else {}
    write_atomic(path, lambda f: torch.save({"record": run.record, "state": state}, f))


# ---------------------------------------------------------------- arms

def _curve(history: list[dict]) -> list[dict]:
    """The rows of a run's record: the trainer's history without its wall-clock seconds."""
    return _rounded([{k: v for k, v in row.items() if k != "seconds"} for row in history])


def train_arm(arm: Arm, scale: Scale, seed: int, device: torch.device,
              progress: bool = False, test_curve: bool = False) -> Run:
    """Train ``arm`` with ``seed`` (or load the run from the cache): its record and network.
    ``test_curve`` also scores the test images after every epoch, for a plot (the schedule
    never reads them)."""
    regime = scale.regime(arm.regime)
    augment = regime.augment if arm.augment is None else arm.augment
    lighting = regime.lighting if arm.lighting is None else arm.lighting
    seed_everything(seed)
    model = build(arm, regime)
    path = _cache_path(scale, {"arm": arm.key(), "regime": asdict(regime), "seed": seed,
                               "test_images": scale.test_images, "device": device.type,
                               "test_curve": test_curve})
    cached = _load(path, model.to(device))
    if cached is not None:
        return cached
    data = cifar(regime.train_images, scale.test_images)
    train, test, clean = loaders(data, regime.batch_size, seed, device, augment, lighting)
    log(progress, f"{arm.label}, seed {seed}: {regime.epochs} epochs on {len(data.train):,} images")
    start = time.perf_counter()
    config = TrainConfig(epochs=regime.epochs, lr=regime.lr, seed=seed, schedule="step",
                         milestones=regime.milestones, batch_size=regime.batch_size,
                         weight_decay=regime.weight_decay, progress=False, reseed=False)
    trainer = Trainer(model, config, device)
    history = trainer.fit(train, evaluate={"test": test} if test_curve else None)
    final, seen = trainer.evaluate(test, prefix="test"), trainer.evaluate(clean, prefix="train")
    metrics = {"test_top1": final["test_top1"], "test_loss": final["test_loss"],
               "train_top1": seen["train_top1"], "train_loss": seen["train_loss"],
               "gap": final["test_top1"] - seen["train_top1"],
               "epochs_to_converge": epochs_to(history, "train_top1", scale.converge_error)}
    record = {"arm": arm.label, "regime": regime.name, "seed": seed, "model": model.config,
              "augment": augment, "lighting": lighting, "metrics": metrics,
              "curve": _curve(history), "seconds": round(time.perf_counter() - start, 2)}
    log(progress, f"  test error {metrics['test_top1']:.2%}, gap {metrics['gap']:+.2%} "
                  f"({record['seconds']:.0f} s)")
    run = Run(record, model)
    _store(path, run)
    CLOCK["training_seconds"] += record["seconds"]
    return run


# ---------------------------------------------------------------- Figure 1

def figure1_run(activation: str, lr: float, seed: int, scale: Scale, device: torch.device,
                budget: int, progress: bool = False) -> dict:
    """Figure 1's setting (§3.1): the four-layer net with no regularisation of any kind, at a
    constant ``lr``, until its training error (as measured during training, as cuda-convnet
    reported it) reaches the target or ``budget`` epochs pass. A rate whose loss becomes NaN or
    infinite counts as diverged."""
    regime = scale.regime("figure1")
    path = _cache_path(scale, {"figure1": activation, "lr": lr, "seed": seed, "budget": budget,
                               "regime": asdict(regime), "target": scale.relu_target,
                               "device": device.type})
    cached = _load(path, None)
    if cached is not None:
        return cached.record
    seed_everything(seed)
    model = FourLayerCNN(activation=activation)
    data = cifar(regime.train_images, scale.test_images)
    loader = loaders(data, regime.batch_size, seed, device, augment=False, lighting=False)[0]
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
    _store(path, Run(record))
    CLOCK["training_seconds"] += record["seconds"]
    return record
