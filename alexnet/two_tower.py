"""Training on two GPUs: the model-parallel network of §3.2.

A GTX 580 had 3 GB, too little for the whole network, so the kernels (neurons) were split in half
between two GPUs, and "the GPUs communicate only in certain layers": conv3 takes all kernel maps of
conv2, fc6, fc7 and fc8 take the outputs of both halves; conv2, conv4 and conv5 see only the maps on
their own GPU. Each :class:`Tower` below holds one GPU's half, with its parameters on its own device.
Activations cross devices only on the way into conv3, fc6, fc7 and fc8.

The grouped single-device :class:`alexnet.AlexNet` computes the same function: tower ``t`` holds
output channels ``[t*C/2, (t+1)*C/2)`` of every layer, which is how PyTorch's ``groups=2`` splits
channels. :meth:`TwoTowerAlexNet.from_grouped` and :meth:`TwoTowerAlexNet.to_grouped` copy the
weights across. fc8 (1000 outputs, §3.5) lives on the first device, as one layer.

On one GPU or the CPU both towers simply share a device: ``devices=("cpu", "cpu")``.

Dropout in fc6 and fc7 is §4.2's (×(1 − p) at test time) unless ``dropout_style="inverted"``, as in
:class:`alexnet.AlexNet`. This module imports :mod:`alexnet.model`, never the other way round;
:func:`alexnet.architectures.build_model` knows both.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import torch
from torch import Tensor, nn

from .activations import ACTIVATIONS
from .dropout import dropout_layer
from .errors import AlexNetError
from .lrn import LocalResponseNorm
from .model import AlexNet
from .pooling import pool_layer, pool_window

__all__ = ["TwoTowerAlexNet", "Tower", "CROSSINGS", "crossing_traffic", "gather", "default_devices",
           "logits_difference"]


class Tower(nn.Module):
    """One GPU's half of the network (§3.2, Figure 2): half of every layer's kernels and neurons."""

    def __init__(self, channels: Sequence[int], hidden: int, *, lrn: bool, lrn_kwargs: dict | None,
                 overlap_pooling: bool, dropout: float, activation: str,
                 dropout_style: str = "paper") -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = (c // 2 for c in channels)
        act, norm = ACTIVATIONS[activation], (lambda: LocalResponseNorm(**(lrn_kwargs or {})))
        pooling = (lambda: pool_layer(*pool_window(overlap_pooling)))               # §3.4
        maybe_norm = norm if lrn else nn.Identity
        self.block1 = nn.Sequential(*AlexNet.stem(c1), act(), maybe_norm(), pooling(),
                                    nn.Conv2d(c1, c2, 5, padding=2), act(), maybe_norm(), pooling())
        self.block2 = nn.Sequential(nn.Conv2d(2 * c2, c3, 3, padding=1), act(),   # conv3: both GPUs
                                    nn.Conv2d(c3, c4, 3, padding=1), act(),
                                    nn.Conv2d(c4, c5, 3, padding=1), act(), pooling())
        drop = (lambda: dropout_layer(dropout, dropout_style))                     # §4.2
        flat = 2 * c5 * AlexNet.pooled_size ** 2                       # conv5 of both GPUs
        self.fc6 = nn.Sequential(nn.Linear(flat, hidden // 2), act(), drop())
        self.fc7 = nn.Sequential(nn.Linear(hidden, hidden // 2), act(), drop())


class TwoTowerAlexNet(nn.Module):
    """AlexNet split over two devices as in §3.2; same options as :class:`alexnet.AlexNet`.

    ``devices`` names the device of each tower: two GPUs, one GPU twice, or ``("cpu", "cpu")``.
    The output (logits) is on ``devices[0]``. By default (``None``) ``cuda:0`` and ``cuda:1``; on a
    machine with one GPU both towers share ``cuda:0`` (with a warning); without CUDA, one line
    asks for ``devices=("cpu", "cpu")``. A GPU the machine does not have is refused in one line.
    """

    image_size = AlexNet.image_size

    def __init__(self, num_classes: int = 1000, devices: Sequence[str | torch.device] | None = None,
                 *, lrn: bool = True, overlap_pooling: bool = True, dropout: float = 0.5,
                 activation: str = "relu", channels: Sequence[int] = (96, 256, 384, 384, 256),
                 hidden: int = 4096, lrn_kwargs: dict | None = None, init: str = "paper",
                 dropout_style: str = "paper") -> None:
        super().__init__()
        devices = default_devices() if devices is None else devices
        if isinstance(devices, (str, torch.device)) or len(devices) != 2:
            raise AlexNetError(f"TwoTowerAlexNet needs two devices (one per tower), got "
                               f"{devices if isinstance(devices, (str, torch.device)) else list(devices)}")
        if isinstance(hidden, int) and hidden % 2:
            raise AlexNetError(f"hidden={hidden} must be even: each tower holds half of fc6 and fc7")
        self.devices = _devices(devices)
        # A grouped AlexNet validates the options and draws the paper's initialisation (§5);
        # the towers then take their halves of its weights, so both models start identical.
        self._options = dict(lrn=lrn, overlap_pooling=overlap_pooling, dropout=dropout,
                             activation=activation, channels=channels, hidden=hidden,
                             lrn_kwargs=lrn_kwargs, dropout_style=dropout_style)
        grouped = AlexNet(num_classes, groups=2, init=init, **self._options)
        self._options["channels"] = tuple(channels)
        tower = dict(lrn=lrn, lrn_kwargs=lrn_kwargs, overlap_pooling=overlap_pooling,
                     dropout=dropout, activation=activation, dropout_style=dropout_style)
        self.towers = nn.ModuleList(Tower(channels, hidden, **tower) for _ in range(2))
        self.fc8 = nn.Linear(hidden, num_classes)
        self.num_classes = num_classes
        self.config = dict(grouped.config, arch=type(self).__name__,
                           devices=[str(d) for d in self.devices])
        self.config.pop("groups")
        self.load_grouped(grouped)
        self.to_devices(self.devices)

    @classmethod
    def from_grouped(cls, model: AlexNet, devices: Sequence[str | torch.device] | None = None
                     ) -> "TwoTowerAlexNet":
        """A two-tower copy of a grouped ``AlexNet`` (``groups=2``), with the same weights
        (``devices`` as in the constructor)."""
        if model.groups != 2:
            raise AlexNetError(f"from_grouped needs an AlexNet with groups=2, got groups={model.groups}")
        options = {k: v for k, v in model.config.items() if k not in ("arch", "num_classes", "groups")}
        new = cls(model.num_classes, ("cpu", "cpu"), **options, init="pytorch")
        new.load_grouped(model)
        return new.to_devices(default_devices() if devices is None else devices)

    def to_grouped(self) -> AlexNet:
        """The equivalent single-device ``AlexNet(groups=2)`` on ``devices[0]``, same weights."""
        model = AlexNet(self.num_classes, groups=2, init="pytorch", **self._options)
        with torch.no_grad():
            for full, halves in zip(_split_layers(model), _tower_layers(self)):
                for name in ("weight", "bias"):
                    getattr(full, name).copy_(torch.cat([getattr(h, name).cpu() for h in halves]))
            model.classifier[-1].load_state_dict(self.fc8.state_dict())
        return model.to(self.devices[0])

    def load_grouped(self, model: AlexNet) -> None:
        """Copy a grouped model's weights in: tower t takes output slice t of every split layer."""
        with torch.no_grad():
            for full, halves in zip(_split_layers(model), _tower_layers(self)):
                for name in ("weight", "bias"):
                    for half, part in zip(halves, getattr(full, name).chunk(2, dim=0)):
                        getattr(half, name).copy_(part)
            self.fc8.load_state_dict(model.classifier[-1].state_dict())

    def to_devices(self, devices: Sequence[str | torch.device]) -> "TwoTowerAlexNet":
        """Place tower t on ``devices[t]`` and fc8 on ``devices[0]``."""
        self.devices = _devices(devices)
        for tower, device in zip(self.towers, self.devices):
            tower.to(device)
        self.fc8.to(self.devices[0])
        return self

    def forward(self, x: Tensor) -> Tensor:
        AlexNet.check_input(self, x)
        towers = list(zip(self.towers, self.devices))   # (tower, its device)
        h = [t.block1(x.to(d)) for t, d in towers]
        h = [t.block2(gather(h, d)) for t, d in towers]   # into conv3
        h = [torch.flatten(v, 1) for v in h]
        h = [t.fc6(gather(h, d)) for t, d in towers]      # into fc6
        h = [t.fc7(gather(h, d)) for t, d in towers]      # into fc7
        return self.fc8(gather(h, self.devices[0]))       # into fc8


