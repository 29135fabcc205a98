"""The network of §3.5 (Figure 2), on one device, and its CIFAR-10-sized sibling.

Five convolutional and three fully-connected layers::

    conv1 96@11x11/4 -> ReLU -> LRN -> max-pool 3/2                       55 -> 27
    conv2 256@5x5, two groups -> ReLU -> LRN -> max-pool 3/2              27 -> 13
    conv3 384@3x3 (sees both groups) -> ReLU                              13
    conv4 384@3x3, two groups -> ReLU                                     13
    conv5 256@3x3, two groups -> ReLU -> max-pool 3/2                     13 -> 6
    fc6 4096 -> ReLU -> dropout; fc7 4096 -> ReLU -> dropout; fc8 1000

"Two groups" is the restricted connectivity of the two-GPU network (§3.2): conv2, conv4 and conv5
see only the maps of their own GPU, which is ``groups=2`` in PyTorch (channels ``[:C/2]`` are GPU 1).
The LRN of a grouped layer normalises each half on its own, as each GPU did. With the default
options the network has 60,965,224 parameters.

**224 vs 227** (§3.5 against its own Figure 2). The paper feeds 224x224 crops to 11x11 kernels
with stride 4 and shows 55x55 maps, but (224 - 11) / 4 + 1 = 54.25. Caffe answers with 227 inputs,
torchvision with ``padding=2``. We do what Krizhevsky's own cuda-convnet did (its ``layer.py``
counts ``1 + ceil((2·pad + img − filter) / stride)`` output positions): 224 inputs, and the filter
grid runs 3 pixels past the right and bottom edges, where the (mean-subtracted) image counts as
zero. That is ``ZeroPad2d((0, 3, 0, 3))`` in front of an unpadded conv1, so ``features[0]`` is that
pad.

**Options for the ablations** (keyword-only): ``lrn`` on/off, ``overlap_pooling`` (3/2 windows, or
2/2 as in earlier nets, §3.4), ``dropout`` rate (§4.2), ``activation`` "relu", "tanh" or
"sigmoid" (§3.1, :data:`alexnet.activations.ACTIVATIONS`), ``groups`` 2 (the two GPUs'
connectivity) or 1 (every layer sees every map), and the layer widths (``channels``, ``hidden``),
e.g. for the one-GPU net with half the kernels of §3.2. Every option is checked when the model is
built: a width of 0 or 4096.5, a dropout rate of 1, ``groups=0`` end in
one :class:`~alexnet.AlexNetError` line naming the option.

**Dropout** (§4.2): the paper's, by default: units are dropped with probability ``p`` in training
and every output is multiplied by ``1 - p`` at test time (:class:`~alexnet.dropout.PaperDropout`).
``dropout_style="inverted"`` gives PyTorch's ``nn.Dropout`` (×1/(1 − p) in training, nothing at
test time) instead; the predictions are the same in expectation, the trained weights differ by
the factor ``1 - p``. The style is stored in ``model.config``, so a checkpoint rebuilds the model
it was trained with.

**Initialisation** (§5): weights from N(0, 0.01²); biases 1 in conv2, conv4, conv5, fc6 and fc7
"to provide the ReLUs with positive inputs", 0 elsewhere. ``init="pytorch"`` keeps PyTorch's default
(Kaiming-uniform) instead, for experiments that must converge in a few CPU minutes
(:mod:`alexnet.reproduce` uses it and says so).

:func:`alexnet.architectures.build_model` rebuilds any of these models (and the two-tower one) from
its ``config``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from . import caffe
from .activations import ACTIVATIONS
from .dropout import DROPOUT_STYLES, dropout_layer
from .errors import AlexNetError, choice, integer, real
from .lrn import LocalResponseNorm
from .pooling import OVERLAPPING, pool_layer, pool_window, pooled_size
from .weights import AlexNet_Weights, CifarAlexNet_Weights, PretrainedMixin, init_pretrained

__all__ = ["AlexNet", "CifarAlexNet", "FourLayerCNN", "init_paper_", "check_options",
           "without_conv"]

GROUPED = (False, True, False, True, True)  # which of conv1..conv5 are split between the GPUs, §3.2
BIAS_ONE = {"conv2", "conv4", "conv5", "fc6", "fc7"}  # §5
INITS = ("paper", "pytorch")
LRN_OPTIONS = {"size", "alpha", "beta", "k", "groups"}  # groups: default the model's groups


def check_options(*, num_classes, activation, init, groups, channels, hidden, dropout,
                  dropout_style, lrn, overlap_pooling, lrn_kwargs) -> tuple[int, ...]:
    """One :class:`~alexnet.AlexNetError` line for any option that could not build the network
    (or would build a silly one); returns ``channels`` as a tuple of ints."""
    integer("num_classes", num_classes, 1)
    choice("activation", activation, tuple(ACTIVATIONS))
    choice("init", init, INITS)
    choice("lrn", lrn, (True, False))
    choice("overlap_pooling", overlap_pooling, (True, False))
    choice("dropout_style", dropout_style, DROPOUT_STYLES)
    integer("groups", groups, 1)
    integer("hidden", hidden, 1)
    real("dropout", dropout, 0, 1, high_open=True)
    if isinstance(channels, (str, bytes)) or not hasattr(channels, "__len__") or len(channels) != 5:
        raise AlexNetError(f"channels must be five layer widths (conv1..conv5), got {channels!r}")
    channels = tuple(integer(f"channels[{i}]", c, 1) for i, c in enumerate(channels))
    if any(c % groups for c in channels):
        raise AlexNetError(f"every layer width in {channels} must divide by groups={groups}")
    check_lrn_kwargs(lrn_kwargs)
    return channels


def check_lrn_kwargs(lrn_kwargs) -> None:
    """``lrn_kwargs`` holds only LocalResponseNorm's size, alpha, beta, k (§3.3) and groups (default:
    the model's, i.e. per GPU); their values are checked by the LRN itself."""
    if lrn_kwargs is None:
        return
    if not isinstance(lrn_kwargs, dict):
        raise AlexNetError(f"lrn_kwargs must be a dict of LocalResponseNorm options, got "
                           f"{lrn_kwargs!r}")
    unknown = sorted(set(map(str, lrn_kwargs)) - LRN_OPTIONS)
    if unknown:
        raise AlexNetError(f"lrn_kwargs has unknown option(s) {', '.join(unknown)}: use "
                           f"{', '.join(sorted(LRN_OPTIONS))} (§3.3's n, α, β, k)")


