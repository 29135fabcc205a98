"""How the CPU LRN's C loop was built (issue 17): forward and backward of one LRN on one thread,
called directly on the whole tensor, for builds of ``alexnet/kernels/lrn_cpu.c`` with several
position blocks (``-DBLOCK``) and compiler flags, against the PyTorch-operation chunks it replaced
and an elementwise add (3 tensor passes). Interleaved round by round; prints medians in ms.

Run at any commit, on quiet cores: ``python bench/lrn_cpu_variants.py --out result.json``.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from alexnet import lrn
from alexnet.kernels import lrn_cpu
from alexnet.runtime import keep_freed_memory, provenance

LRN = dict(size=5, alpha=1e-4, beta=0.75, k=2.0)
NATIVE = ["-O3", "-march=native", "-fno-math-errno"]
VARIANTS = {"block64": (64, NATIVE), "block256": (256, NATIVE), "block1024": (1024, NATIVE),
            "block256_512bit": (256, NATIVE + ["-mprefer-vector-width=512"])}


def _build(folder: Path, name: str, block: int, flags: list[str]) -> ctypes.CDLL:
    target = folder / f"{name}.so"
    subprocess.run(["cc", *flags, f"-DBLOCK={block}", "-fPIC", "-shared", str(lrn_cpu.SOURCE),
                    "-o", str(target), "-lm"], check=True)
    return lrn_cpu._declare(ctypes.CDLL(str(target)))


def _calls(shape, folder: Path) -> dict:
    generator = torch.Generator().manual_seed(0)
    x = (torch.randn(*shape, generator=generator) * 50).relu()
    g = torch.randn(*shape, generator=generator)
    b, d, total = torch.empty_like(x), torch.empty_like(x), torch.empty_like(x)
    (va, dim), vb, vg, vd = (lrn._blocks(x, 2), *(lrn._blocks(t, 2)[0] for t in (b, g, d)))
    layout = lrn_cpu._layout(va, dim)

    def loop(lib):
        def forward():
            lib.lrn_forward_float(va.data_ptr(), vb.data_ptr(), *layout, *LRN.values())

        def backward():
            lib.lrn_backward_float(va.data_ptr(), vg.data_ptr(), vd.data_ptr(), *layout,
                                   *LRN.values())
        return forward, backward

    calls = {}
    for name, (block, flags) in VARIANTS.items():
        calls[f"{name}_forward"], calls[f"{name}_backward"] = loop(
            _build(folder, name, block, flags))
    xg = x.clone().requires_grad_()

    def analytic():
        with lrn.use_implementation("analytic"):
            torch.autograd.grad(lrn.local_response_norm(xg, **LRN, groups=2), xg, g)
    calls["analytic_forward_backward"] = analytic
    calls["add"] = lambda: torch.add(x, g, out=total)
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="64,96,55,55;128,32,32,32")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    keep_freed_memory()
    torch.set_num_threads(1)
    result = {"provenance": provenance("cpu", "python bench/lrn_cpu_variants.py"),
              "threads": 1, "variants": {k: {"block": b, "flags": f}
                                         for k, (b, f) in VARIANTS.items()}, "ms": {}}
    with tempfile.TemporaryDirectory() as folder:
        for text in args.shapes.split(";"):
            shape = tuple(int(v) for v in text.split(","))
            calls, times = _calls(shape, Path(folder)), {}
            for _ in range(args.rounds):
                for name, call in calls.items():
                    start = time.perf_counter()
                    call()
                    times.setdefault(name, []).append(1000 * (time.perf_counter() - start))
            result["ms"][text] = {k: round(statistics.median(v), 2) for k, v in times.items()}
            print(f"{text}: " + ", ".join(f"{k} {v}" for k, v in result["ms"][text].items()))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
