"""Chapter 8's figures: Figure 4 at CIFAR scale, top-5 predictions and nearest neighbours."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from .architecture import CROSS_COLOUR
from .images import as_display_images
from .style import COLUMN_WIDTH, styled

__all__ = ["plot_top5", "plot_neighbours", "plot_neighbour_examples"]


@styled
def plot_top5(images: Tensor, classes, probabilities, class_names, labels, ncols: int = 4):
    """Figure 4 (left): each image with its true class under it and, below, the network's five
    most probable classes as bars labelled with their names, the true one in red when it is
    among them. ``classes`` and ``probabilities`` are (N, 5)
    (:func:`alexnet.analysis.top_k_predictions`). Returns the figure."""
    pictures = as_display_images(images)
    nrows = -(-len(pictures) // ncols)
    fig, axes = plt.subplots(2 * nrows, ncols, squeeze=False,
                             figsize=(COLUMN_WIDTH, 2.3 * nrows),
                             gridspec_kw={"height_ratios": [1.25, 1] * nrows})
    for i in range(nrows * ncols):
        image, bars = axes[2 * (i // ncols), i % ncols], axes[2 * (i // ncols) + 1, i % ncols]
        image.axis("off")
        bars.axis("off")
        if i >= len(pictures):
            continue
        truth = int(labels[i])
        image.imshow(pictures[i])
        image.text(0.5, -0.03, class_names[truth], transform=image.transAxes, ha="center",
                   va="top")
        places = list(range(len(classes[i])))[::-1]
        for place, c, p in zip(places, classes[i], probabilities[i]):
            colour = CROSS_COLOUR if int(c) == truth else "tab:blue"
            bars.barh(place, float(p), color=colour, alpha=0.45)
            bars.text(0.02, place, class_names[int(c)], va="center")
        bars.set_xlim(0, 1)
        bars.set_ylim(-0.6, len(places) - 0.4)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01, wspace=0.12, hspace=0.22)
    return fig


@styled
def plot_neighbours(queries: Tensor, neighbours: Tensor, labels=None, row_titles=None):
    """Figure 4 (right): one row per query image (framed in red), followed by its neighbours.
    ``queries`` is (Q, 3, H, W) and ``neighbours`` (Q, k, 3, H, W), on the 0–255 scale; ``labels``
    (Q lists of k + 1 strings, the query's first) title the images, ``row_titles`` the rows.
    Returns the figure."""
    queries, neighbours = torch.as_tensor(queries), torch.as_tensor(neighbours)
    q, k = neighbours.shape[:2]
    size = COLUMN_WIDTH / (k + 1)
    fig, axes = plt.subplots(q, k + 1, squeeze=False,
                             figsize=(COLUMN_WIDTH, (size + 0.3 * (labels is not None)) * q))
    for r in range(q):
        row = as_display_images(torch.cat([queries[r:r + 1].float(), neighbours[r].float()]))
        for i, (ax, picture) in enumerate(zip(axes[r], row)):
            ax.imshow(picture)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                for side in ax.spines.values():
                    side.set(color=CROSS_COLOUR, linewidth=2.5, visible=True)
            else:
                for side in ax.spines.values():
                    side.set_visible(False)
            if labels is not None:
                ax.set_title(labels[r][i])
        if row_titles is not None:
            axes[r, 0].set_ylabel(row_titles[r])
    fig.tight_layout(w_pad=0.2, h_pad=0.3)
    return fig


def plot_neighbour_examples(examples: list[dict], train, test,
                            keys=("by_features", "by_pixels")):
    """Figure 4 (right) from stored neighbour examples (dicts with ``test_index`` and, per key, the
    indices of the nearest training images): for each example one row per key, the test image
    then its nearest training images by last-hidden-layer features ("fc7") or by pixels.
    ``train`` and ``test`` are the CIFAR-10 :class:`~alexnet.data.TensorImages` whose indices the
    examples hold. Returns the figure."""
    names = {"by_features": "fc7", "by_pixels": "pixels"}
    rows = [(e, key) for e in examples for key in keys]
    queries = torch.stack([test.images[e["test_index"]] for e, _ in rows])
    neighbours = torch.stack([train.images[torch.tensor(e[key])] for e, key in rows])
    labels = [[test.classes[int(test.targets[e["test_index"]])]] +
              [train.classes[int(train.targets[i])] for i in e[key]] for e, key in rows]
    return plot_neighbours(queries, neighbours, labels, [names.get(k, k) for _, k in rows])