def init_paper_(model: nn.Module) -> nn.Module:
    """§5: every weight ~ N(0, 0.01²); biases 1 in conv2, conv4, conv5, fc6, fc7, else 0."""
    names = [f"conv{i}" for i in range(1, 6)] + ["fc6", "fc7", "fc8"]
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for name, layer in zip(names, layers):
        nn.init.normal_(layer.weight, mean=0.0, std=0.01)
        nn.init.constant_(layer.bias, 1.0 if name in BIAS_ONE else 0.0)
    return model


class AlexNet(PretrainedMixin, nn.Module):
    """AlexNet as in §3.5 of the paper, on one device; input (N, 3, 224, 224), output logits.

    The module layout follows torchvision (``features``, ``classifier``) so that code written for
    ``torchvision.models.alexnet`` (hooks on ``features[i]``, wrapping ``features``) carries over.
    Dropout is §4.2's (``dropout_style="paper"``: ×(1 − p) at test time) unless
    ``dropout_style="inverted"`` (``nn.Dropout``).

    ``weights="bvlc"`` (or :class:`~alexnet.weights.AlexNet_Weights`) builds and loads BVLC's Caffe
    AlexNet (:mod:`alexnet.weights`), which needs ``image_size=227``: Caffe's 227x227 inputs, conv1
    without padding (stored in ``config`` when not 224).
    """

    image_size = 224
    image_sizes = (224, 227)
    weights_enum = AlexNet_Weights
    pooled_size = 6  # side of the conv5 output after pooling
    pool_ceil_mode = False  # PyTorch's rounding of pooled sizes: 55 -> 27 -> 13 -> 6

    def __init__(self, num_classes: int = 1000, *, lrn: bool = True, overlap_pooling: bool = True,
                 dropout: float = 0.5, activation: str = "relu", groups: int = 2,
                 channels: Sequence[int] = (96, 256, 384, 384, 256), hidden: int = 4096,
                 lrn_kwargs: dict | None = None, init: str = "paper",
                 dropout_style: str = "paper", image_size: int | None = None,
                 weights=None, progress: bool = True) -> None:
        if weights is not None:          # build with the options the weights need, then load them
            given = {k: v for k, v in locals().items() if k not in ("self", "weights", "progress",
                                                                     "__class__")}
            return init_pretrained(self, weights, self.weights_enum, progress, given)
        super().__init__()
        self.image_size = choice("image_size", type(self).image_size if image_size is None
                                 else image_size, self.image_sizes)
        channels = check_options(num_classes=num_classes, activation=activation, init=init,
                                 groups=groups, channels=channels, hidden=hidden, dropout=dropout,
                                 dropout_style=dropout_style, lrn=lrn,
                                 overlap_pooling=overlap_pooling, lrn_kwargs=lrn_kwargs)
        self.num_classes, self.groups = num_classes, groups
        self.config = dict(arch=type(self).__name__, num_classes=num_classes, lrn=bool(lrn),
                           overlap_pooling=bool(overlap_pooling), dropout=dropout,
                           dropout_style=dropout_style, activation=activation, groups=groups,
                           channels=list(channels), hidden=hidden, lrn_kwargs=dict(lrn_kwargs or {}))
        if self.image_size != type(self).image_size:
            self.config["image_size"] = self.image_size
        self._act, self._lrn = ACTIVATIONS[activation], dict(lrn_kwargs or {}) if lrn else None
        self.pool_window = pool_window(overlap_pooling)                      # (z, s), §3.4
        self.features = nn.Sequential(*self._conv_layers(channels))
        self.pooled_size = self.pooled_side(self.image_size, self.pool_window)
        flat = channels[-1] * self.pooled_size ** 2
        drop = (lambda: dropout_layer(dropout, dropout_style))                # §4.2
        self.classifier = nn.Sequential(
            nn.Linear(flat, hidden), self._act(), drop(),                     # fc6
            nn.Linear(hidden, hidden), self._act(), drop(),                   # fc7
            nn.Linear(hidden, num_classes),                                   # fc8
        )
        if init == "paper":
            init_paper_(self)

    @staticmethod
    def stem(out_channels: int, image_size: int = 224) -> list[nn.Module]:
        """conv1: 11x11 stride 4 on 224 inputs, run 3 px past the edge as cuda-convnet did; on 227
        inputs (Caffe's) no padding."""
        pad = [nn.ZeroPad2d((0, 3, 0, 3))] if image_size == 224 else []
        return [*pad, nn.Conv2d(3, out_channels, 11, stride=4)]

    @classmethod
    def from_caffemodel(cls, path) -> AlexNet:
        """The network of a local Caffe AlexNet file (e.g. BVLC's ``bvlc_alexnet.caffemodel``), as
        Caffe computed it (:mod:`alexnet.caffe`); needs ``pip install protobuf``."""
        blobs = caffe.read_caffemodel(path)
        model = cls(**caffe.alexnet_options(blobs, path))
        model.load_state_dict(caffe.alexnet_state_dict(model, blobs))
        return model

    @classmethod
    def pooled_side(cls, image_size: int, window: tuple[int, int]) -> int:
        """Side of conv5's pooled maps, fc6's input: 55 -> 27 -> 13 -> 6 for 224 and 227 inputs,
        with 3/2 and 2/2 windows alike."""
        return cls.pooled_size

    def pool(self) -> nn.Module:
        """§3.4: overlapping max-pooling, z=3 s=2 (or z=2 s=2 when switched off)."""
        return pool_layer(*self.pool_window, ceil_mode=self.pool_ceil_mode)

    def _conv_layers(self, channels: Sequence[int]) -> list[nn.Module]:
        layers, c_in = self.stem(channels[0], self.image_size), channels[0]
        for i, c_out in enumerate(channels):
            if i > 0:
                kernel = 5 if i == 1 else 3
                groups = self.groups if GROUPED[i] else 1
                layers.append(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, groups=groups))
            layers.append(self._act())
            if i < 2 and self._lrn is not None:  # §3.3: LRN after the ReLU of conv1 and conv2
                layers.append(LocalResponseNorm(**{"groups": self.groups, **self._lrn}))
            if i in (0, 1, 4):
                layers.append(self.pool())
            c_in = c_out
        return layers

    def check_input(self, x: Tensor) -> None:
        """A clear error for images of the wrong size or channel count, or an empty batch."""
        s = self.image_size
        if x.dim() == 4 and x.shape[0] == 0:
            raise AlexNetError(f"{type(self).__name__} got an empty batch {tuple(x.shape)}: pass "
                               "at least one image")
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[2] != s or x.shape[3] != s:
            raise AlexNetError(
                f"{type(self).__name__} expects a batch of RGB images of shape (N, 3, {s}, {s}), "
                f"got {tuple(x.shape)}: crop or resize the images to {s}x{s} "
                "(alexnet.transforms does this)"
            )

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        x = self.features(x)
        return self.classifier(torch.flatten(x, 1))


