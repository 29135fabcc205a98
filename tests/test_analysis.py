"""Figure 3's colour-specificity index and Figure 4's neighbours and top-k predictions, on
constructed filters, features and small networks; and the numbers chapters 2 to 4 rest on:
saturation (§3.1), LRN at work (§3.3), pooled maps under small shifts (§3.4)."""
import math

import pytest
import torch
from torch import nn

import alexnet
from alexnet import CifarAlexNet, FourLayerCNN, analysis
from alexnet.analysis import (colour_specificity, conv1_weight, last_hidden_features,
                              nearest_neighbours, neighbour_agreement, pixel_rank, split_test,
                              top_k_predictions, tower_colour_specificity)
from alexnet.errors import AlexNetError


def filters(r, g, b, n=1, size=5, seed=0):
    """n kernels whose R, G and B planes are the same random pattern scaled by r, g, b."""
    pattern = torch.randn(n, 1, size, size, generator=torch.Generator().manual_seed(seed))
    return pattern * torch.tensor([r, g, b], dtype=torch.float32).view(1, 3, 1, 1)


# ---------------------------------------------------------------- colour specificity

def test_a_grey_kernel_has_no_colour():
    assert colour_specificity(filters(1, 1, 1, n=4)).abs().max() < 1e-6


def test_a_kernel_on_one_channel_is_colour_specific():
    index = colour_specificity(filters(1, 0, 0, n=3))
    assert torch.allclose(index, torch.full((3,), 2 / 3), atol=1e-6)   # the most one channel can be


def test_an_opponent_kernel_is_purely_colour():
    assert torch.allclose(colour_specificity(filters(1, -1, 0)), torch.ones(1), atol=1e-6)


def test_the_index_ignores_the_kernels_scale_and_sign():
    w = filters(0.3, 1.0, -0.2, n=2)
    assert torch.allclose(colour_specificity(w), colour_specificity(-7 * w), atol=1e-6)


def test_towers_are_the_two_halves_of_the_output_channels():
    w = torch.cat([filters(1, 1, 1, n=4), filters(0, 0, 1, n=4, seed=1)])
    grey, colour = tower_colour_specificity(w)
    assert grey == pytest.approx(0, abs=1e-6) and colour == pytest.approx(2 / 3, abs=1e-6)


def test_a_real_split_is_significant_and_a_random_one_is_not():
    split = torch.cat([torch.full((16,), 0.1), torch.full((16,), 0.6)]) + 0.01 * torch.rand(32)
    assert split_test(split, permutations=500) < 0.01
    mixed = torch.rand(32, generator=torch.Generator().manual_seed(1))
    assert split_test(mixed, permutations=500) > 0.05


def test_bad_kernels_are_refused():
    with pytest.raises(AlexNetError, match=r"\(K, 3, h, w\)"):
        colour_specificity(torch.randn(4, 1, 5, 5))


def test_conv1_weight_of_a_cifar_alexnet():
    assert conv1_weight(CifarAlexNet()).shape == (32, 3, 5, 5)


# ---------------------------------------------------------------- features and neighbours

@pytest.mark.parametrize("make,width", [(CifarAlexNet, 512), (FourLayerCNN, 1024)])
def test_last_hidden_features_are_the_input_of_the_output_layer(make, width):
    torch.manual_seed(0)
    model, x = make(), torch.randn(6, 3, 32, 32) * 50
    features = last_hidden_features(model, x, batch_size=4)
    assert features.shape == (6, width)
    if make is CifarAlexNet:   # fc7 after ReLU (dropout is off in eval mode)
        expected = model.classifier[:-1](torch.flatten(model.features(x), 1))
        assert torch.allclose(features, expected, atol=1e-5)
        assert not model.training


def test_nearest_neighbours_of_constructed_points():
    database = torch.tensor([[0.0, 0], [10, 0], [0, 10], [1, 1]])
    distances, indices = nearest_neighbours(torch.tensor([[0.2, 0.1], [9, 1]]), database, k=2)
    assert indices.tolist() == [[0, 3], [1, 3]]
    assert distances[0, 0] == pytest.approx(math.hypot(0.2, 0.1), rel=1e-5)


def test_neighbour_agreement_on_clustered_features():
    torch.manual_seed(0)
    centres = torch.randn(3, 8) * 20
    labels = torch.arange(3).repeat_interleave(10)
    database = centres[labels] + torch.randn(30, 8)
    queries = centres + torch.randn(3, 8)
    _, indices = nearest_neighbours(queries, database, k=5)
    assert neighbour_agreement(torch.arange(3), labels, indices).tolist() == [1.0, 1.0, 1.0]
    shuffled = labels[torch.randperm(30)]
    assert neighbour_agreement(torch.arange(3), shuffled, indices).mean() < 1


def test_pixel_rank_puts_the_pixel_nearest_at_zero():
    database = torch.tensor([[0.0], [1], [2], [3], [4]])
    ranks = pixel_rank(torch.tensor([[0.1]]), database, torch.tensor([[0, 4]]))
    assert ranks.tolist() == [[0.0, 1.0]]


def test_k_larger_than_the_database_is_refused():
    with pytest.raises(AlexNetError, match="database holds 2"):
        nearest_neighbours(torch.zeros(1, 2), torch.zeros(2, 2), k=3)


def test_top_k_predictions_are_sorted_probabilities():
    torch.manual_seed(0)
    probabilities, classes = top_k_predictions(FourLayerCNN(), torch.randn(4, 3, 32, 32), k=5)
    assert probabilities.shape == classes.shape == (4, 5)
    assert (probabilities[:, :-1] >= probabilities[:, 1:]).all()
    assert (probabilities.sum(1) <= 1 + 1e-6).all()


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



def test_lrn_maps_per_gpu_are_what_the_networks_own_layer_computes():
    torch.manual_seed(0)
    maps = torch.relu(torch.randn(8, 5, 5) * 100).double()
    after, divisor = analysis.lrn_maps(maps, groups=2)
    assert torch.allclose(after, alexnet.LocalResponseNorm(groups=2)(maps[None])[0])
    assert torch.allclose(after, maps / divisor)
    across, _ = analysis.lrn_maps(maps)                  # one window over all eight maps
    differ = (after - across).abs().amax(dim=(1, 2)) > 1e-12
    assert differ.nonzero().flatten().tolist() == [2, 3, 4, 5]   # the windows cut at the middle

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


# ---------------------------------------------------------------- §3.4: pooling and small shifts

def test_pooled_shift_change_is_zero_for_a_constant_image_and_smaller_with_overlap():
    flat = torch.ones(1, 1, 12, 12)
    assert analysis.pooled_shift_change(nn.Identity(), flat, 3) == 0.0
    torch.manual_seed(0)
    smooth = nn.functional.avg_pool2d(torch.rand(4, 1, 40, 40), 5, 1)
    assert analysis.pooled_shift_change(nn.Identity(), smooth, 3) < \
        analysis.pooled_shift_change(nn.Identity(), smooth, 2)
