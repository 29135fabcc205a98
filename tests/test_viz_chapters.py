"""What chapters 5-8 rest on: the paper's dropout (§4.2) and the classifier-only run, the traffic
between the two towers (§3.2), and the figures of photographs, results, filters and neighbours."""
import pytest
import torch
from torch import nn

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import alexnet.two_tower as two_tower  # noqa: E402
from alexnet import CifarAlexNet, TwoTowerAlexNet, viz  # noqa: E402
from alexnet.data import TensorImages  # noqa: E402
from alexnet.dropout import PaperDropout, fc_head, fit_head  # noqa: E402
from alexnet.errors import AlexNetError  # noqa: E402


@pytest.fixture(autouse=True)
def readable_figures():
    """After each test: every figure it drew fits the column, and no text is below 10 pt."""
    yield
    try:
        for number in plt.get_fignums():
            figure = plt.figure(number)
            assert viz.too_small_text(figure) == []
            assert viz.shown_width(figure) <= 100 * viz.COLUMN_WIDTH + 20   # pixels, as saved
    finally:
        plt.close("all")


# ---------------------------------------------------------------- §4.2: dropout

def test_paper_dropout_halves_at_test_time_and_only_masks_in_training():
    x = torch.arange(1.0, 9.0)
    layer = PaperDropout(0.5)
    assert torch.equal(layer.eval()(x), 0.5 * x)
    torch.manual_seed(0)
    out = layer.train()(x)
    assert set((out / x).tolist()) <= {0.0, 1.0}            # kept as is, or zeroed


def test_paper_dropout_drops_the_units_nn_dropout_drops_without_rescaling():
    x = torch.rand(4, 100) + 0.5
    torch.manual_seed(3)
    paper = PaperDropout(0.3).train()(x)
    torch.manual_seed(3)
    inverted = nn.Dropout(0.3).train()(x)
    torch.testing.assert_close(inverted, paper / 0.7)


@pytest.mark.parametrize("p", [0.25, 0.5, 0.75])
def test_training_and_test_expectations_match_for_both_kinds(p):
    x = torch.linspace(1, 4, 6)
    torch.manual_seed(0)
    for layer in (PaperDropout(p), nn.Dropout(p)):
        mean = layer.train()(x.expand(200_000, -1)).mean(0)
        torch.testing.assert_close(mean, layer.eval()(x), rtol=0.02, atol=0)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_paper_dropout_refuses_probabilities_outside_zero_to_one(p):
    with pytest.raises(AlexNetError, match="dropout probability"):
        PaperDropout(p)


def test_fc_head_is_alexnets_classifier():
    head, classifier = fc_head(1024, 512, 10, 0.5), CifarAlexNet().classifier
    assert [type(m) for m in head] == [type(m) for m in classifier]
    assert [tuple(p.shape) for p in head.parameters()] == \
           [tuple(p.shape) for p in classifier.parameters()]
    assert [m.p for m in head if isinstance(m, nn.Dropout)] == [0.5, 0.5]


