"""The paper's claims as experiments: what each one trains, its primary test, its secondary results.

Each claim is a :class:`Claim`: where the paper makes it, its words, the paper's number, and a
function ``run(context) -> dict`` that trains (or loads) the runs it needs and returns its tests
(:func:`test`), its runs' records and anything else the book draws. Every test is a paired
comparison by seed, oriented so that a positive difference is the paper's direction.

**One primary test per claim, declared here before anything runs** (:data:`PRIMARY`: its regime,
its arms, the effect the plan must detect and where that effect comes from). The primary test
carries ``primary: True``, its interval at the deciding level α/9 and its verdict (filled in by
:func:`.results.finalise`); every other test is secondary: an estimate and a 95% interval, no
verdict (:mod:`.stats`).

**The pilot** (:func:`pilot`): before any claim runs, every arm of a primary test trains
``pilot_seeds`` seeds (they are the first seeds of the claims' runs, not extra ones), the seeds
each claim needs are planned from their spread (:mod:`.plan`), the plan is printed and written
to ``pilot-<scale>.json`` with its provenance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from . import stats
from .measures import figure1, figure1_epochs
from .pilot import Context
from .settings import ARMS, CONTROL, PRIMARY, SPLIT_NULL_RATE, TEN_PATCH

__all__ = ["Claim", "CLAIMS", "ORDER", "Context", "test", "primary", "count_test", "convergence",
           "ARMS", "PRIMARY"]

OWN_DATA = "CIFAR-10, the paper's own data set for this claim"
STAND_IN = "CIFAR-10 as a stand-in for the paper's ImageNet experiment"


@dataclass(frozen=True)
class Claim:
    """A claim of the paper: where it is, what it says, how we test it, why small runs differ."""

    number: int
    name: str
    section: str
    statement: str                  # the paper's claim, in its words where possible
    paper_number: str               # the paper's figure for it
    model: str                      # the network we test it on
    regime: str                     # the regime its primary test trains in
    data_note: str                  # CIFAR-10 as the paper's own data, or as a stand-in
    differs: str                    # why a small-scale run may not show it
    run: Callable = field(repr=False, compare=False)


# ---------------------------------------------------------------- tests

def test(name: str, differences: list[float | None], unit: str, paper: str, meaning: str,
         paper_value: float | None = None, arms: dict | None = None, kind: str = "error",
         bound: str | None = None) -> dict:
    """A secondary result: per-seed differences (positive = the paper's direction), their mean
    and 95% interval. ``unit``: "pp" (percentage points), "log" (log of a ratio), "nats",
    "index" or "share"; ``paper_value`` the paper's effect in that unit where it has one;
    ``arms`` the per-seed values compared; ``bound`` "lower"/"upper" for a censored estimate."""
    kept = [d for d in differences if d is not None]
    out = {"name": name, "meaning": meaning, "unit": unit, "paper": paper,
           "paper_value": paper_value, "differences": differences, "primary": False,
           "bound": bound, **stats.summarise(kept)}
    if arms is not None:
        out["arms"] = {"unit": kind, "values": arms,
                       "means": {k: _mean(v) for k, v in arms.items()}}
    return out


def primary(claim: str, result: dict, context: Context) -> dict:
    """``result`` made the claim's primary test: its interval at α/9 (descriptive 95% where the
    plan found it not testable at this scale), the MDE at α/9, the plan's verdict on testing."""
    plan = context.claim_plan(claim)
    kept = [d for d in result["differences"] if d is not None]
    alpha = stats.DECIDING if plan["testable"] else stats.ALPHA
    summary = stats.summarise(kept, alpha)
    return {**result, **summary, "primary": True, "testable": plan["testable"],
            "not_testable_because": plan.get("why"), "seeds_needed": plan.get("seeds_needed"),
            "declared_effect": PRIMARY[claim].effect, "effect_source": PRIMARY[claim].source,
            "mde": stats.mde(summary["sd"], summary["n"])}


def _mean(values: list) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _metric(runs: list, key: str) -> list:
    return [r.metrics[key] for r in runs]


