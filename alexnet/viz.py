r"""The book's figures: the network, its nonlinearities, LRN, pooling windows, and measured results.

Every chapter of the book (``book/``) draws with these functions, so its own cells stay short. Each
function is independent of the others: it draws one figure, or into the ``ax`` it is given, and
returns what it drew (an Axes or a Figure); the notebook calls ``plt.show()``. Nothing here trains
or changes a model. Matplotlib is needed (``pip install alexnet[book]``).

===============================  ===========================================================  =====
function                         draws                                                         ch.
===============================  ===========================================================  =====
:func:`draw_architecture`        the network as blocks, one row per GPU, and where they cross  1
:func:`plot_map_sizes`           the side of the feature maps after each layer                 1
:func:`interactive_figure`       controls that redraw a figure (a widget nbval can check)      1–8
:func:`plot_activations`         ReLU, tanh and the sigmoid, and their derivatives             2
:func:`plot_saturation`          an activation's gradient under inputs of a given spread       2
:func:`plot_curves`              per-epoch curves (training error, ...) of several runs        2–8
:func:`plot_arms`                one claim test's per-seed values, paired by seed              2–8
:func:`plot_epochs_to`           epochs each run needs to reach each of several error levels   2
:func:`simultaneous_contrast`    the same-grey illusion of lateral inhibition                  3
:func:`plot_lrn_response`        LRN's output against its input, paper's α vs PyTorch's α/n    3
:func:`show_feature_maps`        feature maps before and after LRN, and LRN's divisor          3
:func:`draw_pooling`             which inputs each pooling output sees                         4
:func:`seed_curves`              a result file's per-seed curves, grouped for plot_curves      5–8
:func:`show_images`              photographs in a grid (crops, lighting, ten patches)          5
:func:`plot_traffic`             bytes between GPUs per step, model vs data parallelism        6
:func:`plot_filters`             conv1 kernels as small RGB images (Figure 3)                  8
:func:`plot_tower_filters`       Figure 3: each tower's conv1 kernels, with its colour index   8
:func:`plot_kernel_index`        every kernel's colour-specificity index, per tower            8
:func:`plot_top5`                Figure 4 (left): images and their top-5 predictions           7
:func:`plot_neighbours`          Figure 4 (right): query images and their neighbours           7
:func:`plot_neighbour_examples`  the same, from a stored neighbours result                     7
===============================  ===========================================================  =====

Small computations the figures rest on are functions too, tested in ``tests/test_viz.py``:
:func:`expected_gradient` (§3.1) and :func:`pooling_windows` / :func:`pooling_coverage` (§3.4).
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.patches import FancyArrowPatch, Rectangle
from matplotlib.ticker import MaxNLocator
from torch import Tensor, nn

from .errors import AlexNetError
from .lrn import local_response_norm_reference
from .summary import layer_table

__all__ = ["draw_architecture", "plot_map_sizes", "interactive_figure", "ACTIVATIONS",
           "plot_activations", "expected_gradient", "plot_saturation", "plot_curves", "plot_arms",
           "plot_epochs_to",
           "simultaneous_contrast", "plot_lrn_response", "show_feature_maps", "pooling_windows",
           "pooling_coverage", "draw_pooling", "seed_curves", "as_display_images", "show_images",
           "plot_traffic", "plot_filters", "plot_tower_filters", "plot_kernel_index", "plot_top5",
           "plot_neighbours", "plot_neighbour_examples"]

GPU_COLOURS = ("tab:blue", "tab:orange")
CROSS_COLOUR = "tab:red"


def _axes(ax, figsize):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


# ---------------------------------------------------------------- chapter 1: the network

def _weight_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _inputs_from(layers: list[nn.Module]) -> list[str]:
    """For each weight layer, where its input comes from: "image" (conv1: each GPU gets the whole
    image), "own" (a grouped layer: its own GPU's maps only) or "both" (both GPUs' maps, §3.2)."""
    kinds = []
    for i, layer in enumerate(layers):
        if i == 0:
            kinds.append("image")
        elif isinstance(layer, nn.Conv2d) and layer.groups > 1:
            kinds.append("own")
        else:
            kinds.append("both")
    return kinds


def _between(rows) -> dict[str, str]:
    """The operations after each weight layer, up to the next one ("ReLU, LRN, pool 3/2")."""
    short = {"ReLU": "ReLU", "Tanh": "tanh", "LocalResponseNorm": "LRN", "Dropout": "dropout"}
    ops: dict[str, list[str]] = {}
    current = None
    for r in rows:
        if r.params:
            current = r.name
            ops[current] = []
        elif current is not None and r.kind in short:
            ops[current].append(short[r.kind])
        elif current is not None and "Pool" in r.kind:
            ops[current].append("pool")
    return {name: ", ".join(found) for name, found in ops.items()}


def draw_architecture(model: nn.Module, image_size: int | None = None, ax=None):
    """Figure 2 of the paper, redrawn from a live model: one block per weight layer and GPU, sized by
    its output (height ∝ map side), labelled with its maps per GPU and its parameters; arrows in
    red where data crosses between the GPUs (§3.2), in the GPU's colour where it stays.

    The GPUs are the ``groups`` of a grouped :class:`~alexnet.AlexNet` (channels ``[:C/2]`` are
    GPU 1, paper-notes §1.2); a model with ``groups=1`` is drawn as a single row.
    """
    rows = layer_table(model, image_size)
    weighted = [r for r in rows if r.params]
    layers = _weight_layers(model)
    sources, ops = _inputs_from(layers), _between(rows)
    streams = getattr(model, "groups", 1)
    ax = _axes(ax, (13, 5.2))
    size = image_size or getattr(model, "image_size", 224)
    lanes = [1.4, -1.4] if streams == 2 else [0.0]
    top = max(r.output[1] for r in weighted if len(r.output) == 3)

    def height(r):
        return 0.35 + 1.5 * r.output[1] / top if len(r.output) == 3 else 0.35

    def box(x, y, h, colour, text):
        ax.add_patch(Rectangle((x - 0.37, y - h / 2), 0.74, h, facecolor=colour, alpha=0.25,
                               edgecolor=colour, lw=1.5))
        ax.text(x, y, text, ha="center", va="center", fontsize=7.5)

    def arrow(x0, y0, x1, y1, colour):
        ax.add_patch(FancyArrowPatch((x0 + 0.39, y0), (x1 - 0.39, y1), arrowstyle="-|>",
                                     mutation_scale=10, color=colour, lw=1.2))

    box(0, 0, 2.2, "grey", f"input\n3×{size}×{size}")
    previous = [(0, 0)]
    for i, (r, source) in enumerate(zip(weighted, sources), start=1):
        last = i == len(weighted)
        split = streams == 2 and not last
        shape = (f"{r.output[0] // streams}×{r.output[1]}×{r.output[2]}" if len(r.output) == 3
                 else f"{r.output[0] // streams}") if split else "×".join(map(str, r.output))
        here = [(i, y) for y in lanes] if split else [(i, 0.0)]
        for lane, (x, y) in enumerate(here):
            box(x, y, height(r), GPU_COLOURS[lane] if split else "grey", f"{r.name}\n{shape}")
        for lane, (x, y) in enumerate(here):
            starts = previous if source in ("image", "both") or len(previous) == 1 else \
                [previous[lane]]
            for j, (x0, y0) in enumerate(starts):
                crossing = source == "both" and len(previous) > 1 and (j != lane or not split)
                colour = CROSS_COLOUR if crossing else \
                    (GPU_COLOURS[lane] if split else "grey")
                arrow(x0, y0, x, y, colour)
        low = min(y for _, y in here) - height(r) / 2
        ax.text(i, min(low, -2.3) - 0.25, f"{r.params / 1e6:.2f}M\nparams", ha="center",
                va="top", fontsize=7.5, color="dimgrey")
        if ops.get(r.name):
            ax.text(i + 0.5, max(lanes) + 1.25, ops[r.name].replace(", ", "\n"), ha="center",
                    va="bottom", fontsize=7, color="dimgrey")
        previous = here
    if streams == 2:
        for lane, y in enumerate(lanes):
            ax.text(-0.55, y, f"GPU {lane + 1}", ha="right", va="center", color=GPU_COLOURS[lane],
                    fontsize=10, fontweight="bold")
        ax.plot([], [], color=CROSS_COLOUR, label="crosses between the GPUs")
        ax.plot([], [], color=GPU_COLOURS[0], label="stays on its GPU")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    total = sum(r.params for r in rows)
    ax.set_title(f"{type(model).__name__}: {total:,} parameters", fontsize=11)
    ax.set_xlim(-1.4, len(weighted) + 0.6)
    ax.set_ylim(-3.4, max(lanes) + 2.3)
    ax.set_aspect("auto")
    ax.axis("off")
    return ax


def plot_map_sizes(rows, image_size: int, fc6_inputs: int | None = None, ax=None):
    """The side of the feature maps after each convolution and pool of a :func:`layer_table`
    (``rows`` of the convolutional part), and the number of values that reach fc6. With
    ``fc6_inputs`` (what the network's fc6 expects), a mismatch is shown in red."""
    shown = [("input", image_size)]
    for r in rows:
        if len(r.output) != 3:
            continue
        if r.kind == "ZeroPad2d":
            shown.append(("padded", r.output[1]))
        elif r.kind == "Conv2d":
            shown.append((r.name, r.output[1]))
        elif "Pool" in r.kind:
            shown.append(("pool", r.output[1]))
    ax = _axes(ax, (9, 3.4))
    labels, sides = zip(*shown)
    bars = ax.bar(range(len(sides)), sides, color=["grey"] + ["tab:blue"] * (len(sides) - 1))
    for bar, side in zip(bars, sides):
        ax.text(bar.get_x() + bar.get_width() / 2, side, str(side), ha="center", va="bottom",
                fontsize=9)
    ax.set_xticks(range(len(sides)), labels, rotation=40, ha="right", fontsize=8.5)
    ax.set_ylabel("map side (pixels)")
    ax.set_ylim(0, max(sides) * 1.15)
    last = [r for r in rows if len(r.output) == 3][-1].output
    flat = last[0] * last[1] * last[2]
    text = f"fc6 receives {last[0]}×{last[1]}×{last[2]} = {flat:,} values"
    fits = fc6_inputs is None or flat == fc6_inputs
    if not fits:
        text += f", but AlexNet's fc6 takes {fc6_inputs:,}"
    ax.set_title(text, color="black" if fits else CROSS_COLOUR, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


# ---------------------------------------------------------------- widgets

def _figure_of(drawn):
    """The Figure that a drawing function returned (a Figure, an Axes, or None: the current one)."""
    if drawn is None:
        return plt.gcf()
    return drawn if isinstance(drawn, plt.Figure) else drawn.figure


def interactive_figure(draw, **controls):
    """A figure the reader can change: the ipywidgets ``controls`` (given by keyword) above an
    output area where ``draw(**values)`` draws (it returns a Figure or an Axes, and does not call
    ``plt.show()``); the figure is redrawn whenever a control changes.

    Unlike ``ipywidgets.interactive``, the first figure goes into the output area's state directly
    instead of being printed while the cell runs. So the cell's stored output is the widget alone,
    which strict nbval can compare (it cannot replay the ``clear_output`` that ``interactive``
    sends), and the rendered book shows the first figure from the saved widget state.
    """
    import ipywidgets as widgets
    from IPython.display import display

    output = widgets.Output()

    def render(change=None):
        figure = _figure_of(draw(**{name: c.value for name, c in controls.items()}))
        if change is None:
            output.append_display_data(figure)
        else:
            output.clear_output(wait=True)
            with output:
                display(figure)
        plt.close(figure)

    for control in controls.values():
        control.observe(render, names="value")
    render()
    return widgets.VBox([*controls.values(), output])


# ---------------------------------------------------------------- chapter 2: ReLU

#: The nonlinearities of §3.1: the paper's ReLU and the saturating units it replaces.
ACTIVATIONS = {"ReLU": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}
ACTIVATION_COLOURS = {"ReLU": "tab:blue", "tanh": "tab:orange", "sigmoid": "tab:green"}


def _with_gradient(name: str, x: Tensor) -> tuple[Tensor, Tensor]:
    """f(x) and f'(x), by autograd (ReLU's derivative at 0 is taken as 0, as PyTorch does)."""
    x = x.detach().double().requires_grad_(True)
    y = ACTIVATIONS[name](x)
    (gradient,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), gradient


def plot_activations(lim: float = 4.0, names=("ReLU", "tanh", "sigmoid")):
    """Two panels: the activations f(x) and their derivatives f'(x) on [-lim, lim]."""
    x = torch.linspace(-lim, lim, 801)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name in names:
        y, gradient = _with_gradient(name, x)
        colour = ACTIVATION_COLOURS.get(name)
        left.plot(x.numpy(), y.numpy(), label=name, color=colour, lw=2)
        right.plot(x.numpy(), gradient.numpy(), label=name, color=colour, lw=2)
    left.set(title="f(x)", xlabel="x", ylim=(-1.2, lim))
    right.set(title="f′(x): how much of the gradient passes", xlabel="x", ylim=(-0.05, 1.1))
    for ax in (left, right):
        ax.axhline(0, color="black", lw=0.5)
        ax.axvline(0, color="black", lw=0.5)
        ax.legend(frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def _gaussian_grid(spread: float, points: int = 4000) -> tuple[Tensor, Tensor]:
    """A grid over ±8 spreads and the N(0, spread²) probability of each grid cell. An even number
    of points keeps 0 off the grid, where ReLU's derivative jumps."""
    x = torch.linspace(-8 * spread, 8 * spread, points, dtype=torch.float64)
    weight = torch.exp(-0.5 * (x / spread) ** 2)
    return x, weight / weight.sum()


def expected_gradient(name: str, spread: float) -> float:
    """E[f'(x)] for x ~ N(0, spread²): the average factor by which the unit passes a gradient back
    when its inputs have that spread (numerical integration on a grid, deterministic).

    ReLU passes 1 for every positive input, so 0.5 whatever the spread; tanh and the sigmoid
    saturate, so theirs falls towards 0 as the spread grows (§3.1's "saturating nonlinearities").
    """
    if name not in ACTIVATIONS:
        raise AlexNetError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    if not spread > 0:
        raise AlexNetError(f"the spread of the inputs must be positive, got {spread}")
    x, weight = _gaussian_grid(spread)
    return float((_with_gradient(name, x)[1] * weight).sum())


def plot_saturation(name: str, spread: float, ax=None):
    """An activation's derivative f'(x) with the density of inputs x ~ N(0, spread²) beneath it;
    the title gives E[f'(x)] (:func:`expected_gradient`)."""
    ax = _axes(ax, (7, 3.4))
    lim = max(4.0, 3 * spread)
    x = torch.linspace(-lim, lim, 801)
    _, gradient = _with_gradient(name, x)
    density = torch.exp(-0.5 * (x / spread) ** 2)
    ax.fill_between(x.numpy(), 0, density.numpy(), color="grey", alpha=0.25,
                    label=f"inputs ~ N(0, {spread:g}²)")
    ax.plot(x.numpy(), gradient.numpy(), color=ACTIVATION_COLOURS.get(name), lw=2, label=f"{name}′(x)")
    ax.set(xlabel="input x", ylim=(0, 1.1), xlim=(-lim, lim),
           title=f"{name}: average gradient factor E[f′(x)] = "
                 f"{expected_gradient(name, spread):.3f}")
    ax.legend(frameon=False, loc="upper right")
    ax.spines[["top", "right"]].set_visible(False)
    return ax


# ---------------------------------------------------------------- results of training runs

_PERCENT_KEYS = ("top1", "top5", "gap", "error")
_KEY_NAMES = {"train_top1": "training error", "val_top1": "test error", "train_top5":
              "top-5 training error", "val_top5": "top-5 test error", "train_loss": "training loss",
              "val_loss": "test loss"}


def plot_curves(curves: dict, key: str = "train_top1", target: float | None = None, ax=None,
                ylabel: str | None = None):
    """Per-epoch curves: ``curves`` maps a label to one history (a list of dicts with ``epoch``
    and ``key``, as :meth:`~alexnet.train.Trainer.fit` returns) or to a list of histories (one per
    seed, drawn in the same colour). Error rates are shown in percent; ``target`` draws a dashed
    line at that value (Figure 1's 25% training error)."""
    ax = _axes(ax, (7, 3.6))
    percent = any(part in key for part in _PERCENT_KEYS)
    scale = 100 if percent else 1
    for i, (label, runs) in enumerate(curves.items()):
        runs = [runs] if runs and isinstance(runs[0], dict) else runs
        colour = ACTIVATION_COLOURS.get(label, f"C{i}")
        for j, run in enumerate(runs):
            epochs = [row["epoch"] for row in run]
            values = [scale * row[key] for row in run]
            ax.plot(epochs, values, color=colour, lw=1.8 if len(runs) == 1 else 1.2,
                    alpha=1 if len(runs) == 1 else 0.8, marker="o", ms=3,
                    label=label if j == 0 else None)
    if target is not None:
        ax.axhline(scale * target, color="black", ls="--", lw=1,
                   label=f"target {scale * target:g}{'%' if percent else ''}")
    name = _KEY_NAMES.get(key, key.replace("_", " "))
    ax.set(xlabel="epoch", ylabel=ylabel or (name + (" (%)" if percent else "")))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


_ARM_UNITS = {"error": ("error (%)", 100), "gap": ("test − train error (pp)", 100),
              "share": ("share (%)", 100), "epochs": ("epochs", 1), "index": ("index", 1)}


def plot_arms(test: dict, ax=None):
    """One test of a claim result (``result["tests"][i]`` of :mod:`alexnet.reproduce`): each arm's
    per-seed values as dots, the same seed joined by a grey line (the comparison is paired by
    seed), the arm's mean as a short thick line. Seeds without a value (a run that never reached its target)
    are left out; the title carries the verdict."""
    arms = test.get("arms")
    if not arms:
        raise AlexNetError(f"test {test.get('name')!r} has no per-arm values to plot")
    ylabel, scale = _ARM_UNITS.get(arms["unit"], (arms["unit"], 1))
    ax = _axes(ax, (5.5, 3.6))
    labels = list(arms["values"])
    values = [[None if v is None else scale * v for v in arms["values"][a]] for a in labels]
    for seed in range(max(len(v) for v in values)):
        points = [(i, v[seed]) for i, v in enumerate(values) if seed < len(v) and v[seed] is not None]
        if len(points) > 1:
            ax.plot(*zip(*points), color="grey", lw=0.8, alpha=0.6)
    for i, (label, arm) in enumerate(zip(labels, values)):
        kept = [v for v in arm if v is not None]
        if kept:
            ax.plot([i - 0.22, i + 0.22], [sum(kept) / len(kept)] * 2, color=f"C{i}", lw=3,
                    alpha=0.6, solid_capstyle="butt", label="mean" if i == 0 else None)
            ax.plot([i] * len(kept), kept, "o", color=f"C{i}", ms=6)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel(ylabel)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_title(f"{test['name']}\nverdict: {test['verdict']}", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_learning_rates(tuning: list[dict], ax=None):
    """The Figure 1 learning-rate search of a relu result (``result["extra"]["tuning"]``): each
    activation's training error at the end of its seed-0 run, per rate; a diverged run is a cross
    at 100%."""
    ax = _axes(ax, (5.5, 3.4))
    for i, activation in enumerate(dict.fromkeys(r["activation"] for r in tuning)):
        runs = sorted((r for r in tuning if r["activation"] == activation), key=lambda r: r["lr"])
        ax.plot([r["lr"] for r in runs], [100 * r["final_train_top1"] for r in runs], "o-",
                color=f"C{i}", label=activation)
        diverged = [r["lr"] for r in runs if r["diverged"]]
        ax.plot(diverged, [100] * len(diverged), "x", color=f"C{i}", ms=9)
    budgets = sorted({r["budget"] for r in tuning})
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"training error after {'/'.join(map(str, budgets))} epochs (%)")
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_claim(result: dict, width: float = 5.0):
    """Every test of a claim result side by side, one :func:`plot_arms` panel each."""
    tests = [t for t in result["tests"] if t.get("arms")]
    fig, axes = plt.subplots(1, len(tests), figsize=(width * len(tests), 3.8), squeeze=False)
    for ax, test in zip(axes.flat, tests):
        plot_arms(test, ax)
    fig.tight_layout()
    return fig


def plot_epochs_to(curves: dict, targets, key: str = "train_top1", ax=None):
    """Epochs each run needs to bring ``key`` down to each of ``targets`` (Figure 1 measures 25%
    training error), by :func:`alexnet.reproduce.epochs_to` (linear between epochs). ``curves`` is
    as for :func:`plot_curves`, one colour per label. A run that never gets there within its
    epochs is drawn as an open marker at its last epoch: it needs at least that many."""
    from .reproduce import epochs_to

    ax = _axes(ax, (7, 3.6))
    shown = [100 * t for t in targets]
    for i, (label, runs) in enumerate(curves.items()):
        runs = [runs] if runs and isinstance(runs[0], dict) else runs
        colour = ACTIVATION_COLOURS.get(label, f"C{i}")
        for j, run in enumerate(runs):
            reached = [epochs_to(run, key, t) for t in targets]
            budget = float(run[-1]["epoch"])
            ax.plot(shown, [budget if e is None else e for e in reached], color=colour, lw=1.2,
                    alpha=0.8, label=label if j == 0 else None)
            for x, e in zip(shown, reached):
                ax.plot(x, budget if e is None else e, "o", color=colour, ms=5,
                        mfc="white" if e is None else colour)
    ax.plot([], [], "o", color="grey", mfc="white", label="not reached: at least this many")
    ax.set(xlabel=f"target {_KEY_NAMES.get(key, key.replace('_', ' '))} (%)",
           ylabel="epochs to reach it")
    ax.invert_xaxis()
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


# ---------------------------------------------------------------- chapter 3: LRN

def simultaneous_contrast(grey: float = 0.5, dark: float = 0.2, light: float = 0.85,
                          bridge: bool = True, ax=None):
    """The same-colour illusion (simultaneous contrast): two patches A and B of exactly the same
    ``grey`` on a dark and a light surround; B on the dark side looks lighter. With ``bridge``, a
    strip of the same grey joins them below, and the difference disappears where they touch it.
    Lateral inhibition, neurons damping their neighbours, is the classic explanation (§3.3)."""
    ax = _axes(ax, (7, 3.8))
    height, width, side = 60, 120, 20
    image = torch.full((height, width), dark, dtype=torch.float64)
    image[:, width // 2:] = light
    top = 12
    for left in (width // 4 - side // 2, 3 * width // 4 - side // 2):
        image[top:top + side, left:left + side] = grey
    if bridge:
        image[44:50, width // 4:3 * width // 4] = grey
    ax.imshow(image.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    for name, centre in (("A", width // 4), ("B", 3 * width // 4)):
        ax.text(centre, top + side / 2, name, ha="center", va="center", fontsize=14,
                color="black" if name == "A" else "white")
    ax.set_title(f"A and B are both grey {grey:g} (the strip below too)" if bridge else
                 f"A and B are both grey {grey:g}", fontsize=10)
    ax.axis("off")
    return ax


def _lrn_curve(activity: Tensor, active: int, n: int, alpha: float, beta: float, k: float,
               alpha_per_term: bool = False) -> Tensor:
    """Output of the middle map of ``2n+1`` maps when the ``active`` maps nearest the middle (the
    middle one included) all have ``activity``, by the package's LRN (paper's α) or by PyTorch's
    ``F.local_response_norm`` with the same arguments (``alpha_per_term``: α divided by n)."""
    maps = 2 * n + 1
    x = torch.zeros(len(activity), maps, 1, 1, dtype=torch.float64)
    middle = n
    order = sorted(range(maps), key=lambda c: (abs(c - middle), c))[:active]
    x[:, order, 0, 0] = activity.double()[:, None]
    if alpha_per_term:
        y = F.local_response_norm(x, n, alpha=alpha, beta=beta, k=k)
    else:
        y = local_response_norm_reference(x, n, alpha=alpha, beta=beta, k=k)
    return y[:, middle, 0, 0]


def plot_lrn_response(k: float = 2.0, n: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                      max_activity: float = 400.0, reference: dict | None = None, ax=None):
    """LRN's output b for an input a (§3.3) when all n maps of the window are equally active
    (a map among equally excited neighbours): solid with the paper's α on the sum
    (:class:`~alexnet.LocalResponseNorm`), dashed with the same arguments given to PyTorch's
    ``nn.LocalResponseNorm``, which divides α by n. ``reference`` (keyword arguments k, n, alpha,
    beta), e.g. the paper's constants, adds its solid curve in grey."""
    ax = _axes(ax, (7, 3.8))
    activity = torch.linspace(0, max_activity, 401, dtype=torch.float64)
    paper = _lrn_curve(activity, n, n, alpha, beta, k).numpy()
    pytorch = _lrn_curve(activity, n, n, alpha, beta, k, alpha_per_term=True).numpy()
    a = activity.numpy()
    ax.plot(a, a / k ** beta, color="grey", lw=1, ls=":", label="a / k^β (no other activity)")
    ax.plot(a, paper, color="tab:purple", lw=2.2,
            label="paper: α on the sum (alexnet.LocalResponseNorm)")
    ax.plot(a, pytorch, color="tab:purple", lw=1.5, ls="--",
            label="same arguments in torch.nn.LocalResponseNorm (α/n)")
    if reference and dict(reference) != dict(k=k, n=n, alpha=alpha, beta=beta):
        r = dict(reference)
        ax.plot(a, _lrn_curve(activity, r["n"], r["n"], r["alpha"], r["beta"], r["k"]).numpy(),
                color="black",
                lw=1, alpha=0.5,
                label=f"paper, k={r['k']:g} n={r['n']} α={r['alpha']:g} β={r['beta']:g}")
    ax.set(xlabel=f"activity a of each of the {n} maps in the window (after ReLU)",
           ylabel="normalised b", title=f"k={k:g}, n={n}, α={alpha:g}, β={beta:g}",
           xlim=(0, max_activity))
    ax.set_ylim(0, 1.5 * max(paper.max(), pytorch.max()))
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def show_feature_maps(image: Tensor, before: Tensor, after: Tensor, divisor: Tensor,
                      channels=(0, 1, 2, 3)):
    """A photograph and, for a few ``channels``, its feature maps before LRN, LRN's divisor
    (k + α Σ a²)^β and the maps after LRN. ``image`` is (3, H, W) uint8 or 0–255 floats; the maps
    are (C, h, w); NaN in ``divisor`` (e.g. a / b where a = 0) is left blank. Each map panel has
    its own colour scale; the divisor row shares one, with a colour bar."""
    channels = list(channels)
    fig, axes = plt.subplots(3, len(channels) + 1, figsize=(2.3 * (len(channels) + 1), 7))
    axes[0, 0].imshow(image.permute(1, 2, 0).clamp(0, 255).to(torch.uint8).numpy())
    axes[0, 0].set_title("input", fontsize=9)
    for ax in axes[1:, 0]:
        ax.axis("off")
    shown = divisor[channels]
    finite = shown[torch.isfinite(shown)]        # NaN where a map is 0 is left blank
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    for j, c in enumerate(channels, start=1):
        for i, (maps, name, cmap, limits) in enumerate((
                (before, "before LRN", "viridis", None),
                (divisor, "divisor", "magma", (low, high)),
                (after, "after LRN", "viridis", None))):
            shown = axes[i, j].imshow(maps[c].numpy(), cmap=cmap,
                                      **({"vmin": limits[0], "vmax": limits[1]} if limits else {}))
            axes[i, j].set_title(f"map {c}: {name}", fontsize=9)
            if limits and j == len(channels):
                fig.colorbar(shown, ax=axes[i, j], fraction=0.046)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- chapter 4: pooling

def pooling_windows(size: int, window: int, stride: int,
                    ceil_mode: bool = False) -> list[tuple[int, int]]:
    """The ``[start, stop)`` input ranges that each output of a 1-d pooling (z = ``window``,
    s = ``stride``, no padding) covers, as PyTorch's ``MaxPool`` counts its outputs: floor((size −
    z) / s) + 1, or with ``ceil_mode`` rounded up as long as the last window starts inside the
    input (it is then cut at the edge)."""
    if window < 1 or stride < 1:
        raise AlexNetError(f"window z={window} and stride s={stride} must be at least 1")
    if window > size:
        raise AlexNetError(f"a window of {window} does not fit in {size} inputs")
    steps = (size - window) / stride
    count = (math.ceil(steps) if ceil_mode else math.floor(steps)) + 1
    if ceil_mode and (count - 1) * stride >= size:
        count -= 1
    return [(i * stride, min(i * stride + window, size)) for i in range(count)]


def pooling_coverage(size: int, window: int, stride: int, ceil_mode: bool = False) -> list[int]:
    """How many pooling windows see each of ``size`` inputs: 0 (never seen), 1, 2 (overlap)..."""
    counts = [0] * size
    for start, stop in pooling_windows(size, window, stride, ceil_mode):
        for i in range(start, stop):
            counts[i] += 1
    return counts


def draw_pooling(size: int, window: int, stride: int, ax=None):
    """A row of ``size`` inputs shaded by how many windows see them (white: none), and above it
    the window of every output (z = ``window``, s = ``stride``), staggered so overlaps show."""
    windows = pooling_windows(size, window, stride)
    coverage = pooling_coverage(size, window, stride)
    ax = _axes(ax, (max(6.0, 0.42 * size), 2.6))
    shades = {0: "white", 1: "#c6dbef", 2: "#6baed6"}
    for i, count in enumerate(coverage):
        ax.add_patch(Rectangle((i, 0), 1, 1, facecolor=shades.get(count, "#2171b5"),
                               edgecolor="black", hatch="//" if count == 0 else None, lw=0.8))
        ax.text(i + 0.5, 0.5, str(i), ha="center", va="center", fontsize=7)
    levels = max(1, math.ceil(window / stride))
    for j, (start, stop) in enumerate(windows):
        y = 1.3 + 0.45 * (j % levels)
        ax.plot([start + 0.1, stop - 0.1], [y, y], color=f"C{j % 10}", lw=3,
                solid_capstyle="butt")
        ax.text((start + stop) / 2, y + 0.12, str(j), ha="center", va="bottom", fontsize=7,
                color=f"C{j % 10}")
    twice = sum(c > 1 for c in coverage)
    unseen = [i for i, c in enumerate(coverage) if c == 0]
    ax.set_title(f"z={window}, s={stride}: {size} inputs → {len(windows)} outputs; "
                 f"{twice} inputs seen by two or more windows, "
                 f"{len(unseen)} never seen" + (f" ({', '.join(map(str, unseen))})"
                                                if 0 < len(unseen) <= 6 else ""), fontsize=10)
    ax.set_xlim(-0.2, size + 0.2)
    ax.set_ylim(-0.2, 1.5 + 0.45 * levels)
    ax.axis("off")
    return ax


# ---------------------------------------------------------------- chapters 5-8: photographs, results, towers, filters

def seed_curves(runs: list[dict], label: str = "variant") -> dict:
    """The per-epoch curves of a result file's ``runs`` (:mod:`alexnet.reproduce`) grouped for
    :func:`plot_curves`: ``{run[label]: [curve of each seed]}`` in the order the runs come (the
    label is the variant, or the activation for the ReLU claim). Runs without a curve are left out."""
    grouped: dict = {}
    for run in runs:
        if run.get("curve"):
            grouped.setdefault(run[label], []).append(run["curve"])
    return grouped


def as_display_images(images: Tensor):
    """(N, 3, H, W) or (3, H, W) images on the 0–255 scale (uint8, or floats that PCA lighting may
    have pushed past 0 or 255) as an (N, H, W, 3) NumPy array in [0, 1] for ``imshow``."""
    x = torch.as_tensor(images).detach().cpu().float()
    x = x.unsqueeze(0) if x.dim() == 3 else x
    return (x.clamp(0, 255) / 255).permute(0, 2, 3, 1).numpy()


def show_images(images: Tensor, titles=None, ncols: int | None = None, size: float = 1.8,
                suptitle: str | None = None):
    """A grid of images (see :func:`as_display_images`), ``ncols`` to a row, each with its title
    from ``titles``. Returns the figure."""
    pictures = as_display_images(images)
    ncols = ncols or min(len(pictures), 8)
    nrows = -(-len(pictures) // ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(size * ncols, size * nrows + 0.3 * (titles is not None)))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(pictures):
            ax.imshow(pictures[i])
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def plot_traffic(batches, per_image: int, data_parallel: int, highlight: int | None = None,
                 ax=None):
    """Bytes that cross between two GPUs per training step against the batch size: model
    parallelism as in §3.2 (activations forward and their gradients backward, ``2 · batch ·
    per_image``) and data parallelism (one all-reduce of every gradient, ``data_parallel`` bytes
    whatever the batch). ``highlight`` marks one batch size and labels both values there."""
    ax = _axes(ax, (6.5, 3.6))
    batches = list(batches)
    model = [2 * b * per_image / 1e6 for b in batches]
    ax.plot(batches, model, "o-", color=GPU_COLOURS[0], label="model parallel (§3.2's two towers)")
    ax.plot(batches, [data_parallel / 1e6] * len(batches), "s-", color=GPU_COLOURS[1],
            label="data parallel (DDP: all-reduce of the gradients)")
    if highlight is not None:
        split = 2 * highlight * per_image / 1e6
        ax.axvline(highlight, color="grey", lw=0.8, ls="--")
        ax.set_title(f"batch {highlight}: {split:.0f} MB (model parallel) vs "
                     f"{data_parallel / 1e6:.0f} MB (data parallel) per step", fontsize=10)
    ax.set_xscale("log", base=2)
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.minorticks_off()
    ax.set(xlabel="images per training step", ylabel="MB between the GPUs per step")
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_filters(weight: Tensor, ax=None, ncols: int = 8, title: str | None = None):
    """Conv1 kernels (K, 3, h, w) drawn as small RGB images, as in Figure 3, ``ncols`` to a row:
    each kernel scaled on its own, so that 0 is mid-grey and its largest weight (in absolute value)
    is full black or white in some channel."""
    w = torch.as_tensor(weight).detach().cpu().float()
    k, _, h, s = w.shape
    nrows = -(-k // ncols)
    ax = _axes(ax, (0.6 * ncols, 0.6 * nrows + 0.3))
    w = 0.5 + w / (2 * w.flatten(1).abs().amax(1).clamp_min(1e-12)[:, None, None, None])
    canvas = torch.ones((h + 1) * nrows - 1, (s + 1) * ncols - 1, 3)
    for i, kernel in enumerate(w.permute(0, 2, 3, 1)):
        r, c = divmod(i, ncols)
        canvas[r * (h + 1):r * (h + 1) + h, c * (s + 1):c * (s + 1) + s] = kernel
    ax.imshow(canvas.numpy(), interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_tower_filters(weight: Tensor, index=None, ncols: int = 8, title: str | None = None):
    """Figure 3 for a grouped network: tower 1's conv1 kernels (the first half of the output
    channels, "GPU 1") above tower 2's, each titled with the tower's mean colour-specificity index
    (:func:`alexnet.analysis.tower_colour_specificity`) when ``index`` gives one value per tower.
    Returns the figure."""
    halves = torch.as_tensor(weight).chunk(2)
    rows = -(-len(halves[0]) // ncols)
    fig, axes = plt.subplots(2, 1, figsize=(0.6 * ncols, 2 * (0.6 * rows + 0.45)))
    for t, (ax, half) in enumerate(zip(axes, halves)):
        label = f"tower {t + 1} (GPU {t + 1})"
        if index is not None:
            label += f": colour-specificity {index[t]:.2f}"
        plot_filters(half, ax, ncols, label)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_kernel_index(index_per_kernel, ax=None):
    """The colour-specificity index of every conv1 kernel, one dot each, tower 1 (the first half)
    beside tower 2, with each tower's mean as a dash and a random kernel's mean, 2/3, dotted."""
    ax = _axes(ax, (4, 3))
    halves = torch.as_tensor(index_per_kernel, dtype=torch.float32).chunk(2)
    jitter = torch.linspace(-0.15, 0.15, len(halves[0]))
    for t, half in enumerate(halves):
        ax.plot((t + jitter[:len(half)]).tolist(), half.tolist(), "o", color=GPU_COLOURS[t],
                alpha=0.7, ms=5)
        ax.plot([t - 0.25, t + 0.25], [float(half.mean())] * 2, color=GPU_COLOURS[t], lw=3)
    ax.axhline(2 / 3, color="grey", ls=":", lw=1, label="random kernels (2/3)")
    ax.set_xticks([0, 1], ["tower 1 (GPU 1)", "tower 2 (GPU 2)"])
    ax.set(xlim=(-0.6, 1.6), ylim=(0, 1), ylabel="colour-specificity index")
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_top5(images: Tensor, classes, probabilities, class_names, labels, ncols: int = 4):
    """Figure 4 (left): each image with its true class above it and the network's five most
    probable classes as bars below, the true one in red when it is among them. ``classes`` and
    ``probabilities`` are (N, 5) (:func:`alexnet.analysis.top_k_predictions`). Returns the figure."""
    pictures = as_display_images(images)
    nrows = -(-len(pictures) // ncols)
    fig, axes = plt.subplots(2 * nrows, ncols, squeeze=False, figsize=(2.6 * ncols, 3.3 * nrows),
                             gridspec_kw={"height_ratios": [1.4, 1] * nrows})
    for i in range(nrows * ncols):
        top, bottom = axes[2 * (i // ncols), i % ncols], axes[2 * (i // ncols) + 1, i % ncols]
        top.axis("off")
        if i >= len(pictures):
            bottom.axis("off")
            continue
        truth = int(labels[i])
        top.imshow(pictures[i])
        top.set_title(class_names[truth], fontsize=9)
        names = [class_names[int(c)] for c in classes[i]]
        colours = [CROSS_COLOUR if int(c) == truth else "tab:blue" for c in classes[i]]
        places = list(range(len(names)))[::-1]
        bottom.barh(places, [float(p) for p in probabilities[i]], color=colours)
        bottom.set_yticks(places, names, fontsize=7)
        bottom.set_xlim(0, 1)
        bottom.tick_params(axis="x", labelsize=7)
        bottom.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def plot_neighbours(queries: Tensor, neighbours: Tensor, labels=None, row_titles=None,
                    size: float = 1.3):
    """Figure 4 (right): one row per query image (framed in red), followed by its neighbours.
    ``queries`` is (Q, 3, H, W) and ``neighbours`` (Q, k, 3, H, W), on the 0–255 scale; ``labels``
    (Q lists of k + 1 strings, the query's first) title the images, ``row_titles`` the rows.
    Returns the figure."""
    queries, neighbours = torch.as_tensor(queries), torch.as_tensor(neighbours)
    q, k = neighbours.shape[:2]
    fig, axes = plt.subplots(q, k + 1, squeeze=False, figsize=(size * (k + 1), (size + 0.3) * q))
    for r in range(q):
        row = as_display_images(torch.cat([queries[r:r + 1].float(), neighbours[r].float()]))
        for i, (ax, picture) in enumerate(zip(axes[r], row)):
            ax.imshow(picture)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                for side in ax.spines.values():
                    side.set(color=CROSS_COLOUR, linewidth=2.5)
            if labels is not None:
                ax.set_title(labels[r][i], fontsize=7)
        if row_titles is not None:
            axes[r, 0].set_ylabel(row_titles[r], fontsize=8)
    fig.tight_layout()
    return fig


def plot_neighbour_examples(examples: list[dict], train, test,
                            keys=("by_features", "by_pixels"), size: float = 1.3):
    """Figure 4 (right) from a neighbours result (``result["extra"]["neighbours"][seed]
    ["examples"]`` of :mod:`alexnet.reproduce`): for each example one row per key, the test image
    then its nearest training images by last-hidden-layer features ("fc7") or by pixels.
    ``train`` and ``test`` are the CIFAR-10 :class:`~alexnet.data.TensorImages` whose indices the
    examples hold. Returns the figure."""
    names = {"by_features": "fc7", "by_pixels": "pixels"}
    rows = [(e, key) for e in examples for key in keys]
    queries = torch.stack([test.images[e["test_index"]] for e, _ in rows])
    neighbours = torch.stack([train.images[torch.tensor(e[key])] for e, key in rows])
    labels = [[test.classes[int(test.targets[e["test_index"]])]] +
              [train.classes[int(train.targets[i])] for i in e[key]] for e, key in rows]
    return plot_neighbours(queries, neighbours, labels, [names.get(k, k) for _, k in rows], size)
