r"""Fused local response normalisation (§3.3 of the paper) in Triton, forward and backward.

**What it computes.** For the activity :math:`a_i` of channel :math:`i` at one position
:math:`(n, x, y)`, with the window :math:`W(i)` of the ``size`` = :math:`n` channels
:math:`i-n/2 \dots i+n/2` clipped to the edges of :math:`i`'s channel block (``groups``):

.. math::

    s_i = k + \alpha \sum_{j \in W(i)} a_j^2, \qquad b_i = a_i\, s_i^{-\beta}

and, since :math:`i \in W(j) \iff j \in W(i)` (the clipped window is symmetric), the gradient

.. math::

    \frac{\partial L}{\partial a_i} = g_i\, s_i^{-\beta}
        - 2\alpha\beta\, a_i \sum_{j \in W(i)} g_j\, a_j\, s_j^{-\beta-1}

with :math:`g = \partial L / \partial b`. ``alpha`` is the coefficient on the *sum* of squares, as
in the paper and :mod:`alexnet.lrn` (PyTorch's ``alpha`` is ours times ``n``).

**One pass each way.** Each program owns a tile of ``BLOCK_P`` positions × ``BLOCK_C`` channels.
The forward reads :math:`a` at the tile and its ``n - 1`` channel neighbours (shifted loads, served
from L1/L2: from device memory each element is read once) and writes :math:`b`. The backward saves
nothing from the forward: it reloads :math:`a` and :math:`g` at ``2n - 1`` / ``n`` channel shifts
and recomputes the :math:`s_j` it needs in registers. Arithmetic is in float32 whatever the storage
dtype (float32, bfloat16, float16).

**Memory-traffic floor** (``e`` bytes per element: 2 for bf16/fp16, 4 for fp32): forward reads
:math:`a`, writes :math:`b`: ``2e``; backward reads :math:`a, g`, writes :math:`\partial L/\partial a`:
``3e``. Together ``5e`` bytes per element, 10 B in bf16: 0.74 GB for a 256×96×55×55 tensor.

**Why it beats** :class:`torch.nn.LocalResponseNorm`: that module squares the input, pads it,
average-pools the squares in 3-d, then ``mul``, ``add``, ``pow`` and ``div``: six or more kernels,
each a full read and write of the tensor (and as many again, plus saved intermediates, in
autograd's backward). Here one kernel each way moves only the bytes above.

**Layouts.** Contiguous NCHW and channels-last (NHWC) tensors are read in place: the kernel takes
the strides of the batch, channel and (flattened) spatial axes. In channels-last the channel window
is contiguous in memory, so the tile's fast axis is the channel axis; in NCHW it is the spatial
one. Any other strides are copied to contiguous first.

**PyTorch integration.** Exposed as the custom operators ``alexnet::lrn`` and
``alexnet::lrn_backward`` (:func:`torch.library.custom_op`), with fake (meta) implementations and
a registered autograd formula, so :func:`torch.compile` keeps them in the graph as opaque ops: no
graph break, and they work under CUDA graphs. (``torch.library.triton_op`` would let Inductor trace
into the kernel, but its fake implementation runs the launch itself, which the CPU interpreter used
in CI cannot do with fake tensors.) Under autocast the op keeps its input dtype (LRN is not in
autocast's cast lists, nor is ``nn.LocalResponseNorm``): a bf16 activation gives a bf16 output,
computed in float32 inside the kernel.

**Devices.** Each launch runs under ``torch.cuda.device(x.device)``: Triton launches on the
*current* GPU, and ``cuda:1``, the second tower of a two-GPU model, or a torchrun process's second
GPU is not the current one. The batch axis is the grid's z axis, which CUDA caps at 65,535: a
larger batch is launched in slices of :data:`MAX_GRID_Z` images. ROCm's libdevice has no
``fast_log2f``: there (and under the interpreter) ``tl.log2`` is used.

**Limits.** Offsets inside one image are 32-bit (C·H·W < 2³¹ elements); the backward is not
itself differentiable (no double backward). Launch settings (``tile`` elements per program,
``num_warps``) are arguments of :func:`lrn_forward` / :func:`lrn_backward`; ``bench/lrn_sweep.py``
times them on a GPU.
"""
from __future__ import annotations

