"""Chapter 3's figures: lateral inhibition, the normalisation curve, LRN on real feature maps."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from ..analysis import lrn_maps, lrn_response
from ..lrn import PAPER_LRN
from .style import COLUMN_WIDTH, axes_or_new, styled

__all__ = ["simultaneous_contrast", "plot_lrn_response", "show_feature_maps", "show_lrn_maps"]


@styled
def simultaneous_contrast(grey: float = 0.5, dark: float = 0.2, light: float = 0.85,
                          bridge: bool = True, ax=None):
    """The same-colour illusion (simultaneous contrast): two patches A and B of exactly the same
    ``grey`` on a dark and a light surround; A on the dark side looks lighter. With ``bridge``, a
    strip of the same grey joins them below. Lateral inhibition, neurons damping their
    neighbours, is the classic explanation (§3.3)."""
    ax = axes_or_new(ax, COLUMN_WIDTH * 0.8, 3.0)
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
    ax.set_title(f"A, B (and the strip) are all grey {grey:g}" if bridge else
                 f"A and B are both grey {grey:g}")
    ax.axis("off")
    return ax


@styled
def plot_lrn_response(k: float = PAPER_LRN["k"], n: int = PAPER_LRN["size"],
                      alpha: float = PAPER_LRN["alpha"], beta: float = PAPER_LRN["beta"],
                      max_activity: float = 400.0, reference: dict | None = None, ax=None):
    """LRN's output b for an input a (§3.3) when all n maps of the window are equally active
    (:func:`~alexnet.analysis.lrn_response`): solid with the paper's α on the sum, dashed with the
    same arguments given to PyTorch's ``nn.LocalResponseNorm``, which divides α by n.
    ``reference`` (keyword arguments k, n, alpha, beta), e.g. the paper's constants, adds its
    solid curve in grey when it differs."""
    ax = axes_or_new(ax, COLUMN_WIDTH, 4.2)
    activity = torch.linspace(0, max_activity, 401, dtype=torch.float64)
    paper = lrn_response(activity, n, alpha, beta, k).numpy()
    pytorch = lrn_response(activity, n, alpha, beta, k, alpha_per_term=True).numpy()
    a = activity.numpy()
    ax.plot(a, a / k ** beta, color="grey", lw=1, ls=":", label="a / k^β (no other activity)")
    ax.plot(a, paper, color="tab:purple", lw=2.2, label="α on the sum (the paper, ours)")
    ax.plot(a, pytorch, color="tab:purple", lw=1.5, ls="--",
            label="α / n (torch.nn.LocalResponseNorm)")
    if reference and dict(reference) != dict(k=k, n=n, alpha=alpha, beta=beta):
        r = dict(reference)
        ax.plot(a, lrn_response(activity, r["n"], r["alpha"], r["beta"], r["k"]).numpy(),
                color="black", lw=1, alpha=0.5, label="the paper's constants")
    ax.set(xlabel=f"activity a of each of the {n} maps in the window",
           ylabel="normalised b", title=f"k={k:g}, n={n}, α={alpha:g}, β={beta:g}",
           xlim=(0, max_activity))
    ax.set_ylim(0, 1.3 * max(paper.max(), pytorch.max()))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return ax


@styled
def show_feature_maps(image: Tensor, before: Tensor, after: Tensor, divisor: Tensor,
                      channels=(0, 1, 2)):
    """A photograph, then one row per channel of ``channels``: its feature map before LRN, LRN's
    divisor (k + α Σ a²)^β and the map after LRN. ``image`` is (3, H, W) on the 0–255 scale; the
    maps are (C, h, w). Each map panel has its own colour scale; the divisors share one, with a
    colour bar. Returns the figure."""
    channels = list(channels)
    fig, axes = plt.subplots(len(channels), 4, squeeze=False, layout="constrained",
                             figsize=(COLUMN_WIDTH, 1.75 * len(channels) + 0.4))
    axes[0, 0].imshow(torch.as_tensor(image).permute(1, 2, 0).clamp(0, 255).to(torch.uint8)
                      .numpy())
    axes[0, 0].set_title("input")
    shown = divisor[channels].float()
    low, high = float(shown.min()), float(shown.max())
    for row, c in enumerate(channels):
        for col, (maps, name, cmap) in enumerate(((before, "before LRN", "viridis"),
                                                  (divisor, "divisor", "magma"),
                                                  (after, "after LRN", "viridis")), start=1):
            limits = {"vmin": low, "vmax": high} if name == "divisor" else {}
            axes[row, col].imshow(maps[c].float().numpy(), cmap=cmap, **limits)
            if row == 0:
                axes[row, col].set_title(name)
        axes[row, 1].set_ylabel(f"map {c}")
    fig.colorbar(axes[0, 2].images[0], ax=axes[:, 2],
                 location="bottom", shrink=0.9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[1:, 0]:
        ax.axis("off")
    return fig


def show_lrn_maps(image: Tensor, maps: Tensor, channels=(0, 1, 2), k: float = PAPER_LRN["k"],
                  n: int = PAPER_LRN["size"], alpha: float = PAPER_LRN["alpha"],
                  beta: float = PAPER_LRN["beta"], groups: int = 1):
    """:func:`show_feature_maps` for the maps a first LRN layer receives (``maps``, (C, h, w)),
    normalised with the given constants, each of ``groups`` on its own
    (:func:`~alexnet.analysis.lrn_maps`)."""
    after, divisor = lrn_maps(maps, n, alpha, beta, k, groups)
    fig = show_feature_maps(image, maps, after, divisor, channels)
    fig.suptitle(f"k={k:g}, n={n}, α={alpha:g}, β={beta:g}")
    return fig
