"""The paper's claims as experiments: what each one trains, and the tests it reports.

Each claim is a :class:`Claim`: where the paper makes it, its words, the paper's number, and a
function ``run(context) -> dict`` that trains (or loads) the runs it needs and returns its tests
(:func:`test`), its runs' records and anything else the book draws. Every test is a paired
comparison by seed, oriented so that a positive difference is the paper's direction; its verdict
is filled in when the ledger is written (:mod:`alexnet.reproduce.results`), because the multiple-
testing adjustment looks at every test at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ..analysis import (colour_specificity, conv1_weight, last_hidden_features,
                        nearest_neighbours, neighbour_agreement, pixel_vectors, split_null,
                        top_k_predictions, tower_colour_specificity)
from ..model import CifarAlexNet
from ..runtime import write_json
from ..train import TrainConfig, Trainer, seed_everything
from ..transforms import SubtractMean
from . import stats
from .data import cifar, spread, ten_crop_loader
from .runs import build, figure1_run, train_arm
from .settings import Arm, Scale

__all__ = ["Claim", "CLAIMS", "ORDER", "Context", "test", "ARMS"]

OWN_DATA = "CIFAR-10, the paper's own data set for this claim"
STAND_IN = "CIFAR-10 as a stand-in for the paper's ImageNet experiment"

def _half_width() -> tuple[int, ...]:
    """§3.2's footnote: half of CifarAlexNet's default kernels in conv1–conv4, all of conv5."""
    import inspect

    widths = inspect.signature(CifarAlexNet.__init__).parameters["channels"].default
    return tuple(c // 2 for c in widths[:4]) + tuple(widths[4:])


#: Every arm of every claim, by regime; the first arm of a regime is its baseline.
ARMS = {
    "lrn": [Arm("four-layer net with LRN", "lrn", (("lrn", True),)),
            Arm("four-layer net without LRN", "lrn", (("lrn", False),))],
    "overfit": [Arm("no dropout, no augmentation, 3/2 pooling", "overfit"),
                Arm("dropout 0.5", "overfit", dropout=0.5),
                Arm("crops and flips", "overfit", augment=True),
                Arm("non-overlapping 2/2 pooling", "overfit", (("overlap_pooling", False),))],
    "recipe": [Arm("CifarAlexNet, the paper's recipe", "recipe"),
               Arm("no PCA lighting", "recipe", lighting=False),
               Arm("one tower, half the conv1-conv4 kernels", "recipe",
                   (("channels", _half_width()), ("groups", 1))),
               Arm("without conv4", "recipe", remove="conv4")],
}


@dataclass
class Context:
    """What a claim's run needs: the scale, the device, and how many seeds each regime gets:
    ``fixed_seeds`` if given, else the pilot's plan (:mod:`alexnet.reproduce.plan`), made the
    first time a regime is needed and kept in ``plans`` (and in ``plan_file``)."""

    scale: Scale
    device: torch.device
    progress: bool = False
    fixed_seeds: int | None = None
    plans: dict = field(default_factory=dict)
    plan_file: Path | None = None

    def seeds(self, regime: str) -> int:
        if self.fixed_seeds:
            return self.fixed_seeds
        if regime not in self.plans:
            from .plan import plan_regime

            self.plans[regime] = plan_regime(regime, self)
            if self.plan_file is not None:
                write_json({"scale": self.scale.name, "regimes": self.plans}, self.plan_file)
        return self.plans[regime]["seeds"]

    def arm(self, regime: str, index: int) -> list:
        """Every seed's run of arm ``index`` of ``regime``."""
        arm = ARMS[regime][index]
        return [train_arm(arm, self.scale, s, self.device, self.progress)
                for s in range(self.seeds(regime))]


@dataclass(frozen=True)
class Claim:
    """A claim of the paper: where it is, what it says, how we test it, why small runs differ."""

    number: int
    name: str
    section: str
    statement: str                  # the paper's claim, in its words where possible
    paper_number: str               # the paper's figure for it
    model: str                      # the network we test it on
    regime: str                     # the regime its arms train in
    data_note: str                  # CIFAR-10 as the paper's own data, or as a stand-in
    differs: str                    # why a small-scale run may not show it
    run: Callable = field(repr=False, compare=False)


