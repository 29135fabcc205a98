"""The network of §3.5: shapes, parameter count, options, initialisation (§5), bad input."""
import pytest
import torch
from torch import nn

from alexnet import AlexNet, AlexNetError, CifarAlexNet, FourLayerCNN, LocalResponseNorm
from alexnet.model import build_model

PAPER_SHAPES = [  # paper-notes §1.5: after conv1, pool1, conv2, pool2, conv3, conv4, conv5, pool5
    (96, 55, 55), (96, 27, 27), (256, 27, 27), (256, 13, 13),
    (384, 13, 13), (384, 13, 13), (256, 13, 13), (256, 6, 6)]


def stage_shapes(model, x):
    shapes = []
    for layer in model.features:
        x = layer(x)
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            shapes.append(tuple(x.shape[1:]))
    return shapes


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return AlexNet()


def test_feature_map_sizes_at_every_stage(model):
    assert stage_shapes(model, torch.randn(2, 3, 224, 224)) == PAPER_SHAPES


def test_output_and_parameter_count(model):
    assert model(torch.randn(2, 3, 224, 224)).shape == (2, 1000)
    assert sum(p.numel() for p in model.parameters()) == 60_965_224
    assert count((96, 256, 384, 384, 256), 2) == 60_965_224


def test_layer_layout(model):
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0], c.groups) for c in convs] == [
        (96, 11, 4, 1), (256, 5, 1, 2), (384, 3, 1, 1), (384, 3, 1, 2), (256, 3, 1, 2)]
    norms = [m for m in model.features if isinstance(m, LocalResponseNorm)]
    assert [(n.size, n.alpha, n.beta, n.k, n.groups) for n in norms] == [(5, 1e-4, 0.75, 2.0, 2)] * 2
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    assert [(p.kernel_size, p.stride) for p in pools] == [(3, 2)] * 3
    kinds = [type(m).__name__ for m in model.classifier]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert [m.p for m in model.classifier if isinstance(m, nn.Dropout)] == [0.5, 0.5]


def test_paper_initialisation(model):
    """§5: weights N(0, 0.01^2); biases 1 in conv2, conv4, conv5, fc6, fc7 and 0 elsewhere."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert [float(m.bias.unique().item()) for m in layers] == [0, 1, 0, 1, 1, 1, 1, 0]
    w = torch.cat([m.weight.flatten() for m in layers])
    assert abs(w.std().item() - 0.01) < 1e-4 and abs(w.mean().item()) < 1e-5
    fc6 = layers[5].weight    # 37.7M draws: the fraction within one sigma is 68.3%
    assert abs((fc6.abs() < 0.01).float().mean().item() - 0.6827) < 1e-3


def count(channels, groups, hidden=4096, classes=1000):
    """Parameters by hand: k*k*c_in/g weights per kernel plus a bias, then the three fc layers."""
    c1, c2, c3, c4, c5 = channels
    convs = [(11, 3, c1, 1), (5, c1, c2, groups), (3, c2, c3, 1), (3, c3, c4, groups), (3, c4, c5, groups)]
    fcs = [(c5 * 36, hidden), (hidden, hidden), (hidden, classes)]
    return sum(k * k * i // g * o + o for k, i, o, g in convs) + sum(i * o + o for i, o in fcs)


@pytest.mark.parametrize("options,params", [
    (dict(groups=1), count((96, 256, 384, 384, 256), 1)),   # conv2, conv4, conv5 see every map
    (dict(lrn=False), 60_965_224),                           # LRN has no parameters
    (dict(channels=(48, 128, 192, 192, 256), groups=1),      # §3.2's one-GPU net (its footnote:
     count((48, 128, 192, 192, 256), 1)),                    # the last conv layer kept full size)
])
def test_parameter_counts_of_variants(options, params):
    m = AlexNet(**options, init="pytorch")
    assert sum(p.numel() for p in m.parameters()) == params
    assert m(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


def test_ablation_switches():
    m = AlexNet(lrn=False, overlap_pooling=False, dropout=0.2, activation="tanh", init="pytorch")
    assert not any(isinstance(x, LocalResponseNorm) for x in m.modules())
    assert [(p.kernel_size, p.stride) for p in m.features if isinstance(p, nn.MaxPool2d)] == [(2, 2)] * 3
    assert [x.p for x in m.classifier if isinstance(x, nn.Dropout)] == [0.2, 0.2]
    assert sum(isinstance(x, nn.Tanh) for x in m.modules()) == 7 and not any(
        isinstance(x, nn.ReLU) for x in m.modules())
    # 2/2 pooling gives the same map sizes, so only the windows change
    assert stage_shapes(m, torch.randn(1, 3, 224, 224)) == PAPER_SHAPES


def test_cifar_sibling_keeps_every_feature():
    m = CifarAlexNet()
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    shapes = stage_shapes(m, torch.randn(1, 3, 32, 32))
    assert shapes == [(32, 32, 32), (32, 16, 16), (64, 16, 16), (64, 8, 8), (96, 8, 8), (96, 8, 8),
                      (64, 8, 8), (64, 4, 4)]
    assert stage_shapes(CifarAlexNet(overlap_pooling=False), torch.randn(1, 3, 32, 32)) == shapes
    assert sum(isinstance(x, LocalResponseNorm) for x in m.modules()) == 2


def test_four_layer_cnn():
    for act in ("relu", "tanh"):
        m = FourLayerCNN(activation=act, lrn=True)
        assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)
        assert sum(isinstance(x, (nn.Conv2d, nn.Linear)) for x in m.modules()) == 4


def test_config_rebuilds_the_same_architecture():
    for m in (AlexNet(lrn=False, dropout=0.1), CifarAlexNet(groups=1), FourLayerCNN(lrn=True)):
        rebuilt = build_model(m.config)
        assert type(rebuilt) is type(m) and rebuilt.config == m.config
        assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in m.parameters()]


@pytest.mark.parametrize("shape", [(2, 3, 227, 227), (2, 1, 224, 224), (3, 224, 224)])
def test_wrong_image_size_is_a_clear_error(model, shape):
    with pytest.raises(AlexNetError) as e:
        model(torch.zeros(shape))
    assert str(e.value) == (
        f"AlexNet expects a batch of RGB images of shape (N, 3, 224, 224), got {shape}: crop or "
        "resize the images to 224x224 (alexnet.transforms does this)")


@pytest.mark.parametrize("options,message", [
    (dict(activation="gelu"), "activation must be one of ['relu', 'tanh'], got 'gelu'"),
    (dict(init="xavier"), "init must be 'paper' or 'pytorch', got 'xavier'"),
    (dict(groups=3), "must divide by groups=3"),
])
def test_bad_options(options, message):
    with pytest.raises(AlexNetError, match=message.replace("[", r"\[").replace("(", r"\(")):
        AlexNet(**options)
