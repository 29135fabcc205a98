"""The ``bench`` subcommand's options and the :class:`Settings` they resolve to."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch

from ..errors import AlexNetError
from ..runtime import amp_support, check_amp, nonnegative_int, positive_int, resolve_device

__all__ = ["DTYPES", "PARTS", "add_arguments", "Settings", "settings_from", "parse_shape"]

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
PARTS = ("train", "cifar", "lrn", "input", "workers")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` subcommand's options; defaults depend on the device (module docstring)."""
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    parser.add_argument("--batch-size", type=int, help="images per AlexNet step (default 256 on "
                        "CUDA, 32 on CPU)")
    parser.add_argument("--cifar-batch-size", type=int, default=128,
                        help="images per CifarAlexNet step (default 128, §5)")
    parser.add_argument("--precision", choices=tuple(DTYPES), help="autocast dtype; fp32: no "
                        "autocast (default bf16 on CUDA, fp32 on CPU)")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                        help="NHWC memory format for models and inputs (default: on for CUDA, "
                        "off for CPU)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the models (and time "
                        "a compiled LRN reference)")
    parser.add_argument("--cuda-graphs", action="store_true", help="capture each whole training "
                        "step (forward, backward, SGD update) in a CUDA graph and replay it")
    parser.add_argument("--baseline", action="store_true", help="also time alexnet.AlexNet with "
                        "the stock-PyTorch LRN (the speed before the fast LRN paths)")
    parser.add_argument("--keep-freed-memory", action=argparse.BooleanOptionalAction, default=True,
                        help="on the CPU, keep freed memory for reuse as `alexnet train` does "
                        "(default on; see alexnet.runtime.keep_freed_memory)")
    parser.add_argument("--parts", default=",".join(PARTS[:4]), help=f"comma-separated subset of "
                        f"{','.join(PARTS)} (default all but workers, which takes minutes)")
    parser.add_argument("--warmup", type=nonnegative_int,
                        help="untimed calls first (default 10 CUDA, 1 CPU)")
    parser.add_argument("--rounds", type=positive_int, help="interleaved rounds, median and range "
                        "reported "
                        "(default 10 CUDA, 5 CPU)")
    parser.add_argument("--lrn-shape", help="N,C,H,W of the LRN tensor (default 256,96,55,55 on "
                        "CUDA, 64,96,55,55 on CPU)")
    parser.add_argument("--contention", type=nonnegative_int, default=0, help="busy processes "
                        "(`python -c 'while True: pass'`) running beside the timed one, started "
                        "and stopped by bench: a core shared as on a laptop or Colab (default 0)")
    parser.add_argument("--threads", type=positive_int, help="torch.set_num_threads for the run "
                        "(default: PyTorch's, one per usable core)")
    parser.add_argument("--out", default="bench.json", help="JSON result file (default bench.json;"
                        " checked before measuring)")
    parser.add_argument("--force", action="store_true", help="replace --out even if it is not a "
                        "result of alexnet bench")


@dataclass
class Settings:
    """Everything a measurement depends on; identical for every member of a pair."""

    device: str
    batch_size: int
    cifar_batch_size: int
    precision: str
    channels_last: bool
    compile: bool
    cuda_graphs: bool
    baseline: bool
    keep_freed_memory: bool
    warmup: int
    rounds: int
    lrn_shape: tuple
    parts: tuple
    contention: int = 0
    threads: int = 0

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.precision]

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format


def _precision(asked: str | None, device: torch.device) -> str:
    """``--precision``, checked against the device (:func:`alexnet.runtime.check_amp`); by
    default on CUDA the autocast precision the device has (bf16 from capability 8.0, fp16 below:
    :func:`alexnet.runtime.amp_support`), fp32 on the CPU."""
    if asked in (None, "fp32"):
        return "fp32" if asked or device.type != "cuda" else amp_support(device)[0]
    check_amp(asked, device)
    return asked


def settings_from(args: argparse.Namespace) -> Settings:
    """Resolve the defaults that depend on the device, and check the values."""
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    batch = args.batch_size if args.batch_size is not None else (256 if cuda else 32)
    parts = tuple(p for p in args.parts.split(",") if p)
    if batch < 1 or args.cifar_batch_size < 1 or not parts or any(p not in PARTS for p in parts):
        raise AlexNetError(f"--batch-size must be >= 1 and --parts a subset of {','.join(PARTS)}, "
                           f"got {batch} and {args.parts!r}")
    if args.cuda_graphs and not cuda:
        raise AlexNetError("--cuda-graphs needs a CUDA device; drop it or use --device cuda")
    rounds = args.rounds if args.rounds is not None else (10 if cuda else 5)
    shape = parse_shape(args.lrn_shape) if args.lrn_shape else (256 if cuda else 64, 96, 55, 55)
    return Settings(str(device), batch, args.cifar_batch_size,
                    _precision(args.precision, device),
                    cuda if args.channels_last is None else args.channels_last,
                    args.compile, args.cuda_graphs, args.baseline,
                    args.keep_freed_memory and not cuda,
                    args.warmup if args.warmup is not None else (10 if cuda else 1),
                    rounds, shape, parts, args.contention,
                    args.threads or torch.get_num_threads())


def parse_shape(text: str) -> tuple:
    """N,C,H,W as four positive integers, or one line saying what is wrong."""
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise AlexNetError(f"--lrn-shape must be four positive integers N,C,H,W, got {text!r}")
    return shape