def default_devices() -> tuple[str, str]:
    """§3.2's layout where the machine allows it: one tower per GPU on two GPUs, both towers on
    ``cuda:0`` on one GPU (said once), one line without CUDA."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count >= 2:
        return ("cuda:0", "cuda:1")
    if count == 1:
        warnings.warn("this machine has one GPU: both towers of the TwoTowerAlexNet share cuda:0 "
                      "(the same function, without the paper's split of the memory)", stacklevel=3)
        return ("cuda:0", "cuda:0")
    raise AlexNetError("TwoTowerAlexNet's default devices are two GPUs, and this machine has no "
                       "CUDA device: pass devices=('cpu', 'cpu')")


def _devices(devices: Sequence[str | torch.device]) -> tuple[torch.device, torch.device]:
    try:
        placed = tuple(torch.device(d) for d in devices)
    except (RuntimeError, TypeError):
        raise AlexNetError(f"unknown device in {list(devices)}: name each tower's device as cpu, "
                           "cuda or cuda:N") from None
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    for d in placed:
        if d.type == "cuda" and (d.index or 0) >= count:
            raise AlexNetError(f"a tower on {d}, but this machine has {count} CUDA device(s): "
                               + ("use devices=('cuda:0', 'cuda:0') to put both towers on the one "
                                  "GPU" if count == 1 else "use devices=('cpu', 'cpu')"))
    return placed


def gather(halves: list[Tensor], device: torch.device) -> Tensor:
    """The one place where activations cross between devices: concatenate both halves on ``device``.

    Copies onto a GPU are asynchronous (ordered on its stream); a copy from a GPU onto the CPU is
    not, since the CPU would read the result before the copy has finished."""
    device = torch.device(device)
    return torch.cat([h.to(device, non_blocking=device.type == "cuda") for h in halves], dim=1)


@torch.no_grad()
def logits_difference(grouped: AlexNet, towers: "TwoTowerAlexNet", images: Tensor
                      ) -> tuple[float, float]:
    """(largest difference, largest magnitude) of the logits of a grouped AlexNet and its
    two-tower copy on ``images``, on the towers' first device in exact float32: TF32, on by
    default for cuDNN's convolutions on Ampere and later, is turned off for the comparison
    (:func:`alexnet.runtime.exact_float32`), so that a 1e-5 relative bound holds on any GPU."""
    from .runtime import exact_float32

    device = towers.devices[0]
    with exact_float32(), torch.no_grad():
        expected = grouped.to(device)(images.to(device))
        got = towers(images.to(device))
    return (expected - got).abs().max().item(), expected.abs().max().item()


def _split_layers(model: AlexNet) -> list[nn.Module]:
    """conv1..conv5, fc6, fc7 of a grouped model: the layers whose neurons are split between GPUs."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))][:-1]