def test(name: str, differences: list[float | None], unit: str, paper: str, meaning: str,
         paper_value: float | None = None, arms: dict | None = None, kind: str = "error") -> dict:
    """One test: per-seed differences (positive = the paper's direction) and their summary.
    ``unit``: "pp" (percentage points), "log" (log of a ratio) or "index"; ``paper_value`` is the
    paper's effect in that unit where it has one; ``arms`` the per-seed values compared."""
    kept = [d for d in differences if d is not None]
    summary = stats.summarise(kept)
    out = {"name": name, "meaning": meaning, "unit": unit, "paper": paper,
           "paper_value": paper_value, "differences": differences, **summary,
           "mde": stats.mde(summary["sd"], summary["n"])}
    if arms is not None:
        out["arms"] = {"unit": kind, "values": arms,
                       "means": {k: _mean(v) for k, v in arms.items()}}
    return out


def _mean(values: list) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _metric(runs: list, key: str) -> list:
    return [r.metrics[key] for r in runs]


def _versus(name: str, better: list, worse: list, labels: tuple[str, str], paper: str,
            meaning: str, key: str = "test_top1", paper_value: float | None = None) -> dict:
    """Paired test that ``key`` (an error or a gap) is lower in ``better`` than in ``worse``:
    per seed, worse − better in percentage points."""
    x = _metric(better, key) if better and not isinstance(better[0], float) else better
    y = _metric(worse, key) if worse and not isinstance(worse[0], float) else worse
    kind = {"gap": "gap", "test_loss": "loss"}.get(key, "error")
    scale = 1 if kind == "loss" else 100
    return test(name, [scale * (j - i) for i, j in zip(x, y)], "pp" if scale == 100 else "nats",
                paper, meaning, paper_value, {labels[0]: x, labels[1]: y}, kind)


def _records(*groups) -> list[dict]:
    return [r.record for group in groups for r in group]


# ---------------------------------------------------------------- Figure 1 (claim 1)

def tune_learning_rate(activation: str, context: Context) -> dict:
    """§3.1: "the learning rates for each network were chosen independently to make training as
    fast as possible": each rate of the grid on the tuning seed (no test uses it); the fewest
    epochs to the target wins, else the lowest training error at the end. Later rates get only as
    many epochs as the best so far needed, since they cannot win with more."""
    scale, runs, best = context.scale, [], None
    for lr in scale.relu_lrs:
        reached = best is not None and best["epochs_to_target"] is not None
        budget = max(1, math.ceil(best["epochs_to_target"])) if reached else scale.relu_tune_epochs
        run = figure1_run(activation, lr, scale.tuning_seed, scale, context.device, budget,
                          context.progress)
        runs.append(run)
        if best is None or _faster(run, best):
            best = run
    return {"activation": activation, "lr": best["lr"], "grid": runs,
            "at_grid_edge": best["lr"] in (min(scale.relu_lrs), max(scale.relu_lrs))}


def _faster(run: dict, best: dict) -> bool:
    a, b = run["epochs_to_target"], best["epochs_to_target"]
    if a is not None and b is not None:
        return a < b
    if a is not None or b is not None:
        return a is not None
    return run["final_train_top1"] < best["final_train_top1"]


def figure1(context: Context, seeds: int | None = None) -> dict:
    """Both activations: the tuned rates and every test seed's run at its rate."""
    scale, seeds = context.scale, seeds or context.seeds("figure1")
    tuned = {a: tune_learning_rate(a, context) for a in ("relu", "tanh")}
    runs = {a: [figure1_run(a, tuned[a]["lr"], s, scale, context.device, scale.relu_budget,
                            context.progress) for s in range(seeds)] for a in tuned}
    return {"tuned": tuned, "runs": runs}