import contextlib
import functools
import os

import torch
from torch import Tensor

__all__ = ["available", "local_response_norm"]

try:
    import triton
    import triton.language as tl
    from triton.language.extra import libdevice
except ImportError:  # the reference path in alexnet.lrn needs no Triton
    triton = tl = libdevice = None


def available() -> bool:
    """True when Triton is importable and can run: a CUDA device, or ``TRITON_INTERPRET=1``."""
    if triton is None:
        return False
    return torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET", "0") == "1"


def local_response_norm(x: Tensor, size: int, alpha: float, beta: float, k: float,
                        groups: int) -> Tensor:
    """§3.3's :math:`b_i = a_i / (k + \\alpha \\sum_{j \\in W(i)} a_j^2)^\\beta`, fused; differentiable.

    Same arguments as :func:`alexnet.lrn.local_response_norm`, which checks them and calls this
    on CUDA tensors; the output has ``x``'s dtype and memory format.
    """
    return torch.ops.alexnet.lrn(x, size, float(alpha), float(beta), float(k), groups)


# --------------------------------------------------------------------------- Triton kernels
# Plain functions, compiled by ``triton.jit`` on first use (``_kernels``): Triton chooses between
# the compiler and the CPU interpreter when a function is decorated, so deciding late lets a test
# set TRITON_INTERPRET=1 after this module was imported. Channel j of position p lives at
# ``n * s_n + j * s_c + p * s_p`` (p = h * W + w, so s_p = stride(3) when H and W collapse).

