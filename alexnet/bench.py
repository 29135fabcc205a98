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

Defaults are the settings training uses: on CUDA batch 256, bf16 autocast, channels-last; on the
CPU batch 32, fp32 (``--precision bf16`` where the CPU has bfloat16 instructions: the result
says whether it does), the NCHW layout, and freed memory kept for reuse
(:func:`alexnet.runtime.keep_freed_memory`, as ``alexnet train`` does on the CPU). The JSON
(``--out``) records the command, commit, machine (CPU model, threads, load average at start and
end), versions, settings and every number; a short table is printed last.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from .errors import AlexNetError
from .runtime import keep_freed_memory, machine, provenance, resolve_device, write_json

__all__ = ["add_arguments", "run", "Settings", "time_calls", "interleaved", "copy_bandwidth"]

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
PARTS = ("train", "cifar", "lrn", "input")
LRN = dict(size=5, alpha=1e-4, beta=0.75, k=2.0)  # §3.3's constants, as in alexnet.AlexNet
LRN_PASSES = 5  # tensor-sized reads + writes of one LRN forward + backward


# --------------------------------------------------------------------------- settings
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
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of "
                        f"{','.join(PARTS)} (default all)")
    parser.add_argument("--warmup", type=int, help="untimed calls first (default 10 CUDA, 1 CPU)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds, median and range reported "
                        "(default 10 CUDA, 5 CPU)")
    parser.add_argument("--lrn-shape", help="N,C,H,W of the LRN tensor (default 256,96,55,55 on "
                        "CUDA, 64,96,55,55 on CPU)")
    parser.add_argument("--out", default="bench.json", help="JSON result file (default bench.json)")


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
    shape = _shape(args.lrn_shape) if args.lrn_shape else (256 if cuda else 64, 96, 55, 55)
    return Settings(str(device), batch, args.cifar_batch_size,
                    args.precision or ("bf16" if cuda else "fp32"),
                    cuda if args.channels_last is None else args.channels_last,
                    args.compile, args.cuda_graphs, args.baseline,
                    args.keep_freed_memory and not cuda,
                    args.warmup if args.warmup is not None else (10 if cuda else 1),
                    max(rounds, 1), shape, parts)


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


def _seconds(fn: Callable[[], object], device: str, calls: int) -> float:
    """Seconds per call of ``fn`` over ``calls`` back-to-back calls (CUDA events on the GPU)."""
    if device.startswith("cuda"):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / calls
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def _spread(seconds: list[float]) -> dict:
    return {"median_s": statistics.median(seconds), "min_s": min(seconds), "max_s": max(seconds),
            "n": len(seconds)}


def time_calls(fn: Callable[[], object], device: str, warmup: int, repeats: int) -> dict:
    """Seconds per call of ``fn``: median, min, max over ``repeats`` calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    return _spread([_seconds(fn, device, 1) for _ in range(repeats)])


def interleaved(fns: dict[str, Callable[[], object]], device: str, warmup: int, rounds: int,
                calls: int = 1) -> dict:
    """Time several functions round-robin: in each of ``rounds`` rounds every function runs
    ``calls`` calls. Returns each one's spread of per-round seconds per call, and its per-round
    seconds (``rounds_s``) for ratios taken round by round."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    per_round: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            per_round[name].append(_seconds(fn, device, calls))
    return {name: {**_spread(s), "rounds_s": s} for name, s in per_round.items()}


def ratio(a: dict, b: dict) -> dict:
    """``a``'s time over ``b``'s, round by round: median and range (>1: ``a`` is slower)."""
    values = [x / y for x, y in zip(a["rounds_s"], b["rounds_s"])]
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


