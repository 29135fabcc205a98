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
over its kernels; "GPU 1" is output channels ``[:C/2]`` (``groups=2``: PyTorch connects the first
half of the input channels to the first half of the outputs, §3.2).

**Nearest neighbours (Figure 4, right).** Images whose last-hidden-layer vectors (fc7, 4096-d in the
paper) are close by Euclidean distance should be semantically similar, even when their pixels are
far apart. :func:`neighbour_agreement` makes that measurable: the share of a query's k nearest
training images that have its class, in feature space and in pixel space.

**Top-k predictions (Figure 4, left):** :func:`top_k_predictions`.

**Saturation (§3.1).** A unit passes back the gradient it receives times its derivative f'(x);
:func:`expected_gradient` averages that factor over inputs x ~ N(0, σ²), which shows why
saturating units (tanh, the sigmoid) slow training as their inputs grow.

**LRN at work (§3.3).** :func:`lrn_response` is the output of one map among equally active
neighbours (the normalisation curve); :func:`lrn_maps` normalises real feature maps with any
constants and returns the divisor (k + α Σ a²)^β beside them; :func:`first_layer_maps` gives the
maps a network's first LRN layer receives.

**Pooling and small shifts (§3.4).** :func:`pooled_shift_change`: how much the pooled maps of a
layer change when the image moves by a pixel, for a given pooling window.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from . import activations
from .errors import AlexNetError
from .lrn import PAPER_LRN, LocalResponseNorm, local_response_norm_reference
from .pooling import pool_layer

__all__ = ["LUMINANCE", "colour_specificity", "tower_colour_specificity", "conv1_weight",
           "split_test", "split_null", "last_hidden_features", "pixel_vectors", "nearest_neighbours",
           "neighbour_agreement", "pixel_rank", "top_k_predictions", "ACTIVATIONS",
           "activation_gradient", "expected_gradient", "lrn_response", "lrn_maps",
           "first_layer_maps", "pooled_shift_change"]

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
    return split_null(index, groups, permutations, seed)["p_value"]


def split_null(index: Tensor, groups: int = 2, permutations: int = 2000, seed: int = 0) -> dict:
    """The towers' gap, and its permutation null: the gaps of ``permutations`` random assignments
    of the same kernels to towers (their mean, and the p-value of the observed gap)."""
    def gap(values: Tensor) -> Tensor:
        means = values.view(*values.shape[:-1], groups, -1).mean(-1)
        return means.max(-1).values - means.min(-1).values

    generator = torch.Generator().manual_seed(seed)
    shuffled = torch.stack([index[torch.randperm(len(index), generator=generator)]
                            for _ in range(permutations)])
    null, observed = gap(shuffled), gap(index)
    extreme = (null >= observed - 1e-12).sum().item()
    return {"gap": observed.item(), "null_mean": null.mean().item(),
            "p_value": (extreme + 1) / (permutations + 1)}


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


# ---------------------------------------------------------------- §3.1: saturating units

#: The nonlinearities of §3.1 (:data:`alexnet.activations.ACTIVATIONS`) by the names the book
#: writes: the paper's ReLU and the saturating units it replaces, each a function of a tensor.
ACTIVATIONS = {activations.LABELS[name]: unit() for name, unit in activations.ACTIVATIONS.items()}


def activation_gradient(name: str, x: Tensor) -> tuple[Tensor, Tensor]:
    """f(x) and f'(x) of one of :data:`ACTIVATIONS`, by autograd, in float64 (ReLU's derivative
    at 0 is taken as 0, as PyTorch does)."""
    if name not in ACTIVATIONS:
        raise AlexNetError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    x = x.detach().double().requires_grad_(True)
    y = ACTIVATIONS[name](x)
    (gradient,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), gradient


def expected_gradient(name: str, spread: float, points: int = 4000) -> float:
    """E[f'(x)] for x ~ N(0, spread²): the average factor by which the unit passes a gradient back
    when its inputs have that spread (numerical integration on a grid over ±8 spreads).

    ReLU passes 1 for every positive input, so 0.5 whatever the spread; tanh and the sigmoid
    saturate, so theirs falls towards 0 as the spread grows (§3.1's "saturating nonlinearities").
    An even number of ``points`` keeps 0, where ReLU's derivative jumps, off the grid.
    """
    if name not in ACTIVATIONS:
        raise AlexNetError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    if not spread > 0:
        raise AlexNetError(f"the spread of the inputs must be positive, got {spread}")
    x = torch.linspace(-8 * spread, 8 * spread, points, dtype=torch.float64)
    weight = torch.exp(-0.5 * (x / spread) ** 2)
    return float((activation_gradient(name, x)[1] * weight / weight.sum()).sum())