def _versus(name: str, better: list, worse: list, labels: tuple[str, str], paper: str,
            meaning: str, key: str = "test_top1", paper_value: float | None = None) -> dict:
    """Paired test that ``key`` (an error or a gap) is lower in ``better`` than in ``worse``:
    per seed, worse − better in percentage points (nats for a loss)."""
    x = _metric(better, key) if better and not isinstance(better[0], float) else better
    y = _metric(worse, key) if worse and not isinstance(worse[0], float) else worse
    kind = {"gap": "gap", "test_loss": "loss"}.get(key, "error")
    scale = 1 if kind == "loss" else 100
    return test(name, [scale * (j - i) for i, j in zip(x, y)], "pp" if scale == 100 else "nats",
                paper, meaning, paper_value, {labels[0]: x, labels[1]: y}, kind)


def _records(*groups) -> list[dict]:
    return [r.record for group in groups for r in group]


def convergence(runs: list) -> dict:
    """Evidence that an arm converged: the validation-chosen epoch against the epochs run, how
    many runs the validation error stopped (rather than the epoch cap), and the final training
    error beside the test error. Fields a run does not record are None."""
    def mean(key):
        values = [r.metrics.get(key) for r in runs]
        return None if None in values or not values else sum(values) / len(values)
    stopped = [r.metrics.get("stopped_early") for r in runs]
    return {"runs": len(runs), "best_epoch": mean("best_epoch"),
            "epochs_run": sum(len(r.record["curve"]) for r in runs) / max(1, len(runs)),
            "stopped_by_validation": None if None in stopped else sum(map(bool, stopped)),
            "train_error": mean("train_top1"), "test_error": mean("test_top1")}


# ---------------------------------------------------------------- Figure 1 (claim 1)

def claim_relu(context: Context) -> dict:
    """Claim 1 (§3.1, Figure 1): epochs to 25% training error, tanh ÷ ReLU, each at its best
    rate. A run that never gets there counts with its whole budget: the factor is then a bound."""
    found = figure1(context, context.arm_seeds("figure1", "relu"))
    epochs = figure1_epochs(found)
    censored = {a: any(r["epochs_to_target"] is None for r in found["runs"][a]) for a in epochs}
    bound = "lower" if censored["tanh"] else "upper" if censored["relu"] else None
    result = primary("relu", test(
        f"epochs to {context.scale.relu_target:.0%} training error, tanh ÷ ReLU",
        [math.log(s / f) for s, f in zip(epochs["tanh"], epochs["relu"])], "log",
        "about 6× (Figure 1)", "ReLU reaches the target error faster", math.log(6),
        {"ReLU": epochs["relu"], "tanh": epochs["tanh"]}, "epochs", bound), context)
    tuned = found["tuned"]
    return {"tests": [result], "runs": found["runs"]["relu"] + found["runs"]["tanh"],
            "extra": {"learning_rates": {a: tuned[a]["lr"] for a in tuned},
                      "tuning_seed": context.scale.tuning_seed,
                      "tuning": [r for a in tuned for r in tuned[a]["grid"]],
                      "grids": {a: tuned[a]["rates"] for a in tuned},
                      "added_rates": {a: tuned[a]["added_rates"] for a in tuned},
                      "rate_at_grid_edge": {a: tuned[a]["at_grid_edge"] for a in tuned}}}


# ---------------------------------------------------------------- §3.3, §3.4, §4.1, §4.2

def claim_lrn(context: Context) -> dict:
    """Claim 2 (§3.3): the four-layer net with and without LRN: test error (primary), loss."""
    on, off = context.arm("lrn", 0), context.arm("lrn", 1)
    labels = ("with LRN", "without LRN")
    return {"runs": _records(on, off), "extra": {"convergence": {
        labels[0]: convergence(on), labels[1]: convergence(off)}}, "tests": [
        primary("lrn", _versus("test error, without − with LRN", on, off, labels,
                               "13% → 11% on CIFAR-10 (2 points); 1.4 points top-1 on ImageNet",
                               "LRN lowers the test error", paper_value=2.0), context),
        _versus("test loss, without − with LRN", on, off, labels, "(not reported)",
                "LRN lowers the test loss", key="test_loss")]}