class CifarAlexNet(AlexNet):
    """The same family at CIFAR-10 size (3x32x32 inputs), small enough to train on a CPU in minutes.

    Every option of :class:`AlexNet` works the same way. What changes is the scale: conv1 is 5x5
    stride 1 (padding 2) on 32x32 images, widths are 32-64-96-96-64 with 512-unit fc layers, and the
    pools round their output size up, as cuda-convnet's pooling did (its ``layer.py`` rounds pooled
    sizes up), so that 3/2 and 2/2 pooling both give 32 -> 16 -> 8 -> 4 and the ablations change
    only the windows. The paper's own CIFAR-10 experiments (§3.1, §3.3) used smaller nets, those
    shipped with cuda-convnet (``example-layers/layers-18pct.cfg`` and its siblings); this one
    keeps every feature of the ImageNet network (LRN, groups, overlapping pooling, dropout) at
    about 1/41 of its multiply-adds (17.8 million against 724 million per image, as
    :func:`alexnet.summary.layer_table` counts them) and 1/64 of its parameters (945,354).

    ``image_size=24`` builds it for 24x24 inputs (24 -> 12 -> 6 -> 3, fc6 reads 3x3 maps): the
    random patches of the 32x32 image that cuda-convnet trained on for its ten-patch test (§4.1,
    :class:`alexnet.transforms.TenPatches`).
    """

    image_size = 32
    image_sizes = (32, 24)
    pooled_size = 4        # for 32x32 inputs; each model's own is pooled_side(image_size)
    pool_ceil_mode = True  # cuda-convnet's rounding: 32 -> 16 -> 8 -> 4 for 3/2 and 2/2 alike
    weights_enum = CifarAlexNet_Weights

    def __init__(self, num_classes: int = 10, *, channels: Sequence[int] = (32, 64, 96, 96, 64),
                 hidden: int = 512, **kwargs) -> None:
        super().__init__(num_classes, channels=channels, hidden=hidden, **kwargs)

    @staticmethod
    def stem(out_channels: int, image_size: int = 32) -> list[nn.Module]:
        return [nn.Conv2d(3, out_channels, 5, padding=2)]

    @classmethod
    def pooled_side(cls, image_size: int, window: tuple[int, int]) -> int:
        """conv1 keeps the input's size, then three pools rounding up: 32 -> 16 -> 8 -> 4, and
        24 -> 12 -> 6 -> 3 for cuda-convnet's 24x24 patches (§4.1's ten-patch protocol)."""
        side = image_size
        for _ in range(3):
            side = pooled_size(side, *window, ceil_mode=cls.pool_ceil_mode)
        return side


