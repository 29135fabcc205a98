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
``alpha=2e-5``. Which of the two the 2012 run used cannot be settled from the public code (the
2012 cuda-convnet divided by ``n`` but fixed ``k = 1``, so the ``k = 2`` run used unreleased code);
we follow the paper's text and say so.

**Per-GPU normalisation** (an inference, not the paper's words). §3.3 calls :math:`N` "the total
number of kernels in the layer". Krizhevsky's later two-GPU configuration (cuda-convnet2,
``layers-imagenet-2gpu-model.cfg``) normalises each GPU's maps on their own, so that the window
stops at the boundary between the two halves; we infer the 2012 network did the same, since each
GPU held only its own maps. ``groups=2`` does that: the channels are split into ``groups`` equal
blocks and each block is normalised on its own, with :math:`N` = channels per block.
``groups=1`` is the paper's text read literally.

**Four implementations of one function.**

- :func:`local_response_norm_reference`: the equation as written, in stock PyTorch ops; autograd
  differentiates it. The tests' yardstick, and the path for devices other than CPU and CUDA.
- On the CPU, :class:`_AnalyticLRN`: the forward above and the gradient written out (below),
  computed a block of positions at a time so that main memory sees one read of :math:`a` and
  one write of :math:`b` forward, one read of :math:`a` and :math:`g` and one write of the
  gradient backward, and nothing is saved but :math:`a` (the backward recomputes the
  denominators). It is computed by a C loop (:mod:`alexnet.kernels.lrn_cpu`, built at first use
  by the system's C compiler) that makes one pass each way, in one call that hands blocks of
  positions to PyTorch's OpenMP threads as they come free; or, where the build has no OpenMP, in
  chunks sized from the core's L2 cache (:func:`chunk_elements`) on the package's helper
  threads, each taking the next chunk when done (:class:`_Team`); or, where there is no
  compiler, in the same chunks by about 24 PyTorch operations whose intermediate tensors stay in
  cache. Either way a core shared with another process slows LRN in proportion instead of
  stalling every operation.

:func:`use_implementation` chooses one of them for a block of code (the benchmarks time the
reference this way).
- On CUDA, a fused Triton kernel (:mod:`alexnet.kernels.lrn`) computes the same two formulas in
  one pass each way.

With :math:`s_i = k + \alpha \sum_{j \in W(i)} a_j^2` and :math:`g = \partial L / \partial b`, and
since :math:`i \in W(j) \iff j \in W(i)`, the gradient is

.. math::

    \frac{\partial L}{\partial a_i} = g_i\, s_i^{-\beta}
        - 2\alpha\beta\, a_i \sum_{j \in W(i)} g_j\, a_j\, s_j^{-\beta-1}.

Half-precision inputs (float16, bfloat16) are computed in float32 inside and returned in their own
dtype: squaring an activation of 300 in float16 would overflow.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
import numbers
import os
import queue
import threading
import warnings
from types import MappingProxyType
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from .errors import AlexNetError

__all__ = ["PAPER_LRN", "LocalResponseNorm", "local_response_norm",
           "local_response_norm_reference", "check_arguments", "use_implementation",
           "IMPLEMENTATIONS", "chunk_elements"]

#: §3.3's constants, "determined using a validation set": n = 5, α = 10⁻⁴ (on the sum of
#: squares), β = 0.75, k = 2. Read-only; ``LocalResponseNorm(**PAPER_LRN)`` is the paper's layer.
PAPER_LRN = MappingProxyType({"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0})

#: Elements per chunk of the CPU path; 0: from the CPU's cache (:func:`chunk_elements`).
CHUNK_ELEMENTS = 0


def check_arguments(size, alpha, beta, k, groups) -> None:
    """One line for any LRN hyper-parameter that would give NaNs or a deep error."""
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1 or size % 2 == 0:
        raise AlexNetError(f"LRN size n={size!r} must be a positive odd integer: the paper's window "
                           "i-n/2..i+n/2 is centred on channel i (the paper uses n=5)")
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise AlexNetError(f"LRN groups={groups!r} must be a positive integer (1, or 2 for the "
                           "two GPUs' halves)")
    for name, value, low in (("alpha", alpha, 0.0), ("beta", beta, 0.0), ("k", k, 0.0)):
        if not isinstance(value, numbers.Real) or not low <= float(value) < float("inf"):
            raise AlexNetError(f"LRN {name}={value!r} must be a finite number >= 0 (the paper "
                               "uses alpha=1e-4, beta=0.75, k=2)")
    if float(k) == 0 and float(beta) > 0:
        raise AlexNetError("LRN k=0 divides by zero wherever a window is all zeros: use k > 0 "
                           "(the paper uses k=2)")


def _check_input(x: Tensor, groups: int) -> None:
    if x.dim() != 4:
        raise AlexNetError(f"LRN expects a 4-d (N, C, H, W) tensor, got shape {tuple(x.shape)}")
    if x.shape[1] % groups:
        raise AlexNetError(
            f"LRN with groups={groups} needs the channel count to divide evenly, got {x.shape[1]}"
        )


def local_response_norm_reference(x: Tensor, size: int = PAPER_LRN["size"],
                                  alpha: float = PAPER_LRN["alpha"],
                                  beta: float = PAPER_LRN["beta"], k: float = PAPER_LRN["k"],
                                  groups: int = 1) -> Tensor:
    r"""§3.3 as written, on any device, with stock PyTorch ops (autograd gives the backward).

    ``a`` holds the activities :math:`a^j` of one group's ``N`` maps; padding the squares with
    ``n/2`` zero maps on each side turns the clipped window :math:`\max(0, i-n/2)..\min(N-1, i+n/2)`
    into ``n`` shifted slices. Equal to ``F.local_response_norm(a, n, alpha=alpha * n, beta, k)``
    (which divides its α by n) up to rounding. Half-precision inputs are computed in float32 and
    returned in their dtype (in float16 a square above 65,504, an activity above 255, is infinite,
    and the output would be 0).
    """
    check_arguments(size, alpha, beta, k, groups)
    _check_input(x, groups)
    batch, c, h, w = x.shape
    a = x.reshape(batch * groups, c // groups, h, w)
    if a.dtype in (torch.float16, torch.bfloat16):
        a = a.float()                     # 300² overflows float16
    N, half = a.shape[1], size // 2
    squares = F.pad(a * a, (0, 0, 0, 0, half, half))
    total = squares[:, :N]
    for j in range(1, size):              # Σ over n adjacent maps of (a^j)²
        total = total + squares[:, j:j + N]
    b = a * (k + alpha * total).pow(-beta)
    return b.reshape(batch, c, h, w).to(x.dtype)


# ---------------------------------------------------------------- the CPU path

def _blocks(t: Tensor, groups: int) -> tuple[Tensor, int]:
    """``t`` viewed as blocks of one group's channels, and the channel dimension of the view:
    (N·G, N_g, H·W) for NCHW tensors, (N, H·W, G, N_g) for channels-last ones (no copy)."""
    n, c, h, w = t.shape
    if t.is_contiguous():
        return t.view(n * groups, c // groups, h * w), 1
    return t.permute(0, 2, 3, 1).view(n, h * w, groups, c // groups), 3


class _Window:
    """The window sum :math:`\\sum_{j=i-n/2}^{i+n/2} x_j` along the channels of one chunk, with
    zeros beyond the ends of each group (the clipped window of §3.3).

    ``x`` is written into the middle of a buffer padded by ``n/2`` zero maps on each side; then
    pairs :math:`x_j + x_{j+1}` are summed once and shared, so the ``n`` terms cost about
    ``n/2 + 1`` additions.
    """

    def __init__(self, shape: torch.Size, dim: int, size: int, dtype: torch.dtype) -> None:
        self.dim, self.size, self.half, self.channels = dim, size, size // 2, shape[dim]
        padded = list(shape)
        padded[dim] += 2 * self.half
        self.padded = torch.zeros(padded, dtype=dtype)
        self.x = self.padded.narrow(dim, self.half, self.channels)   # write x here
        pairs = list(padded)
        pairs[dim] -= 1
        self.pairs = torch.empty(pairs, dtype=dtype) if size > 1 else None

    def sum(self, out: Tensor) -> Tensor:
        """``out`` = the window sum of what was written into :attr:`x`."""
        at = lambda t, j: t.narrow(self.dim, j, self.channels)  # noqa: E731
        p, last = self.padded, self.padded.shape[self.dim] - 1
        if self.pairs is not None:
            torch.add(p.narrow(self.dim, 0, last), p.narrow(self.dim, 1, last), out=self.pairs)
        terms = [at(self.pairs, j) for j in range(0, self.size - 1, 2)] + [at(p, self.size - 1)]
        if len(terms) == 1:
            return out.copy_(terms[0])
        torch.add(terms[0], terms[1], out=out)
        for term in terms[2:]:
            out.add_(term)
        return out


class _Chunk:
    """The buffers of one chunk's shape, reused from chunk to chunk by one thread (no allocation
    inside the loop): the window, the denominator ``s`` and its powers."""

    def __init__(self, shape: torch.Size, dim: int, size: int, dtype: torch.dtype) -> None:
        self.window = _Window(shape, dim, size, dtype)
        self.s, self.r, self.p = (torch.empty(shape, dtype=dtype) for _ in range(3))
        self.zero = torch.zeros((), dtype=dtype)

    def denominator(self, a: Tensor, alpha: float, beta: float, k: float) -> Tensor:
        """``p`` = :math:`s^{-\\beta}`, with ``s`` = :math:`k + \\alpha \\sum_{W(i)} a_j^2` kept."""
        torch.addcmul(self.zero, a, a, value=alpha, out=self.window.x)     # α a_j²
        s = self.window.sum(self.s).add_(k)
        if beta == 0.75:                       # the paper's β: s^-3/4 = s^-1/2 · (s^-1/2)^1/2
            torch.rsqrt(s, out=self.r)
            return torch.sqrt(self.r, out=self.p).mul_(self.r)
        return torch.pow(s, -beta, out=self.p)


def chunk_elements(dtype: torch.dtype = torch.float32) -> int:
    """Elements per chunk of the CPU path: :data:`CHUNK_ELEMENTS` if set, else as many as make
    one chunk-sized tensor of ``dtype`` half the L2 cache of the core running it
    (:func:`alexnet.runtime.cpu_caches`): 262,144 float32 values on a 2 MiB L2.

    Of 1/8, 1/4, 1/2, 1 and 2 L2s per tensor, measured on two Intel Xeon cores
    (``bench/NOTES.md``), half the L2 was among the fastest both quiet and beside a busy
    process: smaller chunks lose to the few microseconds of Python each of a chunk's ~24
    operations costs, larger ones to caches shared with the other process.
    """
    if CHUNK_ELEMENTS:
        return CHUNK_ELEMENTS
    from .runtime import cpu_caches

    itemsize = torch.empty((), dtype=dtype).element_size()
    return max(1 << 15, cpu_caches()["L2"] // (2 * itemsize))


class _Plan:
    """How the CPU path cuts a tensor: views of one group's channels (:func:`_blocks`), cut along
    the images and, where one image is larger than a chunk, along the positions too (the window
    runs along the channels only, so any cut between positions is exact)."""

    def __init__(self, x: Tensor, groups: int) -> None:
        self.groups, self.dtype = groups, _compute_dtype(x)
        view, self.dim = _blocks(x, groups)
        self.position_dim = 2 if self.dim == 1 else 1
        rows, positions = view.shape[0], view.shape[self.position_dim]
        per_row, elements = view[0].numel(), chunk_elements(self.dtype)
        if per_row <= elements:
            step = elements // per_row
            self.pieces = [(r, min(step, rows - r), 0, positions) for r in range(0, rows, step)]
        else:
            step = -(-positions // -(-per_row // elements))
            self.pieces = [(r, 1, p, min(step, positions - p)) for r in range(rows)
                           for p in range(0, positions, step)]

    def whole(self, t: Tensor) -> Tensor:
        """All of ``t`` (a tensor of the planned shape and layout), as a blocks view."""
        return _blocks(t, self.groups)[0]

    def cut(self, t: Tensor, i: int) -> Tensor:
        """Piece ``i`` of ``t`` (a tensor of the planned shape and layout), as a blocks view."""
        row, rows, position, positions = self.pieces[i]
        view = _blocks(t, self.groups)[0]
        return view.narrow(0, row, rows).narrow(self.position_dim, position, positions)

    def chunk(self, buffers: dict, piece: Tensor, size: int) -> _Chunk:
        """The calling thread's buffers for a piece of this shape (``buffers`` is its own)."""
        if piece.shape not in buffers:
            buffers[piece.shape] = _Chunk(piece.shape, self.dim, size, self.dtype)
        return buffers[piece.shape]


class _Team:
    """Helper threads that run the chunks of the CPU path, each chunk on one thread with one
    intra-op thread, each thread taking the next chunk when it is done with its last.

    Why: with PyTorch's own parallelism every small operation of every chunk is a parallel
    region split evenly between the threads, and waits at its end for the slowest. When another
    process shares a core, the thread sharing it is descheduled for a scheduler time slice (about
    2 ms on Linux) at a time, and each region's wait becomes that long: measured on two Intel
    Xeon cores beside one busy process, LRN forward + backward of 64×96×55×55 went from 72 ms to
    2.5–3.9 s (about 1,600 regions per call; ``bench/NOTES.md``). Here a chunk waits for nobody,
    a slowed thread just takes fewer chunks, and there is one wait per call.

    ``torch.set_num_threads`` acts on the calling thread's OpenMP setting and on the default of
    threads started later: each helper sets its own to 1, then the caller's default is put back.
    :attr:`usable` is False where a build's thread count is process-wide (the setting could not
    be made per thread); the CPU path then runs its chunks in the calling thread.
    """

    def __init__(self, size: int) -> None:
        self.size, self.jobs, results = size, queue.SimpleQueue(), []
        threads = torch.get_num_threads()
        set_one, put_back, checked = (threading.Barrier(size + 1) for _ in range(3))

        def serve() -> None:
            torch.get_num_threads()               # PyTorch initialises this thread's setting,
            torch.set_num_threads(1)              # then it is set to one for this thread only
            set_one.wait()
            put_back.wait()
            results.append(torch.get_num_threads() == 1)
            checked.wait()
            for job in iter(self.jobs.get, None):
                job()

        for _ in range(size):
            threading.Thread(target=serve, daemon=True, name="alexnet-lrn").start()
        set_one.wait()
        torch.set_num_threads(threads)            # the default for threads started later
        put_back.wait()
        checked.wait()
        self.usable = all(results) and torch.get_num_threads() == threads

    def run(self, work: Callable[[int, dict], None], count: int) -> None:
        """``work(i, buffers)`` for every ``i < count``; ``buffers`` is one thread's own dict."""
        order, errors, done = itertools.count(), [], threading.Semaphore(0)

        def loop() -> None:
            buffers: dict = {}
            try:
                with torch.no_grad():
                    while not errors and (i := next(order)) < count:
                        work(i, buffers)
            except BaseException as error:  # noqa: BLE001 - raised again in the caller
                errors.append(error)
            finally:
                done.release()

        helpers = min(self.size, count)
        for _ in range(helpers):
            self.jobs.put(loop)
        for _ in range(helpers):
            done.acquire()
        if errors:
            raise errors[0]

    def close(self) -> None:
        for _ in range(self.size):
            self.jobs.put(None)


_TEAM: dict = {}
_TEAM_LOCK = threading.Lock()


def _run(work: Callable[[int, dict], None], count: int) -> None:
    """``work(i, buffers)`` for each chunk ``i``: on :func:`torch.get_num_threads` helper threads
    (:class:`_Team`), or in the calling thread when there is one thread or one chunk."""
    threads = torch.get_num_threads()
    if threads > 1 and count > 1:
        with _TEAM_LOCK:
            team = _TEAM.get("team")
            if team is None or _TEAM.get("key") != (os.getpid(), threads):   # new size, or forked
                if team is not None and _TEAM["key"][0] == os.getpid():
                    team.close()
                team = _TEAM["team"] = _Team(threads)
                _TEAM["key"] = (os.getpid(), threads)
        if team.usable:
            return team.run(work, count)
    buffers: dict = {}
    for i in range(count):
        work(i, buffers)


def _compute_dtype(x: Tensor) -> torch.dtype:
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype


class _AnalyticLRN(torch.autograd.Function):
    """§3.3 forward and its gradient written out (module docstring), chunk by chunk (CPU)."""

    @staticmethod
    def forward(ctx, x: Tensor, size: int, alpha: float, beta: float, k: float,
                groups: int, fused: bool) -> Tensor:
        if not (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)):
            x = x.contiguous()
        out, plan = torch.empty_like(x), _Plan(x, groups)
        x_ = x.detach()

        def piece(i: int, buffers: dict) -> None:
            a, b = plan.cut(x_, i), plan.cut(out, i)
            if fused:
                return _fused("forward", [a], b, plan, (size, alpha, beta, k))
            chunk = plan.chunk(buffers, a, size)
            a = a.to(plan.dtype)
            p = chunk.denominator(a, alpha, beta, k)
            torch.mul(p, a, out=b) if b.dtype == plan.dtype else b.copy_(p.mul_(a))  # a s^-β

        if fused and _one_call():
            _fused("forward", [plan.whole(x_)], plan.whole(out), plan, (size, alpha, beta, k))
        else:
            _run(piece, len(plan.pieces))
        ctx.save_for_backward(x)
        ctx.constants = (size, alpha, beta, k, groups, fused)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        (x,), (size, alpha, beta, k, groups, fused) = ctx.saved_tensors, ctx.constants
        layout = torch.contiguous_format if x.is_contiguous() else torch.channels_last
        grad = grad.contiguous(memory_format=layout)
        dx, plan = torch.empty_like(x), _Plan(x, groups)

        def piece(i: int, buffers: dict) -> None:
            if fused:
                return _fused("backward", [plan.cut(x, i), plan.cut(grad, i)], plan.cut(dx, i),
                              plan, (size, alpha, beta, k))
            a, g, d = plan.cut(x, i), plan.cut(grad, i).to(plan.dtype), plan.cut(dx, i)
            chunk = plan.chunk(buffers, a, size)
            a = a.to(plan.dtype)
            p = chunk.denominator(a, alpha, beta, k)
            da = torch.mul(g, p, out=d) if d.dtype == plan.dtype else torch.mul(g, p)  # g s^-β
            torch.mul(da, a, out=chunk.window.x).div_(chunk.s)        # g_j a_j s_j^(-β-1)
            total = chunk.window.sum(chunk.s)                          # summed over W(i)
            da.addcmul_(a, total, value=-2 * alpha * beta)
            if da is not d:
                d.copy_(da)

        if fused and _one_call():
            _fused("backward", [plan.whole(x), plan.whole(grad)], plan.whole(dx), plan,
                   (size, alpha, beta, k))
        else:
            _run(piece, len(plan.pieces))
        return dx, None, None, None, None, None, None


def _one_call() -> bool:
    """Whether the C loop takes the whole tensor in one call, sharing its blocks out over
    PyTorch's OpenMP threads itself (:func:`alexnet.kernels.lrn_cpu.openmp`)."""
    from .kernels import lrn_cpu

    return lrn_cpu.openmp()


def _fused(name: str, inputs: list[Tensor], out: Tensor, plan: _Plan, constants: tuple) -> None:
    """One chunk by the C loop (:mod:`alexnet.kernels.lrn_cpu`) in the compute dtype: float16 and
    bfloat16 chunks are converted to float32 and back."""
    from .kernels import lrn_cpu

    if out.dtype == plan.dtype:
        return getattr(lrn_cpu, name)(*inputs, out, plan.dim, *constants)
    inputs = [t.to(plan.dtype, memory_format=torch.contiguous_format) for t in inputs]
    result = torch.empty_like(inputs[0])
    getattr(lrn_cpu, name)(*inputs, result, plan.dim, *constants)
    out.copy_(result)


#: The implementations :func:`use_implementation` chooses between.
IMPLEMENTATIONS = ("auto", "reference", "analytic", "kernel")
_CHOICE: contextvars.ContextVar[str] = contextvars.ContextVar("alexnet_lrn", default="auto")


@contextlib.contextmanager
def use_implementation(name: str):
    """Within the ``with`` block, :func:`local_response_norm` (and every
    :class:`LocalResponseNorm`) computes with ``name``:

    - ``"auto"`` (the default): the fused kernel of the device (the C loop on the CPU, Triton
      on CUDA where Triton runs), else the analytic chunks in PyTorch operations on the CPU and
      the reference elsewhere;
    - ``"reference"``: :func:`local_response_norm_reference` everywhere (stock PyTorch ops and
      autograd: the speed before the fast paths, as ``alexnet bench --baseline`` times it);
    - ``"kernel"``: as ``"auto"``;
    - ``"analytic"``: the chunks in PyTorch operations on the CPU (the path before the C loop),
      the reference elsewhere.

    The choice holds for the current thread (a :mod:`contextvars` variable) and is made at the
    forward pass; the backward follows it.
    """
    if name not in IMPLEMENTATIONS:
        raise AlexNetError(f"LRN implementation {name!r} is not one of "
                           f"{', '.join(IMPLEMENTATIONS)}")
    token = _CHOICE.set(name)
    try:
        yield
    finally:
        _CHOICE.reset(token)


def _cpu_path(x: Tensor) -> str | None:
    """For a CPU tensor: ``"kernel"``, the C loop (where it builds, for float32, float64 and the
    half types), or ``"analytic"``, the same chunks in PyTorch operations (``"analytic"`` chosen,
    no C compiler, other dtypes); None elsewhere: the reference, also under torch.compile and
    torch.jit.trace, which trace it (its stock operations make a graph that holds for any
    shape)."""
    choice = _CHOICE.get()
    if (x.device.type != "cpu" or choice == "reference" or torch.compiler.is_compiling()
            or torch.jit.is_tracing()):
        return None
    if choice in ("auto", "kernel"):
        from .kernels import lrn_cpu

        if lrn_cpu.available(_compute_dtype(x)):
            return "kernel"
    return "analytic"


def _use_kernel(x: Tensor) -> bool:
    """The fused Triton kernel: CUDA tensors on a device Triton supports (capability 8.0+, or
    ROCm: :func:`alexnet.runtime.triton_supports`); elsewhere the reference, said once."""
    if not x.is_cuda or _CHOICE.get() not in ("auto", "kernel") or torch.jit.is_tracing():
        return False
    from .kernels import lrn as kernel  # imported lazily: Triton is only needed on CUDA
    from .runtime import triton_supports

    if not kernel.available():
        return False
    if triton_supports(x.device):
        return True
    _say_reference_once(x.device)
    return False


@functools.lru_cache(maxsize=None)
def _say_reference_once(device: torch.device) -> None:
    major, minor = torch.cuda.get_device_capability(device)
    warnings.warn(f"LRN on {device} (compute capability {major}.{minor}) runs the reference "
                  "implementation in PyTorch ops: Triton supports capability 8.0 and above",
                  stacklevel=4)


def local_response_norm(x: Tensor, size: int = PAPER_LRN["size"],
                        alpha: float = PAPER_LRN["alpha"], beta: float = PAPER_LRN["beta"],
                        k: float = PAPER_LRN["k"], groups: int = 1) -> Tensor:
    """The paper's LRN (§3.3): the analytic chunked path on the CPU, the fused kernel on CUDA,
    the reference elsewhere. Under :func:`torch.compile` on the CPU the reference is traced
    instead, and the compiler fuses its elementwise operations itself; ``torch.jit.trace`` records
    the reference too."""
    check_arguments(size, alpha, beta, k, groups)
    _check_input(x, groups)
    alpha, beta, k = float(alpha), float(beta), float(k)
    path = _cpu_path(x)
    if path is not None:
        return _AnalyticLRN.apply(x, int(size), alpha, beta, k, int(groups), path == "kernel")
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

    def __init__(self, size: int = PAPER_LRN["size"], alpha: float = PAPER_LRN["alpha"],
                 beta: float = PAPER_LRN["beta"], k: float = PAPER_LRN["k"],
                 groups: int = 1) -> None:
        super().__init__()
        check_arguments(size, alpha, beta, k, groups)
        self.size, self.alpha, self.beta, self.k, self.groups = size, alpha, beta, k, groups

    def forward(self, x: Tensor) -> Tensor:
        return local_response_norm(x, self.size, self.alpha, self.beta, self.k, self.groups)

    def extra_repr(self) -> str:
        return (f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}, "
                f"groups={self.groups}")