def _lrn_forward_kernel(x_ptr, y_ptr, C, HW, group_size, sx_n, sx_c, sx_p, sy_n, sy_c, sy_p,
                        alpha, beta, k, HALF: tl.constexpr, BLOCK_P: tl.constexpr,
                        BLOCK_C: tl.constexpr, FAST_LOG: tl.constexpr):
    """b_i = a_i (k + alpha sum_{j in W(i)} a_j^2)^-beta on a BLOCK_P x BLOCK_C tile (§3.3)."""
    n = tl.program_id(2).to(tl.int64)
    p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
    c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    first = (c // group_size) * group_size  # W(i) is clipped to [first, last] of i's block
    last = first + group_size - 1
    inside = (p < HW)[:, None] & (c < C)[None, :]
    x_row = x_ptr + n * sx_n + p[:, None] * sx_p
    a = tl.load(x_row + c[None, :] * sx_c, mask=inside, other=0.0).to(tl.float32)
    total = a * a
    for d in tl.static_range(-HALF, HALF + 1):
        if d != 0:
            ok = inside & ((c + d >= first) & (c + d <= last))[None, :]
            a_j = tl.load(x_row + (c + d)[None, :] * sx_c, mask=ok, other=0.0).to(tl.float32)
            total += a_j * a_j
    s = k + alpha * total
    if FAST_LOG:  # one MUFU.LG2 (error 2^-22; s >= k > 0); the interpreter has no libdevice
        log_s = libdevice.fast_log2f(s)
    else:
        log_s = tl.log2(s)
    b = a * tl.exp2(-beta * log_s)
    y_row = y_ptr + n * sy_n + p[:, None] * sy_p
    tl.store(y_row + c[None, :] * sy_c, b.to(y_ptr.dtype.element_ty), mask=inside)


def _lrn_backward_kernel(x_ptr, g_ptr, dx_ptr, C, HW, group_size, sx_n, sx_c, sx_p,
                         sg_n, sg_c, sg_p, sd_n, sd_c, sd_p, alpha, beta, k,
                         HALF: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr,
                         FAST_LOG: tl.constexpr):
    """dL/da_i = g_i s_i^-beta - 2 alpha beta a_i sum_{j in W(i)} g_j a_j s_j^(-beta-1) (§3.3).

    Nothing is saved by the forward: s_j for the n neighbours j of i is recomputed from shifted
    loads of a at offsets -2 HALF..2 HALF (L1 hits after the first touch).
    """
    n = tl.program_id(2).to(tl.int64)
    p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
    c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    first = (c // group_size) * group_size
    last = first + group_size - 1
    inside = (p < HW)[:, None] & (c < C)[None, :]
    x_row = x_ptr + n * sx_n + p[:, None] * sx_p
    g_row = g_ptr + n * sg_n + p[:, None] * sg_p
    total = tl.full((BLOCK_P, BLOCK_C), 0.0, tl.float32)
    for d in tl.static_range(-HALF, HALF + 1):
        # (unshifted loads keep the plain mask, so they can be vectorised and shared)
        ok = inside & ((c + d >= first) & (c + d <= last))[None, :] if d != 0 else inside
        a_j = tl.load(x_row + (c + d)[None, :] * sx_c, mask=ok, other=0.0).to(tl.float32)
        g_j = tl.load(g_row + (c + d)[None, :] * sg_c, mask=ok, other=0.0).to(tl.float32)
        squares = tl.full((BLOCK_P, BLOCK_C), 0.0, tl.float32)
        for e in tl.static_range(-HALF, HALF + 1):
            m = c + (d + e)  # same offsets for every (d, e) with equal d + e: loads are shared
            ok_m = inside & ((m >= first) & (m <= last))[None, :] if d + e != 0 else inside
            a_m = tl.load(x_row + m[None, :] * sx_c, mask=ok_m, other=0.0).to(tl.float32)
            squares += a_m * a_m
        s_j = k + alpha * squares
        if FAST_LOG:
            log_s = libdevice.fast_log2f(s_j)
        else:
            log_s = tl.log2(s_j)
        r_j = tl.exp2(-(beta + 1.0) * log_s)  # s_j^(-beta-1)
        total += g_j * a_j * r_j
        if d == 0:
            a, direct = a_j, g_j * s_j * r_j  # g_i s_i^-beta
    dx = direct - 2.0 * alpha * beta * a * total
    d_row = dx_ptr + n * sd_n + p[:, None] * sd_p
    tl.store(d_row + c[None, :] * sd_c, dx.to(dx_ptr.dtype.element_ty), mask=inside)


@functools.cache
def _kernels():
    """The two kernels, jit-compiled (or interpreted, under TRITON_INTERPRET=1) once."""
    return triton.jit(_lrn_forward_kernel), triton.jit(_lrn_backward_kernel)


def _interpreted() -> bool:
    """True when the kernels run on Triton's CPU interpreter (TRITON_INTERPRET=1)."""
    return not isinstance(_kernels()[0], triton.runtime.JITFunction)


# --------------------------------------------------------------------------- launching
def _spatial_stride(t: Tensor) -> int | None:
    """Stride of the flattened position p = h * W + w, or None when H and W do not collapse."""
    _, _, h, w = t.shape
    if w == 1:
        return t.stride(2)
    if h == 1 or t.stride(2) == w * t.stride(3):
        return t.stride(3)
    return None


def _readable(t: Tensor) -> Tensor:
    """``t`` itself when the kernel can address it in place (NCHW, NHWC, ...), else a copy."""
    return t if _spatial_stride(t) is not None else t.contiguous()


def _strides(t: Tensor) -> tuple[int, int, int]:
    return t.stride(0), t.stride(1), _spatial_stride(t)


def _tile_shape(t: Tensor, tile: int) -> tuple[int, int]:
    """(BLOCK_P, BLOCK_C) with about ``tile`` elements; the fast axis follows memory order."""
    n, c, h, w = t.shape
    if t.stride(1) == 1 and c > 1:  # channels-last: the channel window is contiguous
        block_c = min(triton.next_power_of_2(c), 64, tile)
        return max(tile // block_c, 1), block_c
    block_p = min(triton.next_power_of_2(h * w), 128, tile)
    return block_p, max(min(tile // block_p, triton.next_power_of_2(c)), 1)


#: CUDA's limit on a grid's z dimension (the batch axis here): larger batches go in slices.
MAX_GRID_Z = 65_535


def _grid(t: Tensor, block_p: int, block_c: int) -> tuple[int, int, int]:
    n, c, h, w = t.shape
    return triton.cdiv(h * w, block_p), triton.cdiv(c, block_c), n


def _fast_log() -> bool:
    """libdevice's one-instruction ``fast_log2f``: compiled CUDA only (not ROCm or interpreted)."""
    return not _interpreted() and not torch.version.hip


def _on_device(device: torch.device):
    """Make ``device`` the current GPU while a kernel is launched (a no-op off CUDA)."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def launch(kernel, tensors: list[Tensor], group_size: int, alpha: float, beta: float, k: float,
           *, block_p: int, block_c: int, **meta) -> None:
    """Launch ``kernel`` over ``tensors`` (the first sets the grid; each one's three strides
    follow) on the first tensor's device, in slices of at most :data:`MAX_GRID_Z` images."""
    first, n = tensors[0], tensors[0].shape[0]
    with _on_device(first.device):
        for i in range(0, n, MAX_GRID_Z):
            part = [t.narrow(0, i, min(MAX_GRID_Z, n - i)) for t in tensors]
            strides = [s for t in part for s in _strides(t)]
            kernel[_grid(part[0], block_p, block_c)](
                *part, first.shape[1], first.shape[2] * first.shape[3], group_size, *strides,
                alpha, beta, k, BLOCK_P=block_p, BLOCK_C=block_c, FAST_LOG=_fast_log(), **meta)


def lrn_forward(x: Tensor, size: int, alpha: float, beta: float, k: float, groups: int,
                tile: int = 1024, num_warps: int = 4, out: Tensor | None = None) -> Tensor:
    """Launch the forward kernel on ``x`` (any 4-d strides); returns ``b`` in ``x``'s dtype.

    ``tile`` (elements per program) and ``num_warps`` are the launch knobs the benchmark sweeps;
    ``out`` lets a test hand in a poisoned buffer to prove every element is written.
    """
    x = _readable(x)
    y = torch.empty_like(x) if out is None else out
    if x.numel() == 0:
        return y
    block_p, block_c = _tile_shape(x, tile)
    launch(_kernels()[0], [x, y], x.shape[1] // groups, alpha, beta, k, block_p=block_p,
           block_c=block_c, HALF=size // 2, num_warps=num_warps)
    return y


def lrn_backward(grad: Tensor, x: Tensor, size: int, alpha: float, beta: float, k: float,
                 groups: int, tile: int = 512, num_warps: int = 4,
                 out: Tensor | None = None) -> Tensor:
    """Launch the backward kernel: dL/da from ``grad`` = dL/db and the forward's input ``x``."""
    x, grad = _readable(x), _readable(grad)
    dx = torch.empty_like(x) if out is None else out
    if x.numel() == 0:
        return dx
    block_p, block_c = _tile_shape(x, tile)
    launch(_kernels()[1], [x, grad, dx], x.shape[1] // groups, alpha, beta, k, block_p=block_p,
           block_c=block_c, HALF=size // 2, num_warps=num_warps)
    return dx


# --------------------------------------------------------------------------- PyTorch operators
@torch.library.custom_op("alexnet::lrn", mutates_args=())
def _lrn(x: Tensor, size: int, alpha: float, beta: float, k: float, groups: int) -> Tensor:
    return lrn_forward(x, size, alpha, beta, k, groups)


@torch.library.custom_op("alexnet::lrn_backward", mutates_args=())
def _lrn_backward(grad: Tensor, x: Tensor, size: int, alpha: float, beta: float, k: float,
                  groups: int) -> Tensor:
    return lrn_backward(grad, x, size, alpha, beta, k, groups)


@_lrn.register_fake
def _lrn_fake(x, size, alpha, beta, k, groups):
    return torch.empty_like(_readable(x))


@_lrn_backward.register_fake
def _lrn_backward_fake(grad, x, size, alpha, beta, k, groups):
    return torch.empty_like(_readable(x))


def _setup_context(ctx, inputs, output) -> None:
    x, *ctx.hyper = inputs  # size, alpha, beta, k, groups
    ctx.save_for_backward(x)  # the LRN's input is the ReLU's output, saved anyway


def _backward(ctx, grad: Tensor):
    (x,) = ctx.saved_tensors
    return (torch.ops.alexnet.lrn_backward(grad, x, *ctx.hyper),) + (None,) * 5


_lrn.register_autograd(_backward, setup_context=_setup_context)