def claim_relu(context: Context) -> dict:
    """Claim 1 (§3.1, Figure 1): epochs to 25% training error, tanh ÷ ReLU, each at its best
    rate. A run that never gets there counts with its whole budget: the factor is then a bound."""
    found = figure1(context)
    epochs = {a: [r["epochs_to_target"] for r in found["runs"][a]] for a in found["runs"]}
    slow = [len(r["curve"]) if e is None else e for e, r in zip(epochs["tanh"], found["runs"]["tanh"])]
    fast = [len(r["curve"]) if e is None else e for e, r in zip(epochs["relu"], found["runs"]["relu"])]
    result = test(f"epochs to {context.scale.relu_target:.0%} training error, tanh ÷ ReLU",
                  [math.log(s / f) for s, f in zip(slow, fast)], "log", "about 6× (Figure 1)",
                  "ReLU reaches the target error faster", math.log(6),
                  {"ReLU": fast, "tanh": slow}, "epochs")
    result["bound"] = ("lower" if any(e is None for e in epochs["tanh"]) else
                       "upper" if any(e is None for e in epochs["relu"]) else None)
    tuned = found["tuned"]
    return {"tests": [result], "runs": found["runs"]["relu"] + found["runs"]["tanh"],
            "extra": {"learning_rates": {a: tuned[a]["lr"] for a in tuned},
                      "tuning_seed": context.scale.tuning_seed,
                      "tuning": [r for a in tuned for r in tuned[a]["grid"]],
                      "rate_at_grid_edge": {a: tuned[a]["at_grid_edge"] for a in tuned}}}


# ---------------------------------------------------------------- §3.3, §3.4, §4.1, §4.2

def claim_lrn(context: Context) -> dict:
    """Claim 2 (§3.3): the four-layer net with and without LRN, test error and test loss."""
    on, off = context.arm("lrn", 0), context.arm("lrn", 1)
    labels = ("with LRN", "without LRN")
    return {"runs": _records(on, off), "tests": [
        _versus("test error, without − with LRN", on, off, labels,
                "13% → 11% on CIFAR-10 (2 points); 1.4 points top-1 on ImageNet",
                "LRN lowers the test error", paper_value=2.0),
        _versus("test loss, without − with LRN", on, off, labels, "(not reported)",
                "LRN lowers the test loss", key="test_loss")]}


def claim_overlap(context: Context) -> dict:
    """Claim 3 (§3.4): 3/2 vs 2/2 max-pooling in a net that overfits; test error and gap."""
    base, plain = context.arm("overfit", 0), context.arm("overfit", 3)
    labels = ("3/2 pooling", "2/2 pooling")
    return {"runs": _records(base, plain), "tests": [
        _versus("test error, 2/2 − 3/2 pooling", base, plain, labels,
                "0.4 points top-1 on ImageNet", "overlapping pooling lowers the error",
                paper_value=0.4),
        _versus("train–test gap, 2/2 − 3/2 pooling", base, plain, labels,
                "\"slightly more difficult to overfit\"", "overlapping pooling overfits less",
                key="gap")]}


def claim_dropout(context: Context) -> dict:
    """Claim 4 (§4.2): dropout 0.5 in fc6/fc7 vs none, in a net that overfits: test error, the
    train–test gap, and epochs to the scale's training error (a run that never gets there counts
    with its whole budget: the factor is then a bound)."""
    none, drop = context.arm("overfit", 0), context.arm("overfit", 1)
    budget = context.scale.regime("overfit").epochs
    slow = [budget if e is None else e for e in _metric(drop, "epochs_to_converge")]
    fast = [budget if e is None else e for e in _metric(none, "epochs_to_converge")]
    target = f"{context.scale.converge_error:.0%}"
    converge = test(f"epochs to {target} training error, with ÷ without dropout",
                    [math.log(s / f) for s, f in zip(slow, fast)], "log",
                    "\"roughly doubles\" the iterations (2×)", "dropout slows convergence",
                    math.log(2), {"with dropout": slow, "without dropout": fast}, "epochs")
    converge["bound"] = "lower" if any(e is None for e in _metric(drop, "epochs_to_converge")) \
        else None
    labels = ("with dropout", "without dropout")
    return {"runs": _records(none, drop), "tests": [
        _versus("test error, without − with dropout", drop, none, labels,
                "without it, \"substantial overfitting\"", "dropout lowers the test error"),
        _versus("train–test gap, without − with dropout", drop, none, labels,
                "without it, \"substantial overfitting\"", "dropout reduces overfitting",
                key="gap"),
        converge]}


