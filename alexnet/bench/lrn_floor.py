"""LRN (§3.3) forward + backward per implementation, each interleaved with the elementwise add
that prices its memory floor."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..lrn import PAPER_LRN
from .settings import Settings
from .timing import Busy, interleaved, ratio

__all__ = ["LRN", "LRN_PASSES", "bench_lrn"]

LRN = dict(PAPER_LRN)  # §3.3's constants, as in alexnet.AlexNet
LRN_PASSES = 5  # tensor-sized reads + writes of one LRN forward + backward


def _lrn_variants(s: Settings) -> dict:
    """name -> (LRN function, or a string saying why it is not timed here)."""
    from ..kernels import lrn as kernel
    from ..lrn import local_response_norm, local_response_norm_reference

    def reference(x):
        return local_response_norm_reference(x, **LRN, groups=2)

    def stock_torch(x):   # what torch.nn.LocalResponseNorm runs, with the paper's α on the sum
        n, c, h, w = x.shape
        y = F.local_response_norm(x.reshape(2 * n, c // 2, h, w), LRN["size"],
                                  alpha=LRN["alpha"] * LRN["size"], beta=LRN["beta"], k=LRN["k"])
        return y.reshape(n, c, h, w)

    variants = {"package": lambda x: local_response_norm(x, **LRN, groups=2),
                "reference": reference, "torch": stock_torch}
    if not s.is_cuda and s.dtype != torch.float32:   # its avg_pool3d has no such CPU kernel
        variants["torch"] = f"torch.nn.LocalResponseNorm has no {s.precision} kernel on the CPU"
    if s.is_cuda and kernel.available():
        variants["fused"] = lambda x: kernel.local_response_norm(x, **LRN, groups=2)
    else:
        variants["fused"] = "needs CUDA and Triton (on the CPU the package runs its C loop)"
    if not s.is_cuda:                  # the chunks in PyTorch operations, the C loop's fallback
        variants["analytic"] = lambda x: _analytic(lambda: local_response_norm(x, **LRN, groups=2))
    variants["compiled_reference"] = (torch.compile(reference) if s.compile
                                      else "run with --compile")
    return variants


def bench_lrn(s: Settings, busy: Busy | None = None) -> dict:
    """LRN forward + backward (§3.3, groups=2 as in conv1) per implementation, each interleaved
    with the elementwise add that prices its floor. With ``busy`` processes (``--contention``),
    the package's and the stock LRN are also timed while they run (``*_contended``), in the
    same rounds as without them, so that the slowdown is a ratio of interleaved rounds."""
    generator = torch.Generator(s.device).manual_seed(0)
    x = torch.rand(s.lrn_shape, device=s.device, generator=generator).mul_(50).to(s.dtype)
    x = x.contiguous(memory_format=s.memory_format).requires_grad_(True)
    grad = torch.randn(s.lrn_shape, device=s.device, generator=generator).to(s.dtype)
    grad = grad.contiguous(memory_format=s.memory_format)
    total = torch.empty_like(grad)
    tensor_bytes = x.numel() * x.element_size()
    result = {"shape": list(s.lrn_shape), "dtype": str(s.dtype).replace("torch.", ""),
              "groups": 2, **LRN, "floor_bytes": LRN_PASSES * tensor_bytes}
    timed = {"add": lambda: torch.add(x.detach(), grad, out=total),      # 3 passes, no allocation
             "add_fresh": lambda: torch.add(x.detach(), grad)}            # 3 passes, new output
    skipped = {}
    for name, fn in _lrn_variants(s).items():
        if isinstance(fn, str):
            skipped[name] = {"skipped": fn}
        else:
            timed[name] = (lambda f: lambda: torch.autograd.grad(f(x), x, grad))(fn)
    contended = ("package", "torch") if busy is not None and busy.pids and "torch" in timed else ()
    for name in contended:
        timed[f"{name}_contended"] = (lambda f: lambda: _while(busy, f))(timed[name])
    calls = 10 if s.is_cuda else 1
    if contended:
        busy.pause()
    try:
        timing = interleaved(timed, s.device, max(s.warmup, 1), s.rounds, calls)
    finally:
        if contended:
            busy.resume()
    add, fresh = timing.pop("add"), timing.pop("add_fresh")
    scale = LRN_PASSES / 3
    result["floor"] = {k: v * scale if k.endswith("_s") and k != "rounds_s" else v
                       for k, v in add.items() if k != "rounds_s"}
    result["floor_fresh"] = {k: v * scale if k.endswith("_s") and k != "rounds_s" else v
                             for k, v in fresh.items() if k != "rounds_s"}
    result["bandwidth_bytes_per_s"] = 3 * tensor_bytes / add["median_s"]
    for name, entry in timing.items():
        times = ratio(entry, add)
        result[name] = {**{k: v for k, v in entry.items() if k != "rounds_s"},
                        "times_floor": {k: v / scale for k, v in times.items()},
                        "times_floor_fresh": {k: v / scale
                                              for k, v in ratio(entry, fresh).items()}}
    if "torch" in timing:
        result["package_speed_over_torch"] = ratio(timing["torch"], timing["package"])
    for name in contended:
        result[f"{name}_contended_over_quiet"] = ratio(timing[f"{name}_contended"], timing[name])
    if contended:
        result["package_speed_over_torch_contended"] = ratio(timing["torch_contended"],
                                                             timing["package_contended"])
    result.update(skipped)
    return result


def _while(busy: Busy, fn) -> None:
    with busy.running():
        fn()


def _analytic(run):
    """``run()`` with the CPU path's PyTorch operations instead of its C loop."""
    from ..lrn import use_implementation

    with use_implementation("analytic"):
        return run()
