"""The model-parallel network of §3.2 computes the same function as the grouped AlexNet, and
what crosses between its towers is what the paper's split sends."""
import pytest
import torch
from torch import nn

import alexnet.two_tower as two_tower
from alexnet import AlexNet, AlexNetError, TwoTowerAlexNet

CPU2 = ("cpu", "cpu")


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(1)
    grouped = AlexNet(init="pytorch").eval()     # random weights with non-trivial biases
    return grouped, TwoTowerAlexNet.from_grouped(grouped, CPU2).eval()


def test_same_function_as_the_grouped_model(pair):
    grouped, towers = pair
    x = torch.randn(3, 3, 224, 224) * 60
    torch.testing.assert_close(towers(x), grouped(x), rtol=1e-5, atol=1e-6)


def test_round_trip_gives_back_the_same_weights(pair):
    grouped, towers = pair
    back = towers.to_grouped()
    for (name, p), (name2, q) in zip(grouped.state_dict().items(), back.state_dict().items()):
        assert name == name2 and torch.equal(p, q), name


def test_same_gradients_in_training():
    torch.manual_seed(2)
    grouped = AlexNet(dropout=0.0, init="pytorch")
    towers = TwoTowerAlexNet.from_grouped(grouped, CPU2)
    x, y = torch.randn(2, 3, 224, 224) * 60, torch.tensor([3, 997])
    for m in (grouped, towers):
        nn.functional.cross_entropy(m(x), y).backward()
    grads_from_towers = towers_grads_as_grouped(towers)
    assert grads_from_towers.keys() == dict(grouped.named_parameters()).keys()
    for name, p in grouped.named_parameters():
        torch.testing.assert_close(grads_from_towers[name], p.grad, rtol=1e-4, atol=1e-7)


def towers_grads_as_grouped(towers):
    """Put the towers' gradients through the same weight mapping as to_grouped."""
    for p in towers.parameters():
        p.data, p.grad = p.grad, None
    return dict(towers.to_grouped().named_parameters())


def test_each_tower_keeps_its_half_on_its_device():
    net = TwoTowerAlexNet(devices=CPU2)
    assert sum(p.numel() for p in net.parameters()) == 60_965_224
    halves = [sum(p.numel() for p in t.parameters()) for t in net.towers]
    assert halves[0] == halves[1]
    assert all(p.device == d for t, d in zip(net.towers, net.devices) for p in t.parameters())
    conv1 = net.towers[0].block1[1]
    assert (conv1.out_channels, net.towers[0].fc6[0].out_features) == (48, 2048)


def test_activations_cross_devices_only_at_conv3_fc6_fc7_fc8():
    rows = two_tower.crossing_traffic(TwoTowerAlexNet(devices=CPU2), torch.randn(1, 3, 224, 224))
    # into conv3 (both towers read both halves of pool2), into fc6, fc7 (both towers), into fc8
    assert [(r["layer"], r["to_tower"]) for r in rows] == list(two_tower.CROSSINGS)
    assert [r["values_per_image"] for r in rows] == \
        [128 * 13 * 13] * 2 + [4608] * 2 + [2048] * 2 + [2048]


def test_options_carry_over():
    grouped = AlexNet(lrn=False, overlap_pooling=False, activation="tanh", dropout=0.0)
    towers = TwoTowerAlexNet.from_grouped(grouped, CPU2)
    assert towers.config["lrn"] is False and towers.config["activation"] == "tanh"
    x = torch.randn(1, 3, 224, 224) * 60
    torch.testing.assert_close(towers.eval()(x), grouped.eval()(x), rtol=1e-5, atol=1e-6)


def test_the_towers_use_the_dropout_style_of_their_grouped_twin():
    from alexnet.dropout import PaperDropout

    assert type(TwoTowerAlexNet(devices=CPU2).towers[0].fc6[2]) is PaperDropout
    inverted = AlexNet(dropout_style="inverted", init="pytorch")
    towers = TwoTowerAlexNet.from_grouped(inverted, CPU2)
    assert towers.config["dropout_style"] == "inverted"
    assert type(towers.towers[1].fc7[2]) is nn.Dropout
    assert type(towers.to_grouped().classifier[2]) is nn.Dropout


def test_bad_input():
    with pytest.raises(AlexNetError, match=r"needs two devices \(one per tower\), got \['cpu'\]"):
        TwoTowerAlexNet(devices=("cpu",))
    with pytest.raises(AlexNetError, match="from_grouped needs an AlexNet with groups=2, got groups=1"):
        TwoTowerAlexNet.from_grouped(AlexNet(groups=1), CPU2)
    with pytest.raises(AlexNetError, match=r"shape \(N, 3, 224, 224\), got \(1, 3, 32, 32\)"):
        TwoTowerAlexNet(devices=CPU2)(torch.zeros(1, 3, 32, 32))
    with pytest.raises(AlexNetError, match="hidden=4095 must be even: each tower holds half"):
        TwoTowerAlexNet(devices=CPU2, hidden=4095)
    with pytest.raises(AlexNetError, match=r"unknown device in \['cpu', 'gpu'\]"):
        TwoTowerAlexNet(devices=("cpu", "gpu"))
    with pytest.raises(AlexNetError, match="num_classes must be an integer >= 1, got 0"):
        TwoTowerAlexNet(0, devices=CPU2)


# ---------------------------------------------------------------- §3.2: traffic between towers

@pytest.fixture(scope="module")
def small_towers():
    torch.manual_seed(0)
    return TwoTowerAlexNet(10, ("cpu", "cpu"), channels=(8, 16, 24, 24, 16), hidden=32,
                           init="pytorch").eval()


def test_traffic_is_the_other_towers_half_at_each_crossing(small_towers):
    rows = two_tower.crossing_traffic(small_towers, torch.randn(3, 3, 224, 224))
    assert [(r["layer"], r["to_tower"]) for r in rows] == list(two_tower.CROSSINGS)
    values = {r["layer"]: r["values_per_image"] for r in rows}
    # conv3 gets the other tower's 8 pooled conv2 maps of 13x13; fc6 its 8 pooled conv5 maps of
    # 6x6; fc7 and fc8 its 16 units
    assert values == {"conv3": 8 * 13 * 13, "fc6": 8 * 6 * 6, "fc7": 16, "fc8": 16}
    assert all(r["bytes_per_image"] == 4 * r["values_per_image"] for r in rows)   # float32


def test_traffic_per_image_does_not_depend_on_the_batch_and_the_spy_is_removed(small_towers):
    one = two_tower.crossing_traffic(small_towers, torch.randn(1, 3, 224, 224))
    four = two_tower.crossing_traffic(small_towers, torch.randn(4, 3, 224, 224))
    assert one == four
    assert two_tower.gather.__name__ == "gather"


def test_full_size_traffic_matches_the_papers_shapes():
    torch.manual_seed(0)
    net = TwoTowerAlexNet(devices=("cpu", "cpu"), init="pytorch").eval()
    rows = two_tower.crossing_traffic(net, torch.randn(1, 3, 224, 224))
    assert [r["values_per_image"] for r in rows] == [128 * 13 * 13] * 2 + [128 * 6 * 6] * 2 + \
           [2048] * 3


# ---------------------------------------------------------------- figures