def _ten_crop_errors(runs: list, context: Context) -> list[float]:
    """§4.1's test: the softmax averaged over ten 32×32 patches of the image padded by 4."""
    data = cifar(context.scale.regime("recipe").train_images, context.scale.test_images)
    loader = ten_crop_loader(data, context.device)
    return [Trainer(r.model, TrainConfig(progress=False), context.device).evaluate(
        loader, prefix="test", ten_crop=True)["test_top1"] for r in runs]


def claim_augmentation(context: Context) -> dict:
    """Claim 5 (§4.1): crops and flips vs none in a net that overfits (test error, gap); PCA
    lighting vs none with the paper's recipe (test error); ten patches vs the centre patch at test
    time, on the recipe's networks (test error)."""
    bare, crops = context.arm("overfit", 0), context.arm("overfit", 2)
    full, dark = context.arm("recipe", 0), context.arm("recipe", 1)
    ten = _ten_crop_errors(full, context)
    centre = _metric(full, "test_top1")
    return {"runs": _records(bare, crops, full, dark), "tests": [
        _versus("test error, none − crops and flips", crops, bare, ("crops and flips", "none"),
                "without it, \"substantial overfitting\"", "crops and flips lower the test error"),
        _versus("train–test gap, none − crops and flips", crops, bare, ("crops and flips", "none"),
                "without it, \"substantial overfitting\"", "crops and flips reduce overfitting",
                key="gap"),
        _versus("test error, without − with PCA lighting", full, dark,
                ("with PCA lighting", "without"), "over 1 point top-1 on ImageNet",
                "PCA lighting lowers the error", paper_value=1.0),
        _versus("test error, centre patch − ten patches", ten, centre,
                ("ten patches", "centre patch"), "39.0% → 37.5% top-1 on ILSVRC-2010 (1.5 points)",
                "ten-patch averaging lowers the error", paper_value=1.5)],
        "extra": {"ten_crop_test_top1": ten}}


# ---------------------------------------------------------------- §3.2, §7

def claim_two_gpu(context: Context) -> dict:
    """Claim 6 (§3.2): the grouped two-tower net vs one tower with half the kernels in conv1–conv4
    and the full conv5 and fc layers (the paper's footnote)."""
    two, one = context.arm("recipe", 0), context.arm("recipe", 2)
    labels = ("two towers", "one tower, half the kernels")
    return {"runs": _records(two, one), "tests": [
        _versus("test error, one tower (half) − two towers", two, one, labels,
                "1.7 points top-1 on ImageNet", "the two-tower net is better", paper_value=1.7),
        _versus("test loss, one tower (half) − two towers", two, one, labels, "(not reported)",
                "the two-tower net is better (test loss)", key="test_loss")]}


def claim_depth(context: Context) -> dict:
    """Claim 8 (§7): the net without conv4 (conv3 and conv4 have the same width) vs the whole."""
    whole, shallow = context.arm("recipe", 0), context.arm("recipe", 3)
    return {"runs": _records(whole, shallow), "tests": [
        _versus("test error, without conv4 − whole net", whole, shallow,
                ("whole net", "without conv4"), "about 2 points top-1 on ImageNet",
                "every middle conv layer matters", paper_value=2.0)]}


# ---------------------------------------------------------------- §6.1: Figures 3 and 4

def filter_split(model, start) -> dict:
    """Figure 3 for one network: each tower's colour-specificity index after training and at
    initialisation, the gap between the towers, its permutation null (mean and p-value)."""
    weight = conv1_weight(model)
    index = colour_specificity(weight)
    split = split_null(index)
    return {"towers": tower_colour_specificity(weight),
            "towers_at_init": tower_colour_specificity(start), "gap": split["gap"],
            "null_gap_mean": split["null_mean"], "p_value": split["p_value"],
            "index_per_kernel": [round(v, 5) for v in index.tolist()]}


