"""The layer table of chapter 1 against the counts worked out by hand from §3.5's layer sizes
(60,965,224 parameters; about 724.4 million multiply-adds per 224×224 image)."""
from alexnet import AlexNet
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