@pytest.fixture(scope="module")
def toy():
    """Two Gaussian blobs per class in 20 dimensions, 4 classes: easy to learn by heart."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 20, generator=g) * 3
    def draw(n):
        y = torch.arange(n) % 4
        return centres[y] + torch.randn(n, 20, generator=g) * 2, y
    return (*draw(200), *draw(200))


def test_fit_head_measures_both_errors_after_every_epoch(toy):
    rows = fit_head(*toy, dropout=0.0, epochs=4, lr=0.01, hidden=64)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    for r in rows:
        assert 0 <= r["train_error"] <= 1 and 0 <= r["test_error"] <= 1
        assert r["gap"] == pytest.approx(r["test_error"] - r["train_error"])
    assert rows[-1]["train_error"] < 0.75            # it learns (chance is 75%)


def test_fit_head_is_reproducible_from_its_seed(toy):
    first = fit_head(*toy, dropout=0.5, epochs=2, lr=0.01, hidden=32, seed=7)
    again = fit_head(*toy, dropout=0.5, epochs=2, lr=0.01, hidden=32, seed=7)
    assert first == again


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
    assert two_tower._gather.__name__ == "_gather"


def test_full_size_traffic_matches_the_papers_shapes():
    torch.manual_seed(0)
    net = TwoTowerAlexNet(devices=("cpu", "cpu"), init="pytorch").eval()
    rows = two_tower.crossing_traffic(net, torch.randn(1, 3, 224, 224))
    assert [r["values_per_image"] for r in rows] == [128 * 13 * 13] * 2 + [128 * 6 * 6] * 2 + \
           [2048] * 3


# ---------------------------------------------------------------- figures

def test_seed_curves_group_runs_by_variant_and_skip_empty_curves():
    runs = [{"variant": "a", "curve": [{"epoch": 1, "val_top1": 0.5}]},
            {"variant": "b", "curve": [{"epoch": 1, "val_top1": 0.6}]},
            {"variant": "a", "curve": [{"epoch": 1, "val_top1": 0.4}]},
            {"variant": "b", "curve": []}]
    grouped = viz.seed_curves(runs)
    assert list(grouped) == ["a", "b"] and [len(v) for v in grouped.values()] == [2, 1]
    assert list(viz.seed_curves([{"activation": "relu", "curve": [{}]}], "activation")) == ["relu"]


def test_display_images_are_clipped_to_the_unit_range():
    images = torch.tensor([-20.0, 0.0, 127.5, 255.0, 300.0]).view(1, 1, 1, 5).expand(2, 3, 1, 5)
    shown = viz.as_display_images(images)
    assert shown.shape == (2, 1, 5, 3)
    assert shown[0, 0, :, 0].tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert viz.as_display_images(torch.zeros(3, 4, 4, dtype=torch.uint8)).shape == (1, 4, 4, 3)


def test_show_images_draws_one_titled_panel_per_image():
    fig = viz.show_images(torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8),
                          [f"t{i}" for i in range(5)], ncols=3, suptitle="five")
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 6 and len(drawn) == 5
    assert [ax.get_title() for ax in drawn] == [f"t{i}" for i in range(5)]


def test_traffic_plot_has_a_line_per_kind_of_parallelism():
    ax = viz.plot_traffic([16, 32, 64], per_image=1000, parameters=12_500, highlight=32)
    model, data = ax.lines[:2]
    assert list(model.get_ydata()) == pytest.approx([0.032, 0.064, 0.128])     # MB
    assert list(data.get_ydata()) == pytest.approx([0.1] * 3)                  # 2 x 4 x 12,500
    assert "batch 32" in ax.get_title()
    assert any("equal at 50" in t.get_text() for t in ax.texts)


def test_filters_are_drawn_with_zero_at_mid_grey():
    weight = torch.zeros(3, 3, 5, 5)
    weight[0, 0, 0, 0], weight[1, 1, 2, 2], weight[2, 2, 4, 4] = 1.0, -2.0, 0.5
    ax = viz.plot_filters(weight, ncols=2)
    canvas = ax.images[0].get_array()
    assert canvas.shape == (11, 11, 3)                # 2 rows and 2 columns of 5x5, 1-pixel gaps
    assert canvas[0, 0].tolist() == [1.0, 0.5, 0.5]   # the largest weight is full red
    assert canvas[2, 6 + 2].tolist() == [0.5, 0.0, 0.5]   # kernel 1 (row 0, column 1): no green
    assert canvas[6 + 4, 4].tolist() == [0.5, 0.5, 1.0]   # kernel 2 (row 1, column 0): full blue
    assert canvas[0, 5].tolist() == [1.0, 1.0, 1.0]       # the white gap between kernels


def test_tower_filters_put_each_half_in_its_own_titled_panel():
    fig = viz.plot_tower_filters(torch.randn(32, 3, 5, 5), index=[0.25, 0.75])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["tower 1 (GPU 1): colour index 0.25",
                      "tower 2 (GPU 2): colour index 0.75"]


def test_kernel_index_plot_marks_each_towers_mean():
    ax = viz.plot_kernel_index([0.1, 0.3, 0.8, 1.0])
    means = [line.get_ydata()[0] for line in ax.lines if line.get_linewidth() == 3]
    assert means == pytest.approx([0.2, 0.9])


def test_top5_marks_the_true_class_in_red():
    images = torch.zeros(2, 3, 8, 8)
    classes, probabilities = [[1, 2, 0, 3, 4], [5, 6, 7, 8, 9]], [[0.5, 0.2, 0.1, 0.1, 0.1]] * 2
    fig = viz.plot_top5(images, classes, probabilities, [f"c{i}" for i in range(10)], [0, 0],
                        ncols=2)
    bars = [ax for ax in fig.axes if ax.patches]
    red = [[p.get_facecolor() == matplotlib.colors.to_rgba(viz.CROSS_COLOUR) for p in ax.patches]
           for ax in bars]
    assert red == [[False, False, True, False, False], [False] * 5]


def test_neighbour_examples_show_the_query_then_its_neighbours_by_features_and_pixels():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 3, 4, 4) * 20
    train = TensorImages(images.contiguous(), torch.arange(10), [f"c{i}" for i in range(10)])
    test = TensorImages(images[:3].contiguous(), torch.tensor([7, 8, 9]),
                        [f"c{i}" for i in range(10)])
    examples = [{"test_index": 2, "by_features": [9, 8], "by_pixels": [1, 2]}]
    fig = viz.plot_neighbour_examples(examples, train, test)
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes] == ["c9", "c9", "c8", "c9", "c1", "c2"]
    assert [fig.axes[0].get_ylabel(), fig.axes[3].get_ylabel()] == ["fc7", "pixels"]