def claim_overlap(context: Context) -> dict:
    """Claim 3 (§3.4): 3/2 vs 2/2 max-pooling where the net overfits: test error (primary), gap."""
    base, plain = context.arm("overfit", 0), context.arm("overfit", 3)
    labels = ("3/2 pooling", "2/2 pooling")
    return {"runs": _records(base, plain), "extra": {"convergence": {
        labels[0]: convergence(base), labels[1]: convergence(plain)}}, "tests": [
        primary("overlap", _versus("test error, 2/2 − 3/2 pooling", base, plain, labels,
                                   "0.4 points top-1 on ImageNet",
                                   "overlapping pooling lowers the error", paper_value=0.4),
                context),
        _versus("train–test gap, 2/2 − 3/2 pooling", base, plain, labels,
                "\"slightly more difficult to overfit\"", "overlapping pooling overfits less",
                key="gap")]}


def _converged_at(run, budget: int) -> tuple[float, bool]:
    """The epoch a run converged at and whether that is censored: the validation-chosen epoch
    (censored when the epoch cap, not the validation error, ended the run); for records made
    before runs kept validation curves, the epochs to the scale's training error."""
    if "best_epoch" in run.metrics:
        return run.metrics["best_epoch"], not run.metrics.get("stopped_early", False)
    reached = run.metrics.get("epochs_to_converge")
    return (budget, True) if reached is None else (reached, False)


def claim_dropout(context: Context) -> dict:
    """Claim 4 (§4.2): dropout 0.5 in fc6/fc7 vs none where the net overfits: test error
    (primary), the train–test gap, and the epochs each arm's validation error chose, with ÷
    without dropout (a bound where a run met the epoch cap)."""
    none, drop = context.arm("overfit", 0), context.arm("overfit", 1)
    budget = context.scale.regime("overfit").epochs
    slow, fast = ([_converged_at(r, budget) for r in runs] for runs in (drop, none))
    bound = "lower" if any(c for _, c in slow) else "upper" if any(c for _, c in fast) else None
    converge = test("epochs to the best validation error, with ÷ without dropout",
                    [math.log(s / f) for (s, _), (f, _) in zip(slow, fast)], "log",
                    "\"roughly doubles\" the iterations (2×)", "dropout slows convergence",
                    math.log(2), {"with dropout": [s for s, _ in slow],
                                  "without dropout": [f for f, _ in fast]}, "epochs", bound)
    labels = ("with dropout", "without dropout")
    return {"runs": _records(none, drop), "extra": {"convergence": {
        labels[0]: convergence(drop), labels[1]: convergence(none)}}, "tests": [
        primary("dropout", _versus("test error, without − with dropout", drop, none, labels,
                                   "without it, \"substantial overfitting\"",
                                   "dropout lowers the test error"), context),
        _versus("train–test gap, without − with dropout", drop, none, labels,
                "without it, \"substantial overfitting\"", "dropout reduces overfitting",
                key="gap"),
        converge]}


def claim_augmentation(context: Context) -> dict:
    """Claim 5 (§4.1): crops and flips vs none where the net overfits (test error: primary; the
    gap); PCA lighting vs none with the paper's recipe; ten patches vs the centre patch at test
    time, on networks trained on 24×24 patches by cuda-convnet's protocol."""
    bare, crops = context.arm("overfit", 0), context.arm("overfit", 2)
    full, dark = context.arm("recipe", 0), context.arm("recipe", 1)
    patched = context.runs(TEN_PATCH)
    views = [r.record["probes"]["ten_patch"] for r in patched]
    ten, centre = [v["ten"] for v in views], [v["centre"] for v in views]
    labels = ("crops and flips", "none")
    return {"runs": _records(bare, crops, full, dark, patched), "extra": {
        "ten_patch_test_top1": ten, "centre_patch_test_top1": centre, "convergence": {
            labels[0]: convergence(crops), labels[1]: convergence(bare)}}, "tests": [
        primary("augmentation", _versus(
            "test error, none − crops and flips", crops, bare, labels,
            "without it, \"substantial overfitting\"", "crops and flips lower the test error"),
            context),
        _versus("train–test gap, none − crops and flips", crops, bare, labels,
                "without it, \"substantial overfitting\"", "crops and flips reduce overfitting",
                key="gap"),
        _versus("test error, without − with PCA lighting", full, dark,
                ("with PCA lighting", "without"), "over 1 point top-1 on ImageNet",
                "PCA lighting lowers the error", paper_value=1.0),
        _versus("test error, centre patch − ten patches (24×24)", ten, centre,
                ("ten patches", "centre patch"), "39.0% → 37.5% top-1 on ILSVRC-2010 (1.5 points)",
                "ten-patch averaging lowers the error", paper_value=1.5)]}


