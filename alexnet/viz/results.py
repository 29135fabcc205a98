"""Measured results: training curves of several runs, and one claim's per-seed values."""
from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
from matplotlib.ticker import LogLocator, MaxNLocator

from ..errors import AlexNetError
from .activations import ACTIVATION_COLOURS
from .architecture import CROSS_COLOUR
from .style import COLUMN_WIDTH, axes_or_new, styled

__all__ = ["seed_curves", "plot_curves", "plot_arms", "plot_claim", "plot_learning_rates",
           "plot_epochs_to", "plot_confusion", "plot_forest"]

_PERCENT_KEYS = ("top1", "top5", "gap", "error")
_KEY_NAMES = {"train_top1": "training error", "val_top1": "test error", "train_top5":
              "top-5 training error", "val_top5": "top-5 test error", "train_loss": "training loss",
              "val_loss": "test loss", "train_error": "training error", "test_error": "test error",
              "test_top1": "test error", "test_top5": "top-5 test error", "test_loss": "test loss"}


def seed_curves(runs: list[dict], label: str = "variant") -> dict:
    """The per-epoch curves of a result file's ``runs`` grouped for :func:`plot_curves`:
    ``{run[label]: [curve of each seed]}`` in the order the runs come. Runs without a curve are
    left out."""
    grouped: dict = {}
    for run in runs:
        if run.get("curve"):
            grouped.setdefault(run[label], []).append(run["curve"])
    return grouped


def _runs(value) -> list:
    return [value] if value and isinstance(value[0], dict) else value


@styled
def plot_curves(curves: dict, key: str = "train_top1", target: float | None = None, ax=None,
                ylabel: str | None = None):
    """Per-epoch curves: ``curves`` maps a label to one history (a list of dicts with ``epoch``
    and ``key``, as :meth:`~alexnet.train.Trainer.fit` returns) or to a list of histories (one per
    seed, drawn in the same colour). Error rates are shown in percent; ``target`` draws a dashed
    line at that value (Figure 1's 25% training error)."""
    ax = axes_or_new(ax, COLUMN_WIDTH, 3.2)
    percent = any(part in key for part in _PERCENT_KEYS)
    scale = 100 if percent else 1
    for i, (label, runs) in enumerate(curves.items()):
        runs = _runs(runs)
        colour = ACTIVATION_COLOURS.get(label, f"C{i}")
        for j, run in enumerate(runs):
            ax.plot([row["epoch"] for row in run], [scale * row[key] for row in run],
                    color=colour, lw=1.8 if len(runs) == 1 else 1.1,
                    alpha=1 if len(runs) == 1 else 0.7, marker="o", ms=3,
                    label=label if j == 0 else None)
    if target is not None:
        ax.axhline(scale * target, color="black", ls="--", lw=1,
                   label=f"target {scale * target:g}{'%' if percent else ''}")
    name = _KEY_NAMES.get(key, key.replace("_", " "))
    ax.set(xlabel="epoch", ylabel=ylabel or (name + (" (%)" if percent else "")))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    return ax


_ARM_UNITS = {"error": ("error (%)", 100), "gap": ("test − train error (pp)", 100),
              "share": ("share (%)", 100), "epochs": ("epochs", 1), "index": ("index", 1)}


@styled
def plot_arms(test: dict, ax=None):
    """One test of a claim result: each arm's per-seed values as dots, the same seed joined by a
    grey line (the comparison is paired by seed), the arm's mean as a short thick line. Seeds
    without a value (a run that never reached its target) are left out; the title carries the
    verdict."""
    arms = test.get("arms")
    if not arms:
        raise AlexNetError(f"test {test.get('name')!r} has no per-arm values to plot")
    ylabel, scale = _ARM_UNITS.get(arms["unit"], (arms["unit"], 1))
    ax = axes_or_new(ax, COLUMN_WIDTH / 2, 3.4)
    labels = list(arms["values"])
    values = [[None if v is None else scale * v for v in arms["values"][a]] for a in labels]
    for seed in range(max(len(v) for v in values)):
        points = [(i, v[seed]) for i, v in enumerate(values)
                  if seed < len(v) and v[seed] is not None]
        if len(points) > 1:
            ax.plot(*zip(*points), color="grey", lw=0.8, alpha=0.6)
    for i, arm in enumerate(values):
        kept = [v for v in arm if v is not None]
        if kept:
            ax.plot([i - 0.22, i + 0.22], [sum(kept) / len(kept)] * 2, color=f"C{i}", lw=3,
                    alpha=0.6, solid_capstyle="butt")
            ax.plot([i] * len(kept), kept, "o", color=f"C{i}", ms=6)
    ax.set_xticks(range(len(labels)), ["\n".join(textwrap.wrap(a, 14)) for a in labels])
    ax.set_ylabel(ylabel)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    title = "\n".join(textwrap.wrap(test["name"], 30))
    verdict = test.get("verdict_words") or test.get("verdict")
    ax.set_title(title + (f"\n{verdict}" if verdict and len(verdict) < 30 else ""))
    return ax


