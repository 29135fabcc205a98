r"""``python -m alexnet bench``: is the faithful network as fast to train as the simplified one?

In one process and with one set of settings (device, batch size, autocast precision, memory format,
``torch.compile``, CUDA graphs) it measures

- **training step**: images/s of a full SGD step (§5: momentum 0.9, weight decay 5e-4) of
  :class:`alexnet.AlexNet` and of ``torchvision.models.alexnet`` (which drops LRN and the two-GPU
  groups) on synthetic data already on the device, and their ratio; beside them the arithmetic
  floor: 3 × (multiply-adds of one forward pass, counted from the modules) × 2 flops per image, over
  the measured rate of a large matrix product;
- **LRN** (§3.3) forward + backward on the first layer's activity, (batch, 96, 55, 55): the
  stock-PyTorch reference, the fused Triton kernel (CUDA only) and ``torch.compile`` of the
  reference (with ``--compile``), beside the memory-traffic floor: 5 tensor-sized transfers
  (forward reads a, writes b; backward reads a and dL/db, writes dL/da) over the measured bandwidth
  of a large device-to-device copy (bytes read + bytes written);
- **input pipeline**: images/s of :class:`alexnet.data.BatchLoader` doing §4.1's augmentation
  (random 224 crops, flips, PCA lighting, mean subtraction) on uint8 256×256 images held on the
  device.

Timing follows the device method (METHOD.md): warm-up calls first (compilation, autotuning, cuDNN
plans stay out of the numbers), then every call timed on its own (CUDA events on the GPU,
``time.perf_counter`` after a synchronise on the CPU) and the median reported with the spread.
The JSON result (``--out``) carries the command line, commit, device, versions, date, settings and
every number; a short table is printed last.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from .errors import AlexNetError

__all__ = ["add_arguments", "run", "Settings", "time_calls"]

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
PARTS = ("train", "lrn", "input")
LRN = dict(size=5, alpha=1e-4, beta=0.75, k=2.0)  # §3.3's constants, as in alexnet.AlexNet
LRN_TRANSFERS = 5  # tensor-sized reads + writes of one LRN forward + backward


# --------------------------------------------------------------------------- settings
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` subcommand's options; defaults are the issue's setting on CUDA, tiny on CPU."""
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    parser.add_argument("--batch-size", type=int, help="images per step (default 256 on CUDA, 8 on CPU)")
    parser.add_argument("--precision", choices=tuple(DTYPES), help="autocast dtype; fp32: no "
                        "autocast (default bf16 on CUDA, fp32 on CPU)")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                        help="NHWC memory format for models and inputs (default on)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the models (and time "
                        "a compiled LRN reference)")
    parser.add_argument("--cuda-graphs", action="store_true", help="capture each whole training "
                        "step (forward, backward, SGD update) in a CUDA graph and replay it")
    parser.add_argument("--baseline", action="store_true", help="also time alexnet.AlexNet with "
                        "the stock-PyTorch LRN (the speed before the fused kernel)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of "
                        f"{','.join(PARTS)} (default all)")
    parser.add_argument("--warmup", type=int, help="untimed calls first (default 10 CUDA, 2 CPU)")
    parser.add_argument("--repeats", type=int, help="timed calls, median reported (default 30 "
                        "CUDA, 5 CPU)")
    parser.add_argument("--lrn-shape", help="N,C,H,W of the LRN tensor (default batch,96,55,55)")
    parser.add_argument("--out", default="bench.json", help="JSON result file (default bench.json)")


@dataclass
class Settings:
    """Everything a measurement depends on; identical for both networks in one run."""

    device: str
    batch_size: int
    precision: str
    channels_last: bool
    compile: bool
    cuda_graphs: bool
    baseline: bool
    warmup: int
    repeats: int
    lrn_shape: tuple
    parts: tuple

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.precision]

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format


