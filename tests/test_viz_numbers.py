"""The numbers the book's figures rest on, computed where they belong (alexnet.analysis and
alexnet.summary): saturation (§3.1), LRN at work (§3.3), pooling windows and shifts (§3.4), the
224 puzzle (§3.5), and the traffic between GPUs (§3.2)."""
import pytest
import torch
from torch import nn

import alexnet
from alexnet import analysis, summary
from alexnet.errors import AlexNetError


# ---------------------------------------------------------------- §3.1: saturation

@pytest.mark.parametrize("spread", [0.1, 1.0, 3.0, 10.0])
def test_relu_passes_half_the_gradient_whatever_the_spread(spread):
    assert analysis.expected_gradient("ReLU", spread) == pytest.approx(0.5, abs=1e-9)


def test_saturating_units_pass_less_gradient_as_inputs_spread():
    for name, at_zero in (("tanh", 1.0), ("sigmoid", 0.25)):
        values = [analysis.expected_gradient(name, s) for s in (0.01, 0.5, 1.0, 2.0, 5.0)]
        assert values[0] == pytest.approx(at_zero, rel=1e-3)      # f'(0)
        assert values == sorted(values, reverse=True)
    # tanh'(x) = 1 - tanh(x)^2: a Monte Carlo estimate agrees with the grid
    torch.manual_seed(0)
    x = torch.randn(400_000, dtype=torch.float64) * 2
    assert analysis.expected_gradient("tanh", 2.0) == pytest.approx(
        float((1 - torch.tanh(x) ** 2).mean()), abs=3e-3)


def test_activation_gradient_is_autograds():
    x = torch.tensor([-2.0, 0.0, 0.5, 3.0])
    y, gradient = analysis.activation_gradient("tanh", x)
    assert torch.allclose(gradient, 1 - torch.tanh(x.double()) ** 2)
    assert analysis.activation_gradient("ReLU", x)[1].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_expected_gradient_rejects_unknown_activations_and_spreads():
    with pytest.raises(AlexNetError, match="activation"):
        analysis.expected_gradient("gelu", 1.0)
    with pytest.raises(AlexNetError, match="positive"):
        analysis.expected_gradient("tanh", 0.0)


# ---------------------------------------------------------------- §3.3: LRN at work

def test_lrn_response_is_the_formula_with_alpha_on_the_sum_or_divided_by_n():
    a = torch.tensor([0.0, 10.0, 90.0, 300.0], dtype=torch.float64)
    k, n, alpha, beta = 2.0, 5, 1e-4, 0.75
    paper = analysis.lrn_response(a, n, alpha, beta, k)
    pytorch = analysis.lrn_response(a, n, alpha, beta, k, alpha_per_term=True)
    assert torch.allclose(paper, a / (k + alpha * n * a**2) ** beta, rtol=1e-12)
    assert torch.allclose(pytorch, a / (k + alpha * a**2) ** beta, rtol=1e-12)
    alone = analysis.lrn_response(a, n, alpha, beta, k, active=1)
    assert torch.allclose(alone, a / (k + alpha * a**2) ** beta, rtol=1e-12)


def test_lrn_maps_divide_by_the_divisor_they_return():
    torch.manual_seed(0)
    maps = torch.relu(torch.randn(8, 5, 5) * 100)
    after, divisor = analysis.lrn_maps(maps, n=3, alpha=1e-3, beta=0.5, k=1.0)
    assert torch.allclose(after, maps.double() / divisor)
    expected = alexnet.LocalResponseNorm(3, 1e-3, 0.5, 1.0)(maps.double()[None])[0]
    assert torch.allclose(after, expected)
    # map 0's window is maps 0 and 1 (cut at the edge)
    edge = (1.0 + 1e-3 * (maps[0].double() ** 2 + maps[1].double() ** 2)) ** 0.5
    assert torch.allclose(divisor[0], edge)


def test_first_layer_maps_stop_before_the_first_lrn():
    torch.manual_seed(0)
    net = alexnet.FourLayerCNN(lrn=True)
    images = torch.randn(2, 3, 32, 32)
    expected = net[2](net[1](net[0](images)))                    # conv1, ReLU, max-pool
    assert torch.equal(analysis.first_layer_maps(net, images), expected)
    model = alexnet.CifarAlexNet(init="pytorch").eval()
    conv1 = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    maps = analysis.first_layer_maps(model, images)
    assert maps.shape[:2] == (2, conv1.out_channels) and (maps >= 0).all()   # after the ReLU
    with pytest.raises(AlexNetError, match="no LocalResponseNorm"):
        analysis.first_layer_maps(alexnet.FourLayerCNN(), images)


