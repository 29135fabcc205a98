"""Compile the LRN kernels for a GPU that is not here, and report what the compiler made of them.

Needs no GPU: Triton ships ptxas and nvdisasm. Mirrors the specialisation Triton applies at launch
(integer arguments equal to 1 become constants, multiples of 16 are marked divisible) for the
(256, 96, 55, 55) tensor of the issue, channels-last and NCHW, in bf16 (METHOD.md: "read what
costs no device time"). Usage: python bench/compile_report.py [--arch 90] [--sass]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from alexnet.kernels import lrn
from alexnet.lrn import PAPER_LRN

SHAPE = (256, 96, 55, 55)


def _strides(channels_last: bool) -> tuple[int, int, int]:
    n, c, h, w = SHAPE
    return (c * h * w, 1, c) if channels_last else (c * h * w, h * w, 1)


def _source(fn, names, values, dtype, constants):
    signature, attrs, constexprs = {}, {}, dict(constants)
    for index, (name, value) in enumerate(zip(names, values)):
        if value == "ptr":
            signature[name], attrs[(index,)] = f"*{dtype}", [["tt.divisibility", 16]]
        elif isinstance(value, float):
            signature[name] = "fp32"
        elif value == 1:
            signature[name], constexprs[name] = "constexpr", 1
        else:
            signature[name] = "i32"
            if value % 16 == 0:
                attrs[(index,)] = [["tt.divisibility", 16]]
    for name in constants:
        signature[name] = "constexpr"
    return ASTSource(fn, signature, constexprs, attrs)


def compile_kernel(backward: bool, channels_last: bool, arch: int, tile: int, warps: int):
    """Compile one kernel as ``lrn_forward``/``lrn_backward`` would launch it; returns it."""
    jit_fn = lrn._kernels()[int(backward)]
    n, c, h, w = SHAPE
    block_p, block_c = lrn._tile_shape(_FakeShape(channels_last), tile)
    strides = _strides(channels_last) * (3 if backward else 2)
    values = ["ptr"] * (3 if backward else 2) + [c, h * w, c // 2, *strides, PAPER_LRN["alpha"], PAPER_LRN["beta"],
                                                PAPER_LRN["k"]]
    names = jit_fn.arg_names[: len(values)]
    source = _source(jit_fn, names, values, "bf16",
                     {"HALF": 2, "BLOCK_P": block_p, "BLOCK_C": block_c,
                      "FAST_LOG": True})
    kernel = triton.compile(source, target=GPUTarget("cuda", arch, 32),
                            options={"num_warps": warps})
    return kernel, (block_p, block_c)


class _FakeShape:
    """Just enough of a tensor for ``lrn._tile_shape``."""

    def __init__(self, channels_last: bool):
        self.shape, self._strides = SHAPE, (0,) + _strides(channels_last)[1:2]

    def stride(self, dim: int) -> int:
        return self._strides[dim]


def _count(pattern: str, text: str) -> int:
    return len(re.findall(pattern, text))


PTX_COUNTS = {"ld.global": r"ld\.global", "vector loads": r"ld\.global[^;]*\.v[24]",
              "st.global": r"st\.global", "ex2": r"ex2\.approx", "lg2": r"lg2\.approx"}
SASS_COUNTS = {"LDG": r"LDG", "MUFU": r"MUFU", "STG": r"STG", "spill LDL/STL": r"[LS]TL"}


def report(kernel, sass: bool) -> str:
    """Registers, spills and instruction counts of one compiled kernel, on one line."""
    counts = {name: _count(rx, kernel.asm["ptx"]) for name, rx in PTX_COUNTS.items()}
    line = " ".join(f"{name}={value}" for name, value in counts.items())
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(kernel.asm["cubin"])
        f.flush()
        usage = _tool("cuobjdump", "--dump-resource-usage", f.name)
        line = " ".join(re.findall(r"(REG:\d+|STACK:\d+|SHARED:\d+|LOCAL:\d+)", usage)) + " " + line
        if sass:
            text = _tool("nvdisasm", "-c", f.name)
            line += " | SASS " + " ".join(f"{n}={_count(rx, text)}"
                                          for n, rx in SASS_COUNTS.items())
    return line


def _tool(name: str, *args: str) -> str:
    """Run one of the CUDA binary tools that ship inside Triton; returns its stdout."""
    path = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", name)
    return subprocess.run([path, *args], capture_output=True, text=True, check=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", type=int, default=90)
    parser.add_argument("--sass", action="store_true")
    args = parser.parse_args()
    for backward, tile, warps in ((False, 1024, 4), (True, 512, 4)):
        for channels_last in (True, False):
            kernel, blocks = compile_kernel(backward, channels_last, args.arch, tile, warps)
            name = ("backward" if backward else "forward") + (" NHWC" if channels_last else " NCHW")
            print(f"{name:14s} tile={blocks} warps={warps}: {report(kernel, args.sass)}")


if __name__ == "__main__":
    main()