def claim_filters(context: Context) -> dict:
    """Claim 7 (§6.1, Figure 3): per seed, the gap between the towers' colour-specificity indices
    after training, against what a random assignment of the same kernels to towers gives (the
    permutation null): the test is on the excess of the gap over the null's mean."""
    runs, per_seed = context.arm("recipe", 0), []
    for seed, run in enumerate(runs):
        seed_everything(seed)                        # the same draw the run started from
        start = conv1_weight(build(ARMS["recipe"][0], context.scale.regime("recipe")))
        per_seed.append({"seed": seed, **filter_split(run.model, start),
                         "conv1_weight": [round(v, 5) for v in
                                          conv1_weight(run.model).flatten().tolist()],
                         "conv1_shape": list(conv1_weight(run.model).shape)})
    excess = [s["gap"] - s["null_gap_mean"] for s in per_seed]
    result = test("colour-index gap between the towers, minus its permutation null", excess,
                  "index", "one tower colour-agnostic, the other colour-specific, in every run",
                  "the towers specialise more than a random split of the same kernels would",
                  None, {"observed gap": [s["gap"] for s in per_seed],
                         "null gap (mean)": [s["null_gap_mean"] for s in per_seed]}, "index")
    result["significant_seeds"] = sum(s["p_value"] < 0.05 for s in per_seed)
    return {"runs": _records(runs), "tests": [result], "extra": {"filters": per_seed}}


def neighbours_of(model, data, queries: int, k: int, device) -> dict:
    """Figure 4 for one network: the share of each query's ``k`` nearest training images (by fc7
    distance, and by pixel distance) that have its class, and a few examples."""
    centre = SubtractMean(data.mean)
    chosen = spread(min(queries, len(data.test)), len(data.test))
    query_images, query_labels = data.test.images[chosen], data.test.targets[chosen]
    pixels_q, pixels_db = pixel_vectors(query_images), pixel_vectors(data.train.images)
    _, by_pixels = nearest_neighbours(pixels_q, pixels_db, max(k, 6))
    features = [torch.cat([last_hidden_features(model, centre(part).to(device)).cpu()
                           for part in images.split(5000)])
                for images in (query_images, data.train.images)]
    _, by_features = nearest_neighbours(features[0], features[1], max(k, 6))
    agree = {name: neighbour_agreement(query_labels, data.train.targets, idx[:, :k]).mean().item()
             for name, idx in (("feature", by_features), ("pixel", by_pixels))}
    shown = spread(5, len(chosen))
    probabilities, classes = top_k_predictions(model, centre(query_images[spread(8, len(chosen))])
                                               .to(device))
    test_at = data.test_indices[chosen]
    return {"feature_agreement": agree["feature"], "pixel_agreement": agree["pixel"],
            "queries": len(chosen), "k": k,
            "examples": [{"test_index": int(test_at[i]),
                          "by_features": data.train_indices[by_features[i, :6]].tolist(),
                          "by_pixels": data.train_indices[by_pixels[i, :6]].tolist()}
                         for i in shown.tolist()],
            "top5": {"test_index": test_at[spread(8, len(chosen))].tolist(),
                     "classes": classes.cpu().tolist(),
                     "probabilities": [[round(p, 5) for p in row]
                                       for row in probabilities.cpu().tolist()]}}


def claim_neighbours(context: Context) -> dict:
    """Claim 9 (§6.1, Figure 4): for test images, the share of their k nearest training images
    that have their class, by last-hidden-layer (fc7) distance vs by pixel distance."""
    scale = context.scale
    data = cifar(scale.regime("recipe").train_images, scale.test_images)
    runs = context.arm("recipe", 0)
    per_seed = [{"seed": s, **neighbours_of(r.model, data, scale.neighbour_queries,
                                            scale.neighbours_k, context.device)}
                for s, r in enumerate(runs)]
    k = scale.neighbours_k
    return {"runs": _records(runs), "tests": [test(
        f"share of the {k} nearest training images with the query's class, fc7 − pixels",
        [100 * (s["feature_agreement"] - s["pixel_agreement"]) for s in per_seed], "pp",
        "fc7 neighbours are semantically similar, pixel neighbours are not (Figure 4)",
        "feature-space neighbours share the class more often", None,
        {"fc7": [s["feature_agreement"] for s in per_seed],
         "pixels": [s["pixel_agreement"] for s in per_seed]}, "share")],
        "extra": {"neighbours": per_seed}}