# ---------------------------------------------------------------- §3.3: LRN at work

def lrn_response(activity: Tensor, n: int = PAPER_LRN["size"], alpha: float = PAPER_LRN["alpha"],
                 beta: float = PAPER_LRN["beta"], k: float = PAPER_LRN["k"],
                 active: int | None = None, alpha_per_term: bool = False) -> Tensor:
    """The output b of the middle one of ``2n + 1`` maps when the ``active`` maps nearest the
    middle (itself included; all ``n`` of its window by default) have the activity a, for each a
    in ``activity``: §3.3's formula with α on the sum (:func:`~alexnet.lrn.
    local_response_norm_reference`), or with ``alpha_per_term`` as PyTorch computes the same
    arguments (α divided by n). With the whole window active, b = a / (k + α n a²)^β."""
    active = n if active is None else active
    maps = 2 * n + 1
    x = torch.zeros(len(activity), maps, 1, 1, dtype=torch.float64)
    order = sorted(range(maps), key=lambda c: (abs(c - n), c))[:active]
    x[:, order, 0, 0] = torch.as_tensor(activity).double()[:, None]
    if alpha_per_term:
        y = torch.nn.functional.local_response_norm(x, n, alpha=alpha, beta=beta, k=k)
    else:
        y = local_response_norm_reference(x, n, alpha=alpha, beta=beta, k=k)
    return y[:, n, 0, 0]


def lrn_maps(maps: Tensor, n: int = PAPER_LRN["size"], alpha: float = PAPER_LRN["alpha"],
             beta: float = PAPER_LRN["beta"], k: float = PAPER_LRN["k"],
             groups: int = 1) -> tuple[Tensor, Tensor]:
    """§3.3 applied to feature maps (C, H, W) with any constants: (normalised maps, divisor),
    the divisor (k + α Σ_j (a^j)²)^β at every map and position (in float64). With ``groups``,
    each group of maps is normalised on its own, as each GPU's half is in AlexNet's LRN layers
    (``LocalResponseNorm(groups=2)``)."""
    a = maps.detach().double()[None]
    b = local_response_norm_reference(a, n, alpha=alpha, beta=beta, k=k, groups=groups)
    per_group = a.reshape(groups, a.shape[1] // groups, *a.shape[2:])
    return b[0], _divisor(per_group, n, alpha, beta, k).reshape(a.shape)[0]


def _divisor(a: Tensor, n: int, alpha: float, beta: float, k: float) -> Tensor:
    """(k + α Σ (a^j)²)^β over §3.3's clipped window of n maps, for each row of ``a``."""
    half, channels = n // 2, a.shape[1]
    squares = torch.nn.functional.pad(a * a, (0, 0, 0, 0, half, half))
    total = sum(squares[:, j:j + channels] for j in range(n))
    return (k + alpha * total) ** beta


@torch.no_grad()
def first_layer_maps(model: nn.Module, images: Tensor) -> Tensor:
    """What the first LRN layer of ``model`` receives for preprocessed ``images`` (N, 3, H, W):
    the output of every layer before it (conv1 and its ReLU, and a pool where the network pools
    first, as Figure 1's four-layer net does)."""
    layers = model.features if hasattr(model, "features") else model
    x = images
    for layer in layers:
        if isinstance(layer, LocalResponseNorm):
            return x
        x = layer(x)
    raise AlexNetError(f"{type(model).__name__} has no LocalResponseNorm layer")


# ---------------------------------------------------------------- §3.4: pooling and small shifts

@torch.no_grad()
def pooled_shift_change(features: nn.Module, images: Tensor, window: int, stride: int = 2,
                        shift: int = 1) -> float:
    """How much the max-pooled output of ``features`` (e.g. conv1 and its ReLU) changes when the
    images move ``shift`` pixels to the left: ‖pool(f(moved)) − pool(f(x))‖ / ‖pool(f(x))‖, with
    windows of ``window`` every ``stride`` pixels (:func:`alexnet.pooling.pool_layer`). Both images
    are cut to the same width."""
    pool = pool_layer(window, stride)
    maps, moved = features(images[..., :-shift]), features(images[..., shift:])
    reference = pool(maps)
    return float((pool(moved) - reference).norm() / reference.norm())