class FourLayerCNN(PretrainedMixin, nn.Sequential):
    """The "four-layer convolutional neural network" of Figure 1 (§3.1) and of the CIFAR-10 LRN
    result of §3.3, for 3x32x32 inputs.

    The paper does not describe it further. We follow the ``layers-18pct.cfg`` shipped with
    Krizhevsky's cuda-convnet ("18% error on CIFAR-10 in 20 minutes"), three conv layers and one
    fully-connected layer::

        conv1 32@5x5 -> act -> max-pool 3/2 -> [LRN] -> conv2 32@5x5 -> act -> avg-pool 3/2 -> [LRN]
        -> conv3 64@5x5 -> act -> avg-pool 3/2 -> fc10

    with the paper's cross-map LRN (``lrn=True``) where that config had a same-map normalisation.
    ``activation`` is "relu" or "tanh" (Figure 1 compares the two), or "sigmoid". Weights keep
    PyTorch's default initialisation: Figure 1 tunes the learning rate of each network, not its
    initialisation.
    """

    image_size = 32

    def __init__(self, num_classes: int = 10, *, activation: str = "relu", lrn: bool = False,
                 lrn_kwargs: dict | None = None) -> None:
        integer("num_classes", num_classes, 1)
        choice("activation", activation, tuple(ACTIVATIONS))
        choice("lrn", lrn, (True, False))
        check_lrn_kwargs(lrn_kwargs)
        act = ACTIVATIONS[activation]
        norm = (lambda: LocalResponseNorm(**(lrn_kwargs or {}))) if lrn else nn.Identity
        config = dict(arch=type(self).__name__, num_classes=num_classes, activation=activation,
                      lrn=bool(lrn), lrn_kwargs=dict(lrn_kwargs or {}))
        pool = (lambda average=False: pool_layer(*OVERLAPPING, ceil_mode=True, average=average))
        super().__init__(
            nn.Conv2d(3, 32, 5, padding=2), act(), pool(), norm(),
            nn.Conv2d(32, 32, 5, padding=2), act(), pool(average=True), norm(),
            nn.Conv2d(32, 64, 5, padding=2), act(), pool(average=True),
            nn.Flatten(), nn.Linear(64 * 4 * 4, num_classes),
        )
        self.config = config

    def forward(self, x: Tensor) -> Tensor:
        AlexNet.check_input(self, x)
        return super().forward(x)


def without_conv(model: nn.Module, name: str = "conv4") -> nn.Module:
    """§7: take a middle conv layer and its activation out of ``model.features`` ("removing any of
    the middle layers results in a loss of about 2% for the top-1 performance"). conv4 can go
    because conv3 and conv4 have the same width (384 in the paper), so conv5 still fits."""
    convs = [i for i, m in enumerate(model.features) if isinstance(m, nn.Conv2d)]
    number = int(name.removeprefix("conv"))
    if not 1 < number < len(convs):
        raise AlexNetError(f"{name} is not a middle conv layer: choose conv2..conv{len(convs) - 1}")
    index = convs[number - 1]
    previous, following = model.features[convs[number - 2]], model.features[convs[number]]
    if previous.out_channels != following.in_channels:
        raise AlexNetError(f"without {name}, conv{number + 1} ({following.in_channels} input maps) "
                           f"would see conv{number - 1}'s {previous.out_channels} maps")
    layers = [m for i, m in enumerate(model.features) if i not in (index, index + 1)]
    model.features = nn.Sequential(*layers)
    model.config = dict(model.config, removed=name)
    return model