_ALEXNET = "CifarAlexNet (grouped conv2/4/5, LRN, 3/2 pooling, dropout 0.5)"
CLAIMS = {c.name: c for c in [
    Claim(1, "relu", "§3.1, Figure 1",
          "A four-layer CNN with ReLUs reaches 25% training error on CIFAR-10 six times faster "
          "than the same network with tanh units (each at its best learning rate, no "
          "regularization).", "about 6× fewer epochs", "FourLayerCNN (Figure 1's net)", "figure1",
          OWN_DATA, "Figure 1's net is not specified beyond 'four layers', and the paper says the "
          "size of the effect 'varies with network architecture'.", claim_relu),
    Claim(2, "lrn", "§3.3", "Local response normalisation lowers the error.",
          "CIFAR-10 four-layer net: 13% → 11% test error; ImageNet: 1.4 points top-1",
          "FourLayerCNN with and without cross-map LRN", "lrn", OWN_DATA,
          "The paper's 2-point gain came from long training of cuda-convnet's net with locally "
          "connected layers; ours is a shorter run of a smaller net.", claim_lrn),
    Claim(3, "overlap", "§3.4",
          "Overlapping pooling (z=3, s=2) lowers the error and overfits slightly less than "
          "z=2, s=2.", "0.4 points top-1, 0.3 top-5", _ALEXNET + ", overfitting regime", "overfit",
          STAND_IN, "The ImageNet gain is 0.4 points, below what any CPU budget here can detect; "
          "on 32×32 images both poolings give the same map sizes, so only the windows differ.",
          claim_overlap),
    Claim(4, "dropout", "§4.2",
          "Dropout substantially reduces overfitting and roughly doubles the iterations needed to "
          "converge.", "2× iterations", _ALEXNET + ", overfitting regime", "overfit", STAND_IN,
          "The fc layers are 512 wide here (4096 in the paper), so there is less to overfit "
          "with.", claim_dropout),
    Claim(5, "augmentation", "§4.1",
          "Random crops with flips reduce overfitting; PCA lighting lowers top-1 error by over 1%; "
          "averaging ten patches at test time lowers the error.",
          "PCA: over 1 point top-1; ten patches: 39.0% → 37.5% top-1",
          _ALEXNET + " (overfitting regime for crops and flips, the paper's recipe for the rest)",
          "recipe", STAND_IN, "CIFAR patches are 32 of 40 pixels (9² positions) where ImageNet's "
          "are 224 of 256 (33²); PCA lighting's gain was measured after 90 ImageNet epochs.",
          claim_augmentation),
    Claim(6, "two-gpu", "§3.2",
          "The two-GPU net beats a one-GPU net with half the kernels in each conv layer (but the "
          "full last conv layer and fully-connected layers).", "1.7 points top-1, 1.2 top-5",
          _ALEXNET + " vs one tower with half the conv1–conv4 kernels", "recipe", STAND_IN,
          "Half of a CifarAlexNet is a small net, and in short runs smaller nets can keep up.",
          claim_two_gpu),
    Claim(7, "filters", "§6.1, Figure 3",
          "The conv1 kernels of the two GPUs specialise: one set colour-agnostic, one colour-"
          "specific, in every run, independent of the initialisation.",
          "every run (qualitative)", _ALEXNET + ", conv1 of each tower", "recipe", STAND_IN,
          "Figure 3's kernels are 11×11 after 90 epochs on ImageNet; here conv1 is 5×5 on 32×32 "
          "images after a short run.", claim_filters),
    Claim(8, "depth", "§7", "Removing any middle convolutional layer costs about 2% top-1.",
          "about 2 points top-1", _ALEXNET + " with and without conv4", "recipe", STAND_IN,
          "A CIFAR-sized net with 8-pixel maps at conv3–conv5 needs less depth than ImageNet's.",
          claim_depth),
    Claim(9, "neighbours", "§6.1, Figure 4",
          "Images whose last-hidden-layer vectors are close are semantically similar, even when "
          "they are far apart in pixel space.", "qualitative (Figure 4)",
          _ALEXNET + ", fc7 features (512-d)", "recipe", STAND_IN,
          "CIFAR's pixel neighbours already share colour and layout with the query.",
          claim_neighbours),
]}
#: The order ``all`` runs them in: the cheap and central ones first, so a cut-off run keeps them.
ORDER = ("relu", "lrn", "overlap", "dropout", "augmentation", "two-gpu", "depth", "filters",
         "neighbours")
