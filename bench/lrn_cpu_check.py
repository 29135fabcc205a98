"""Does the CPU LRN's C loop work on this Python and PyTorch? Builds it (or says why not), checks
it against the reference forward and backward in float64 (NCHW and channels-last, two groups),
and lists the OpenMP runtimes loaded (one: the loop runs on PyTorch's own threads).

Run with any interpreter that has torch and this checkout on its path, e.g. Colab's stack:
``PYTHONPATH=. .colab-venv/bin/python bench/lrn_cpu_check.py``. Exit 1 on a mismatch.
"""
from __future__ import annotations

import sys

import torch

from alexnet.kernels import lrn_cpu
from alexnet.lrn import local_response_norm, local_response_norm_reference


def main() -> int:
    print(f"Python {sys.version.split()[0]}, torch {torch.__version__}: {lrn_cpu.build()}, "
          f"OpenMP {lrn_cpu.openmp()}")
    generator = torch.Generator().manual_seed(0)
    for layout in (torch.contiguous_format, torch.channels_last):
        a = (torch.randn(4, 96, 27, 27, dtype=torch.float64, generator=generator) * 80).relu()
        a = a.contiguous(memory_format=layout).requires_grad_()
        g = torch.randn(4, 96, 27, 27, dtype=torch.float64, generator=generator)
        b = local_response_norm(a, groups=2)
        (da,) = torch.autograd.grad(b, a, g)
        ref = local_response_norm_reference(a, groups=2)
        (dref,) = torch.autograd.grad(ref, a, g)
        torch.testing.assert_close(b, ref, rtol=1e-12, atol=0)
        torch.testing.assert_close(da, dref, rtol=1e-10, atol=1e-14)
    try:
        with open("/proc/self/maps") as maps:
            runtimes = sorted({line.split()[-1] for line in maps
                               if "libgomp" in line or "libomp" in line})
    except OSError:
        runtimes = ["(not readable here)"]
    print("forward and backward match the reference; OpenMP runtimes:", ", ".join(runtimes))
    return 0 if len(runtimes) <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
