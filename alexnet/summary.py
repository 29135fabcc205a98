"""Where the parameters and the arithmetic of the network sit (§3.5, Figure 2).

:func:`layer_table` runs one image through a model with forward hooks and records, for every layer,
its output shape, its parameters and its multiply-adds (MACs). A convolution with kernels
k×k over c_in/groups input maps costs k·k·c_in/groups MACs per output value; a fully-connected layer
costs one MAC per weight. Nothing is typed in: the counts come from the modules themselves.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Layer", "layer_table", "format_table"]

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
