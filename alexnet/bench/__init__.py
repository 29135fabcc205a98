r"""``alexnet bench``: is the faithful network as fast to train as the simplified one?

Each comparison is a *pair* (or three) of things timed **interleaved** in one process: round after
round, each member runs a few calls, so that a machine that speeds up or slows down (another
process, a clock change) touches both alike. Every member reports the median and range of its
per-round times, and the pair reports the median and range of the per-round ratios. Only ratios
travel between machines; absolute times are for the machine named in the result.

- **train**: a full SGD step (§5: momentum 0.9, weight decay 5e-4) of :class:`alexnet.AlexNet`
  and of ``torchvision.models.alexnet`` (no LRN, no groups) on a synthetic batch already on the
  device; with ``--baseline`` also :class:`alexnet.AlexNet` with the stock-PyTorch LRN. Beside
  each, the arithmetic floor: 3 forward passes' multiply-adds × 2 flops per image (counted from
  the modules), over the rate of a large matrix product measured in the same run.
- **cifar**: the same step for :class:`alexnet.CifarAlexNet` with and without LRN (batch 128,
  the setting of every CPU experiment in the book): what LRN costs where the book trains.
- **lrn**: LRN (§3.3) forward + backward on conv1's activity, each implementation interleaved
  with its memory floor: the 5 tensor-sized passes LRN must make (forward reads ``a``, writes
  ``b``; backward reads ``a`` and the gradient, writes the result), priced by an elementwise add
  measured in the same rounds (3 passes, into a preallocated output). ``floor_fresh`` prices the
  same passes with freshly allocated outputs, as any out-of-place operation pays them.
- **input**: images/s of §4.1's augmentation on uint8 256×256 images held on the device
  (:class:`alexnet.data.BatchLoader`), and of JPEG decoding plus augmentation from an image
  folder in DataLoader workers (:class:`alexnet.data.FolderLoader`, the default worker count),
  next to the training step's images/s.

Defaults on CUDA: channels-last and the device's autocast precision (bf16 from capability 8.0,
fp16 below: :func:`alexnet.runtime.amp_support`), as training uses them, at batch 256 (training
keeps §5's 128: ``--batch-size 128`` times that); on the CPU batch 32, fp32 (``--precision bf16`` where the CPU has bfloat16 instructions: the result
says whether it does), the NCHW layout, and freed memory kept for reuse
(:func:`alexnet.runtime.keep_freed_memory`, as ``alexnet train`` does on the CPU). The JSON
(``--out``) records the command, commit, machine (CPU model, threads, load average at start and
end), versions, settings and every number; a short table is printed last.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

import torch

from ..errors import AlexNetError
from ..files import check_destination, write_json
from ..runtime import keep_freed_memory, machine, provenance
from .inputs import bench_folder, bench_input
from .lrn_floor import LRN, LRN_PASSES, bench_lrn
from .report import format_table
from .settings import DTYPES, PARTS, Settings, add_arguments, settings_from
from .steps import bench_cifar, bench_training, forward_macs, training_step
from .timing import (Busy, contention, copy_bandwidth, guarded, interleaved, matmul_rate, ratio,
                     time_calls)
from .workers import bench_workers

__all__ = ["add_arguments", "run", "main", "Settings", "settings_from", "time_calls", "interleaved",
           "ratio", "copy_bandwidth", "matmul_rate", "contention", "Busy", "format_table",
           "bench_training", "bench_cifar", "bench_lrn", "bench_input", "bench_folder",
           "bench_workers", "training_step", "forward_macs", "DTYPES", "PARTS", "LRN",
           "LRN_PASSES"]


def run(args: argparse.Namespace) -> int:
    """Measure the parts asked for, write the JSON, print the table and every part's error; 1 if
    any part failed. ``--out`` is checked before anything is measured."""
    s = settings_from(args)
    force = getattr(args, "force", False)
    check_destination(args.out, "bench", force)
    torch.set_num_threads(s.threads)
    kept = keep_freed_memory() if s.keep_freed_memory else False
    result = {**provenance(s.device), "settings": asdict(s), "freed_memory_kept": kept}
    with contention(s.contention) as busy:
        result["busy_processes"] = len(busy.pids)
        result["matmul"] = guarded(lambda: matmul_rate(s.device, s.dtype))
        matmul = result["matmul"] if "error" not in result["matmul"] else None
        parts = {"train": lambda: bench_training(s, matmul),
                 "cifar": lambda: bench_cifar(s, matmul),
                 "lrn": lambda: bench_lrn(s, busy), "input": lambda: bench_input(s),
                 "workers": lambda: bench_workers(s)}
        for part, measure in parts.items():
            if part in s.parts:
                result[part] = guarded(measure)
        result["load_average_end"] = machine(s.device)["load_average"]
    write_json(result, args.out, kind="bench", force=force)
    print(f"wrote {args.out}")
    print(format_table(result))
    failed = list(errors(result))
    for where, error in failed:
        print(f"alexnet bench: error in {where}: {error}", file=sys.stderr)
    return 1 if failed else 0


def errors(tree, where: str = ""):
    """Every ``error`` entry of a result, with where it is (``lrn.stock``), in order."""
    if not isinstance(tree, dict):
        return
    if "error" in tree:
        yield where or "bench", tree["error"]
    for key, value in tree.items():
        yield from errors(value, f"{where}.{key}" if where else str(key))


def main(argv: list[str] | None = None) -> int:
    """``python -m alexnet.bench`` works too."""
    parser = argparse.ArgumentParser(prog="alexnet bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except AlexNetError as error:
        print(f"alexnet bench: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