# --------------------------------------------------------------------------- floors
def copy_bandwidth(device: str) -> dict:
    """Bytes/s of a large device-to-device copy, counting bytes read plus bytes written."""
    nbytes = (1 << 30) if device.startswith("cuda") else (256 << 20)
    source = torch.randint(0, 255, (nbytes,), dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    timing = time_calls(lambda: target.copy_(source), device, 3, 10)
    return {"bytes_per_s": 2 * nbytes / timing["median_s"], "copy_bytes": nbytes, **timing}


def matmul_rate(device: str, dtype: torch.dtype) -> dict:
    """Flop/s of a large square matrix product in ``dtype`` through the installed BLAS (the
    peak a convolution can approach)."""
    n = 8192 if device.startswith("cuda") else 2048
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    timing = time_calls(lambda: a @ b, device, 2, 5)
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


def training_step(model: torch.nn.Module, s: Settings, batch: int, size: int,
                  classes: int) -> Callable[[], None]:
    """One SGD step of ``model`` on a fixed synthetic batch (centred 0–255-scale pixels)."""
    model = model.to(s.device, memory_format=s.memory_format).train()
    images = (torch.randn(batch, 3, size, size, device=s.device) * 60).contiguous(
        memory_format=s.memory_format)
    labels = torch.randint(0, classes, (batch,), device=s.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4,
                                **({"fused": True} if s.is_cuda else {}))  # §5
    forward = torch.compile(model) if s.compile else model

    def step() -> None:
        with _autocast(s):
            loss = F.cross_entropy(forward(images).float(), labels)
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
    """Make alexnet's LRN take the stock-PyTorch reference on every device (the "before" model)."""
    from . import lrn

    saved = lrn._use_kernel, lrn._use_analytic
    lrn._use_kernel = lrn._use_analytic = lambda x: False
    try:
        yield
    finally:
        lrn._use_kernel, lrn._use_analytic = saved


def forward_macs(model: torch.nn.Module, size: int) -> int:
    """Multiply-adds of one image's forward pass, counted from the modules (CPU)."""
    from .summary import layer_table

    return sum(row.macs for row in layer_table(model, size))


def _pair(members: dict, s: Settings, batch: int, size: int, classes: int, calls: int,
          matmul: dict | None) -> dict:
    """Build every member's step, time them interleaved, add floors and ratios to the first."""
    steps, result, contexts = {}, {}, {}
    for key, (name, build, context) in members.items():
        with context():
            model = build()
            macs = forward_macs(model, size)
            steps[key], contexts[key] = training_step(model, s, batch, size, classes), context
        result[key] = {"name": name, "forward_macs": macs}
    timed = interleaved({key: _in(contexts[key], fn) for key, fn in steps.items()}, s.device,
                        s.warmup, s.rounds, calls)
    for key, timing in timed.items():
        result[key].update(timing, images_per_s=batch / timing["median_s"])
        if matmul:   # forward + backward ~ 3 forward passes, 2 flops per multiply-add
            result[key]["arithmetic_floor_images_per_s"] = \
                matmul["flop_per_s"] / (3 * 2 * result[key]["forward_macs"])
    first, *others = list(result)
    for other in others:   # how fast the first is, as a fraction of each other's speed
        r = ratio(timed[other], timed[first])
        result[f"speed_{first}_over_{other}"] = r
    return result


def _in(context, fn: Callable[[], None]) -> Callable[[], None]:
    def call() -> None:
        with context():
            fn()
    return call


def bench_training(s: Settings, matmul: dict | None) -> dict:
    """AlexNet vs torchvision's AlexNet (and, with ``baseline``, AlexNet with the stock LRN)."""
    import torchvision

    from .model import AlexNet

    none = contextlib.nullcontext
    members = {"alexnet": ("alexnet.AlexNet()", AlexNet, none),
               "torchvision": ("torchvision.models.alexnet()", torchvision.models.alexnet, none)}
    if s.baseline:
        members["alexnet_reference_lrn"] = ("alexnet.AlexNet(), stock-PyTorch LRN", AlexNet,
                                            _reference_lrn)
    calls = 5 if s.is_cuda else 1
    return _pair(members, s, s.batch_size, 224, 1000, calls, matmul)


def bench_cifar(s: Settings, matmul: dict | None) -> dict:
    """CifarAlexNet with and without LRN: what LRN costs in the book's CPU experiments."""
    from .model import CifarAlexNet

    none = contextlib.nullcontext
    members = {"cifar": ("alexnet.CifarAlexNet()", CifarAlexNet, none),
               "cifar_no_lrn": ("alexnet.CifarAlexNet(lrn=False)",
                                lambda: CifarAlexNet(lrn=False), none)}
    if s.baseline:
        members["cifar_reference_lrn"] = ("alexnet.CifarAlexNet(), stock-PyTorch LRN",
                                          CifarAlexNet, _reference_lrn)
    calls = 10 if s.is_cuda else 3
    return _pair(members, s, s.cifar_batch_size, 32, 10, calls, matmul)


# --------------------------------------------------------------------------- LRN
def _lrn_variants(s: Settings) -> dict:
    """name -> (LRN function, or a string saying why it is not timed here)."""
    from .kernels import lrn as kernel
    from .lrn import local_response_norm, local_response_norm_reference

    def reference(x):
        return local_response_norm_reference(x, **LRN, groups=2)

    def stock_torch(x):   # what torch.nn.LocalResponseNorm runs, with the paper's α on the sum
        n, c, h, w = x.shape
        y = F.local_response_norm(x.reshape(2 * n, c // 2, h, w), LRN["size"],
                                  alpha=LRN["alpha"] * LRN["size"], beta=LRN["beta"], k=LRN["k"])
        return y.reshape(n, c, h, w)

    variants = {"package": lambda x: local_response_norm(x, **LRN, groups=2),
                "reference": reference, "torch": stock_torch}
    if s.is_cuda and kernel.available():
        variants["fused"] = lambda x: kernel.local_response_norm(x, **LRN, groups=2)
    else:
        variants["fused"] = "needs CUDA and Triton (on the CPU the package runs its analytic path)"
    variants["compiled_reference"] = (torch.compile(reference) if s.compile
                                      else "run with --compile")
    return variants


def bench_lrn(s: Settings) -> dict:
    """LRN forward + backward (§3.3, groups=2 as in conv1) per implementation, each interleaved
    with the elementwise add that prices its floor."""
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
    calls = 10 if s.is_cuda else 1
    timing = interleaved(timed, s.device, max(s.warmup, 1), s.rounds, calls)
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
    result.update(skipped)
    return result


# --------------------------------------------------------------------------- input pipeline
def bench_input(s: Settings) -> dict:
    """Images/s of §4.1's augmentation: on-device uint8 images, and JPEGs from a folder."""
    from .data import BatchLoader, TensorImages
    from .transforms import IMAGENET_EIGVAL, IMAGENET_EIGVEC, IMAGENET_MEAN, PCALighting

    count = 2 * s.batch_size  # two batches' worth, so successive batches read different images
    generator = torch.Generator(s.device).manual_seed(0)
    images = torch.randint(0, 256, (count, 3, 256, 256), dtype=torch.uint8, device=s.device,
                           generator=generator)
    data = TensorImages(images, torch.randint(0, 1000, (count,), device=s.device), ["?"] * 1000)
    loader = BatchLoader(data, s.batch_size, device=s.device, augment=True, crop=224,
                         mean=IMAGENET_MEAN, lighting=PCALighting(IMAGENET_EIGVAL, IMAGENET_EIGVEC),
                         drop_last=True)
    batches = _endless(loader)
    timing = time_calls(lambda: next(batches), s.device, s.warmup, s.rounds)
    tensors = {"images_per_s": s.batch_size / timing["median_s"], "stored": "uint8 256x256",
               "steps": "mean, random 224 crop + flip, PCA lighting (alexnet.data.BatchLoader)",
               **timing}
    return {"tensors": tensors, "folder": _guarded(lambda: bench_folder(s))}


def _jpeg_folder(root: Path, count: int = 192) -> tuple[Path, str]:
    """The ImageNet sample photographs when the offline data is configured, else ``count``
    synthetic 256×340 JPEGs (smooth colour fields plus texture, about a photograph's size)."""
    from .data import data_dir, imagenet_samples

    if data_dir() is not None:
        return imagenet_samples(), "the 1,000 ImageNet sample photographs (shorter side 256)"
    from PIL import Image

    generator = torch.Generator().manual_seed(0)
    for i in range(count):
        folder = root / f"class{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        field = torch.rand(3, 4, 5, generator=generator)[None] * 255
        smooth = F.interpolate(field, size=(256, 340), mode="bicubic", align_corners=False)[0]
        texture = torch.randn(3, 256, 340, generator=generator) * 12
        pixels = (smooth + texture).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        Image.fromarray(pixels).save(folder / f"{i}.jpg", quality=90)
    return root, f"{count} synthetic 256x340 JPEGs"


def bench_folder(s: Settings) -> dict:
    """Images/s of decoding + §4.1's augmentation from a JPEG folder in DataLoader workers, at
    the default worker count, after the workers have started (first batch excluded)."""
    from .data import FolderLoader, image_folder
    from .runtime import default_workers

    with tempfile.TemporaryDirectory() as tmp:
        root, what = _jpeg_folder(Path(tmp))
        dataset = image_folder(root, train=True, verify=False)
        workers, batch = default_workers(), 32
        loader = FolderLoader(dataset, batch, device=s.device, workers=workers, drop_last=True)
        seen, start = 0, None
        for i, (images, _) in enumerate(loader):
            if i == 0:
                start = time.perf_counter()
                continue
            seen += len(images)
            if seen >= 640:
                break
        seconds = time.perf_counter() - start
    return {"images_per_s": seen / seconds, "images": seen, "workers": workers,
            "batch_size": batch, "source": what,
            "steps": "JPEG decode, shorter side 256 + centre 256, mean, random 224 crop + flip, "
                     "PCA lighting (alexnet.data.image_folder + FolderLoader)"}


def _endless(loader):
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        yield from loader
        epoch += 1


# --------------------------------------------------------------------------- output
def _guarded(measure: Callable[[], dict]) -> dict:
    """Run one measurement; an exception becomes an ``error`` entry so the rest still runs."""
    try:
        return measure()
    except Exception as error:  # noqa: BLE001 - a lent GPU's minutes are too dear to lose
        return {"error": f"{type(error).__name__}: {error}"}


def _ms(entry: dict) -> str:
    if "median_s" in entry:
        return (f"{entry['median_s'] * 1e3:9.2f}  ({entry['min_s'] * 1e3:.2f}-"
                f"{entry['max_s'] * 1e3:.2f})")
    return entry.get("error") or entry.get("skipped", "")


def _range(r: dict) -> str:
    return f"{r['median']:.2f}x (range {r['min']:.2f}-{r['max']:.2f})"


def _pair_lines(part: dict, label: str) -> list[str]:
    lines = []
    for key, entry in part.items():
        if key.startswith("speed_"):
            first, other = key[len("speed_"):].split("_over_")
            lines.append(f"  {label}: {part[first]['name']} runs at {_range(entry)} the speed of "
                         f"{part[other]['name']}")
        elif "name" in entry:
            rate = f"{entry['images_per_s']:8,.1f} img/s" if "images_per_s" in entry else ""
            lines.append(f"  {label} {entry['name']:40s}{rate}  ms/step {_ms(entry)}")
    return lines


def format_table(result: dict) -> str:
    """The short summary printed at the end of a run."""
    s, lines = result["settings"], []
    mode = ("compiled" if s["compile"] else "eager") + (" + CUDA graphs" if s["cuda_graphs"] else "")
    load = result.get("load_average_end")
    lines.append(f"{result['device']} | {s['precision']} | "
                 f"{'channels-last' if s['channels_last'] else 'NCHW'} | {mode} | batch "
                 f"{s['batch_size']} (CIFAR {s['cifar_batch_size']}) | load {load} | commit "
                 f"{(result.get('git_commit') or 'unknown')[:10]}")
    for part, label in (("train", "train"), ("cifar", "cifar")):
        if part in result:
            lines += _pair_lines(result[part], label) if "error" not in result[part] \
                else [f"  {label}: {result[part]['error']}"]
    lrn = result.get("lrn", {})
    if "floor" in lrn:
        lines.append(f"  LRN fwd+bwd {'x'.join(map(str, lrn['shape']))} {lrn['dtype']}: floor "
                     f"{lrn['floor']['median_s'] * 1e3:.2f} ms ({lrn['floor_bytes'] / 1e9:.2f} GB "
                     f"at {lrn['bandwidth_bytes_per_s'] / 1e9:,.0f} GB/s); with fresh outputs "
                     f"{lrn['floor_fresh']['median_s'] * 1e3:.2f} ms")
    for key in ("package", "reference", "torch", "fused", "compiled_reference"):
        if key in lrn:
            entry = lrn[key]
            times = f" {_range(entry['times_floor'])} floor" if "times_floor" in entry else ""
            lines.append(f"    {key:20s} ms {_ms(entry)}{times}")
    inputs = result.get("input", {})
    for key, label in (("tensors", "on-device tensors"), ("folder", "JPEG folder")):
        entry = inputs.get(key, {})
        if "images_per_s" in entry:
            extra = f", {entry['workers']} workers" if "workers" in entry else ""
            lines.append(f"  input, {label}{extra}: {entry['images_per_s']:,.0f} img/s")
        elif entry:
            lines.append(f"  input, {label}: {_ms(entry)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Measure the parts asked for, write the JSON, print the table; 1 if any part failed."""
    s = settings_from(args)
    kept = keep_freed_memory() if s.keep_freed_memory else False
    result = {**provenance(s.device), "settings": asdict(s), "freed_memory_kept": kept}
    result["matmul"] = _guarded(lambda: matmul_rate(s.device, s.dtype))
    matmul = result["matmul"] if "error" not in result["matmul"] else None
    if "train" in s.parts:
        result["train"] = _guarded(lambda: bench_training(s, matmul))
    if "cifar" in s.parts:
        result["cifar"] = _guarded(lambda: bench_cifar(s, matmul))
    if "lrn" in s.parts:
        result["lrn"] = _guarded(lambda: bench_lrn(s))
    if "input" in s.parts:
        result["input"] = _guarded(lambda: bench_input(s))
    result["load_average_end"] = machine(s.device)["load_average"]
    write_json(result, args.out)
    print(f"wrote {args.out}")
    print(format_table(result))
    return 1 if _failed(result) else 0


def _failed(tree) -> bool:
    if isinstance(tree, dict):
        return "error" in tree or any(_failed(value) for value in tree.values())
    return False


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
