"""Caffe's AlexNet read without Caffe (alexnet.caffe, AlexNet.from_caffemodel, weights="bvlc").

The tests write their own .caffemodel files (BVLC's layer names, random values; no network) and
check that every blob lands where Caffe would use it, by comparing the model with a forward pass
written from Caffe's layer definitions (BGR input, grouped convolutions as split/concat, LRN with
alpha/n and k = 1 over all maps, row-major flatten before fc6).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("google.protobuf", reason="the caffe extra (protobuf) is not installed")

from alexnet import AlexNet, AlexNetError  # noqa: E402
from alexnet.caffe import (CAFFE_OPTIONS, LAYERS, alexnet_options, layer_shapes,  # noqa: E402
                           message_classes, read_caffemodel)
from alexnet.weights import AlexNet_Weights, file_digest  # noqa: E402

TINY = dict(num_classes=10, channels=[8, 16, 24, 24, 16], hidden=32, groups=2)
BVLC = dict(num_classes=1000, channels=[96, 256, 384, 384, 256], hidden=4096, groups=2)


def random_blobs(options: dict, seed: int = 0) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return {name: [rng.normal(0, 0.05, w).astype(np.float32),
                   rng.normal(0, 0.1, b).astype(np.float32)]
            for name, (w, b) in layer_shapes(options).items()}


def write_caffemodel(path, blobs: dict, layout: str = "v1") -> None:
    """A NetParameter as Caffe writes it: V1 ``layers`` with 4-D legacy shapes (BVLC's 2014 file),
    V2 ``layer`` with BlobShape, or V1 wrapping a V0 ``layer``; plus parameter-free layers."""
    net = message_classes()["NetParameter"](name="AlexNet")
    for name in ["data", *LAYERS[:1], "relu1", "norm1", "pool1", *LAYERS[1:], "prob"]:
        if layout == "v2":
            layer = net.layer.add(name=name, type="Convolution")
        elif layout == "v1":
            layer = net.layers.add(name=name, type="CONVOLUTION")
        else:
            layer = net.layers.add().layer
            layer.name = name
        for array in blobs.get(name, []):
            blob = layer.blobs.add()
            if layout == "v2":
                blob.shape.dim.extend(array.shape)
            else:
                legacy = (1,) * (4 - array.ndim) + array.shape       # num, channels, h, w
                blob.num, blob.channels, blob.height, blob.width = legacy
            blob.data.extend(array.ravel().tolist())
    path.write_bytes(net.SerializeToString())


def caffe_forward(blobs: dict, x_rgb: torch.Tensor) -> torch.Tensor:
    """BVLC's deploy.prototxt, layer by layer, from the raw blobs (test phase)."""
    b = {n: [torch.from_numpy(a.copy()) for a in v] for n, v in blobs.items()}

    def conv(x, name, stride=1, pad=0, group=1):
        w, bias = b[name]
        w = w.reshape(w.shape[-4:])
        xs, ws, bs = x.chunk(group, 1), w.chunk(group, 0), bias.flatten().chunk(group)
        return torch.cat([F.conv2d(xi, wi, bi, stride, pad) for xi, wi, bi in zip(xs, ws, bs)], 1)

    def lrn(x):   # Caffe: x / (1 + alpha/n Σ x²)^beta, window over all channels
        return F.local_response_norm(x, 5, alpha=1e-4, beta=0.75, k=1.0)

    def fc(x, name):
        w, bias = b[name]
        return F.linear(x, w.reshape(w.shape[-2:]), bias.flatten())

    pool = lambda x: F.max_pool2d(x, 3, 2, ceil_mode=True)  # noqa: E731 (Caffe rounds up)
    x = x_rgb.flip(1)                                       # Caffe reads BGR
    x = pool(lrn(F.relu(conv(x, "conv1", stride=4))))
    x = pool(lrn(F.relu(conv(x, "conv2", pad=2, group=2))))
    x = F.relu(conv(x, "conv3", pad=1))
    x = F.relu(conv(x, "conv4", pad=1, group=2))
    x = pool(F.relu(conv(x, "conv5", pad=1, group=2)))
    x = x.reshape(len(x), -1)                               # C, H, W row-major
    x = F.relu(fc(F.relu(fc(x, "fc6")), "fc7"))
    return fc(x, "fc8")


@pytest.fixture
def tiny(tmp_path):
    blobs = random_blobs(TINY)
    path = tmp_path / "tiny.caffemodel"
    write_caffemodel(path, blobs)
    return path, blobs


def test_blobs_land_where_caffe_uses_them(tiny):
    path, blobs = tiny
    model = AlexNet.from_caffemodel(path).eval()
    conv1, conv2 = model.features[0], model.features[4]
    assert torch.equal(conv1.weight, torch.from_numpy(blobs["conv1"][0]).flip(1))   # BGR -> RGB
    assert torch.equal(conv2.weight, torch.from_numpy(blobs["conv2"][0]))          # group order
    assert torch.equal(model.classifier[0].weight, torch.from_numpy(blobs["fc6"][0]))  # flatten
    x = torch.rand(2, 3, 227, 227) * 255 - 120
    expected = caffe_forward(blobs, x)
    with torch.no_grad():
        got = model(x)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-5 * expected.abs().max().item())


