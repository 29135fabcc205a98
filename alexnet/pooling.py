"""Overlapping pooling (§3.4): the one place where the package's models make a pooling layer, and
the arithmetic of its windows.

A pooling layer is "a grid of pooling units spaced s pixels apart, each summarizing a neighborhood
of size z × z centered at the location of the pooling unit". With s = z the windows tile the map
(traditional local pooling); with s < z neighbouring windows overlap. The paper pools with s = 2,
z = 3 throughout the network and compares it with the non-overlapping s = 2, z = 2, which gives
output of the same size: top-1 and top-5 error 0.4% and 0.3% lower, and "slightly more difficult
to overfit" (§3.4).

:func:`pool_layer` builds the layer for every model here (AlexNet, CifarAlexNet, FourLayerCNN and
each tower of the two-GPU network); :func:`pooling_windows` says which inputs each output sees,
:func:`pooling_coverage` how many windows see each input, and :func:`pooled_size` how many
outputs there are, counted as PyTorch's ``MaxPool2d`` counts them.
"""
from __future__ import annotations

import math

from torch import nn

from .errors import AlexNetError

__all__ = ["OVERLAPPING", "NON_OVERLAPPING", "pool_window", "pool_layer", "pooling_windows",
           "pooling_coverage", "pooled_size"]

#: (z, s) of §3.4's overlapping pooling: windows of 3x3, one every 2 pixels.
OVERLAPPING = (3, 2)
#: (z, s) of the traditional pooling it is compared with: z = s = 2, windows that tile the map.
NON_OVERLAPPING = (2, 2)


def pool_window(overlap: bool = True) -> tuple[int, int]:
    """(z, s) of a model's pooling layers: §3.4's 3/2 windows, or 2/2 when ``overlap`` is off."""
    return OVERLAPPING if overlap else NON_OVERLAPPING


def pool_layer(z: int, s: int, *, ceil_mode: bool = False, average: bool = False) -> nn.Module:
    """A pooling layer of z×z windows every ``s`` pixels: max-pooling as in §3.4 (``average``:
    mean instead, as two of the four-layer net's pools). ``ceil_mode`` rounds the output size up,
    as Krizhevsky's cuda-convnet did (see :func:`pooling_windows`)."""
    if average:
        return nn.AvgPool2d(z, s, ceil_mode=ceil_mode)
    return nn.MaxPool2d(z, s, ceil_mode=ceil_mode)


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


def pooled_size(size: int, window: int, stride: int, ceil_mode: bool = False) -> int:
    """The side of a pooled map: how many windows :func:`pooling_windows` counts, e.g. 55 → 27
    with the paper's z = 3, s = 2."""
    return len(pooling_windows(size, window, stride, ceil_mode))
