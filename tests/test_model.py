"""The network of §3.5: shapes, parameter count, options, initialisation (§5), bad input."""
import pytest
import torch
from torch import nn

from alexnet import AlexNet, AlexNetError, CifarAlexNet, FourLayerCNN, LocalResponseNorm
from alexnet.activations import ACTIVATIONS, LABELS
from alexnet.architectures import build_model
from alexnet.dropout import PaperDropout
from alexnet.model import without_conv
from alexnet.summary import layer_table

PAPER_SHAPES = [  # §3.5 and Figure 2: conv1, pool1, conv2, pool2, conv3, conv4, conv5, pool5
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
    assert kinds == ["Linear", "ReLU", "PaperDropout", "Linear", "ReLU", "PaperDropout", "Linear"]
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
    assert [x.p for x in m.classifier if isinstance(x, PaperDropout)] == [0.2, 0.2]
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
    (dict(activation="gelu"), "activation must be one of 'relu', 'tanh', 'sigmoid', got 'gelu'"),
    (dict(init="xavier"), "init must be one of 'paper', 'pytorch', got 'xavier'"),
    (dict(groups=3), "every layer width in (96, 256, 384, 384, 256) must divide by groups=3"),
    (dict(num_classes=0), "num_classes must be an integer >= 1, got 0"),
    (dict(num_classes=10.0), "num_classes must be an integer >= 1, got 10.0"),
    (dict(groups=0), "groups must be an integer >= 1, got 0"),
    (dict(hidden=4096.5), "hidden must be an integer >= 1, got 4096.5"),
    (dict(hidden=True), "hidden must be an integer >= 1, got True"),
    (dict(channels=(96, 256, 384, 384)),
     "channels must be five layer widths (conv1..conv5), got (96, 256, 384, 384)"),
    (dict(channels=(96, 256, 0, 384, 256)), "channels[2] must be an integer >= 1, got 0"),
    (dict(channels=(96, 256.0, 384, 384, 256)), "channels[1] must be an integer >= 1, got 256.0"),
    (dict(dropout=1.0), "dropout must be a finite number in [0, 1), got 1.0"),
    (dict(dropout=-0.1), "dropout must be a finite number in [0, 1), got -0.1"),
    (dict(dropout=float("nan")), "dropout must be a finite number in [0, 1), got nan"),
    (dict(dropout_style="gaussian"),
     "dropout_style must be one of 'paper', 'inverted', got 'gaussian'"),
    (dict(lrn="yes"), "lrn must be one of True, False, got 'yes'"),
    (dict(lrn_kwargs={"alpha": -1e-4}), "LRN"),
    (dict(lrn_kwargs={"n": 5}),
     "lrn_kwargs has unknown option(s) n: use alpha, beta, groups, k, size (§3.3's n, α, β, k)"),
])
def test_absurd_options_are_one_line_not_nans_or_a_deep_error(options, message):
    """Before: num_classes=0, hidden=4096.5, dropout=1.0 or groups=0 built a network that gave
    NaNs or failed deep inside PyTorch (ZeroDivisionError, TypeError)."""
    with pytest.raises(AlexNetError) as error:
        AlexNet(**{"init": "pytorch", **options})
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("cls", [FourLayerCNN, CifarAlexNet])
def test_absurd_options_of_the_cifar_models(cls):
    for options, message in [(dict(num_classes=0), "num_classes must be an integer >= 1, got 0"),
                             (dict(activation="gelu"), "activation must be one of")]:
        with pytest.raises(AlexNetError, match=message):
            cls(**options)


def test_the_models_use_the_papers_dropout_and_keep_the_choice_in_their_config():
    """§4.2: ×(1 − p) at test time. Before, every model used nn.Dropout (×1/(1 − p) in
    training); the style is now an option, stored in model.config, so a checkpoint rebuilds the
    same model."""
    torch.manual_seed(0)
    paper = CifarAlexNet(dropout=0.5).eval()
    inverted = CifarAlexNet(dropout=0.5, dropout_style="inverted").eval()
    assert paper.config["dropout_style"] == "paper"
    assert inverted.config["dropout_style"] == "inverted"
    inverted.load_state_dict(paper.state_dict())
    x = torch.randn(2, 3, 32, 32) * 50
    fc6 = paper.classifier[:2](paper.features(x).flatten(1))     # fc6 after its ReLU
    torch.testing.assert_close(paper.classifier[2](fc6), 0.5 * fc6)
    torch.testing.assert_close(inverted.classifier[2](fc6), fc6)
    assert type(build_model(inverted.config).classifier[2]) is nn.Dropout
    assert type(build_model(paper.config).classifier[2]) is PaperDropout


def test_a_config_from_before_dropout_style_rebuilds_the_inverted_dropout_it_was_trained_with():
    old = dict(CifarAlexNet().config)
    del old["dropout_style"]
    assert type(build_model(old).classifier[2]) is nn.Dropout


def test_cifar_alexnet_docstring_states_the_true_share_of_macs_and_parameters():
    """The docstring said 1/2000 of the MACs; the layer table counts about 1/41."""
    full = sum(r.macs for r in layer_table(AlexNet(init="pytorch")))
    small = sum(r.macs for r in layer_table(CifarAlexNet()))
    ratio = full / small
    assert 40.5 < ratio < 41.5
    assert f"1/{round(ratio)} of its multiply-adds" in " ".join(CifarAlexNet.__doc__.split())
    params = sum(p.numel() for p in CifarAlexNet().parameters())
    assert f"({params:,})" in CifarAlexNet.__doc__
    assert f"1/{round(60_965_224 / params)} of its parameters" in " ".join(CifarAlexNet.__doc__.split())


def test_build_model_refuses_what_it_cannot_build():
    with pytest.raises(AlexNetError, match="unknown architecture 'ResNet'"):
        build_model({"arch": "ResNet"})
    with pytest.raises(AlexNetError, match="the model config names option.s. wings that "
                                           "FourLayerCNN does not have"):
        build_model({"arch": "FourLayerCNN", "wings": 2})


def test_model_and_two_tower_modules_do_not_import_each_other_in_a_cycle():
    import ast
    import alexnet.model

    tree = ast.parse(open(alexnet.model.__file__).read())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "two_tower" not in imported and "architectures" not in imported


def test_without_conv4_keeps_a_working_network():
    """§7: a middle conv layer removed; the old import from alexnet.reproduce keeps working."""
    from alexnet import reproduce

    assert reproduce.without_conv is without_conv
    model = without_conv(CifarAlexNet())
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and model.config["removed"] == "conv4"
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(AlexNetError, match="conv4 .* would see conv2"):
        without_conv(CifarAlexNet(), "conv3")


def test_one_activation_table_for_every_model_and_the_analysis():
    from alexnet import analysis, two_tower

    assert set(ACTIVATIONS) == {"relu", "tanh", "sigmoid"}                # §3.1
    for name, unit in ACTIVATIONS.items():
        small = AlexNet(channels=(2, 2, 2, 2, 2), hidden=2, activation=name, init="pytorch")
        assert {type(m) for m in small.modules()} & set(ACTIVATIONS.values()) == {unit}
        four = FourLayerCNN(activation=name)
        assert {type(m) for m in four} & set(ACTIVATIONS.values()) == {unit}
    assert two_tower.ACTIVATIONS is ACTIVATIONS
    x = torch.linspace(-3, 3, 7)
    for name, unit in ACTIVATIONS.items():
        assert torch.equal(analysis.ACTIVATIONS[LABELS[name]](x), unit()(x))

