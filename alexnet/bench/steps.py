"""A full SGD step (§5) of two or three networks timed interleaved: the faithful AlexNet against
torchvision's, and CifarAlexNet with and without LRN."""
from __future__ import annotations

import contextlib
from typing import Callable

import torch
import torch.nn.functional as F

from .settings import Settings
from .timing import interleaved, ratio

__all__ = ["training_step", "forward_macs", "reference_lrn", "bench_training", "bench_cifar"]


def _autocast(s: Settings):
    if s.precision == "fp32":
        return contextlib.nullcontext()
    # the weight-cast cache must be off while a CUDA graph is captured (torch.cuda.amp docs)
    return torch.autocast(torch.device(s.device).type, dtype=s.dtype,
                          cache_enabled=not s.cuda_graphs)


def _graphed(step: Callable[[], None], zero: Callable[[], None],
             device: str) -> Callable[[], None]:
    """Capture ``step`` (forward, backward, optimiser) in a CUDA graph; returns its replay.

    The gradients are set to None before each warm-up step and once more before the capture, so
    the captured backward allocates them in the graph's own pool and every replay overwrites them
    (rather than adding to the warm-up's)."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):  # warm up (and compile) on a side stream, as capture requires
            zero()
            step()
    torch.cuda.current_stream(device).wait_stream(side)
    zero()
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
        return _graphed(step, lambda: optimizer.zero_grad(set_to_none=True), s.device)

    def eager_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        step()

    return eager_step


def reference_lrn():
    """alexnet's LRN as the stock-PyTorch reference on every device (the "before" model)."""
    from ..lrn import use_implementation

    return use_implementation("reference")


def forward_macs(model: torch.nn.Module, size: int) -> int:
    """Multiply-adds of one image's forward pass, counted from the modules (CPU)."""
    from ..summary import layer_table

    return sum(row.macs for row in layer_table(model, size))


def timed_members(members: dict, s: Settings, batch: int, size: int, classes: int, calls: int,
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

    from ..model import AlexNet

    none = contextlib.nullcontext
    members = {"alexnet": ("alexnet.AlexNet()", AlexNet, none),
               "torchvision": ("torchvision.models.alexnet()", torchvision.models.alexnet, none)}
    if s.baseline:
        members["alexnet_reference_lrn"] = ("alexnet.AlexNet(), stock-PyTorch LRN", AlexNet,
                                            reference_lrn)
    calls = 5 if s.is_cuda else 1
    return timed_members(members, s, s.batch_size, 224, 1000, calls, matmul)


def bench_cifar(s: Settings, matmul: dict | None) -> dict:
    """CifarAlexNet with and without LRN: what LRN costs in the book's CPU experiments."""
    from ..model import CifarAlexNet

    none = contextlib.nullcontext
    members = {"cifar": ("alexnet.CifarAlexNet()", CifarAlexNet, none),
               "cifar_no_lrn": ("alexnet.CifarAlexNet(lrn=False)",
                                lambda: CifarAlexNet(lrn=False), none)}
    if s.baseline:
        members["cifar_reference_lrn"] = ("alexnet.CifarAlexNet(), stock-PyTorch LRN",
                                          CifarAlexNet, reference_lrn)
    calls = 10 if s.is_cuda else 3
    return timed_members(members, s, s.cifar_batch_size, 32, 10, calls, matmul)