# ---------------------------------------------------------------- §3.2, §7

def claim_two_gpu(context: Context) -> dict:
    """Claim 6 (§3.2): the grouped two-tower net vs one tower with half the kernels in conv1–conv4
    and the full conv5 and fc layers (the paper's footnote): test error (primary), test loss."""
    two, one = context.arm("recipe", 0), context.arm("recipe", 2)
    labels = ("two towers", "one tower, half the kernels")
    return {"runs": _records(two, one), "extra": {"convergence": {
        labels[0]: convergence(two), labels[1]: convergence(one)}}, "tests": [
        primary("two-gpu", _versus("test error, one tower (half) − two towers", two, one, labels,
                                   "1.7 points top-1 on ImageNet", "the two-tower net is better",
                                   paper_value=1.7), context),
        _versus("test loss, one tower (half) − two towers", two, one, labels, "(not reported)",
                "the two-tower net is better (test loss)", key="test_loss")]}


def claim_depth(context: Context) -> dict:
    """Claim 8 (§7): the net without conv4 (conv3 and conv4 have the same width) vs the whole."""
    whole, shallow = context.arm("recipe", 0), context.arm("recipe", 3)
    labels = ("whole net", "without conv4")
    return {"runs": _records(whole, shallow), "extra": {"convergence": {
        labels[0]: convergence(whole), labels[1]: convergence(shallow)}}, "tests": [
        primary("depth", _versus("test error, without conv4 − whole net", whole, shallow, labels,
                                 "about 2 points top-1 on ImageNet",
                                 "every middle conv layer matters", paper_value=2.0), context)]}


# ---------------------------------------------------------------- §6.1: Figures 3 and 4

def _splits(runs: list, arm) -> list[dict]:
    """Figure 3 for each run of ``arm``: its towers' split, and its conv1 kernels (measured when
    the run ended: :mod:`.probes`)."""
    return [{"seed": seed, "arm": arm.label, **run.record["probes"]["filters"]}
            for seed, run in enumerate(runs)]


def count_test(name: str, split: list[bool], controls: list[bool], context: Context) -> dict:
    """Figure 3's primary test: how many grouped networks split beyond their permutation null
    (p < 0.05), against the 5% a calibrated permutation test gives by chance (exact binomial,
    Clopper–Pearson interval at the deciding level); the ``groups=1`` controls, whose "towers"
    can only split by chance, are counted beside it as the check of that 5%."""
    plan, k, n = context.claim_plan(name), sum(split), len(split)
    alpha = stats.DECIDING if plan["testable"] else stats.ALPHA
    low, high = stats.clopper_pearson(k, n, alpha) if n else (None, None)
    return {"name": "share of grouped networks whose towers split beyond the permutation null",
            "meaning": "the towers specialise in every run", "unit": "share",
            "paper": "one tower colour-agnostic, the other colour-specific, in every run",
            "paper_value": 1.0, "differences": [float(s) for s in split], "primary": True,
            "bound": None, "n": n, "estimate": k / n if n else None, "sd": None, "se": None,
            "low": low, "high": high, "level": 1 - alpha,
            "p": stats.binomial_test(k, n, SPLIT_NULL_RATE) if n else None,
            "null_rate": SPLIT_NULL_RATE, "controls_split": sum(controls),
            "controls": len(controls), "testable": plan["testable"],
            "not_testable_because": plan.get("why"), "seeds_needed": plan.get("seeds_needed"),
            "declared_effect": PRIMARY[name].effect, "effect_source": PRIMARY[name].source,
            "mde": None, "power_at_declared": stats.binomial_power(
                n, PRIMARY[name].effect, SPLIT_NULL_RATE, alpha) if n else None}


