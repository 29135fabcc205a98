"""Caffe's model files read without Caffe: BVLC's AlexNet (``bvlc_alexnet.caffemodel``).

A ``.caffemodel`` is a binary protobuf ``NetParameter`` (BVLC/caffe,
``src/caffe/proto/caffe.proto``): a list of layers, each with a name and its parameter ``blobs``
(weights, then bias). Three layouts exist: ``layer`` (V2, 2015 on), ``layers`` (V1, BVLC's
deploy net of 2014) and V1 wrapping a V0 ``layer``. The part of ``caffe.proto`` that they need is vendored beside this module
(``caffe.proto``, field numbers unchanged) and turned into message classes at run time with the
``protobuf`` package alone (:func:`message_classes`): no Caffe, no ``protoc``, no build step.

**Where each blob lands** (BVLC's ``deploy.prototxt``, ``models/bvlc_alexnet``):

- ``conv1``..``conv5``, ``fc6``..``fc8`` are the network's Conv2d and Linear layers, in order.
- Caffe's convolution weights are (out, in / group, kh, kw) with group ``g``'s outputs in the
  ``g``-th block of ``out`` reading the ``g``-th block of inputs: PyTorch's ``groups`` layout, so
  conv2, conv4 and conv5 copy as they are.
- Caffe flattens pool5's (C, H, W) blob row-major, as ``torch.flatten`` does: fc6 copies as it is.
- BVLC's network reads **BGR** images; ``conv1``'s input channels are reversed here, so the model
  reads RGB like every model of this package (the same function: ``W[:, ::-1] · x_rgb`` equals
  ``W · x_bgr``), and its filters show in their true colours.
- Files written before ``BlobShape`` give 4-D (num, channels, height, width) shapes, e.g.
  (1, 1, 4096, 9216) for fc6; the trailing dimensions are kept.

:func:`alexnet_options` gives the :class:`~alexnet.AlexNet` options that compute what Caffe
computed with those weights (:data:`CAFFE_OPTIONS`); widths come from the blobs' shapes.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import AlexNetError

__all__ = ["PROTO", "LAYERS", "CAFFE_OPTIONS", "message_classes", "read_caffemodel",
           "layer_shapes", "parameter_count", "alexnet_options", "alexnet_state_dict"]

PROTO = Path(__file__).with_name("caffe.proto")
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
KERNELS = (11, 5, 3, 3, 3)
#: What Caffe computed with BVLC's AlexNet, as options of :class:`~alexnet.AlexNet`:
#: 227x227 inputs and conv1 without padding ((227 - 11) / 4 + 1 = 55); Caffe's LRN, which divides
#: its ``alpha`` = 1e-4 by ``local_size`` = 5 (α on the sum = 2e-5) and adds ``k`` = 1, over all the
#: maps of a layer (not per group); and Caffe's dropout, which scales in training (inverted).
CAFFE_OPTIONS = dict(image_size=227, dropout=0.5, dropout_style="inverted",
                     lrn_kwargs=dict(size=5, alpha=1e-4 / 5, beta=0.75, k=1.0, groups=1))

_FIELD = re.compile(r"(optional|repeated) (\w+) (\w+) = (\d+)( \[packed = true\])?;")
_SCALARS = {"float": "TYPE_FLOAT", "int64": "TYPE_INT64", "string": "TYPE_STRING"}


def _file_descriptor(text: str):
    """The vendored ``caffe.proto`` (one declaration per line) as a ``FileDescriptorProto``."""
    from google.protobuf import descriptor_pb2 as pb

    proto = pb.FileDescriptorProto(name="alexnet/caffe.proto", package="caffe", syntax="proto2")
    stack = []                        # the message or enum being filled, innermost last
    for line in (raw.split("//")[0].strip() for raw in text.splitlines()):
        if not line or line.startswith(("syntax", "package")):
            continue
        if line.startswith("message "):
            stack.append(proto.message_type.add(name=line.split()[1]))
        elif line.startswith("enum "):
            stack.append(stack[-1].enum_type.add(name=line.split()[1]))
        elif line == "}":
            stack.pop()
        elif (field := _FIELD.fullmatch(line)) is not None:
            _add_field(stack[-1], stack[-1].enum_type, *field.groups())
        else:
            name, number = (s.strip(" ;") for s in line.split("="))
            stack[-1].value.add(name=name, number=int(number))
    return proto


def _add_field(message, enums, label: str, kind: str, name: str, number: str, packed) -> None:
    from google.protobuf import descriptor_pb2 as pb

    F = pb.FieldDescriptorProto
    field = message.field.add(name=name, number=int(number),
                              label=F.LABEL_REPEATED if label == "repeated" else F.LABEL_OPTIONAL)
    if kind in _SCALARS:
        field.type = getattr(F, _SCALARS[kind])
    elif kind in {e.name for e in enums}:
        field.type, field.type_name = F.TYPE_ENUM, f".caffe.{message.name}.{kind}"
    else:
        field.type, field.type_name = F.TYPE_MESSAGE, f".caffe.{kind}"
    if packed:
        field.options.packed = True


@lru_cache(maxsize=1)
def message_classes() -> dict[str, type]:
    """The protobuf message classes of the vendored ``caffe.proto``, by name (``NetParameter``,
    ``BlobProto``, ...), built at run time; needs ``pip install protobuf`` (the ``caffe`` extra)."""
    try:
        from google.protobuf import descriptor_pool, message_factory
    except ImportError:
        raise AlexNetError("reading a .caffemodel needs the protobuf package: pip install "
                           "protobuf (or pip install 'alexnet[caffe]')") from None
    proto, pool = _file_descriptor(PROTO.read_text()), descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(proto.SerializeToString())
    names = [m.name for m in proto.message_type]
    build = getattr(message_factory, "GetMessageClass", None)   # protobuf >= 4.21
    if build is None:
        build = message_factory.MessageFactory(pool).GetPrototype
    return {name: build(pool.FindMessageTypeByName(f"caffe.{name}")) for name in names}


def _blob(blob) -> np.ndarray:
    """A ``BlobProto`` as a float32 array of its shape (``shape.dim``, else num/channels/h/w)."""
    dims = list(blob.shape.dim) if blob.HasField("shape") else \
        [blob.num, blob.channels, blob.height, blob.width]
    data = np.array(blob.data, dtype=np.float32)
    if int(np.prod(dims)) != data.size:
        raise AlexNetError(f"a blob declares shape {dims} but holds {data.size} values: the file "
                           "is damaged; download it again")
    return data.reshape(dims)


def read_caffemodel(path: str | os.PathLike) -> dict[str, list[np.ndarray]]:
    """The parameter blobs of every layer of a ``.caffemodel`` that has any, by layer name."""
    path = Path(path)
    if not path.is_file():
        raise AlexNetError(f"caffemodel {path} does not exist: download bvlc_alexnet.caffemodel "
                           "(AlexNet(weights='bvlc') does) or check the path")
    net = message_classes()["NetParameter"]()
    try:
        net.ParseFromString(path.read_bytes())
    except Exception as e:          # protobuf's DecodeError, whatever the implementation
        raise AlexNetError(f"{path} is not a Caffe model (a binary NetParameter) or is truncated "
                           f"({type(e).__name__}): download it again") from None
    layers = list(net.layer) or [v1.layer if v1.layer.blobs else v1 for v1 in net.layers]
    return {layer.name: [_blob(b) for b in layer.blobs] for layer in layers if layer.blobs}


def layer_shapes(options: dict) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Caffe's (weight, bias) shapes of conv1..fc8 for these :class:`~alexnet.AlexNet` options
    (deploy.prototxt's, with the widths of ``options``)."""
    channels, hidden, groups = list(options["channels"]), options["hidden"], options["groups"]
    inputs = [3] + channels[:-1]
    shapes = {f"conv{i + 1}": ((c, c_in // g, k, k), (c,)) for i, (c, c_in, k, g) in
              enumerate(zip(channels, inputs, KERNELS, (1, groups, 1, groups, groups)))}
    fc_in = [channels[-1] * 6 * 6, hidden, hidden]          # pool5 is 6x6 on 227 inputs
    fc_out = [hidden, hidden, options["num_classes"]]
    shapes.update({f"fc{i + 6}": ((o, n), (o,)) for i, (o, n) in enumerate(zip(fc_out, fc_in))})
    return shapes


def parameter_count(options: dict) -> int:
    """How many numbers the weights of :func:`layer_shapes` hold."""
    return sum(int(np.prod(w)) + int(np.prod(b)) for w, b in layer_shapes(options).values())


def alexnet_options(blobs: dict[str, list[np.ndarray]], path="the caffemodel") -> dict:
    """The :class:`~alexnet.AlexNet` options for these blobs: widths, groups and classes read from
    the shapes (each checked against :func:`layer_shapes`), the rest from :data:`CAFFE_OPTIONS`."""
    missing = [name for name in LAYERS if len(blobs.get(name, ())) != 2]
    if missing:
        raise AlexNetError(f"{path} is not an AlexNet caffemodel: layer(s) {', '.join(missing)} "
                           f"lack a weight and a bias (layers with blobs: {', '.join(blobs)})")
    # conv blobs are 4-D, fc blobs 2-D; files older than BlobShape pad them to 4-D with 1s
    found = {n: (blobs[n][0].shape[-4 if n.startswith("conv") else -2:], (blobs[n][1].size,))
             for n in LAYERS}
    channels = [found[f"conv{i}"][0][0] for i in range(1, 6)]
    in_per_group = found["conv2"][0][1]
    options = dict(CAFFE_OPTIONS, num_classes=found["fc8"][0][0], channels=channels,
                   hidden=found["fc6"][0][0],
                   groups=channels[0] // in_per_group if in_per_group else 0)
    if options["groups"] < 1 or layer_shapes(options) != found:
        shown = ", ".join(f"{n} {tuple(w)}" for n, (w, _) in found.items())
        raise AlexNetError(f"{path} does not have AlexNet's layer shapes ({shown}): pass BVLC's "
                           "bvlc_alexnet.caffemodel")
    return options


def alexnet_state_dict(model: nn.Module, blobs: dict[str, list[np.ndarray]]) -> dict:
    """``model``'s state dict holding the blobs (model built with :func:`alexnet_options`): its
    Conv2d and Linear layers in order are conv1..fc8; conv1's inputs go from BGR to RGB."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    names = {id(m): n for n, m in model.named_modules()}
    state = {}
    for caffe_name, layer in zip(LAYERS, layers):
        weight, bias = (torch.from_numpy(b.copy()) for b in blobs[caffe_name])
        weight = weight.reshape(layer.weight.shape)
        if caffe_name == "conv1":
            weight = weight.flip(1)                                     # BGR -> RGB
        state[f"{names[id(layer)]}.weight"] = weight.contiguous()
        state[f"{names[id(layer)]}.bias"] = bias.reshape(layer.bias.shape)
    return state
