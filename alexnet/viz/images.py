"""Photographs and image grids (chapters 1, 5 and 7)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from .style import COLUMN_WIDTH, styled

__all__ = ["as_display_images", "show_images"]


def as_display_images(images: Tensor):
    """(N, 3, H, W) or (3, H, W) images on the 0–255 scale (uint8, or floats that PCA lighting may
    have pushed past 0 or 255) as an (N, H, W, 3) NumPy array in [0, 1] for ``imshow``."""
    x = torch.as_tensor(images).detach().cpu().float()
    x = x.unsqueeze(0) if x.dim() == 3 else x
    return (x.clamp(0, 255) / 255).permute(0, 2, 3, 1).numpy()


@styled
def show_images(images: Tensor, titles=None, ncols: int = 4, width: float = COLUMN_WIDTH,
                suptitle: str | None = None):
    """A grid of images (see :func:`as_display_images`), ``ncols`` to a row across ``width``
    inches, each with its title from ``titles`` (keep them short: about 16 characters at four
    to a row). Returns the figure."""
    pictures = as_display_images(images)
    ncols = min(ncols, len(pictures))
    nrows = -(-len(pictures) // ncols)
    size = width / ncols
    extra = 0.3 * (titles is not None) + 0.1
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(width, (size + extra) * nrows + 0.35 * bool(suptitle)))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(pictures):
            ax.imshow(pictures[i])
            if titles is not None:
                ax.set_title(titles[i])
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
