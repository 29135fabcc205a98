"""Photographs and image grids (chapters 1, 6 and 8)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from .style import COLUMN_WIDTH, styled

__all__ = ["as_display_images", "show_images", "show_augmentations"]


def as_display_images(images: Tensor):
    """(N, 3, H, W) or (3, H, W) images on the 0–255 scale (uint8, or floats that PCA lighting may
    have pushed past 0 or 255) as an (N, H, W, 3) NumPy array in [0, 1] for ``imshow``; a list of
    (3, H, W) images of different sizes as a list of (H, W, 3) arrays."""
    if isinstance(images, (list, tuple)):
        return [as_display_images(image)[0] for image in images]
    x = torch.as_tensor(images).detach().cpu().float()
    x = x.unsqueeze(0) if x.dim() == 3 else x
    return (x.clamp(0, 255) / 255).permute(0, 2, 3, 1).numpy()


@styled
def show_images(images: Tensor, titles=None, ncols: int = 4, width: float = COLUMN_WIDTH,
                suptitle: str | None = None):
    """A grid of images (see :func:`as_display_images`; a list may mix sizes), ``ncols`` to a row
    across ``width`` inches, each with its title from ``titles`` (keep them short: about 16
    characters at four to a row). Returns the figure."""
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


def show_augmentations(square: Tensor, lighting, crops: int = 4, seed: int = 0,
                       size: int = 224):
    """§4.1 on one photograph: ``square`` is its (3, 256, 256) uint8 version (§2); the top row
    shows ``crops`` random ``size`` patches, each flipped or not
    (:func:`~alexnet.transforms.random_crop_flip_params`), the bottom row the centre patch under
    as many draws of ``lighting`` (a :class:`~alexnet.transforms.PCALighting`). Reproducible
    from ``seed``. Returns the figure."""
    from ..transforms import center_crop, crop_flip, random_crop_flip_params

    generator = torch.Generator().manual_seed(seed)
    top, left, flip = random_crop_flip_params(crops, square.shape[-2], square.shape[-1], size,
                                              generator=generator)
    patches = crop_flip(square.expand(crops, -1, -1, -1), top, left, flip, size)
    titles = [f"({t}, {l})" + (" flipped" if f else "") for t, l, f in
              zip(top.tolist(), left.tolist(), flip.tolist())]
    centre = center_crop(square, size).float().expand(crops, -1, -1, -1)
    lit = lighting(centre, generator)
    titles += [f"lighting {i + 1}" for i in range(crops)]
    return show_images(torch.cat([patches.float(), lit]), titles, ncols=crops)
