"""Overlapping pooling (§3.4): the windows counted as PyTorch counts them, AlexNet's pools keep the
size and overlap, and every model's pooling layers come from alexnet.pooling."""
import pytest
import torch
from torch import nn

from alexnet import AlexNet, CifarAlexNet, FourLayerCNN, TwoTowerAlexNet, pooling
from alexnet.errors import AlexNetError


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("size,window,stride", [(55, 3, 2), (55, 2, 2), (27, 3, 2), (13, 3, 2),
                                                (13, 2, 2), (32, 3, 2), (10, 4, 3), (9, 1, 1),
                                                (7, 5, 1)])
def test_pooling_windows_are_pytorchs(size, window, stride, ceil_mode):
    windows = pooling.pooling_windows(size, window, stride, ceil_mode)
    pool = nn.MaxPool1d(window, stride, ceil_mode=ceil_mode)
    x = torch.arange(size, dtype=torch.float64)[None, None]
    assert len(windows) == pool(x).shape[-1]
    # a max-pool over 0, 1, 2, ... returns the last index of each window
    assert [stop - 1 for _, stop in windows] == pool(x)[0, 0].long().tolist()
    assert all(0 <= start < stop <= size for start, stop in windows)


def test_alexnets_pools_keep_the_size_and_overlap():
    for size, out in ((55, 27), (27, 13), (13, 6)):
        overlapping = pooling.pooling_windows(size, 3, 2)
        assert len(overlapping) == len(pooling.pooling_windows(size, 2, 2)) == out
        assert min(pooling.pooling_coverage(size, 3, 2)) == 1          # every input seen
        assert max(pooling.pooling_coverage(size, 3, 2)) == 2          # neighbours share one
        assert pooling.pooling_coverage(size, 2, 2) == [1] * (size - 1) + [0]  # the last: none
    assert pooling.pooling_windows(55, 3, 2)[-1] == (52, 55)


def test_pooling_windows_reject_impossible_windows():
    with pytest.raises(AlexNetError, match="does not fit"):
        pooling.pooling_windows(3, 5, 2)
    with pytest.raises(AlexNetError, match="at least 1"):
        pooling.pooling_windows(10, 3, 0)


def test_pooled_size_is_pytorchs_and_gives_the_models_last_maps():
    for size, z, s, ceil_mode in ((55, 3, 2, False), (13, 2, 2, False), (8, 3, 2, True)):
        pool = pooling.pool_layer(z, s, ceil_mode=ceil_mode)
        pooled = pool(torch.zeros(1, 1, size, size))
        assert pooling.pooled_size(size, z, s, ceil_mode) == pooled.shape[-1]
    for overlap in (True, False):
        z, s = pooling.pool_window(overlap)
        side = 55                                                      # conv1 of AlexNet
        for _ in range(3):
            side = pooling.pooled_size(side, z, s)
        assert side == AlexNet.pooled_size
        side = 32                                                      # conv1 of CifarAlexNet
        for _ in range(3):
            side = pooling.pooled_size(side, z, s, ceil_mode=True)
        assert side == CifarAlexNet.pooled_size


def windows(model: nn.Module) -> list[tuple]:
    return [(type(m).__name__, m.kernel_size, m.stride, m.ceil_mode) for m in model.modules()
            if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d))]


@pytest.mark.parametrize("overlap", [True, False])
def test_every_model_pools_with_the_one_window(overlap):
    z, s = pooling.pool_window(overlap)
    assert (z, s) == ((3, 2) if overlap else (2, 2))                   # §3.4
    small = dict(channels=(4, 8, 8, 8, 4), hidden=8, overlap_pooling=overlap, init="pytorch")
    assert windows(AlexNet(**small)) == [("MaxPool2d", z, s, False)] * 3
    assert windows(CifarAlexNet(**small)) == [("MaxPool2d", z, s, True)] * 3
    towers = TwoTowerAlexNet(devices=("cpu", "cpu"), **small)
    assert windows(towers) == [("MaxPool2d", z, s, False)] * 6         # three in each tower
    assert windows(FourLayerCNN()) == [("MaxPool2d", 3, 2, True)] + [("AvgPool2d", 3, 2, True)] * 2


def test_the_pooling_arithmetic_is_still_importable_from_summary():
    from alexnet import summary

    assert summary.pooling_windows is pooling.pooling_windows
    assert summary.pooling_coverage is pooling.pooling_coverage
