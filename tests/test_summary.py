"""The layer table of chapter 1 against the counts worked out by hand from §3.5's layer sizes
(60,965,224 parameters; about 724.4 million multiply-adds per 224×224 image), the 224 puzzle
(§3.5) and the traffic between GPUs (§3.2)."""
import pytest
import torch

import alexnet
from alexnet import AlexNet, summary
from alexnet.errors import AlexNetError
from alexnet.summary import format_table, layer_table


def test_weight_layers_match_the_hand_counts():
    rows = [r for r in layer_table(AlexNet()) if r.params]
    # per layer: k*k*c_in/groups*c_out weights + c_out biases, and k*k*c_in/groups MACs per output
    assert [(r.name, r.output, r.params, r.macs) for r in rows] == [
        ("conv1", (96, 55, 55), 11 * 11 * 3 * 96 + 96, 55 * 55 * 96 * 11 * 11 * 3),
        ("conv2", (256, 27, 27), 5 * 5 * 48 * 256 + 256, 27 * 27 * 256 * 5 * 5 * 48),
        ("conv3", (384, 13, 13), 3 * 3 * 256 * 384 + 384, 13 * 13 * 384 * 3 * 3 * 256),
        ("conv4", (384, 13, 13), 3 * 3 * 192 * 384 + 384, 13 * 13 * 384 * 3 * 3 * 192),
        ("conv5", (256, 13, 13), 3 * 3 * 192 * 256 + 256, 13 * 13 * 256 * 3 * 3 * 192),
        ("fc6", (4096,), 9216 * 4096 + 4096, 9216 * 4096),
        ("fc7", (4096,), 4096 * 4096 + 4096, 4096 * 4096),
        ("fc8", (1000,), 4096 * 1000 + 1000, 4096 * 1000),
    ]
    assert sum(r.params for r in rows) == 60_965_224
    assert round(sum(r.macs for r in rows) / 1e6, 1) == 724.4   # worked out by hand: ≈724.4M


def test_format_table_has_totals():
    text = format_table(layer_table(AlexNet()), weights_only=True)
    assert text.splitlines()[-1].split() == ["total", "60,965,224", "724,406,816"]
    assert len(text.splitlines()) == 10


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
    """Chapter 7's number: AlexNet's split moves less than data parallelism below ~1,040."""
    from alexnet.two_tower import crossing_traffic

    torch.manual_seed(0)
    towers = alexnet.TwoTowerAlexNet(devices=("cpu", "cpu"), init="pytorch").eval()
    per_image = sum(r["bytes_per_image"] for r in crossing_traffic(towers, torch.randn(1, 3, 224,
                                                                                       224)))
    parameters = sum(p.numel() for p in alexnet.AlexNet(init="pytorch").parameters())
    assert 1000 < summary.crossover_batch(per_image, parameters) < 1100