def claim_filters(context: Context) -> dict:
    """Claim 7 (§6.1, Figure 3): per grouped network, the gap between the towers' colour-
    specificity indices against what a random assignment of the same kernels to towers gives
    (the permutation null). Primary: the count of networks that split (:func:`count_test`);
    secondary: the gap's excess over its null mean, grouped networks minus the controls' mean."""
    grouped, controls = context.arm("recipe", 0), context.runs(CONTROL)
    ours = _splits(grouped, ARMS["recipe"][0])
    theirs = _splits(controls, CONTROL)
    excess = [s["gap"] - s["null_gap_mean"] for s in ours]
    chance = _mean([s["gap"] - s["null_gap_mean"] for s in theirs]) or 0.0
    return {"runs": _records(grouped, controls), "tests": [
        count_test("filters", [s["p_value"] < 0.05 for s in ours],
                   [s["p_value"] < 0.05 for s in theirs], context),
        test("colour-index gap between the towers minus its permutation null, beyond the "
             "controls' mean", [e - chance for e in excess], "index",
             "one tower colour-agnostic, the other colour-specific, in every run",
             "the towers specialise more than a random split of the same kernels would", None,
             {"observed gap": [s["gap"] for s in ours],
              "null gap (mean)": [s["null_gap_mean"] for s in ours]}, "index")],
        "extra": {"filters": ours, "controls": theirs}}


def claim_neighbours(context: Context) -> dict:
    """Claim 9 (§6.1, Figure 4): for test images, the share of their k nearest training images
    that have their class, by last-hidden-layer (fc7) distance vs by pixel distance."""
    scale = context.scale
    runs = context.arm("recipe", 0)
    per_seed = [{"seed": s, **r.record["probes"]["neighbours"]} for s, r in enumerate(runs)]
    k = scale.neighbours_k
    return {"runs": _records(runs), "tests": [primary("neighbours", test(
        f"share of the {k} nearest training images with the query's class, fc7 − pixels",
        [100 * (s["feature_agreement"] - s["pixel_agreement"]) for s in per_seed], "pp",
        "fc7 neighbours are semantically similar, pixel neighbours are not (Figure 4)",
        "feature-space neighbours share the class more often", None,
        {"fc7": [s["feature_agreement"] for s in per_seed],
         "pixels": [s["pixel_agreement"] for s in per_seed]}, "share"), context)],
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
          "The paper's 2-point gain came from cuda-convnet's net with locally connected layers; "
          "ours is a smaller net on fewer images.", claim_lrn),
    Claim(3, "overlap", "§3.4",
          "Overlapping pooling (z=3, s=2) lowers the error and overfits slightly less than "
          "z=2, s=2.", "0.4 points top-1, 0.3 top-5", _ALEXNET + ", overfitting regime", "overfit",
          STAND_IN, "The ImageNet gain is 0.4 points, below what a CPU budget can detect; on "
          "32×32 images both poolings give the same map sizes, so only the windows differ.",
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
          "overfit", STAND_IN, "CIFAR patches are 32 of 40 pixels (9² positions) where "
          "ImageNet's are 224 of 256 (33²); PCA lighting's gain was measured after 90 ImageNet "
          "epochs.", claim_augmentation),
    Claim(6, "two-gpu", "§3.2",
          "The two-GPU net beats a one-GPU net with half the kernels in each conv layer (but the "
          "full last conv layer and fully-connected layers).", "1.7 points top-1, 1.2 top-5",
          _ALEXNET + " vs one tower with half the conv1–conv4 kernels", "recipe", STAND_IN,
          "Half of a CifarAlexNet is a small net, and smaller nets can keep up on small data.",
          claim_two_gpu),
    Claim(7, "filters", "§6.1, Figure 3",
          "The conv1 kernels of the two GPUs specialise: one set colour-agnostic, one colour-"
          "specific, in every run, independent of the initialisation.",
          "every run (qualitative)", _ALEXNET + ", conv1 of each tower", "recipe", STAND_IN,
          "Figure 3's kernels are 11×11 after 90 epochs on ImageNet; here conv1 is 5×5 on 32×32 "
          "images.", claim_filters),
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