# ---------------------------------------------------------------- §3.4: pooling

@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("size,window,stride", [(55, 3, 2), (55, 2, 2), (27, 3, 2), (13, 3, 2),
                                                (13, 2, 2), (32, 3, 2), (10, 4, 3), (9, 1, 1),
                                                (7, 5, 1)])
def test_pooling_windows_are_pytorchs(size, window, stride, ceil_mode):
    windows = summary.pooling_windows(size, window, stride, ceil_mode)
    pool = nn.MaxPool1d(window, stride, ceil_mode=ceil_mode)
    x = torch.arange(size, dtype=torch.float64)[None, None]
    assert len(windows) == pool(x).shape[-1]
    # a max-pool over 0, 1, 2, ... returns the last index of each window
    assert [stop - 1 for _, stop in windows] == pool(x)[0, 0].long().tolist()
    assert all(0 <= start < stop <= size for start, stop in windows)


def test_alexnets_pools_keep_the_size_and_overlap():
    for size, out in ((55, 27), (27, 13), (13, 6)):
        overlapping = summary.pooling_windows(size, 3, 2)
        assert len(overlapping) == len(summary.pooling_windows(size, 2, 2)) == out
        assert min(summary.pooling_coverage(size, 3, 2)) == 1          # every input seen
        assert max(summary.pooling_coverage(size, 3, 2)) == 2          # neighbours share one
        assert summary.pooling_coverage(size, 2, 2) == [1] * (size - 1) + [0]  # the last: none
    assert summary.pooling_windows(55, 3, 2)[-1] == (52, 55)


def test_pooling_windows_reject_impossible_windows():
    with pytest.raises(AlexNetError, match="does not fit"):
        summary.pooling_windows(3, 5, 2)
    with pytest.raises(AlexNetError, match="at least 1"):
        summary.pooling_windows(10, 3, 0)


def test_pooled_shift_change_is_zero_for_a_constant_image_and_smaller_with_overlap():
    flat = torch.ones(1, 1, 12, 12)
    assert analysis.pooled_shift_change(nn.Identity(), flat, 3) == 0.0
    torch.manual_seed(0)
    smooth = nn.functional.avg_pool2d(torch.rand(4, 1, 40, 40), 5, 1)
    assert analysis.pooled_shift_change(nn.Identity(), smooth, 3) < \
        analysis.pooled_shift_change(nn.Identity(), smooth, 2)


# ---------------------------------------------------------------- §3.5: the 224 puzzle

def test_window_positions_is_the_papers_puzzle():
    assert summary.window_positions(224, 11, 4) == 54.25
    assert summary.window_positions(227, 11, 4) == 55
    assert summary.window_positions(224, 11, 4, padding=4) == 55.25
    with pytest.raises(AlexNetError, match="at least 1"):
        summary.window_positions(224, 11, 0)


# ---------------------------------------------------------------- §3.2: traffic

def test_traffic_counts_all_gpus_on_both_sides():
    # two GPUs: each sends its whole gradient once in a ring all-reduce
    assert summary.data_parallel_bytes(1000) == 2 * 4 * 1000
    assert summary.data_parallel_bytes(1000, gpus=4) == 4 * 1.5 * 4 * 1000
    assert summary.model_parallel_bytes(per_image=10, batch=128) == 2 * 128 * 10
    batch = summary.crossover_batch(per_image=10, parameters=1000)
    assert summary.model_parallel_bytes(10, batch) == summary.data_parallel_bytes(1000)
    with pytest.raises(AlexNetError, match="at least 2"):
        summary.data_parallel_bytes(1000, gpus=1)


def test_alexnets_crossover_is_about_a_thousand_images():
    """Chapter 6's number: AlexNet's split moves less than data parallelism below ~1,040."""
    from alexnet.two_tower import crossing_traffic

    torch.manual_seed(0)
    towers = alexnet.TwoTowerAlexNet(devices=("cpu", "cpu"), init="pytorch").eval()
    per_image = sum(r["bytes_per_image"] for r in crossing_traffic(towers, torch.randn(1, 3, 224,
                                                                                       224)))
    parameters = sum(p.numel() for p in alexnet.AlexNet(init="pytorch").parameters())
    assert 1000 < summary.crossover_batch(per_image, parameters) < 1100
