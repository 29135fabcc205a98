"""alexnet.export_onnx (dynamo exporter), checked against onnxruntime, with §3.3's LRN as
elementwise operations or as ONNX LRN operators (alpha = α·n, bias = k, one per group)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install onnx)")
pytest.importorskip("onnxscript", reason="the onnx extra is not installed (pip install onnxscript)")
ort = pytest.importorskip("onnxruntime",
                          reason="onnxruntime is not installed (pip install onnxruntime)")

from alexnet import AlexNet, AlexNetError, CifarAlexNet, FourLayerCNN, export_onnx  # noqa: E402


def run_onnx(path, x: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"images": x.numpy()})[0]


def assert_same(model, path, x):
    with torch.no_grad():
        expected = model.eval()(x).numpy()
    got = run_onnx(path, x)
    scale = np.abs(expected).max()
    assert got.shape == expected.shape and np.abs(got - expected).max() <= 1e-5 * scale + 1e-7


def ops(path) -> list[str]:
    return [node.op_type for node in onnx.load(str(path)).graph.node]


@pytest.fixture
def inputs():
    torch.manual_seed(0)
    return torch.rand(3, 3, 32, 32) * 255 - 128            # centred 0-255 scale, as trained


@pytest.mark.parametrize("lrn_op", [False, True])
def test_cifar_alexnet_matches_onnxruntime(tmp_path, inputs, lrn_op):
    torch.manual_seed(0)
    model = CifarAlexNet(init="pytorch")
    path = export_onnx(model, tmp_path / "cifar.onnx", lrn_op=lrn_op)   # traced with batch 1
    assert model.training                                               # left as it was
    assert_same(model, path, inputs)                                    # run with batch 3
    assert ops(path).count("LRN") == (4 if lrn_op else 0)              # 2 layers x 2 groups


def test_lrn_op_carries_the_paper_constants(tmp_path):
    model = CifarAlexNet(init="pytorch", groups=1, lrn_kwargs=dict(alpha=1e-4, k=2.0))
    path = export_onnx(model, tmp_path / "cifar.onnx", lrn_op=True)
    lrn = next(n for n in onnx.load(str(path)).graph.node if n.op_type == "LRN")
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in lrn.attribute}
    assert attributes["size"] == 5 and attributes["bias"] == pytest.approx(2.0)
    assert attributes["alpha"] == pytest.approx(5e-4) and attributes["beta"] == pytest.approx(0.75)


def test_caffe_configured_alexnet_exports(tmp_path):
    """227 inputs without padding and LRN over all maps (the BVLC options), at small widths."""
    torch.manual_seed(0)
    model = AlexNet(10, channels=(16, 32, 48, 48, 32), hidden=64, init="pytorch", image_size=227,
                    dropout_style="inverted", lrn_kwargs=dict(alpha=2e-5, k=1.0, groups=1))
    path = export_onnx(model, tmp_path / "bvlc-like.onnx", lrn_op=True)
    assert ops(path).count("LRN") == 2 and "Split" not in ops(path)
    assert_same(model, path, torch.rand(2, 3, 227, 227) * 255 - 120)


def test_four_layer_cnn_exports(tmp_path, inputs):
    model = FourLayerCNN(lrn=True)
    assert_same(model, export_onnx(model, tmp_path / "four.onnx"), inputs)


def test_an_existing_file_is_not_replaced(tmp_path):
    path = tmp_path / "taken.onnx"
    path.write_bytes(b"keep")
    with pytest.raises(AlexNetError, match="already exists"):
        export_onnx(CifarAlexNet(), path)
    assert path.read_bytes() == b"keep"
