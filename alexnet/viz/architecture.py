"""Chapter 1's figures: the network drawn as in Figure 2, and the size of its maps."""
from __future__ import annotations

from matplotlib.patches import FancyArrowPatch, Rectangle
from torch import nn

from ..summary import layer_table
from .style import COLUMN_WIDTH, axes_or_new, styled

__all__ = ["GPU_COLOURS", "CROSS_COLOUR", "draw_architecture", "plot_map_sizes"]

GPU_COLOURS = ("tab:blue", "tab:orange")
CROSS_COLOUR = "tab:red"


def _inputs_from(model: nn.Module) -> list[str]:
    """For each weight layer, where its input comes from: "image" (conv1: each GPU gets the whole
    image), "own" (a grouped layer: its own GPU's maps only) or "both" (both GPUs', §3.2)."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return ["image" if i == 0 else
            "own" if isinstance(layer, nn.Conv2d) and layer.groups > 1 else "both"
            for i, layer in enumerate(layers)]


def _operations_after(rows) -> dict[str, str]:
    """The operations after each weight layer, up to the next one ("ReLU · LRN · pool")."""
    short = {"ReLU": "ReLU", "Tanh": "tanh", "LocalResponseNorm": "LRN", "Dropout": "dropout",
             "PaperDropout": "dropout"}
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
    return {name: " · ".join(found) for name, found in ops.items()}


@styled
def draw_architecture(model: nn.Module, image_size: int | None = None, ax=None):
    """Figure 2 of the paper, redrawn from a live model, top to bottom: one box per weight layer
    and GPU, its width growing with the side of its output maps, labelled with its maps per GPU;
    its parameters on the right, the operations that follow it on the left. Arrows are red where
    data crosses between the GPUs (§3.2) and in the GPU's colour where it stays.

    The GPUs are the ``groups`` of a grouped :class:`~alexnet.AlexNet` (channels ``[:C/2]`` are
    GPU 1); a model with ``groups=1`` is drawn as one column.
    """
    rows = layer_table(model, image_size)
    weighted = [r for r in rows if r.params]
    sources, ops = _inputs_from(model), _operations_after(rows)
    streams = getattr(model, "groups", 1)
    ax = axes_or_new(ax, COLUMN_WIDTH, 0.62 * (len(weighted) + 1) + 0.9)
    size = image_size or getattr(model, "image_size", 224)
    lanes = [-1.25, 1.25] if streams == 2 else [0.0]
    top = max(r.output[1] for r in weighted if len(r.output) == 3)

    def width(r):
        return 1.45 + (0.9 * r.output[1] / top if len(r.output) == 3 else 0.0)

    def box(x, y, w, colour, text):
        ax.add_patch(Rectangle((x - w / 2, y - 0.24), w, 0.48, facecolor=colour, alpha=0.22,
                               edgecolor=colour, lw=1.4))
        ax.text(x, y, text, ha="center", va="center")

    def arrow(x0, y0, x1, y1, colour):
        ax.add_patch(FancyArrowPatch((x0, y0 - 0.26), (x1, y1 + 0.26), arrowstyle="-|>",
                                     mutation_scale=10, color=colour, lw=1.2,
                                     shrinkA=0, shrinkB=0))

    box(0, 0, 1.9, "grey", f"input 3×{size}×{size}")
    previous = [0.0]
    for i, (r, source) in enumerate(zip(weighted, sources), start=1):
        y = -i
        split = streams == 2 and i < len(weighted)
        maps = r.output[0] // streams if split else r.output[0]
        shape = f"{maps}×{r.output[1]}×{r.output[2]}" if len(r.output) == 3 else f"{maps}"
        here = lanes if split else [0.0]
        for lane, x in enumerate(here):
            box(x, y, width(r), GPU_COLOURS[lane] if split else "grey", f"{r.name} {shape}")
        for lane, x in enumerate(here):
            own = source == "own" and len(previous) > 1
            for j, x0 in enumerate([previous[lane]] if own else previous):
                crossing = source == "both" and len(previous) > 1 and (j != lane or not split)
                colour = CROSS_COLOUR if crossing else GPU_COLOURS[lane] if split else "grey"
                arrow(x0, y + 1, x, y, colour)
        ax.text(3.45, y, f"{r.params / 1e6:.2f}M", ha="right", va="center", color="dimgrey")
        if ops.get(r.name):
            ax.text(-3.45, y - 0.5, ops[r.name], ha="left", va="center", color="dimgrey",
                    style="italic")
        previous = here
    ax.text(3.45, 0.55, "parameters", ha="right", va="bottom", color="dimgrey")
    if streams == 2:
        for lane, x in enumerate(lanes):
            ax.text(x, 0.55, f"GPU {lane + 1}", ha="center", va="bottom",
                    color=GPU_COLOURS[lane], fontweight="bold")
        ax.plot([], [], color=CROSS_COLOUR, label="crosses between the GPUs")
        ax.plot([], [], color=GPU_COLOURS[0], label="stays on its GPU")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2)
    total = sum(r.params for r in rows)
    ax.set_title(f"{type(model).__name__}: {total:,} parameters")
    ax.set_xlim(-3.5, 3.5)
    ax.set_ylim(-len(weighted) - 0.6, 1.0)
    ax.axis("off")
    return ax


@styled
def plot_map_sizes(rows, image_size: int, fc6_inputs: int | None = None, ax=None):
    """The side of the feature maps after each convolution and pool of a
    :func:`~alexnet.summary.layer_table` (``rows`` of the convolutional part), and the number of
    values that reach fc6. With ``fc6_inputs`` (what the network's fc6 expects), a mismatch is
    shown in red."""
    shown = [("input", image_size)]
    for r in rows:
        if len(r.output) != 3:
            continue
        if r.kind == "ZeroPad2d":
            shown.append(("pad", r.output[1]))
        elif r.kind == "Conv2d":
            shown.append((r.name, r.output[1]))
        elif "Pool" in r.kind:
            shown.append(("pool", r.output[1]))
    ax = axes_or_new(ax, COLUMN_WIDTH, 3.0)
    labels, sides = zip(*shown)
    bars = ax.bar(range(len(sides)), sides, color=["grey"] + ["tab:blue"] * (len(sides) - 1))
    for bar, side in zip(bars, sides):
        ax.text(bar.get_x() + bar.get_width() / 2, side, str(side), ha="center", va="bottom")
    ax.set_xticks(range(len(sides)), labels, rotation=45, ha="right")
    ax.set_ylabel("map side (pixels)")
    ax.set_ylim(0, max(sides) * 1.18)
    last = [r for r in rows if len(r.output) == 3][-1].output
    flat = last[0] * last[1] * last[2]
    text = f"fc6 receives {last[0]}×{last[1]}×{last[2]} = {flat:,} values"
    fits = fc6_inputs is None or flat == fc6_inputs
    if not fits:
        text += f",\nbut AlexNet's fc6 takes {fc6_inputs:,}"
    ax.set_title(text, color="black" if fits else CROSS_COLOUR)
    return ax
