r"""The paper's claims, checked one by one: the experiments, their statistics, and the ledger.

::

    python -m alexnet reproduce relu --scale cpu --seeds 3 --out alexnet/results/   # one claim
    python -m alexnet reproduce all --scale gpu --out alexnet/results/              # every claim
    python -m alexnet reproduce ledger --out alexnet/results/                       # LEDGER.md only

Each claim (§3.1–§3.4, §4.1, §4.2, §6.1, §7) becomes training runs on real CIFAR-10 images, several
seeds per variant, and a result file ``alexnet/results/<claim>-<scale>.json`` that holds everything the
book draws: per-seed metrics, per-epoch curves, the statistics, the verdict, and the provenance
(command, git commit, device, library versions, date, wall time). ``alexnet/results/LEDGER.md`` is generated
from those files; no number in it is typed by hand.

**Data.** CIFAR-10 is the paper's own data set for claims 1 (ReLU, Figure 1) and 2 (LRN, 13% → 11%).
The other claims were ImageNet ablations; here they run on CIFAR-10 with
:class:`~alexnet.CifarAlexNet`, a CIFAR-sized stand-in with every feature of the ImageNet network,
and each result says so.

**Scales** (:class:`Scale`): ``cpu`` runs each claim in minutes on two cores (training subsets, a
few epochs), ``gpu`` uses all 50,000 training and 10,000 test images with CIFAR-10 resident on the
GPU, and ``test`` exists for the test suite only.

**Verdicts.** Every comparison is paired by seed (same seed, same initial stream, same batches):
the per-seed differences :math:`d_i`, oriented so that positive is the paper's direction, give a
mean, a standard error and a t-based 95% interval :math:`\bar d \pm t_{0.975,\,n-1}\, s/\sqrt n`.
"reproduced" when the interval lies above 0, "not reproduced" when it lies below 0 (the opposite
effect), "within noise" when it contains 0 (or when there is one seed, hence no interval).

Departures, written down where they are made: ``init="pytorch"`` (with the paper's N(0, 0.01²)
the net does not leave its starting plateau within a CPU budget), learning rates, batch size and
epochs per scale, the learning rate divided by 10 after ``patience`` epochs without improvement
(the paper decided by hand), and 512-d fc7 features (4096 in the paper).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy
import torch
import torchvision
from torch import nn

from .cli import Parser, positive_int, resolve_device
from .data import BatchLoader, cifar10
from .errors import AlexNetError
from .model import CifarAlexNet, FourLayerCNN
from .train import TrainConfig, Trainer, seed_everything
from .transforms import PCALighting, SubtractMean, fit_mean, fit_pca_lighting

__all__ = ["Scale", "SCALES", "Variant", "Claim", "CLAIMS", "run_claim", "run_all",
           "chapter_result", "committed_result", "has_committed_result", "load_result",
           "ledger_rows", "ledger_markdown", "write_ledger", "summarise", "verdict", "t_quantile",
           "epochs_to", "without_conv", "code_state", "add_arguments", "run"]

VERDICTS = ("reproduced", "not reproduced", "within noise")


# ---------------------------------------------------------------- scales

@dataclass(frozen=True)
class Scale:
    """How large every experiment is. One instance per scale; stored in every result file."""

    name: str
    train_images: int | None        # training images, spread evenly over classes (None: 50,000)
    test_images: int | None         # test images evaluated (None: all 10,000)
    epochs: int                     # CifarAlexNet ablations (claims 3-9)
    lr: float                       # their initial learning rate
    four_layer_epochs: int          # four-layer net with and without LRN (claim 2)
    four_layer_lr: float
    relu_images: int | None         # training images of the Figure 1 runs (claim 1)
    relu_epochs: int                # most epochs a Figure 1 run gets to reach the target (claim 1)
    relu_tune_epochs: int           # most epochs of each run of the learning-rate search (claim 1)
    relu_lrs: tuple[float, ...]     # learning rates tried for each activation (claim 1)
    converge_error: float           # training error that counts as "converged" (claim 4)
    neighbour_queries: int          # test images whose neighbours are searched (claim 9)
    seeds: int                      # seeds per variant unless --seeds says otherwise
    device: str = "cpu"
    batch_size: int = 128           # §5
    weight_decay: float = 5e-4      # §5 (0 in claim 1: "no regularization of any kind")
    patience: int = 1               # epochs without improvement before the learning rate drops
    relu_target: float = 0.25       # Figure 1: epochs to 25% training error
    neighbours_k: int = 5           # neighbours counted per query (claim 9)
    init: str = "pytorch"           # CifarAlexNet initialisation (see the module docstring)


SCALES = {
    "test": Scale("test", train_images=256, test_images=128, epochs=1, lr=1e-2,
                  four_layer_epochs=1, four_layer_lr=1e-3,
                  relu_images=256, relu_epochs=2, relu_tune_epochs=2, relu_lrs=(1e-3,),
                  converge_error=0.85, neighbour_queries=32, seeds=2, batch_size=64),
    "cpu": Scale("cpu", train_images=4000, test_images=1000, epochs=5, lr=1e-2,
                 four_layer_epochs=5, four_layer_lr=1e-3,
                 relu_images=2000, relu_epochs=40, relu_tune_epochs=12,
                 relu_lrs=(3e-4, 1e-3, 3e-3, 1e-2, 3e-2),
                 converge_error=0.75, neighbour_queries=500, seeds=5, batch_size=64),
    "gpu": Scale("gpu", train_images=None, test_images=None, epochs=8, lr=1e-2,
                 four_layer_epochs=10, four_layer_lr=1e-3,
                 relu_images=None, relu_epochs=40, relu_tune_epochs=6,
                 relu_lrs=(3e-4, 1e-3, 3e-3, 1e-2, 3e-2),
                 converge_error=0.5, neighbour_queries=1000, seeds=3, device="cuda"),
}


# ---------------------------------------------------------------- data

@dataclass
class Cifar:
    """The CIFAR-10 images one scale uses, with the statistics fitted on all 50,000."""

    train: object                   # TensorImages (the training subset)
    test: object                    # TensorImages (the test subset)
    train_indices: torch.Tensor     # their positions in cifar10(train=True)
    test_indices: torch.Tensor      # and in cifar10(train=False)
    mean: torch.Tensor
    pca: object                     # PCALighting


def spread(n: int | None, total: int) -> torch.Tensor:
    """``n`` indices spread evenly over ``total`` (all of them for None): every class when the set
    is stored class by class, as TensorImages.subset does."""
    n = total if n is None else min(n, total)
    return torch.arange(n) * total // n


@lru_cache(maxsize=2)
def _full_cifar():
    train, test = cifar10(train=True), cifar10(train=False)
    return train, test, fit_mean(train.images), PCALighting(*fit_pca_lighting(train.images))


@lru_cache(maxsize=4)
def cifar(train_images: int | None, test_images: int | None) -> Cifar:
    train, test, mean, pca = _full_cifar()
    i, j = spread(train_images, len(train)), spread(test_images, len(test))
    return Cifar(train.subset(i), test.subset(j), i, j, mean, pca)


def loaders(scale: Scale, seed: int, device, augment: bool = True, lighting: bool = True,
            ten_crop: bool = False):
    """(train, test, clean train) loaders, as ``alexnet.data.build_loaders("cifar10")`` builds them
    (32×32 patches of images padded by 4, flips, PCA lighting), on the scale's subsets. The clean
    train loader shows training images as the test loader does: the overfitting gap is measured
    on it."""
    data = cifar(scale.train_images, scale.test_images)
    common = dict(device=device, mean=data.mean, seed=seed)
    train = BatchLoader(data.train, scale.batch_size, augment=augment, crop=32,
                        padding=4 if augment else 0, lighting=data.pca if lighting else None,
                        **common)
    test = BatchLoader(data.test, 500, shuffle=False, crop=None if ten_crop else 32,
                       padding=4 if ten_crop else 0, **common)
    probe = data.train.subset(min(len(data.train), len(data.test)))
    clean = BatchLoader(probe, 500, shuffle=False, crop=32, **common)
    return train, test, clean


# ---------------------------------------------------------------- models

@dataclass(frozen=True)
class Variant:
    """One arm of a comparison: a network and the data augmentation it trains with."""

    label: str
    arch: str = "cifar"              # "cifar" (CifarAlexNet) or "four-layer" (FourLayerCNN)
    options: tuple = ()              # keyword options of the model, as (name, value) pairs
    remove: str | None = None        # a convolutional layer to take out (claim 8)
    augment: bool = True             # §4.1 random crops and flips
    lighting: bool = True            # §4.1 PCA lighting

    def key(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k != "label"}, sort_keys=True)


BASELINE = Variant("grouped CifarAlexNet (paper's recipe)")


def without_conv(model: nn.Module, name: str = "conv4") -> nn.Module:
    """Claim 8 (§7): take a middle conv layer and its ReLU out of ``model.features``. conv4 can go
    because conv3 and conv4 have the same width (384 in the paper), so conv5 still fits."""
    convs = [i for i, m in enumerate(model.features) if isinstance(m, nn.Conv2d)]
    number = int(name.removeprefix("conv"))
    if not 1 < number < len(convs):
        raise AlexNetError(f"{name} is not a middle conv layer: choose conv2..conv{len(convs) - 1}")
    index = convs[number - 1]
    previous, following = model.features[convs[number - 2]], model.features[convs[number]]
    if previous.out_channels != following.in_channels:
        raise AlexNetError(f"without {name}, conv{number + 1} ({following.in_channels} input maps) "
                           f"would see conv{number - 1}'s {previous.out_channels} maps")
    layers = [m for i, m in enumerate(model.features) if i not in (index, index + 1)]
    model.features = nn.Sequential(*layers)
    model.config = dict(model.config, removed=name)
    return model


def build(variant: Variant, scale: Scale) -> nn.Module:
    """A fresh network for ``variant`` (seed the generators first: this draws the weights)."""
    options = dict(variant.options)
    if variant.arch == "four-layer":
        return FourLayerCNN(**options)
    model = CifarAlexNet(**{"init": scale.init, **options})
    return without_conv(model, variant.remove) if variant.remove else model


# ---------------------------------------------------------------- training runs

_RUNS: dict = {}   # (variant, scale, seed, device) -> (record, model): `all` trains each run once


def _log(progress: bool, text: str) -> None:
    if progress:
        print(f"reproduce: {text}", file=sys.stderr, flush=True)


def _rounded(rows: list[dict], digits: int = 6) -> list[dict]:
    return [{k: round(v, digits) if isinstance(v, float) else v for k, v in row.items()}
            for row in rows]


def train_run(variant: Variant, scale: Scale, seed: int, device: torch.device,
              progress: bool = False) -> tuple[dict, nn.Module]:
    """Train ``variant`` with ``seed`` (§5's recipe at the scale's size): the run's record (curve,
    final metrics, overfitting gap) and the trained network. Trained once per process."""
    key = (variant.key(), scale, seed, str(device))
    if key in _RUNS:
        return _RUNS[key]
    four = variant.arch == "four-layer"
    seed_everything(seed)
    model = build(variant, scale)
    config = TrainConfig(epochs=scale.four_layer_epochs if four else scale.epochs,
                         lr=scale.four_layer_lr if four else scale.lr, batch_size=scale.batch_size,
                         weight_decay=scale.weight_decay, patience=scale.patience, seed=seed,
                         progress=False)
    train, test, clean = loaders(scale, seed, device, variant.augment, variant.lighting)
    _log(progress, f"training {variant.label}, seed {seed}, {config.epochs} epochs on {device}")
    start = time.perf_counter()
    trainer = Trainer(model, config, device)
    curve = trainer.fit(train, test)
    final, train_error = curve[-1], trainer.evaluate(clean, prefix="train")["train_top1"]
    metrics = {"test_top1": final["val_top1"], "test_top5": final["val_top5"],
               "test_loss": final["val_loss"], "train_top1": train_error,
               "gap": final["val_top1"] - train_error,
               "epochs_to_converge": epochs_to(curve, "train_top1", scale.converge_error)}
    record = {"variant": variant.label, "seed": seed, "model": model.config,
              "augment": variant.augment, "lighting": variant.lighting, "train": asdict(config),
              "metrics": metrics, "curve": _rounded(curve),
              "seconds": round(time.perf_counter() - start, 2)}
    _log(progress, f"  test error {metrics['test_top1']:.2%}, gap {metrics['gap']:+.2%} "
                   f"({record['seconds']:.0f} s)")
    _RUNS[key] = (record, model)
    return record, model


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


def ten_crop_error(model: nn.Module, scale: Scale, seed: int, device) -> dict:
    """§4.1: test error of the softmax averaged over ten 32×32 patches of the padded image."""
    test = loaders(scale, seed, device, ten_crop=True)[1]
    result = Trainer(model, TrainConfig(progress=False), device).evaluate(test, ten_crop=True)
    return {"test_top1": result["val_top1"], "test_top5": result["val_top5"]}


# ---------------------------------------------------------------- Figure 1 runs (claim 1)

def figure1_run(activation: str, lr: float, seed: int, scale: Scale, device,
                budget: int, progress: bool = False) -> dict:
    """The four-layer net of Figure 1, no regularisation of any kind (no weight decay, dropout or
    augmentation), trained at a constant ``lr`` until its training error (as measured during
    training, as cuda-convnet reported it) reaches the target or ``budget`` epochs pass."""
    key = ("figure1", activation, lr, seed, scale, str(device), budget)
    if key in _RUNS:
        return _RUNS[key]
    seed_everything(seed)
    model = FourLayerCNN(activation=activation)
    config = TrainConfig(epochs=budget, lr=lr, weight_decay=0.0, batch_size=scale.batch_size,
                         seed=seed, progress=False)
    own = replace(scale, train_images=scale.relu_images)
    trainer, loader = Trainer(model, config, device), loaders(own, seed, device, augment=False)[0]
    curve, diverged, start = [], False, time.perf_counter()
    for epoch in range(budget):
        began = time.perf_counter()
        try:
            row = {"epoch": epoch + 1, "lr": lr, **trainer.train_epoch(loader, epoch)}
        except AlexNetError:          # the loss became NaN or infinite: this rate is too high
            diverged = True
            break
        curve.append({**row, "seconds": time.perf_counter() - began})
        if row["train_top1"] <= scale.relu_target:
            break
    reached = None if diverged else epochs_to(curve, "train_top1", scale.relu_target)
    record = {"activation": activation, "lr": lr, "seed": seed, "budget": budget,
              "diverged": diverged, "epochs_to_target": reached, "curve": _rounded(curve),
              "final_train_top1": curve[-1]["train_top1"] if curve and not diverged else 1.0,
              "seconds": round(time.perf_counter() - start, 2)}
    _log(progress, f"{activation} lr {lr:g} seed {seed}: " + ("diverged" if diverged else
                   f"{'never' if reached is None else f'{reached:.2f} epochs'} to "
                   f"{scale.relu_target:.0%} training error"))
    _RUNS[key] = record
    return record


def tune_learning_rate(activation: str, scale: Scale, device, progress: bool = False) -> dict:
    """§3.1: "the learning rates for each network were chosen independently to make training as
    fast as possible". Seed 0, each rate of the grid for ``relu_tune_epochs``: fewest epochs to
    the target wins, else the lowest training error at the end. Later rates get only as many
    epochs as the best so far needed, since they cannot win with more."""
    runs, best = [], None
    for lr in scale.relu_lrs:
        reached = best is not None and best["epochs_to_target"] is not None
        budget = max(1, math.ceil(best["epochs_to_target"])) if reached else \
            min(scale.relu_tune_epochs, scale.relu_epochs)
        run = figure1_run(activation, lr, 0, scale, device, budget, progress)
        runs.append(run)
        if best is None or _faster(run, best):
            best = run
    return {"activation": activation, "lr": best["lr"], "best": best, "grid": runs}


def figure1_runs(activation: str, scale: Scale, seeds: int, device, progress: bool = False):
    """Every seed at the tuned rate with the full budget; seed 0's tuning run counts if it got
    to the target (more epochs would not change it)."""
    tuned = tune_learning_rate(activation, scale, device, progress)
    first = tuned["best"] if tuned["best"]["epochs_to_target"] is not None else None
    runs = [first if s == 0 and first else
            figure1_run(activation, tuned["lr"], s, scale, device, scale.relu_epochs, progress)
            for s in range(seeds)]
    return tuned, runs


def _faster(run: dict, best: dict) -> bool:
    a, b = run["epochs_to_target"], best["epochs_to_target"]
    if a is not None and b is not None:
        return a < b
    if a is not None or b is not None:
        return a is not None
    return run["final_train_top1"] < best["final_train_top1"]


# ---------------------------------------------------------------- statistics

def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t with ``df`` degrees of freedom, by bisection on
    its distribution function, integrated with Simpson's rule (no SciPy needed)."""
    norm = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def cdf(x: float, steps: int = 2000) -> float:
        h = x / steps
        f = [(1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(steps + 1)]
        return 0.5 + norm * h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))

    low, high = 0.0, 1e3
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if cdf(mid) < p else (low, mid)
    return (low + high) / 2