def test_the_model_is_configured_as_caffe_computed(tiny):
    model = AlexNet.from_caffemodel(tiny[0])
    assert model.config["image_size"] == 227 and model.image_size == 227
    assert model.config["lrn_kwargs"] == dict(size=5, alpha=2e-5, beta=0.75, k=1.0, groups=1)
    assert model.config["dropout_style"] == "inverted"
    assert type(model.features[0]).__name__ == "Conv2d"            # no padding before conv1
    names = [type(m).__name__ for m in model.features[:4]]
    assert names == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"]   # LRN before pooling
    with pytest.raises(AlexNetError, match="227"):
        model(torch.zeros(1, 3, 224, 224))


@pytest.mark.parametrize("layout", ["v2", "v0"])
def test_every_layout_reads_the_same(tmp_path, tiny, layout):
    path, blobs = tiny
    other = tmp_path / f"{layout}.caffemodel"
    write_caffemodel(other, blobs, layout)
    a, b = AlexNet.from_caffemodel(path).state_dict(), AlexNet.from_caffemodel(other).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_wire_format_matches_caffe_proto(tmp_path):
    """A NetParameter encoded by hand with caffe.proto's field numbers (layers = 2, name = 4,
    blobs = 6; BlobProto num..width = 1..4, packed data = 5)."""
    def key(number, wire):
        return bytes([number << 3 | wire])

    def length(payload):
        return bytes([len(payload)]) + payload

    data = np.array([1.5, -2.0], dtype="<f4").tobytes()
    blob = key(1, 0) + b"\x01" + key(2, 0) + b"\x01" + key(3, 0) + b"\x01" + key(4, 0) + b"\x02" \
        + key(5, 2) + length(data)
    layer = key(4, 2) + length(b"conv1") + key(6, 2) + length(blob)
    path = tmp_path / "hand.caffemodel"
    path.write_bytes(key(2, 2) + length(layer))
    (array,) = read_caffemodel(path)["conv1"]
    assert array.shape == (1, 1, 1, 2) and array.ravel().tolist() == [1.5, -2.0]


def test_bad_files_end_in_one_line(tmp_path, tiny):
    path, blobs = tiny
    with pytest.raises(AlexNetError, match="does not exist"):
        read_caffemodel(tmp_path / "absent.caffemodel")
    junk = tmp_path / "junk.caffemodel"
    junk.write_bytes(b"\xff" * 64)
    with pytest.raises(AlexNetError, match="not a Caffe model"):
        read_caffemodel(junk)
    partial = tmp_path / "partial.caffemodel"
    write_caffemodel(partial, {k: v for k, v in blobs.items() if k != "conv3"})
    with pytest.raises(AlexNetError, match="conv3"):
        AlexNet.from_caffemodel(partial)
    wrong = dict(blobs, fc6=[np.zeros((32, 100), np.float32), blobs["fc6"][1]])
    write_caffemodel(partial, wrong)
    with pytest.raises(AlexNetError, match="layer shapes"):
        alexnet_options(read_caffemodel(partial))


def test_bvlc_shapes_build_the_bvlc_network():
    """BVLC's deploy.prototxt shapes give the options AlexNet_Weights.BVLC builds with, and that
    network has exactly those weight shapes."""
    blobs = {n: [np.empty(w, np.float32), np.empty(b, np.float32)]
             for n, (w, b) in layer_shapes(BVLC).items()}
    options = alexnet_options(blobs)
    assert options == AlexNet_Weights.BVLC.options() == dict(CAFFE_OPTIONS, **BVLC)
    with torch.device("meta"):
        model = AlexNet(**options)
    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert [tuple(m.weight.shape) for m in layers] == [w for w, _ in layer_shapes(BVLC).values()]
    assert AlexNet_Weights.BVLC.meta["num_params"] == sum(p.numel() for p in model.parameters())


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints"


def test_weights_bvlc_downloads_checks_sha1_and_loads(tmp_path, hub, monkeypatch, tiny):
    """The download goes to torch's hub cache, checked against the SHA-1 (patched here to the test
    file's), and AlexNet(weights=...) loads it (tiny widths: the options are patched too)."""
    source, blobs = tiny
    entry = AlexNet_Weights.BVLC
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda url, dst, **kw: open(dst, "wb").write(source.read_bytes()))
    with pytest.raises(AlexNetError, match="SHA-1"):
        entry.value.fetch(progress=False)
    assert not hub.exists() or not list(hub.iterdir())           # nothing half-written is left
    monkeypatch.setattr(entry.value, "sha1", file_digest(source, "sha1"))
    monkeypatch.setattr(type(entry.value), "options", lambda self: dict(CAFFE_OPTIONS, **TINY))
    model = AlexNet(weights="bvlc", progress=False).eval()
    assert (hub / "bvlc_alexnet.caffemodel").is_file() and model.weights is entry
    x = torch.rand(1, 3, 227, 227) * 255 - 120
    with torch.no_grad():
        assert torch.allclose(model(x), caffe_forward(blobs, x), rtol=1e-4, atol=1e-4)


def test_a_damaged_download_in_the_cache_is_not_replaced(hub):
    hub.mkdir(parents=True)
    (hub / "bvlc_alexnet.caffemodel").write_bytes(b"not it")
    with pytest.raises(AlexNetError, match="delete"):
        AlexNet_Weights.BVLC.value.fetch(progress=False)
    assert (hub / "bvlc_alexnet.caffemodel").read_bytes() == b"not it"


def test_options_the_weights_fix_cannot_be_changed():
    with pytest.raises(AlexNetError, match="hidden=4096"):
        AlexNet(weights="bvlc", hidden=100)
    with pytest.raises(AlexNetError, match="no weights 'imagenet'"):
        AlexNet(weights="imagenet")
