r"""Local response normalisation, §3.3 of the paper.

The activity :math:`a^i_{x,y}` of kernel :math:`i` at position :math:`(x, y)`, after the ReLU, is
divided by a sum over the :math:`n` "adjacent" kernel maps at the same position:

.. math::

    b^i_{x,y} = a^i_{x,y} \Big/ \Big(k + \alpha \sum_{j=\max(0,\, i-n/2)}^{\min(N-1,\, i+n/2)}
                (a^j_{x,y})^2\Big)^{\beta}

with :math:`k = 2`, :math:`n = 5`, :math:`\alpha = 10^{-4}`, :math:`\beta = 0.75` (chosen on a
validation set) and :math:`N` the number of kernels in the layer.

**Which α.** Here ``alpha`` means what the paper's formula says: a coefficient on the *sum* of
squares. PyTorch's :class:`torch.nn.LocalResponseNorm`, Caffe and cuda-convnet all divide their
``alpha`` by ``n`` first, so ``torch.nn.LocalResponseNorm(5, alpha=1e-4, k=2)`` is this module with
``alpha=2e-5``. Which of the two the 2012 run used cannot be settled from public files (paper-notes
§2.3); we follow the paper's text and say so.

**Per-GPU normalisation.** In the two-GPU network each GPU normalised only the maps it held, so the
window stops at the boundary between the two halves (cuda-convnet2's 2-GPU config). ``groups=2``
does exactly that: the channels are split into ``groups`` equal blocks and each block is normalised
on its own, with :math:`N` = channels per block.

Off CUDA the equation is computed as written, with stock PyTorch ops: the window sum is ``n``
shifted slices of the zero-padded squares, faster on a CPU than ``F.local_response_norm``, which
averages with a 3-d pooling (``alexnet bench --device cpu --parts lrn`` times both); on CUDA a
fused Triton kernel
(:mod:`alexnet.kernels.lrn`) computes the same function in one pass, forward and backward.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import AlexNetError

__all__ = ["LocalResponseNorm", "local_response_norm", "local_response_norm_reference"]


def _check(x: Tensor, size: int, groups: int) -> None:
    if size < 1 or size % 2 == 0:
        raise AlexNetError(
            f"LRN size n={size} must be a positive odd number: the paper's window i-n/2..i+n/2 "
            "is centred on channel i (the paper uses n=5)"
        )
    if x.dim() != 4:
        raise AlexNetError(f"LRN expects a 4-d (N, C, H, W) tensor, got shape {tuple(x.shape)}")
    if x.shape[1] % groups:
        raise AlexNetError(
            f"LRN with groups={groups} needs the channel count to divide evenly, got {x.shape[1]}"
        )


def local_response_norm_reference(x: Tensor, size: int = 5, alpha: float = 1e-4,
                                  beta: float = 0.75, k: float = 2.0, groups: int = 1) -> Tensor:
    r"""§3.3 as written, on any device, with stock PyTorch ops (autograd gives the backward).

    ``a`` holds the activities :math:`a^j` of one group's ``N`` maps; padding the squares with
    ``n/2`` zero maps on each side turns the clipped window :math:`\max(0, i-n/2)..\min(N-1, i+n/2)`
    into ``n`` shifted slices. Equal to ``F.local_response_norm(a, n, alpha=alpha * n, beta, k)``
    (which divides its α by n) up to rounding.
    """
    _check(x, size, groups)
    batch, c, h, w = x.shape
    a = x.reshape(batch * groups, c // groups, h, w)
    N, half = a.shape[1], size // 2
    squares = F.pad(a * a, (0, 0, 0, 0, half, half))
    total = squares[:, :N]
    for j in range(1, size):                  # Σ over the n adjacent maps of (a^j)²
        total = total + squares[:, j:j + N]
    b = a * (k + alpha * total).pow(-beta)
    return b.reshape(batch, c, h, w)


def _use_kernel(x: Tensor) -> bool:
    if not x.is_cuda:
        return False
    from .kernels import lrn as kernel  # imported lazily: Triton is only needed on CUDA

    return kernel.available()


def local_response_norm(x: Tensor, size: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 2.0, groups: int = 1) -> Tensor:
    """The paper's LRN (§3.3); the fused kernel on CUDA, the reference elsewhere."""
    _check(x, size, groups)
    if _use_kernel(x):
        from .kernels import lrn as kernel

        return kernel.local_response_norm(x, size, alpha, beta, k, groups)
    return local_response_norm_reference(x, size, alpha, beta, k, groups)


class LocalResponseNorm(nn.Module):
    """Local response normalisation across channels, as written in §3.3 of the paper.

    - ``size`` is the number ``n`` of adjacent kernel maps summed over (odd; the paper uses 5)
    - ``alpha`` is ``α``, the coefficient on the **sum** of squares (not divided by ``n``)
    - ``beta`` is the exponent ``β``
    - ``k`` is the additive constant ``k``
    - ``groups`` normalises each of that many channel blocks separately, as each GPU did (§3.2)

    ``torch.nn.LocalResponseNorm(size, alpha=a * size, beta, k)`` computes the same function
    when ``groups=1``.
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0,
                 groups: int = 1) -> None:
        super().__init__()
        if size < 1 or size % 2 == 0:
            raise AlexNetError(f"LRN size n={size} must be a positive odd number (the paper uses 5)")
        self.size, self.alpha, self.beta, self.k, self.groups = size, alpha, beta, k, groups

    def forward(self, x: Tensor) -> Tensor:
        return local_response_norm(x, self.size, self.alpha, self.beta, self.k, self.groups)

    def extra_repr(self) -> str:
        return (f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}, "
                f"groups={self.groups}")