def summarise(values: list[float], confidence: float = 0.95) -> dict:
    """Mean, standard deviation, standard error and the t-based interval of paired differences."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "se": None, "low": None, "high": None}
    mean = sum(values) / n
    if n == 1:
        return {"n": 1, "mean": mean, "sd": None, "se": None, "low": None, "high": None}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    se = sd / math.sqrt(n)
    half = t_quantile(0.5 + confidence / 2, n - 1) * se
    return {"n": n, "mean": mean, "sd": sd, "se": se, "low": mean - half, "high": mean + half}


def verdict(summary: dict) -> str:
    """"reproduced" if the interval lies above 0 (the paper's direction), "not reproduced" if it
    lies below 0, else "within noise" (also with one seed: no interval). "not measured" when no
    seed gave a value."""
    if not summary["n"]:
        return "not measured"
    if summary["low"] is None:
        return "within noise"
    if summary["low"] > 0:
        return "reproduced"
    if summary["high"] < 0:
        return "not reproduced"
    return "within noise"


def comparison(name: str, values: list[float | None], unit: str, paper: str, meaning: str,
               arms: tuple[str, dict] | None = None, paper_value: float | None = None) -> dict:
    """One test of a claim: per-seed differences (positive = the paper's direction), their
    summary and verdict. ``unit`` is "pp" (percentage points), "log" (log of a ratio) or "index".
    ``arms`` = (unit, {label: per-seed values}) keeps what was compared, for the ledger;
    ``paper_value`` (in ``unit``, where the paper's number is comparable) is placed against
    our interval: "inside", "above" or "below" it."""
    kept = [v for v in values if v is not None]
    summary = summarise(kept)
    test = {"name": name, "meaning": meaning, "unit": unit, "paper": paper, "differences": values,
            "summary": summary, "verdict": verdict(summary)}
    if paper_value is not None and summary["low"] is not None:
        test["paper_value"] = paper_value
        test["paper_value_is"] = "above" if paper_value > summary["high"] else \
            "below" if paper_value < summary["low"] else "inside"
    if arms is not None:
        kind, per_arm = arms
        test["arms"] = {"unit": kind, "values": per_arm,
                        "means": {k: _mean(v) for k, v in per_arm.items()}}
    return test


def _mean(values: list) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _pp(a: float, b: float) -> float:
    """a − b in percentage points."""
    return 100 * (a - b)


def _by_seed(records: list[dict], key: str) -> list[float]:
    return [r["metrics"][key] for r in records]


# ---------------------------------------------------------------- the claims

@dataclass(frozen=True)
class Claim:
    """A claim of the paper: where it is, what it says, how we test it, why small runs differ."""

    number: int
    name: str
    section: str
    statement: str                  # the paper's claim, in its words where possible
    paper_number: str               # the paper's figure for it
    model: str                      # the network we test it on
    data_note: str                  # CIFAR-10 as the paper's own data, or as a stand-in
    differs: str                    # why a small-scale run may not show it
    run: Callable = field(repr=False, compare=False)


OWN_DATA = "CIFAR-10, the paper's own data set for this claim"
STAND_IN = "CIFAR-10 as a CIFAR-sized stand-in for the paper's ImageNet ablation"


def _pair(base: Variant, other: Variant, scale, seeds, device, progress):
    """Train both arms with every seed: (base records, other records, base models)."""
    a = [train_run(base, scale, s, device, progress) for s in range(seeds)]
    b = [train_run(other, scale, s, device, progress) for s in range(seeds)]
    return [r for r, _ in a], [r for r, _ in b], [m for _, m in a]


def _versus(name: str, better: list, worse: list, labels: tuple[str, str], paper: str,
            meaning: str, key: str = "test_top1", paper_value: float | None = None) -> dict:
    """The paired test that ``key`` (an error or a gap) is lower in ``better`` than in ``worse``:
    per seed, worse − better in percentage points."""
    x = [r["metrics"][key] if isinstance(r, dict) else r for r in better]    # records or values
    y = [r["metrics"][key] if isinstance(r, dict) else r for r in worse]
    kind = "gap" if key == "gap" else "error"
    return comparison(name, [_pp(j, i) for i, j in zip(x, y)], "pp", paper, meaning,
                      (kind, {labels[0]: x, labels[1]: y}), paper_value)


def claim_relu(scale, seeds, device, progress) -> dict:
    """Claim 1 (§3.1, Figure 1): epochs to 25% training error, ReLU vs tanh, each at its best rate.
    A tanh run that never gets there counts with its whole budget: the speed-up is then a lower
    bound, and so is the interval."""
    found = {a: figure1_runs(a, scale, seeds, device, progress) for a in ("relu", "tanh")}
    tuned, runs = ({a: found[a][i] for a in found} for i in (0, 1))
    epochs = {a: [r["epochs_to_target"] for r in runs[a]] for a in runs}
    censored = [e is None for e in epochs["tanh"]]
    slow = [len(r["curve"]) if e is None else e for e, r in zip(epochs["tanh"], runs["tanh"])]
    ratios = [math.log(s / f) if f and not t["diverged"] else None
              for s, f, t in zip(slow, epochs["relu"], runs["tanh"])]
    test = comparison(f"epochs to {scale.relu_target:.0%} training error, tanh ÷ ReLU", ratios,
                      "log", "about 6× (Figure 1)", "ReLU reaches the target error faster",
                      ("epochs", {"ReLU": epochs["relu"], "tanh": slow}), paper_value=math.log(6))
    test["lower_bound"] = any(censored)
    if test["lower_bound"] and "paper_value_is" in test:   # a bound cannot exceed the paper
        test["paper_value_is"] = "above our lower bound" if test["paper_value_is"] == "above" \
            else test["paper_value_is"]
    return {"tests": [test], "runs": runs["relu"] + runs["tanh"],
            "extra": {"learning_rates": {a: tuned[a]["lr"] for a in tuned},
                      "tuning": [r for a in tuned for r in tuned[a]["grid"]],
                      # a winner at either end of the grid means the grid was too narrow
                      "rate_at_grid_edge": {a: tuned[a]["lr"] in (min(scale.relu_lrs),
                                                                  max(scale.relu_lrs))
                                            for a in tuned},
                      "tanh_never_reached": censored}}


def claim_lrn(scale, seeds, device, progress) -> dict:
    """Claim 2 (§3.3): the four-layer net with and without LRN, test error."""
    on = Variant("four-layer net with LRN", "four-layer", (("lrn", True),))
    off = Variant("four-layer net without LRN", "four-layer", (("lrn", False),))
    a, b, _ = _pair(on, off, scale, seeds, device, progress)
    labels = ("with LRN", "without LRN")
    return {"runs": a + b, "tests": [
        _versus("test top-1 error, without − with LRN", a, b, labels,
                "13% → 11% on CIFAR-10 (−2 pp); −1.4 pp top-1 on ImageNet",
                "LRN lowers the test error", paper_value=2.0),
        _versus("test top-5 error, without − with LRN", a, b, labels, "−1.2 pp top-5 on ImageNet",
                "LRN lowers the top-5 error", key="test_top5")]}


def claim_overlap(scale, seeds, device, progress) -> dict:
    """Claim 3 (§3.4): 3/2 vs 2/2 max-pooling; test error and the train–test gap."""
    plain = Variant("non-overlapping 2/2 pooling", options=(("overlap_pooling", False),))
    a, b, _ = _pair(BASELINE, plain, scale, seeds, device, progress)
    labels = ("3/2 pooling", "2/2 pooling")
    return {"runs": a + b, "tests": [
        _versus("test top-1 error, 2/2 − 3/2 pooling", a, b, labels, "−0.4 pp top-1, −0.3 pp top-5",
                "overlapping pooling lowers the error"),
        _versus("train–test gap, 2/2 − 3/2 pooling", a, b, labels,
                "\"slightly more difficult to overfit\"", "overlapping pooling overfits less",
                key="gap")]}


def claim_dropout(scale, seeds, device, progress) -> dict:
    """Claim 4 (§4.2): dropout in fc6/fc7 vs none; overfitting gap and epochs to converge (to
    the scale's training error, as measured during training; a run that never gets there counts
    with its whole budget)."""
    none = Variant("no dropout", options=(("dropout", 0.0),))
    a, b, _ = _pair(BASELINE, none, scale, seeds, device, progress)
    slow = [scale.epochs if x is None else x for x in _by_seed(a, "epochs_to_converge")]
    fast = _by_seed(b, "epochs_to_converge")
    ratios = [math.log(x / y) if y else None for x, y in zip(slow, fast)]
    converge = comparison(f"epochs to {scale.converge_error:.0%} training error, with ÷ without "
                          "dropout", ratios, "log", "\"roughly doubles\" the iterations (2×)",
                          "dropout slows convergence",
                          ("epochs", {"with dropout": slow, "without dropout": fast}))
    converge["lower_bound"] = any(x is None for x in _by_seed(a, "epochs_to_converge"))
    return {"runs": a + b, "tests": [
        _versus("train–test gap, without − with dropout", a, b, ("with dropout", "without dropout"),
                "\"substantial overfitting\" without it", "dropout reduces overfitting", key="gap"),
        converge]}


def claim_augmentation(scale, seeds, device, progress) -> dict:
    """Claim 5 (§4.1): crops and flips vs none (overfitting), PCA lighting vs none (top-1), and
    ten-patch vs centre-patch testing (top-1), the last on the fully augmented nets."""
    crops = Variant("crops and flips, no PCA lighting", lighting=False)
    bare = Variant("no augmentation", augment=False, lighting=False)
    full, b, models = _pair(BASELINE, crops, scale, seeds, device, progress)
    c = [train_run(bare, scale, s, device, progress)[0] for s in range(seeds)]
    ten = [ten_crop_error(m, scale, s, device)["test_top1"] for s, m in enumerate(models)]
    return {"runs": full + b + c, "tests": [
        _versus("train–test gap, none − crops and flips", b, c, ("crops and flips", "none"),
                "without it, \"substantial overfitting\"", "crops and flips reduce overfitting",
                key="gap"),
        _versus("test top-1 error, without − with PCA lighting", full, b,
                ("with PCA lighting", "without"), "over 1 pp top-1",
                "PCA lighting lowers the error"),
        _versus("test top-1 error, centre patch − ten patches", ten, _by_seed(full, "test_top1"),
                ("ten patches", "centre patch"), "39.0% → 37.5% top-1 on ILSVRC-2010 (−1.5 pp)",
                "ten-patch averaging lowers the error")]}


def claim_two_gpu(scale, seeds, device, progress) -> dict:
    """Claim 6 (§3.2): the grouped two-tower net vs one tower with half the kernels in conv1–conv4
    and full conv5 and fc layers (the paper's footnote)."""
    widths = _cifar_widths()
    halved = tuple(c // 2 for c in widths[:4]) + widths[4:]
    half = Variant("one tower, half the kernels", options=(("channels", halved), ("groups", 1)))
    a, b, _ = _pair(BASELINE, half, scale, seeds, device, progress)
    labels = ("two towers", "one tower, half the kernels")
    return {"runs": a + b, "tests": [
        _versus("test top-1 error, one tower (half) − two towers", a, b, labels, "−1.7 pp top-1",
                "the two-tower net is better"),
        _versus("test top-5 error, one tower (half) − two towers", a, b, labels, "−1.2 pp top-5",
                "the two-tower net is better (top-5)", key="test_top5")]}


def _cifar_widths() -> tuple[int, ...]:
    """CifarAlexNet's default kernel counts, conv1..conv5."""
    import inspect

    return tuple(inspect.signature(CifarAlexNet.__init__).parameters["channels"].default)


def claim_depth(scale, seeds, device, progress) -> dict:
    """Claim 8 (§7): the net without conv4 (conv3 and conv4 have the same width) vs the whole."""
    shallow = Variant("without conv4", remove="conv4")
    a, b, _ = _pair(BASELINE, shallow, scale, seeds, device, progress)
    return {"runs": a + b, "tests": [
        _versus("test top-1 error, without conv4 − whole net", a, b, ("whole net", "without conv4"),
                "about 2 pp top-1", "every middle conv layer matters")]}


def claim_filters(scale, seeds, device, progress) -> dict:
    """Claim 7 (§6.1, Figure 3): per seed, the colour-specificity index of each tower's conv1
    kernels, before and after training, and a permutation test of the gap between the towers.
    Reproduced when the towers split significantly (p < 0.05) in every seed."""
    from .analysis import colour_specificity, conv1_weight, split_test, tower_colour_specificity

    runs, seeds_out = [], []
    for seed in range(seeds):
        record, model = train_run(BASELINE, scale, seed, device, progress)
        seed_everything(seed)
        start = conv1_weight(build(BASELINE, scale))      # the same draw the run started from
        weight = conv1_weight(model)
        towers, p = tower_colour_specificity(weight), split_test(colour_specificity(weight))
        runs.append(record)
        seeds_out.append({"seed": seed, "towers": towers, "towers_at_init":
                          tower_colour_specificity(start), "p_value": p,
                          "more_colour_specific_tower": 1 + max(range(2), key=towers.__getitem__),
                          "index_per_kernel": colour_specificity(weight).tolist(),
                          "conv1_shape": list(weight.shape),
                          "conv1_weight": [round(v, 5) for v in weight.flatten().tolist()]})
    gaps = [abs(s["towers"][0] - s["towers"][1]) for s in seeds_out]
    test = comparison("colour-specificity gap between the towers' conv1 kernels", gaps, "index",
                      "one tower colour-agnostic, one colour-specific, in every run",
                      "the towers specialise",
                      ("index", {f"tower {t + 1}": [s["towers"][t] for s in seeds_out]
                                 for t in range(2)}))
    split = [s["p_value"] < 0.05 for s in seeds_out]
    test["significant_seeds"] = sum(split)
    test["verdict"] = "reproduced" if all(split) and seeds >= 3 else \
        "within noise" if seeds_out else "not measured"
    return {"runs": runs, "tests": [test], "extra": {"filters": seeds_out}}


def claim_neighbours(scale, seeds, device, progress) -> dict:
    """Claim 9 (§6.1, Figure 4): for test images, the share of their k nearest training images
    that have their class, by last-hidden-layer (fc7) distance vs by pixel distance."""
    from .analysis import (last_hidden_features, nearest_neighbours, neighbour_agreement,
                           pixel_rank, pixel_vectors, top_k_predictions)

    data = cifar(scale.train_images, scale.test_images)
    queries = data.test.subset(min(scale.neighbour_queries, len(data.test)))
    query_at = data.test_indices[spread(len(queries), len(data.test))]
    centre, k, shown = SubtractMean(data.mean), scale.neighbours_k, spread(8, len(queries))
    pixels_q, pixels_db = (pixel_vectors(x.images).to(device) for x in (queries, data.train))
    _, by_pixels = nearest_neighbours(pixels_q, pixels_db, max(k, 6))
    pixel_share = neighbour_agreement(queries.targets, data.train.targets, by_pixels[:, :k].cpu())
    runs, per_seed = [], []
    for seed in range(seeds):
        record, model = train_run(BASELINE, scale, seed, device, progress)
        feats = [torch.cat([last_hidden_features(model, centre(chunk).to(device))
                            for chunk in x.images.split(5000)]) for x in (queries, data.train)]
        _, by_features = nearest_neighbours(feats[0], feats[1], max(k, 6))
        share = neighbour_agreement(queries.targets, data.train.targets, by_features[:, :k].cpu())
        ranks = pixel_rank(pixels_q, pixels_db, by_features[:, :k])
        probabilities, classes = top_k_predictions(model, centre(queries.images[shown]).to(device))
        runs.append(record)
        per_seed.append({"seed": seed, "feature_agreement": share.mean().item(),
                         "pixel_agreement": pixel_share.mean().item(),
                         "median_pixel_rank_of_feature_neighbours": ranks.median().item(),
                         "examples": _examples(data, query_at, by_features.cpu(), by_pixels.cpu()),
                         "top5": {"test_index": query_at[shown].tolist(),
                                  "classes": classes.cpu().tolist(),
                                  "probabilities": [[round(p, 5) for p in row]
                                                    for row in probabilities.cpu().tolist()]}})
    diff = [100 * (s["feature_agreement"] - s["pixel_agreement"]) for s in per_seed]
    return {"runs": runs, "tests": [comparison(
        f"share of {k} nearest training images with the query's class, fc7 − pixels", diff, "pp",
        "fc7 neighbours are semantically similar, pixel neighbours are not (Figure 4)",
        "feature-space neighbours share the class more often",
        ("share", {"fc7": [s["feature_agreement"] for s in per_seed],
                   "pixels": [s["pixel_agreement"] for s in per_seed]}))],
        "extra": {"neighbours": per_seed, "k": k, "queries": len(queries)}}


def _examples(data: Cifar, query_at, by_features, by_pixels, count: int = 5, shown: int = 6):
    """Figure 4's layout: a few test images (indices into the CIFAR-10 test set) with their
    nearest training images (indices into the training set) by features and by pixels."""
    pick = spread(count, len(by_features))
    return [{"test_index": int(query_at[i]),
             "by_features": data.train_indices[by_features[i, :shown]].tolist(),
             "by_pixels": data.train_indices[by_pixels[i, :shown]].tolist()} for i in pick]


_ALEXNET = "CifarAlexNet (grouped conv2/4/5, LRN, 3/2 pooling, dropout 0.5)"
CLAIMS = {c.name: c for c in [
    Claim(1, "relu", "§3.1, Figure 1",
          "A four-layer CNN with ReLUs reaches 25% training error on CIFAR-10 six times faster "
          "than the same network with tanh units (each at its best learning rate, no "
          "regularization).", "about 6× fewer epochs", "FourLayerCNN (Figure 1's net)", OWN_DATA,
          "Figure 1's net is not specified beyond 'four layers' and the effect 'varies with "
          "network architecture'; a small training set and a short budget may also cap how slow "
          "tanh can be shown to be (the speed-up is then a lower bound).", claim_relu),
    Claim(2, "lrn", "§3.3", "Local response normalisation lowers the error.",
          "CIFAR-10 four-layer net: 13% → 11% test error; ImageNet: −1.4 pp top-1, −1.2 pp top-5",
          "FourLayerCNN with and without cross-map LRN", OWN_DATA,
          "The paper's 2-point gain came from long training of cuda-convnet's net; after a few "
          "epochs on a subset the gain may be smaller than the seed-to-seed spread.", claim_lrn),
    Claim(3, "overlap", "§3.4",
          "Overlapping pooling (z=3, s=2) lowers the error and overfits slightly less than "
          "z=2, s=2.",
          "−0.4 pp top-1, −0.3 pp top-5", _ALEXNET, STAND_IN,
          "The ImageNet gain is 0.4 points, far below the spread of short CIFAR runs; on 32×32 "
          "images both poolings give the same map sizes, so only the windows differ.",
          claim_overlap),
    Claim(4, "dropout", "§4.2",
          "Dropout substantially reduces overfitting and roughly doubles the iterations needed to "
          "converge.", "2× iterations", _ALEXNET, STAND_IN,
          "Overfitting needs time to show: in a few epochs on a subset neither net has fit its "
          "training set, and the fc layers are 512 wide here (4096 in the paper).", claim_dropout),
    Claim(5, "augmentation", "§4.1",
          "Random crops with flips reduce overfitting; PCA lighting lowers top-1 error by over 1%; "
          "averaging ten patches at test time lowers the error.",
          "PCA: >1 pp top-1; ten patches: 39.0% → 37.5% top-1", _ALEXNET, STAND_IN,
          "CIFAR patches are 32 of 40 pixels (9² positions) where ImageNet's are 224 of 256 (33²); "
          "PCA lighting's gain was measured after 90 ImageNet epochs.", claim_augmentation),
    Claim(6, "two-gpu", "§3.2",
          "The two-GPU net beats a one-GPU net with half the kernels in each conv layer (but the "
          "full last conv layer and fully-connected layers).", "−1.7 pp top-1, −1.2 pp top-5",
          _ALEXNET + " vs one tower with half the conv1–conv4 kernels", STAND_IN,
          "Half of a CifarAlexNet is a small net; in short runs smaller nets can train as fast as "
          "larger ones, so capacity may not yet matter.", claim_two_gpu),
    Claim(7, "filters", "§6.1, Figure 3",
          "The conv1 kernels of the two GPUs specialise: one set colour-agnostic, one colour-"
          "specific, in every run, independent of the initialisation.",
          "every run (qualitative)", _ALEXNET + ", conv1 of each tower", STAND_IN,
          "Figure 3's kernels are 11×11 after 90 epochs; here conv1 is 5×5 on 32×32 images and "
          "trains for few epochs, so the kernels may still be close to their random start.",
          claim_filters),
    Claim(8, "depth", "§7", "Removing any middle convolutional layer costs about 2% top-1.",
          "about +2 pp top-1 error", _ALEXNET + " with and without conv4", STAND_IN,
          "A CIFAR-sized net with 8-pixel maps at conv3–conv5 needs less depth than ImageNet's, "
          "and short runs favour shallower nets.", claim_depth),
    Claim(9, "neighbours", "§6.1, Figure 4",
          "Images whose last-hidden-layer vectors are close are semantically similar, even when "
          "they are far apart in pixel space.", "qualitative (Figure 4)",
          _ALEXNET + ", fc7 features (512-d)", STAND_IN,
          "A briefly trained net's features are less semantic; CIFAR's pixel neighbours already "
          "share colour and layout with the query.", claim_neighbours),
]}
#: The order `all` runs them in: the cheap and central ones first, so a cut-off run keeps them.
ORDER = ("relu", "lrn", "filters", "neighbours", "overlap", "dropout", "augmentation", "two-gpu",
         "depth")


# ---------------------------------------------------------------- provenance and results

def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parents[1]
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


@lru_cache(maxsize=1)
def code_state() -> dict:
    """The code behind the results, read once per process, when the first claim starts (the
    package was imported just before, so later edits to the files do not change what runs): the
    git commit, whether the working tree differs from it and which package files do, and a
    SHA-256 over the package's source files, which ties a result to its code even before the
    code is committed."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.rglob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    status, commit = _git("status", "--porcelain"), _git("rev-parse", "HEAD")
    changed = [line[3:] for line in (status or "").splitlines()]
    return {"git_commit": commit.strip() if commit else None,
            "dirty": bool(changed) if status is not None else None,
            "uncommitted_package_files": sorted(f for f in changed if f.startswith("alexnet/")),
            "source_sha256": digest.hexdigest()}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {name} ({os.cpu_count()} cores, {torch.get_num_threads()} threads used)"


def provenance(command: str, device: torch.device, wall: float) -> dict:
    from . import __version__

    return {"command": command, **code_state(), "device": device_name(device),
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "torchvision": torchvision.__version__, "numpy": numpy.__version__,
                         "alexnet": __version__},
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_seconds": round(wall, 1)}


def setting(claim: Claim, scale: Scale, seeds: int, device: torch.device | None = None) -> str:
    """Our setting in words, generated from the scale (never typed)."""
    def count(n: int | None) -> str:
        return f"{n:,}" if n else "all"

    train = scale.relu_images if claim.name == "relu" else scale.train_images
    if claim.name == "relu":
        rates = ", ".join(f"{x:g}" for x in scale.relu_lrs)
        recipe = (f"up to {scale.relu_epochs} epochs to {scale.relu_target:.0%} training error at "
                  f"a constant learning rate, the best of {rates} per activation (chosen on "
                  "seed 0), no weight decay, dropout or augmentation")
    else:
        four = claim.name == "lrn"
        recipe = (f"{scale.four_layer_epochs if four else scale.epochs} epochs, SGD lr "
                  f"{scale.four_layer_lr if four else scale.lr:g} (÷10 after {scale.patience} "
                  f"epoch(s) without improvement), momentum 0.9, weight decay "
                  f"{scale.weight_decay:g}, crops, flips and PCA lighting"
                  + (" (switched off in the other arms)" if claim.name == "augmentation" else ""))
    if claim.name == "neighbours":
        recipe += (f"; {scale.neighbour_queries} test images, their {scale.neighbours_k} nearest "
                   "training images")
    where = f"; {device_name(device)}" if device is not None else ""
    return (f"{scale.name.upper()} scale: {claim.data_note}; {count(train)} training and "
            f"{count(scale.test_images)} test images; {claim.model}; {recipe}; batch "
            f"{scale.batch_size}; {seeds} seed{'s' if seeds != 1 else ''}{where}")


def _write_json(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(result, f, indent=1, allow_nan=False)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


#: The committed results, shipped inside the package so that a chapter opened in Colab finds them.
RESULTS = Path(__file__).parent / "results"


def result_path(out: str | os.PathLike, claim: str, scale: str) -> Path:
    return Path(out) / f"{claim}-{scale}.json"


def has_committed_result(claim: str, scale: str = "cpu") -> bool:
    return result_path(RESULTS, claim, scale).is_file()


def committed_result(claim: str, scale: str = "cpu") -> dict:
    """The result of ``claim`` at ``scale`` that the repository ships (``alexnet/results/``)."""
    return load_result(result_path(RESULTS, claim, scale))


def chapter_result(claim: str, full_size: bool = False, device: str | None = None) -> dict:
    """What a book chapter shows of ``claim``: the committed CPU-scale result, or with
    ``full_size`` the claim run here at GPU scale. Prints our setting, the device it ran on and
    each test's measurement and verdict, all read from the result (never typed)."""
    result = run_claim(claim, scale="gpu", device=device) if full_size else committed_result(claim)
    print(result["setting"])
    print("device:", result["provenance"]["device"])
    for test in result["tests"]:
        print(describe(test), "->", test["verdict"])
    return result


def load_result(path: str | os.PathLike) -> dict:
    """A result file as a dict (see :func:`run_claim` for its fields)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise AlexNetError(f"no result file {path}: run `python -m alexnet reproduce` "
                           "first") from None
    except json.JSONDecodeError as e:
        raise AlexNetError(f"{path} is not a valid result file ({e}): run the claim again") from e


def _device(scale: Scale, name: str | None) -> torch.device:
    if scale.name == "gpu" and (not torch.cuda.is_available() or name == "cpu"):
        raise AlexNetError("--scale gpu needs a CUDA device (it keeps CIFAR-10 on the GPU): use "
                           "--scale cpu on this machine")
    return resolve_device(name or scale.device)


def run_claim(claim: str, scale: str = "cpu", seeds: int | None = None,
              out: str | os.PathLike | None = None, progress: bool = False,
              device: str | None = None, command: str | None = None) -> dict:
    """Run one claim's experiments and return its result; with ``out``, also write
    ``out/<claim>-<scale>.json`` and regenerate ``out/LEDGER.md``.

    The result holds ``claim``, ``paper`` (section, statement, number), ``setting`` (in words),
    ``scale`` and ``scale_config``, ``seeds``, ``tests`` (per-seed differences, summary, verdict
    each), ``verdict`` (the first test's), ``runs`` (per-seed metrics and per-epoch curves),
    ``extra`` (claim-specific: filters, neighbours, tuning) and ``provenance``.
    """
    if claim not in CLAIMS:
        raise AlexNetError(f"unknown claim {claim!r}: choose one of {', '.join(CLAIMS)} or all")
    if scale not in SCALES:
        raise AlexNetError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    spec, size = CLAIMS[claim], SCALES[scale]
    seeds = seeds or size.seeds
    where = _device(size, device)
    command = command or (f"alexnet.reproduce.run_claim({claim!r}, scale={scale!r}, "
                          f"seeds={seeds}, out={str(out) if out else None!r})")
    code_state()
    start = time.perf_counter()
    found = spec.run(size, seeds, where, progress)
    tests = found.pop("tests")
    result = {"claim": claim, "number": spec.number,
              "paper": {"section": spec.section, "statement": spec.statement,
                        "number": spec.paper_number},
              "setting": setting(spec, size, seeds, where), "scale": scale,
              "scale_config": asdict(size), "seeds": seeds, "tests": tests,
              "verdict": tests[0]["verdict"],
              "why_it_may_differ": spec.differs, **found,
              "provenance": provenance(command, where, time.perf_counter() - start)}
    _log(progress, f"{claim}: {result['verdict']} ({result['provenance']['wall_seconds']:.0f} s)")
    if out is not None:
        _write_json(result, result_path(out, claim, scale))
        write_ledger(out)
    return result


def run_all(scale: str = "cpu", seeds: int | None = None, out=None, progress: bool = False,
            device: str | None = None, command: str | None = None) -> dict:
    """Every claim, in :data:`ORDER`; runs shared between claims (the baseline net) train once.
    Each result is written as soon as its claim is done."""
    return {name: run_claim(name, scale, seeds, out, progress, device, command) for name in ORDER}


# ---------------------------------------------------------------- the ledger

LEDGER_SCALES = ("cpu", "gpu")
MISSING = {"cpu": "not yet run",
           "gpu": "not yet run: needs a CUDA GPU (`python -m alexnet reproduce all --scale gpu`)"}


def _number(value: float | None, kind: str) -> str:
    if value is None:
        return "–"
    if kind in ("error", "gap", "share"):
        return f"{100 * value:.1f}%"
    return f"{value:.1f}" if kind == "epochs" else f"{value:.3f}"


def describe(test: dict) -> str:
    """One test's measurement in words: the arms' means, then the paired difference with its
    standard error and 95% interval over n seeds."""
    s, unit = test["summary"], test["unit"]
    if not s["n"]:
        return f"{test['name']}: not measured"
    if unit == "log":
        bound = "≥" if test.get("lower_bound") else ""
        text = f"{bound}×{math.exp(s['mean']):.2f}"
        if s["low"] is not None:
            text += f" (95% CI {bound}×{math.exp(s['low']):.2f} to ×{math.exp(s['high']):.2f})"
    else:
        suffix = " pp" if unit == "pp" else ""
        text = f"{s['mean']:+.2f}{suffix}"
        if s["low"] is not None:
            text += f" ± {s['se']:.2f} s.e. (95% CI {s['low']:+.2f} to {s['high']:+.2f})"
    if "arms" in test:
        kind = test["arms"]["unit"]
        means = ", ".join(f"{label} {_number(m, kind)}"
                          for label, m in test["arms"]["means"].items())
        text = f"{means}; {text}"
    if "paper_value_is" in test:
        value = test["paper_value"]
        paper = f"×{math.exp(value):g}" if unit == "log" else f"{value:+g} pp"
        where = test["paper_value_is"]
        text += f"; the paper's {paper} is {where}" + ("" if "bound" in where else " our interval")
    if "significant_seeds" in test:
        text += (f"; split significant (permutation p < 0.05) in {test['significant_seeds']} "
                 f"of {s['n']} seeds")
    return f"{test['name']}: {text}, n={s['n']}"


def ledger_rows(results_dir: str | os.PathLike = RESULTS,
                scales: tuple[str, ...] = LEDGER_SCALES) -> list[dict]:
    """One row per claim and scale (cpu, gpu): the paper's statement and number, our setting,
    our measurements and verdicts (one per test), read from ``<claim>-<scale>.json``."""
    rows = []
    for claim in sorted(CLAIMS.values(), key=lambda c: c.number):
        for scale in scales:
            path = result_path(results_dir, claim.name, scale)
            row = {"claim": f"{claim.number}. {claim.name}", "section": claim.section,
                   "paper": f"{claim.statement} ({claim.paper_number})", "scale": scale,
                   "file": path.name}
            if path.exists():
                result = load_result(path)
                row.update(setting=result["setting"], run=_run_note(result["provenance"]),
                           measurements=[describe(t) for t in result["tests"]],
                           verdicts=[t["verdict"] for t in result["tests"]],
                           why=result["why_it_may_differ"])
            else:
                planned = SCALES[scale]
                row.update(setting=setting(claim, planned, planned.seeds), run=None,
                           verdicts=["–"], why=None,
                           measurements=[MISSING.get(scale, "not yet run")], file=None)
            rows.append(row)
    return rows


def _run_note(p: dict) -> str:
    """When, how long, and from which code a result was made."""
    code = f"commit {(p['git_commit'] or '?')[:7]}"
    if p.get("uncommitted_package_files"):
        code += (f" + uncommitted {', '.join(p['uncommitted_package_files'])} "
                 f"(source sha256 {p['source_sha256'][:12]})")
    return f"{p['date'][:10]}, {p['wall_seconds'] / 60:.1f} min, {code}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


LEDGER_HEADER = """# Claims ledger

Generated by `python -m alexnet reproduce ledger --out alexnet/results/` from the result files in this
folder (`alexnet.reproduce.ledger_markdown`); do not edit by hand. Every comparison is paired by
seed, with differences oriented so that positive is the paper's direction: the verdict is
*reproduced* when the t-based 95% interval of the mean difference lies above 0, *not reproduced*
when it lies below 0, *within noise* otherwise (claim 7: *reproduced* when the towers' conv1
kernels split significantly, by a permutation test, in every one of at least three seeds).
CPU-scale rows are small runs on a CPU (training subsets, few epochs), not the GPU-scale result.
"""


def ledger_markdown(rows: list[dict]) -> str:
    """The ledger as a markdown document (what ``alexnet/results/LEDGER.md`` holds)."""
    lines = [LEDGER_HEADER, "| Claim | Paper | Scale | Our setting | Our measurement | Verdict |",
             "|---|---|---|---|---|---|"]
    previous = None
    for r in rows:
        setting = r["setting"] + (f" (run {r['run']}; `{r['file']}`)" if r["run"] else "")
        paper = "(as above)" if r["claim"] == previous else r["paper"]
        lines.append("| " + " | ".join(_cell(x) for x in (
            f"{r['claim']} ({r['section']})", paper, r["scale"].upper(), setting,
            "<br>".join(r["measurements"]), "<br>".join(r["verdicts"]))) + " |")
        previous = r["claim"]
    doubts = [r for r in rows if r["why"] and any(v != "reproduced" for v in r["verdicts"])]
    if doubts:
        lines += ["", "## Why a claim may not show at our scale", ""]
        lines += [f"- **{r['claim']}, {r['scale'].upper()} scale**: {r['why']}" for r in doubts]
    return "\n".join(lines) + "\n"


def write_ledger(results_dir: str | os.PathLike = RESULTS) -> Path:
    """Regenerate ``results_dir/LEDGER.md`` from the result files there."""
    path = Path(results_dir) / "LEDGER.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".LEDGER.md.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(ledger_markdown(ledger_rows(results_dir)))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- command line

def add_arguments(parser) -> None:
    """The ``reproduce`` subcommand's arguments (registered by :mod:`alexnet.cli`)."""
    parser.add_argument("claim", nargs="+", choices=[*CLAIMS, "all", "ledger"],
                        help="claims of the paper (runs they share train once), all of them, or "
                             "ledger (only regenerate LEDGER.md)")
    parser.add_argument("--scale", choices=list(SCALES), default="cpu",
                        help="cpu: minutes on a CPU; gpu: all of CIFAR-10 on a GPU; test: seconds, "
                             "for the test suite")
    parser.add_argument("--seeds", type=positive_int,
                        help="seeds per variant (default: the scale's)")
    parser.add_argument("--out", default=os.path.relpath(RESULTS),
                        help="folder for the result files and LEDGER.md")
    parser.add_argument("--device", help="default: cpu for --scale cpu/test, cuda for gpu")
    parser.add_argument("--no-progress", dest="progress", action="store_false")


def command_line(args) -> str:
    """The command that made a result (what its provenance records), with every option that
    changes it."""
    words = [*getattr(args, "entry", ("python", "-m", "alexnet", "reproduce")), *args.claim,
             "--scale", args.scale]
    words += ["--seeds", str(args.seeds)] if args.seeds else []
    words += ["--device", args.device] if args.device else []
    return shlex.join(words + ["--out", str(args.out)])


def run(args) -> int:
    """Run the claims ``args.claim`` names (or all, or only the ledger); 0 on success."""
    if "ledger" in args.claim:
        if len(args.claim) > 1:
            raise AlexNetError("ledger only regenerates LEDGER.md: run it on its own")
        print(write_ledger(args.out))
        return 0
    names = ORDER if "all" in args.claim else list(dict.fromkeys(args.claim))
    options = dict(scale=args.scale, seeds=args.seeds, out=args.out, progress=args.progress,
                   device=args.device, command=command_line(args))
    for name in names:
        result = run_claim(name, **options)
        print(f"{name}: " + "; ".join(t["verdict"] for t in result["tests"]) +
              f" -> {result_path(args.out, name, args.scale)}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m alexnet.reproduce`` until the subcommand is registered in :mod:`alexnet.cli`."""
    parser = Parser(prog="alexnet reproduce", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.entry = ("python", "-m", "alexnet.reproduce")
    try:
        return run(args)
    except AlexNetError as e:
        print(f"alexnet reproduce: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
