"""Where the parameters, the arithmetic and the traffic of the network sit (§3.2, §3.4, §3.5).

:func:`layer_table` runs one image through a model with forward hooks and records, for every layer,
its output shape, its parameters and its multiply-adds (MACs). A convolution with kernels
k×k over c_in/groups input maps costs k·k·c_in/groups MACs per output value; a fully-connected layer
costs one MAC per weight. Nothing is typed in: the counts come from the modules themselves.

The geometry of sliding windows: :func:`window_positions` (how many times a kernel fits, the
224 vs 227 puzzle of §3.5). Which inputs each pooling unit sees (§3.4) is counted beside the
pooling layer, in :mod:`alexnet.pooling` (``pooling_windows`` and ``pooling_coverage``, still
importable from here).

What crosses between two GPUs per training step (§3.2): :func:`model_parallel_bytes` (the paper's
split, activations and their gradients), :func:`data_parallel_bytes` (every GPU a whole copy, the
gradients all-reduced) and :func:`crossover_batch`, the batch size where the two are equal.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .errors import AlexNetError
from .pooling import pooling_coverage, pooling_windows

__all__ = ["Layer", "layer_table", "format_table", "table_records", "window_positions", "pooling_windows",
           "pooling_coverage", "model_parallel_bytes", "data_parallel_bytes", "crossover_batch"]

NAMES = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]


@dataclass
class Layer:
    name: str           # conv1..fc8 for weight layers, else the module's type
    kind: str           # the module's class name
    output: tuple       # output shape of one image (C, H, W) or (features,)
    params: int
    macs: int


def _macs(module: nn.Module, out: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0] * module.kernel_size[1]
        return out[0].numel() * k * module.in_channels // module.groups
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


def layer_table(model: nn.Module, image_size: int | None = None) -> list[Layer]:
    """One :class:`Layer` per leaf module of ``model``, in execution order, for one input image."""
    size = image_size or getattr(model, "image_size", 224)
    rows, weight_layers = [], iter(NAMES)

    def hook(module, _inputs, out):
        weighted = isinstance(module, (nn.Conv2d, nn.Linear))
        name = next(weight_layers) if weighted else type(module).__name__
        rows.append(Layer(name, type(module).__name__, tuple(out.shape[1:]),
                          sum(p.numel() for p in module.parameters()), _macs(module, out)))

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, size, size, device=next(model.parameters()).device))
    finally:
        for h in handles:
            h.remove()
    return rows


def format_table(rows: list[Layer], weights_only: bool = False) -> str:
    """A plain-text table with totals; ``weights_only`` keeps just conv1..fc8."""
    shown = [r for r in rows if r.params or not weights_only]
    total_p, total_m = sum(r.params for r in rows), sum(r.macs for r in rows)
    lines = [f"{'layer':<18}{'output':>16}{'parameters':>14}{'share':>8}{'MACs':>14}{'share':>8}"]
    for r in shown:
        shape = "x".join(map(str, r.output))
        lines.append(f"{r.name:<18}{shape:>16}{r.params:>14,}{r.params / total_p:>8.1%}"
                     f"{r.macs:>14,}{r.macs / total_m:>8.1%}")
    lines.append(f"{'total':<18}{'':>16}{total_p:>14,}{'':>8}{total_m:>14,}")
    return "\n".join(lines)



def table_records(rows: list[Layer], weights_only: bool = True) -> list[dict]:
    """:func:`format_table` as one dict of formatted strings per row (layer, output, parameters,
    their share, MACs, their share) and a total row: for a Markdown or HTML table."""
    shown = [r for r in rows if r.params or not weights_only]
    total_p, total_m = sum(r.params for r in rows), sum(r.macs for r in rows)
    records = [{"layer": r.name, "output": "×".join(map(str, r.output)),
                "parameters": f"{r.params:,}", "share": f"{r.params / total_p:.1%}",
                "MACs": f"{r.macs:,}", "MAC share": f"{r.macs / total_m:.1%}"} for r in shown]
    records.append({"layer": "total", "output": "", "parameters": f"{total_p:,}",
                    "share": "100%", "MACs": f"{total_m:,}", "MAC share": "100%"})
    return records

# ---------------------------------------------------------------- sliding windows (§3.5)

def window_positions(width: int, kernel: int, stride: int, padding: int = 0) -> float:
    """How many times a window of ``kernel`` moved in steps of ``stride`` fits along a side of
    ``width`` pixels with ``padding`` pixels added in total: (W + P − k) / s + 1. Not rounded: a
    fraction is the puzzle of §3.5, where (224 − 11) / 4 + 1 = 54.25; libraries round it down
    (PyTorch) or up (cuda-convnet)."""
    if kernel < 1 or stride < 1:
        raise AlexNetError(f"kernel {kernel} and stride {stride} must be at least 1")
    return (width + padding - kernel) / stride + 1


# ---------------------------------------------------------------- traffic between GPUs (§3.2)

def model_parallel_bytes(per_image: int, batch: int) -> int:
    """Bytes between the GPUs per training step of the paper's split (§3.2): each image's
    activations that cross (``per_image``, both directions summed, e.g. from
    :func:`alexnet.two_tower.crossing_traffic`) in the forward pass, and their gradients, of the
    same size, in the backward pass."""
    return 2 * batch * per_image


def data_parallel_bytes(parameters: int, gpus: int = 2, bytes_per_value: int = 4) -> float:
    """Bytes sent by all ``gpus`` together per training step of data parallelism: a ring
    all-reduce of every gradient, in which each GPU sends 2(N − 1)/N times the gradient's size.
    Whatever the batch size. For two GPUs: each sends the whole gradient once, 2 × 4 × parameters
    in float32 together."""
    if gpus < 2:
        raise AlexNetError(f"data parallelism needs at least 2 GPUs, got {gpus}")
    return gpus * 2 * (gpus - 1) / gpus * bytes_per_value * parameters


def crossover_batch(per_image: int, parameters: int, gpus: int = 2,
                    bytes_per_value: int = 4) -> float:
    """The batch size at which the paper's split (:func:`model_parallel_bytes`) and data
    parallelism (:func:`data_parallel_bytes`) move the same number of bytes in total; below it
    the split moves less."""
    return data_parallel_bytes(parameters, gpus, bytes_per_value) / (2 * per_image)
