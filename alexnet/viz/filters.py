"""Chapter 9's figures: conv1 kernels drawn as in Figure 3, per tower, with their colour index."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from .architecture import GPU_COLOURS
from .style import COLUMN_WIDTH, axes_or_new, styled

__all__ = ["plot_filters", "plot_tower_filters", "plot_kernel_index"]


@styled
def plot_filters(weight: Tensor, ax=None, ncols: int = 8, title: str | None = None):
    """Conv1 kernels (K, 3, h, w) drawn as small RGB images, as in Figure 3, ``ncols`` to a row:
    each kernel scaled on its own, so that 0 is mid-grey and its largest weight (in absolute value)
    is full black or white in some channel."""
    w = torch.as_tensor(weight).detach().cpu().float()
    k, _, h, s = w.shape
    nrows = -(-k // ncols)
    ax = axes_or_new(ax, min(COLUMN_WIDTH, 0.6 * ncols), 0.6 * nrows + 0.4)
    w = 0.5 + w / (2 * w.flatten(1).abs().amax(1).clamp_min(1e-12)[:, None, None, None])
    canvas = torch.ones((h + 1) * nrows - 1, (s + 1) * ncols - 1, 3)
    for i, kernel in enumerate(w.permute(0, 2, 3, 1)):
        r, c = divmod(i, ncols)
        canvas[r * (h + 1):r * (h + 1) + h, c * (s + 1):c * (s + 1) + s] = kernel
    ax.imshow(canvas.numpy(), interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


@styled
def plot_tower_filters(weight: Tensor, index=None, ncols: int = 8, title: str | None = None):
    """Figure 3 for a grouped network: tower 1's conv1 kernels (the first half of the output
    channels, "GPU 1") above tower 2's, each titled with the tower's mean colour-specificity index
    (:func:`alexnet.analysis.tower_colour_specificity`) when ``index`` gives one value per tower.
    Returns the figure."""
    halves = torch.as_tensor(weight).chunk(2)
    rows = -(-len(halves[0]) // ncols)
    fig, axes = plt.subplots(2, 1, figsize=(min(COLUMN_WIDTH, 0.75 * ncols),
                                            2 * (0.75 * rows + 0.45) + 0.3 * bool(title)))
    for t, (ax, half) in enumerate(zip(axes, halves)):
        label = f"tower {t + 1} (GPU {t + 1})"
        if index is not None:
            label += f": colour index {index[t]:.2f}"
        plot_filters(half, ax, ncols, label)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def plot_kernel_index(index_per_kernel, ax=None):
    """The colour-specificity index of every conv1 kernel, one dot each, tower 1 (the first half)
    beside tower 2, with each tower's mean as a dash and a random kernel's mean, 2/3, dotted."""
    ax = axes_or_new(ax, COLUMN_WIDTH / 2, 3.0)
    halves = torch.as_tensor(index_per_kernel, dtype=torch.float32).chunk(2)
    jitter = torch.linspace(-0.15, 0.15, len(halves[0]))
    for t, half in enumerate(halves):
        ax.plot((t + jitter[:len(half)]).tolist(), half.tolist(), "o", color=GPU_COLOURS[t],
                alpha=0.7, ms=5)
        ax.plot([t - 0.25, t + 0.25], [float(half.mean())] * 2, color=GPU_COLOURS[t], lw=3)
    ax.axhline(2 / 3, color="grey", ls=":", lw=1, label="random (2/3)")
    ax.set_xticks([0, 1], ["tower 1", "tower 2"])
    ax.set(xlim=(-0.6, 1.6), ylim=(0, 1), ylabel="colour index")
    ax.legend(loc="lower right")
    return ax