@styled
def plot_claim(result: dict):
    """Every test of a claim result with per-arm values, one :func:`plot_arms` panel each, two
    to a row. Returns the figure."""
    tests = [t for t in result["tests"] if t.get("arms")]
    rows = -(-len(tests) // 2)
    columns = min(2, len(tests))
    fig, axes = plt.subplots(rows, columns, squeeze=False,
                             figsize=(COLUMN_WIDTH * columns / 2, 3.6 * rows))
    for ax, test in zip(axes.flat, tests):
        plot_arms(test, ax)
    for ax in axes.flat[len(tests):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


@styled
def plot_learning_rates(tuning: list[dict], ax=None):
    """A Figure 1 learning-rate search: each activation's training error at the end of its
    seed-0 run, per rate (``tuning``: dicts with activation, lr, final_train_top1, diverged,
    budget); a diverged run is a cross at 100%."""
    ax = axes_or_new(ax, COLUMN_WIDTH, 3.2)
    for i, activation in enumerate(dict.fromkeys(r["activation"] for r in tuning)):
        runs = sorted((r for r in tuning if r["activation"] == activation), key=lambda r: r["lr"])
        ax.plot([r["lr"] for r in runs], [100 * r["final_train_top1"] for r in runs], "o-",
                color=f"C{i}", label=activation)
        diverged = [r["lr"] for r in runs if r["diverged"]]
        ax.plot(diverged, [100] * len(diverged), "x", color=f"C{i}", ms=9)
    budgets = sorted({r["budget"] for r in tuning})
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"training error after\n{'/'.join(map(str, budgets))} epochs (%)")
    ax.legend()
    return ax


def _epochs_to(curve: list[dict], key: str, target: float, start: float = 0.9) -> float | None:
    """Epochs until ``curve[i][key]`` first falls to ``target``, linear between epochs (epoch 0 =
    ``start``, chance for ten classes); None if it never does."""
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


@styled
def plot_epochs_to(curves: dict, targets, key: str = "train_top1", ax=None):
    """Epochs each run needs to bring ``key`` down to each of ``targets`` (Figure 1 measures 25%
    training error), linear between epochs. ``curves`` is as for :func:`plot_curves`, one colour
    per label. A run that never gets there within its epochs is drawn as an open marker at its
    last epoch: it needs at least that many."""
    ax = axes_or_new(ax, COLUMN_WIDTH, 3.2)
    shown = [100 * t for t in targets]
    for i, (label, runs) in enumerate(curves.items()):
        colour = ACTIVATION_COLOURS.get(label, f"C{i}")
        for j, run in enumerate(_runs(runs)):
            reached = [_epochs_to(run, key, t) for t in targets]
            budget = float(run[-1]["epoch"])
            ax.plot(shown, [budget if e is None else e for e in reached], color=colour, lw=1.2,
                    alpha=0.8, label=label if j == 0 else None)
            for x, e in zip(shown, reached):
                ax.plot(x, budget if e is None else e, "o", color=colour, ms=5,
                        mfc="white" if e is None else colour)
    ax.plot([], [], "o", color="grey", mfc="white", label="not reached")
    ax.set(xlabel=f"target {_KEY_NAMES.get(key, key.replace('_', ' '))} (%)",
           ylabel="epochs to reach it")
    ax.invert_xaxis()
    ax.set_ylim(bottom=0)
    ax.legend()
    return ax


@styled
def plot_confusion(counts, classes, ax=None):
    """A confusion matrix (rows: true class, columns: predicted class; ``counts`` as nested lists
    or a tensor), each row shown as shares of its class, with each class's error beside its
    name. Returns the Axes."""
    import torch

    counts = torch.as_tensor(counts, dtype=torch.float64)
    shares = counts / counts.sum(1, keepdim=True).clamp_min(1)
    ax = axes_or_new(ax, COLUMN_WIDTH - 1.2, 4.6)
    image = ax.imshow(shares.numpy(), cmap="Blues", vmin=0, vmax=1)
    errors = 1 - shares.diag()
    ax.set_yticks(range(len(classes)), [f"{c} ({100 * e:.0f}%)" for c, e in
                                        zip(classes, errors.tolist())])
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right")
    ax.set(xlabel="predicted class", ylabel="true class (its error)")
    ax.spines[:].set_visible(False)
    ax.figure.colorbar(image, ax=ax, fraction=0.04, label="share of the true class")
    return ax


_FOREST_UNITS = {"pp": ("points", 1.0), "nats": ("nats", 1.0), "index": ("index", 1.0),
                 "share": ("% of networks", 100.0), "log": ("× (ratio)", None)}


def _forest_values(test: dict) -> tuple[list[float | None], float]:
    """(estimate, low, high, paper's value) of a primary test in the units drawn, and the value
    of no effect: ratios (``log``) as ratios, shares in percent."""
    unit = test["unit"]
    values = [test.get(k) for k in ("estimate", "low", "high", "paper_value")]
    if unit == "log":
        return [None if v is None else math.exp(v) for v in values], 1.0
    scale = _FOREST_UNITS.get(unit, (unit, 1.0))[1]
    null = 100 * (test.get("null_rate") or 0.0) if unit == "share" else 0.0
    return [None if v is None else scale * v for v in values], null


@styled
def plot_forest(results: list[dict], names: dict | None = None):
    """The ledger as a figure: one row per claim, its primary test's estimate (dot) and the
    interval its verdict uses (line; grey where the claim is not testable at this scale and the
    interval is descriptive), the value of no effect (dashed) and the paper's value (red
    diamond), each row on its own axis in its own unit, the verdict in a word on the right.
    ``names`` maps a result's ``claim`` to the row's label. Returns the figure."""
    from ..reproduce.results import VERDICT_WORDS

    primaries = [(r, next(t for t in r["tests"] if t.get("primary"))) for r in results
                 if any(t.get("primary") for t in r["tests"])]
    if not primaries:
        raise AlexNetError("no result holds a primary test: finalise the results first "
                           "(`python -m alexnet reproduce ledger`)")
    height = 0.78 * len(primaries) + 0.3
    fig, axes = plt.subplots(len(primaries), 1, squeeze=False, figsize=(COLUMN_WIDTH, height))
    for ax, (result, test) in zip(axes[:, 0], primaries):
        (estimate, low, high, paper), null = _forest_values(test)
        testable = test.get("testable", True)
        colour = "black" if testable else "grey"
        ax.axvline(null, color="grey", ls="--", lw=1)
        if low is not None:
            ax.plot([low, high], [0, 0], color=colour, lw=2.5, solid_capstyle="butt")
        if estimate is not None:
            marker = {"lower": ">", "upper": "<"}.get(test.get("bound"), "o")
            ax.plot([estimate], [0], marker, color=colour, ms=7)
        if paper is not None:
            ax.plot([paper], [0], "D", color=CROSS_COLOUR, ms=7, alpha=0.8)
        if test["unit"] == "log":
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_locator(LogLocator(base=2))
            ax.xaxis.set_major_formatter(lambda v, _: f"×{v:g}")
            ax.xaxis.set_minor_formatter(lambda v, _: "")
        ax.set_yticks([])
        ax.set_ylim(-1, 1)
        ax.margins(x=0.15)
        ax.spines[["left", "right", "top"]].set_visible(False)
        label = (names or {}).get(result["claim"], result["claim"])
        ax.text(-0.02, 0.5, label, transform=ax.transAxes, ha="right", va="center")
        word = VERDICT_WORDS.get(test.get("direction"), "–")
        ax.text(1.02, 0.5, word, transform=ax.transAxes, ha="left", va="center",
                color=colour)
        ax.set_xlabel(_FOREST_UNITS.get(test["unit"], (test["unit"],))[0], labelpad=1)
    fig.subplots_adjust(left=0.27, right=0.8, top=1 - 0.15 / height, bottom=0.5 / height,
                        hspace=1.6)
    return fig
