r"""Looking inside a trained network: the measurements behind Figures 3 and 4 (§6.1).

**Colour specificity of conv1 filters (Figure 3).** The paper shows the 96 conv1 kernels: the 48
of GPU 1 "largely colour-agnostic", the 48 of GPU 2 "largely colour-specific", in every run. We
measure it. At each spatial tap a kernel :math:`w` has an RGB vector; its part along the luminance
direction :math:`u = (1, 1, 1)/\sqrt{3}` responds to brightness only, the rest to colour. The
colour-specificity index of a kernel is the share of its energy outside :math:`u`:

.. math::

    c(w) = \frac{\lVert w - u u^\top w \rVert^2}{\lVert w \rVert^2} \in [0, 1]

0 for a grey kernel (equal weights on R, G and B at every tap), 2/3 for a kernel that looks at one
channel only, 1 for a purely opponent kernel (e.g. red minus green); a random kernel scores 2/3 on
average, so training moves a colour-agnostic tower down from there. A tower's index is the mean
over its kernels; "GPU 1" is output channels ``[:C/2]`` (``groups=2``, paper-notes §1.2).

**Nearest neighbours (Figure 4, right).** Images whose last-hidden-layer vectors (fc7, 4096-d in the
paper) are close by Euclidean distance should be semantically similar, even when their pixels are
far apart. :func:`neighbour_agreement` makes that measurable: the share of a query's k nearest
training images that have its class, in feature space and in pixel space.

**Top-k predictions (Figure 4, left):** :func:`top_k_predictions`.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .errors import AlexNetError

__all__ = ["LUMINANCE", "colour_specificity", "tower_colour_specificity", "conv1_weight",
           "split_test", "last_hidden_features", "pixel_vectors", "nearest_neighbours",
           "neighbour_agreement", "pixel_rank", "top_k_predictions"]

#: The luminance (grey) direction of RGB space, (1, 1, 1)/√3.
LUMINANCE = torch.ones(3) / math.sqrt(3)


def colour_specificity(weight: Tensor) -> Tensor:
    """Per-kernel share of energy outside the luminance direction: (K, 3, h, w) → (K,) in [0, 1]."""
    if weight.dim() != 4 or weight.shape[1] != 3:
        raise AlexNetError(f"expected conv1 kernels of shape (K, 3, h, w), got "
                           f"{tuple(weight.shape)}")
    w = weight.detach().double().flatten(2)                       # (K, 3, taps)
    grey = torch.einsum("c,kct->kt", LUMINANCE.double(), w)       # u·w at every tap
    total = w.pow(2).sum((1, 2))
    colour = total - grey.pow(2).sum(1)
    return (colour / total.clamp_min(1e-30)).clamp(0, 1).float()


def tower_colour_specificity(weight: Tensor, groups: int = 2) -> list[float]:
    """Mean colour-specificity index of each tower's kernels (tower t = channels of block t)."""
    if weight.shape[0] % groups:
        raise AlexNetError(f"{weight.shape[0]} kernels do not split into {groups} towers")
    return [float(part.mean()) for part in colour_specificity(weight).chunk(groups)]


def split_test(index: Tensor, groups: int = 2, permutations: int = 2000, seed: int = 0) -> float:
    """Permutation p-value of the gap between the towers' mean indices: how often a random
    assignment of the same kernels to towers gives a gap at least as large (either sign, since
    which GPU specialises is arbitrary, "modulo a renumbering of the GPUs")."""
    def gap(values: Tensor) -> Tensor:
        means = values.view(*values.shape[:-1], groups, -1).mean(-1)
        return means.max(-1).values - means.min(-1).values

    generator = torch.Generator().manual_seed(seed)
    shuffled = torch.stack([index[torch.randperm(len(index), generator=generator)]
                            for _ in range(permutations)])
    extreme = (gap(shuffled) >= gap(index) - 1e-12).sum().item()
    return (extreme + 1) / (permutations + 1)


def conv1_weight(model: nn.Module) -> Tensor:
    """The first convolution's kernels, (K, 3, h, w), whatever the model's layout."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.weight.detach().cpu()
    raise AlexNetError(f"{type(model).__name__} has no convolutional layer")


def _last_linear(model: nn.Module) -> nn.Linear:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise AlexNetError(f"{type(model).__name__} has no fully-connected layer")
    return linears[-1]


@torch.no_grad()
def last_hidden_features(model: nn.Module, images: Tensor, batch_size: int = 500) -> Tensor:
    """The last hidden layer (the input of the output layer: fc7 after its ReLU), (N, D), for
    preprocessed float images; read by a forward hook, so it works for every model here."""
    captured: list[Tensor] = []
    hook = _last_linear(model).register_forward_hook(lambda m, x, y: captured.append(x[0].float()))
    model.eval()
    try:
        for batch in images.split(batch_size):
            model(batch)
    finally:
        hook.remove()
    return torch.cat(captured).flatten(1)


def pixel_vectors(images: Tensor) -> Tensor:
    """Images as flat float vectors (N, C·H·W) on the 0–255 scale, for pixel-space distances."""
    return images.flatten(1).float()


def nearest_neighbours(queries: Tensor, database: Tensor, k: int,
                       chunk: int = 256) -> tuple[Tensor, Tensor]:
    """Euclidean k nearest rows of ``database`` for each row of ``queries``: (distances, indices),
    each (Q, k), nearest first."""
    if k > len(database):
        raise AlexNetError(f"k={k} neighbours asked for, but the database holds {len(database)}")
    distances, indices = [], []
    for part in queries.split(chunk):
        d = torch.cdist(part.double(), database.double())
        top = d.topk(k, dim=1, largest=False)
        distances.append(top.values.float())
        indices.append(top.indices)
    return torch.cat(distances), torch.cat(indices)


def neighbour_agreement(query_labels: Tensor, database_labels: Tensor, indices: Tensor) -> Tensor:
    """Per query, the share of its neighbours (``indices``, (Q, k)) that have its class."""
    return (database_labels[indices] == query_labels[:, None]).float().mean(1)


def pixel_rank(queries: Tensor, database: Tensor, indices: Tensor) -> Tensor:
    """Where the given neighbours of each query sit among all database images by pixel
    distance: 0 = the nearest in pixel space, 1 = the farthest. (Q, k)."""
    ranks = []
    for q, idx in zip(queries.split(256), indices.split(256)):
        d = torch.cdist(q.double(), database.double())
        chosen = d.gather(1, idx)
        ranks.append((d[:, None, :] < chosen[:, :, None]).sum(-1).float() / (len(database) - 1))
    return torch.cat(ranks)


@torch.no_grad()
def top_k_predictions(model: nn.Module, images: Tensor, k: int = 5,
                      batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """Figure 4 (left): the k most probable classes of each image, (probabilities, classes)."""
    model.eval()
    probabilities = torch.cat([model(b).float().softmax(-1) for b in images.split(batch_size)])
    top = probabilities.topk(min(k, probabilities.shape[1]), dim=1)
    return top.values, top.indices
