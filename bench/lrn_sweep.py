"""Check and time the fused LRN kernels (§3.3) at several launch settings on one GPU.

For the issue's tensor, (256, 96, 55, 55) bf16, every (tile, num_warps) setting of the forward and
the backward kernel is first checked against the stock-PyTorch reference in float32 (outputs
poisoned with NaN first, so an unwritten element fails), then timed with CUDA events (median of
``--repeats`` after warm-up), beside its floor: the tensor-sized transfers it must make (forward 2,
backward 3) over the measured device-to-device copy bandwidth. Channels-last gets the full sweep
(the model's layout), NCHW the default setting only. Usage:
``python bench/lrn_sweep.py --out $OUT/lrn_sweep.json``
"""
from __future__ import annotations

import argparse
import itertools
import json

import torch

from alexnet import bench
from alexnet.kernels import lrn as kernel
from alexnet.lrn import PAPER_LRN, local_response_norm_reference

LRN = dict(PAPER_LRN, groups=2)
FORWARD = {"tile": (512, 1024, 2048, 4096), "num_warps": (4, 8)}
BACKWARD = {"tile": (256, 512, 1024, 2048), "num_warps": (4, 8)}  # 2048 x 2 warps spills


def _inputs(shape, channels_last: bool, device: str):
    generator = torch.Generator(device).manual_seed(0)
    x = (torch.rand(shape, device=device, generator=generator) * 50).to(torch.bfloat16)
    grad = torch.randn(shape, device=device, generator=generator).to(torch.bfloat16)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    return x.contiguous(memory_format=layout), grad.contiguous(memory_format=layout)


def _reference(x, grad):
    x32 = x.float().requires_grad_(True)
    y = local_response_norm_reference(x32, **LRN)
    (dx,) = torch.autograd.grad(y, x32, grad.float())
    return y.detach(), dx


def _error(out, ref) -> float:
    return float("nan") if torch.isnan(out).any() else ((out.float() - ref).norm() / ref.norm()).item()


def _launch(backward: bool, x, grad, out, **config):
    if backward:
        return kernel.lrn_backward(grad, x, *LRN.values(), out=out, **config)
    return kernel.lrn_forward(x, *LRN.values(), out=out, **config)


def sweep(backward, channels_last, grid, x, grad, ref, floor_s, repeats):
    """One row per setting: relative error, then median ms and multiple of the floor."""
    rows = []
    for tile, warps in itertools.product(grid["tile"], grid["num_warps"]):
        config = dict(tile=tile, num_warps=warps)
        row = {"pass": "backward" if backward else "forward", "channels_last": channels_last,
               **config}
        try:
            out = _launch(backward, x, grad, torch.full_like(x, float("nan")), **config)
            row["relative_error"] = _error(out, ref)
            timing = bench.time_calls(lambda: _launch(backward, x, grad, out, **config),
                                      str(x.device), 5, repeats)
            row.update(ms=timing["median_s"] * 1e3, min_ms=timing["min_s"] * 1e3,
                       times_floor=timing["median_s"] / floor_s)
        except Exception as error:  # noqa: BLE001 - report and go on to the next setting
            row["error"] = f"{type(error).__name__}: {error}"
        rows.append(row)
        print(_format(row), flush=True)
    return rows


def _format(row: dict) -> str:
    head = (f"{row['pass']:8s} {'NHWC' if row['channels_last'] else 'NCHW'} "
            f"tile={row['tile']:5d} warps={row['num_warps']}")
    if "ms" not in row:
        return f"{head}  {row.get('error', '')} err={row.get('relative_error')}"
    verdict = "ok  " if row["relative_error"] < 1e-2 else "FAIL"  # NaN fails too
    return (f"{head}  {verdict} err={row['relative_error']:.1e}  {row['ms']:.4f} ms "
            f"(min {row['min_ms']:.4f})  {row['times_floor']:.2f}x floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="256,96,55,55")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", default="lrn_sweep.json")
    parser.add_argument("--device", default="cuda", help="cpu only with TRITON_INTERPRET=1")
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    bandwidth = bench.copy_bandwidth(args.device)["bytes_per_s"]
    tensor_s = torch.Size(shape).numel() * 2 / bandwidth  # one bf16 tensor through memory
    print(f"copy bandwidth {bandwidth / 1e9:.0f} GB/s; floors: forward {2e3 * tensor_s:.4f} ms, "
          f"backward {3e3 * tensor_s:.4f} ms")
    rows = []
    for channels_last in (True, False):
        x, grad = _inputs(shape, channels_last, args.device)
        y_ref, dx_ref = _reference(x, grad)
        for backward, grid in ((False, FORWARD), (True, BACKWARD)):
            if not channels_last:  # NCHW: the default launch only
                grid = {"tile": (1024 if not backward else 512,), "num_warps": (4,)}
            rows += sweep(backward, channels_last, grid, x, grad, dx_ref if backward else y_ref,
                          (3 if backward else 2) * tensor_s, args.repeats)
    with open(args.out, "w") as f:
        json.dump({"shape": shape, "copy_bytes_per_s": bandwidth, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
