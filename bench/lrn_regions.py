"""Why the CPU LRN collapsed beside a busy process (issue 17): LRN forward + backward of
64×96×55×55 fp32 at several chunk sizes (``alexnet.lrn.CHUNK_ELEMENTS``), with and without
busy processes beside, interleaved round by round with ``torch.nn.functional.local_response_norm``
and an elementwise add (3 tensor passes). Prints medians in ms and the load average per block.

Run at any commit: ``python bench/lrn_regions.py --chunks 131072,2097152,8388608 --busy 0,1``.
At a94cc68 each chunk was at least one image and every operation of a chunk was one OpenMP
region over both threads, so the chunk size sets the number of regions per call.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

from alexnet import lrn
from alexnet.bench import contention
from alexnet.runtime import keep_freed_memory


def _variants(x, g, chunks):
    out = torch.empty_like(g)

    def package(chunk):
        def call():
            lrn.CHUNK_ELEMENTS = chunk
            torch.autograd.grad(lrn.local_response_norm(x, groups=2), x, g)
        return call

    def stock():
        n, c, h, w = x.shape
        y = F.local_response_norm(x.reshape(2 * n, c // 2, h, w), 5, alpha=5e-4, beta=0.75, k=2.0)
        torch.autograd.grad(y, x, g.reshape(2 * n, c // 2, h, w))

    calls = {f"package_chunk{c}": package(c) for c in chunks}
    return {**calls, "stock": stock, "add": lambda: torch.add(x.detach(), g, out=out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", default="131072,2097152,8388608")
    parser.add_argument("--busy", default="0,1", help="busy processes per block")
    parser.add_argument("--threads", default="2,1")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    keep_freed_memory()
    torch.manual_seed(0)
    x = (torch.rand(64, 96, 55, 55) * 50).requires_grad_()
    g = torch.randn(64, 96, 55, 55)
    fns = _variants(x, g, [int(c) for c in args.chunks.split(",")])
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        for busy in (int(b) for b in args.busy.split(",")):
            with contention(busy):
                for fn in fns.values():
                    fn()
                times = {name: [] for name in fns}
                for _ in range(args.rounds):
                    for name, fn in fns.items():
                        start = time.perf_counter()
                        fn()
                        times[name].append(time.perf_counter() - start)
                load = [round(v, 2) for v in os.getloadavg()]
            medians = {k: round(statistics.median(v) * 1e3, 1) for k, v in times.items()}
            print(f"threads={threads} busy={busy} load={load} ms={medians}", flush=True)


if __name__ == "__main__":
    main()