def settings_from(args: argparse.Namespace) -> Settings:
    """Resolve the defaults that depend on the device, and check the values."""
    from .cli import resolve_device

    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    batch = args.batch_size if args.batch_size is not None else (256 if cuda else 8)
    parts = tuple(p for p in args.parts.split(",") if p)
    if batch < 1 or any(p not in PARTS for p in parts) or not parts:
        raise AlexNetError(f"--batch-size must be >= 1 and --parts a subset of {','.join(PARTS)}, "
                           f"got {batch} and {args.parts!r}")
    if args.cuda_graphs and not cuda:
        raise AlexNetError("--cuda-graphs needs a CUDA device; drop it or use --device cuda")
    shape = _shape(args.lrn_shape) if args.lrn_shape else (batch, 96, 55, 55)
    return Settings(str(device), batch, args.precision or ("bf16" if cuda else "fp32"),
                    args.channels_last, args.compile, args.cuda_graphs, args.baseline,
                    args.warmup if args.warmup is not None else (10 if cuda else 2),
                    max(args.repeats if args.repeats is not None else (30 if cuda else 5), 1),
                    shape, parts)


def _shape(text: str) -> tuple:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise AlexNetError(f"--lrn-shape must be four positive integers N,C,H,W, got {text!r}")
    return shape


# --------------------------------------------------------------------------- timing
def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], device: str, warmup: int, repeats: int) -> dict:
    """Seconds per call of ``fn``: median, min, max over ``repeats`` calls after ``warmup``.

    On CUDA each call sits between two events, so host-side gaps between launches count (as they
    do in training); on the CPU the clock is read around each call after a synchronise.
    """
    for _ in range(warmup):
        fn()
    _synchronize(device)
    if device.startswith("cuda"):
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                  for _ in range(repeats)]
        for start, end in events:
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize(device)
        seconds = [start.elapsed_time(end) / 1e3 for start, end in events]
    else:
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
    return {"median_s": statistics.median(seconds), "min_s": min(seconds),
            "max_s": max(seconds), "n": repeats}