def _tower_layers(net: TwoTowerAlexNet) -> list[tuple[nn.Module, nn.Module]]:
    """For each of ``_split_layers``, its halves in tower 0 and tower 1."""
    per_tower = [[m for m in t.modules() if isinstance(m, (nn.Conv2d, nn.Linear))] for t in net.towers]
    return list(zip(*per_tower))


#: The gathers of :meth:`TwoTowerAlexNet.forward`, in order: (layer fed, tower that receives).
#: conv3, fc6 and fc7 are fed on both towers; fc8 lives with tower 0 (§3.2, §3.5).
CROSSINGS = (("conv3", 0), ("conv3", 1), ("fc6", 0), ("fc6", 1), ("fc7", 0), ("fc7", 1),
             ("fc8", 0))


@torch.no_grad()
def crossing_traffic(model: TwoTowerAlexNet, images: Tensor) -> list[dict]:
    """§3.2 measured: what one forward pass of ``images`` sends from one tower to the other.

    A spy on :func:`gather` (the one crossing point) records every gather. For each it returns the
    layer fed, the receiving tower, and the values and bytes *per image* that come from the other
    tower, which is what a real two-GPU run copies between the GPUs (the backward pass sends
    gradients of the same size the other way). Works whatever the devices, the CPU included.
    """
    global gather
    original, seen = gather, []

    def spy(halves: list[Tensor], device: torch.device) -> Tensor:
        seen.append([(h.numel() // h.shape[0], h.element_size()) for h in halves])
        return original(halves, device)

    gather = spy
    try:
        model(images)
    finally:
        gather = original
    if len(seen) != len(CROSSINGS):
        raise AlexNetError(f"expected {len(CROSSINGS)} gathers in a forward pass, saw {len(seen)}")
    rows = []
    for (layer, tower), halves in zip(CROSSINGS, seen):
        values, size = halves[1 - tower]
        rows.append({"layer": layer, "to_tower": tower, "values_per_image": values,
                     "bytes_per_image": values * size})
    return rows