def copy_bandwidth(device: str) -> dict:
    """Bytes/s of a large device-to-device copy, counting bytes read plus bytes written."""
    nbytes = (1 << 30) if device.startswith("cuda") else (64 << 20)
    source = torch.randint(0, 255, (nbytes,), dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    timing = time_calls(lambda: target.copy_(source), device, 3, 10)
    return {"bytes_per_s": 2 * nbytes / timing["median_s"], "copy_bytes": nbytes, **timing}


def matmul_rate(device: str, dtype: torch.dtype) -> dict:
    """Flop/s of a large square matrix product in ``dtype`` through the installed BLAS."""
    n = 8192 if device.startswith("cuda") else 512
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    timing = time_calls(lambda: a @ b, device, 3, 10)
    return {"flop_per_s": 2 * n ** 3 / timing["median_s"], "size": n, **timing}


# --------------------------------------------------------------------------- training step
def _autocast(s: Settings):
    if s.precision == "fp32":
        return contextlib.nullcontext()
    # the weight-cast cache must be off while a CUDA graph is captured (torch.cuda.amp docs)
    return torch.autocast(torch.device(s.device).type, dtype=s.dtype,
                          cache_enabled=not s.cuda_graphs)


def _graphed(step: Callable[[], None], device: str) -> Callable[[], None]:
    """Capture ``step`` (forward, backward, optimiser) in a CUDA graph; returns its replay."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):  # warm up (and compile) on a side stream, as capture requires
            step()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def training_step(model: torch.nn.Module, s: Settings) -> Callable[[], None]:
    """One SGD step of ``model`` on a fixed synthetic batch (centred 0–255-scale pixels)."""
    model = model.to(s.device, memory_format=s.memory_format).train()
    images = (torch.randn(s.batch_size, 3, 224, 224, device=s.device) * 60).contiguous(
        memory_format=s.memory_format)
    labels = torch.randint(0, 1000, (s.batch_size,), device=s.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4,
                                **({"fused": True} if s.is_cuda else {}))  # §5
    forward = torch.compile(model) if s.compile else model

    def step() -> None:
        with _autocast(s):
            loss = F.cross_entropy(forward(images), labels)
        loss.backward()
        optimizer.step()

    if s.cuda_graphs:
        optimizer.zero_grad(set_to_none=True)
        return _graphed(step, s.device)  # gradients are overwritten in the graph's own pool

    def eager_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        step()

    return eager_step


@contextlib.contextmanager
def _reference_lrn():
    """Make alexnet's LRN take the stock-PyTorch path even on CUDA (the "before" model)."""
    from . import lrn

    saved, lrn._use_kernel = lrn._use_kernel, lambda x: False
    try:
        yield
    finally:
        lrn._use_kernel = saved


def _time_model(name: str, build: Callable[[], torch.nn.Module], s: Settings,
                matmul: dict | None, context=contextlib.nullcontext) -> dict:
    """Images/s of one network's training step, beside its arithmetic floor; frees its memory."""
    with context():
        model = build()
        macs = forward_macs(model)
        step = training_step(model, s)
        del model
        timing = time_calls(step, s.device, s.warmup, s.repeats)
    del step
    if s.is_cuda:
        torch.cuda.empty_cache()
    result = {"name": name, "images_per_s": s.batch_size / timing["median_s"], **timing}
    if macs and matmul:  # forward + backward ~ 3 forward passes, 2 flops per multiply-add
        result.update(forward_macs=macs,
                      arithmetic_floor_images_per_s=matmul["flop_per_s"] / (3 * 2 * macs))
    return result


def forward_macs(model: torch.nn.Module) -> int | None:
    """Multiply-adds of one 224×224 image's forward pass, counted from the modules (CPU)."""
    try:
        from .summary import layer_table
    except ImportError:
        return None
    return sum(row.macs for row in layer_table(model, 224))


def bench_training(s: Settings, matmul: dict | None) -> dict:
    """Both networks (and, with ``baseline``, the stock-LRN faithful one), then the ratio."""
    import torchvision

    from .model import AlexNet

    models = {"alexnet": ("alexnet.AlexNet", AlexNet, contextlib.nullcontext),
              "torchvision": ("torchvision.models.alexnet", torchvision.models.alexnet,
                              contextlib.nullcontext)}
    if s.baseline:
        models["alexnet_reference_lrn"] = ("alexnet.AlexNet, stock LRN", AlexNet, _reference_lrn)
    result = {}
    for key, (name, build, context) in models.items():
        result[key] = _guarded(lambda: _time_model(name, build, s, matmul, context))
    if "images_per_s" in result["alexnet"] and "images_per_s" in result["torchvision"]:
        result["ratio"] = result["alexnet"]["images_per_s"] / result["torchvision"]["images_per_s"]
    return result


def _guarded(measure: Callable[[], dict]) -> dict:
    """Run one measurement; an exception becomes an ``error`` entry so the rest still runs."""
    try:
        return measure()
    except Exception as error:  # noqa: BLE001 - a lent GPU's minutes are too dear to lose
        return {"error": f"{type(error).__name__}: {error}"}


# --------------------------------------------------------------------------- LRN
def _lrn_variants(s: Settings) -> dict:
    """name -> (LRN function, or a string saying why it is not timed here)."""
    from .kernels import lrn as kernel
    from .lrn import local_response_norm_reference

    def reference(x):
        return local_response_norm_reference(x, **LRN, groups=2)

    def stock_torch(x):   # what torch.nn.LocalResponseNorm runs, with the paper's α on the sum
        n, c, h, w = x.shape
        y = torch.nn.functional.local_response_norm(x.reshape(2 * n, c // 2, h, w), LRN["size"],
                                                    alpha=LRN["alpha"] * LRN["size"],
                                                    beta=LRN["beta"], k=LRN["k"])
        return y.reshape(n, c, h, w)

    variants = {"torch": stock_torch, "reference": reference}
    if s.is_cuda and kernel.available():
        variants["fused"] = lambda x: kernel.local_response_norm(x, **LRN, groups=2)
    else:
        variants["fused"] = "needs CUDA and Triton (on the CPU the package uses the reference)"
    variants["compiled_reference"] = (torch.compile(reference) if s.compile
                                      else "run with --compile")
    return variants


def bench_lrn(s: Settings, bandwidth: dict | None) -> dict:
    """LRN forward + backward (§3.3, groups=2 as in conv1) per variant, and its traffic floor."""
    generator = torch.Generator(s.device).manual_seed(0)
    x = torch.rand(s.lrn_shape, device=s.device, generator=generator).mul_(50).to(s.dtype)
    x = x.contiguous(memory_format=s.memory_format).requires_grad_(True)
    grad = torch.randn(s.lrn_shape, device=s.device, generator=generator).to(s.dtype)
    grad = grad.contiguous(memory_format=s.memory_format)
    floor_bytes = LRN_TRANSFERS * x.numel() * x.element_size()
    result = {"shape": list(s.lrn_shape), "dtype": str(s.dtype).replace("torch.", ""),
              "groups": 2, **LRN, "floor_bytes": floor_bytes}
    if bandwidth:
        result["floor_s"] = floor_bytes / bandwidth["bytes_per_s"]
    for name, fn in _lrn_variants(s).items():
        if isinstance(fn, str):
            result[name] = {"skipped": fn}
            continue
        result[name] = _guarded(lambda: time_calls(
            lambda: torch.autograd.grad(fn(x), x, grad), s.device, s.warmup, s.repeats))
        if "floor_s" in result and "median_s" in result[name]:
            result[name]["times_floor"] = result[name]["median_s"] / result["floor_s"]
    return result


# --------------------------------------------------------------------------- input pipeline
def bench_input(s: Settings) -> dict:
    """Images/s of §4.1's augmentation on uint8 256×256 images resident on the device."""
    try:
        from .data import BatchLoader, TensorImages
        from .transforms import IMAGENET_EIGVAL, IMAGENET_EIGVEC, IMAGENET_MEAN, PCALighting
    except ImportError as error:
        return {"skipped": f"alexnet.data / alexnet.transforms not available ({error})"}
    count = 2 * s.batch_size  # two batches' worth, so successive batches read different images
    generator = torch.Generator(s.device).manual_seed(0)
    images = torch.randint(0, 256, (count, 3, 256, 256), dtype=torch.uint8, device=s.device,
                           generator=generator)
    data = TensorImages(images, torch.randint(0, 1000, (count,), device=s.device), ["?"] * 1000)
    loader = BatchLoader(data, s.batch_size, device=s.device, augment=True, crop=224,
                         mean=IMAGENET_MEAN, lighting=PCALighting(IMAGENET_EIGVAL, IMAGENET_EIGVEC),
                         drop_last=True)
    batches = _endless(loader)
    timing = time_calls(lambda: next(batches), s.device, s.warmup, s.repeats)
    return {"images_per_s": s.batch_size / timing["median_s"], "stored": "uint8 256x256",
            "steps": "mean, random 224 crop + flip, PCA lighting (alexnet.data.BatchLoader)",
            **timing}


def _endless(loader):
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        yield from loader
        epoch += 1


# --------------------------------------------------------------------------- provenance, output
def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def provenance(s: Settings) -> dict:
    """What a reader needs to trust (or redo) the numbers: command, commit, device, versions."""
    if s.is_cuda:
        props = torch.cuda.get_device_properties(s.device)
        device = {"type": "cuda", "name": props.name, "capability": f"{props.major}.{props.minor}",
                  "memory_gib": round(props.total_memory / 2 ** 30, 1),
                  "multiprocessors": props.multi_processor_count}
    else:
        device = {"type": "cpu", "name": platform.processor() or platform.machine(),
                  "threads": torch.get_num_threads()}
    status = _git("status", "--porcelain", "--untracked-files=no")
    argv = getattr(sys, "orig_argv", [sys.executable, *sys.argv])  # orig_argv keeps "-m alexnet"
    return {"command": shlex.join(argv),
            # a copied working tree without .git (a lent GPU) can be told its commit instead
            "commit": _git("rev-parse", "HEAD") or os.environ.get("ALEXNET_COMMIT", "unknown"),
            "uncommitted_changes": bool(status) if status is not None else None,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "device": device, "host": platform.node(),
            "versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "cuda": torch.version.cuda, "triton": _version("triton"),
                         "torchvision": _version("torchvision")},
            "settings": asdict(s)}


def _ms(entry: dict) -> str:
    if "median_s" in entry:
        return f"{entry['median_s'] * 1e3:9.3f}  ({entry['min_s'] * 1e3:.3f}-{entry['max_s'] * 1e3:.3f})"
    return entry.get("error") or entry.get("skipped", "")


def format_table(result: dict) -> str:
    """The short summary printed at the end of a run."""
    s, lines = result["settings"], []
    mode = ("compiled" if s["compile"] else "eager") + (" + CUDA graphs" if s["cuda_graphs"] else "")
    lines.append(f"{result['device']['name']} | {s['precision']} | "
                 f"{'channels-last' if s['channels_last'] else 'NCHW'} | {mode} | batch "
                 f"{s['batch_size']} | commit {result['commit'][:10]}")
    train = result.get("train", {})
    for key in ("alexnet", "alexnet_reference_lrn", "torchvision"):
        if key in train:
            entry = train[key]
            rate = f"{entry['images_per_s']:10,.0f} img/s" if "images_per_s" in entry else ""
            lines.append(f"  train {entry.get('name', key):28s}{rate:>16s}  ms/step {_ms(entry)}")
    if "ratio" in train:
        lines.append(f"  ratio alexnet / torchvision {train['ratio']:.2f}x")
    lrn = result.get("lrn", {})
    if "floor_s" in lrn:
        lines.append(f"  LRN fwd+bwd {'x'.join(map(str, lrn['shape']))} {lrn['dtype']}: floor "
                     f"{lrn['floor_s'] * 1e3:.3f} ms ({lrn['floor_bytes'] / 1e9:.2f} GB at "
                     f"{result['copy_bandwidth']['bytes_per_s'] / 1e9:,.0f} GB/s)")
    for key in ("torch", "reference", "fused", "compiled_reference"):
        if key in lrn:
            ratio = f"{lrn[key]['times_floor']:6.1f}x floor" if "times_floor" in lrn[key] else ""
            lines.append(f"    {key:20s} ms {_ms(lrn[key])} {ratio}")
    if "input" in result:
        entry = result["input"]
        rate = f"{entry['images_per_s']:,.0f} img/s" if "images_per_s" in entry else _ms(entry)
        lines.append(f"  input pipeline {rate}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Measure the parts asked for, write the JSON, print the table; 1 if any part failed."""
    s = settings_from(args)
    result = provenance(s)
    result["copy_bandwidth"] = _guarded(lambda: copy_bandwidth(s.device))
    result["matmul"] = _guarded(lambda: matmul_rate(s.device, s.dtype))
    sound = {key: value for key, value in result.items()
             if key in ("copy_bandwidth", "matmul") and "error" not in value}
    if "train" in s.parts:
        result["train"] = bench_training(s, sound.get("matmul"))
    if "lrn" in s.parts:
        result["lrn"] = _guarded(lambda: bench_lrn(s, sound.get("copy_bandwidth")))
    if "input" in s.parts:
        result["input"] = _guarded(lambda: bench_input(s))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    print(format_table(result))
    return 1 if _failed(result) else 0


def _failed(tree) -> bool:
    if isinstance(tree, dict):
        return "error" in tree or any(_failed(value) for value in tree.values())
    return False


def main(argv: list[str] | None = None) -> int:
    """``python -m alexnet.bench`` works too, before the subcommand is wired into the CLI."""
    parser = argparse.ArgumentParser(prog="alexnet bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except AlexNetError as error:
        print(f"alexnet bench: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
