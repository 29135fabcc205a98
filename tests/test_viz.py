"""The book's figures (alexnet.viz): the numbers they rest on, and that each one draws."""
import math

import pytest
import torch
from torch import nn

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import alexnet  # noqa: E402
from alexnet import viz  # noqa: E402
from alexnet.errors import AlexNetError  # noqa: E402
from alexnet.summary import layer_table  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------- §3.1: saturation

@pytest.mark.parametrize("spread", [0.1, 1.0, 3.0, 10.0])
def test_relu_passes_half_the_gradient_whatever_the_spread(spread):
    assert viz.expected_gradient("ReLU", spread) == pytest.approx(0.5, abs=1e-9)


def test_saturating_units_pass_less_gradient_as_inputs_spread():
    for name, at_zero in (("tanh", 1.0), ("sigmoid", 0.25)):
        values = [viz.expected_gradient(name, s) for s in (0.01, 0.5, 1.0, 2.0, 5.0)]
        assert values[0] == pytest.approx(at_zero, rel=1e-3)      # f'(0)
        assert values == sorted(values, reverse=True)
    # tanh'(x) = 1 - tanh(x)^2: a Monte Carlo estimate agrees with the grid
    torch.manual_seed(0)
    x = torch.randn(400_000, dtype=torch.float64) * 2
    assert viz.expected_gradient("tanh", 2.0) == pytest.approx(
        float((1 - torch.tanh(x) ** 2).mean()), abs=3e-3)


def test_expected_gradient_rejects_unknown_activations_and_spreads():
    with pytest.raises(AlexNetError, match="activation"):
        viz.expected_gradient("gelu", 1.0)
    with pytest.raises(AlexNetError, match="positive"):
        viz.expected_gradient("tanh", 0.0)


# ---------------------------------------------------------------- §3.4: pooling windows

@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("size,window,stride", [(55, 3, 2), (55, 2, 2), (27, 3, 2), (13, 3, 2),
                                                (13, 2, 2), (32, 3, 2), (10, 4, 3), (9, 1, 1),
                                                (7, 5, 1)])
def test_pooling_windows_are_pytorchs(size, window, stride, ceil_mode):
    windows = viz.pooling_windows(size, window, stride, ceil_mode)
    pool = nn.MaxPool1d(window, stride, ceil_mode=ceil_mode)
    x = torch.arange(size, dtype=torch.float64)[None, None]
    assert len(windows) == pool(x).shape[-1]
    # a max-pool over 0, 1, 2, ... returns the last index of each window
    assert [stop - 1 for _, stop in windows] == pool(x)[0, 0].long().tolist()
    assert all(0 <= start < stop <= size for start, stop in windows)


def test_alexnets_pools_keep_the_size_and_overlap():
    for size, out in ((55, 27), (27, 13), (13, 6)):
        overlapping, plain = viz.pooling_windows(size, 3, 2), viz.pooling_windows(size, 2, 2)
        assert len(overlapping) == len(plain) == out
        assert min(viz.pooling_coverage(size, 3, 2)) == 1          # every input seen
        assert max(viz.pooling_coverage(size, 3, 2)) == 2          # neighbours share a row
        assert viz.pooling_coverage(size, 2, 2) == [1] * (size - 1) + [0]  # the last one dropped
    assert viz.pooling_windows(55, 3, 2)[-1] == (52, 55)


def test_pooling_windows_reject_impossible_windows():
    with pytest.raises(AlexNetError, match="does not fit"):
        viz.pooling_windows(3, 5, 2)
    with pytest.raises(AlexNetError, match="at least 1"):
        viz.pooling_windows(10, 3, 0)


# ---------------------------------------------------------------- §3.3: LRN curve

def test_lrn_curve_is_the_formula_with_alpha_on_the_sum_or_divided_by_n():
    a = torch.tensor([0.0, 10.0, 90.0, 300.0], dtype=torch.float64)
    k, n, alpha, beta = 2.0, 5, 1e-4, 0.75
    paper = viz._lrn_curve(a, n, n, alpha, beta, k)
    pytorch = viz._lrn_curve(a, n, n, alpha, beta, k, alpha_per_term=True)
    assert torch.allclose(paper, a / (k + alpha * n * a**2) ** beta, rtol=1e-12)
    assert torch.allclose(pytorch, a / (k + alpha * a**2) ** beta, rtol=1e-12)
    alone = viz._lrn_curve(a, 1, n, alpha, beta, k)
    assert torch.allclose(alone, a / (k + alpha * a**2) ** beta, rtol=1e-12)


# ---------------------------------------------------------------- every figure draws

def test_draw_architecture_labels_the_live_model():
    ax = viz.draw_architecture(alexnet.AlexNet(init="pytorch"))
    texts = [t.get_text() for t in ax.texts]
    assert "60,965,224 parameters" in ax.get_title()
    assert "conv2\n128×27×27" in texts and "fc8\n1000" in texts and "GPU 2" in texts
    reds = [p for p in ax.patches if type(p).__name__ == "FancyArrowPatch"
            and matplotlib.colors.same_color(p.get_edgecolor(), viz.CROSS_COLOUR)]
    # crossing arrows: into conv3, fc6, fc7 (2 each) and fc8 (both GPUs into one block)
    assert len(reds) == 2 + 2 + 2 + 2
    one = viz.draw_architecture(alexnet.AlexNet(groups=1, init="pytorch"))
    assert "GPU 1" not in [t.get_text() for t in one.texts]


def test_plot_map_sizes_flags_a_network_that_does_not_fit_fc6():
    features = alexnet.AlexNet(init="pytorch").features
    fits = viz.plot_map_sizes(layer_table(features, 224), 224, 9216)
    assert "256×6×6 = 9,216" in fits.get_title() and "but" not in fits.get_title()
    unpadded = nn.Sequential(nn.Identity(), *features[1:])
    short = viz.plot_map_sizes(layer_table(unpadded, 224), 224, 9216)
    assert "256×5×5 = 6,400" in short.get_title() and "takes 9,216" in short.get_title()


def test_result_plots_draw():
    history = [{"epoch": e, "train_top1": 0.9 - 0.1 * e} for e in range(1, 5)]
    ax = viz.plot_curves({"ReLU": history, "tanh": [history, history]}, target=0.25)
    assert len(ax.lines) == 4
    test = {"name": "epochs to 25%", "verdict": "reproduced",
            "arms": {"unit": "epochs", "values": {"ReLU": [3.0, 4.0, None], "tanh": [9, 12, 10]}}}
    ax = viz.plot_arms(test)
    assert "reproduced" in ax.get_title()
    with pytest.raises(AlexNetError, match="no per-arm"):
        viz.plot_arms({"name": "x", "verdict": "-"})
    tuning = [{"activation": a, "lr": lr, "final_train_top1": e, "diverged": d, "budget": 12}
              for a, lr, e, d in [("relu", 1e-3, 0.3, False), ("relu", 1e-2, 1.0, True),
                                  ("tanh", 1e-3, 0.6, False), ("tanh", 1e-2, 0.5, False)]]
    rates = viz.plot_learning_rates(tuning)
    assert len(rates.lines) == 4 and rates.get_xscale() == "log" and "12 epochs" in rates.get_ylabel()
    fig = viz.plot_claim({"tests": [test, {"name": "x", "verdict": "not measured"}, test]})
    assert [panel.get_title() for panel in fig.axes] == [ax.get_title()] * 2


def test_chapter_figures_draw():
    assert len(viz.plot_activations().axes) == 2
    assert "0.500" in viz.plot_saturation("ReLU", 2.0).get_title()
    image = viz.simultaneous_contrast().images[0].get_array()
    assert image[22, 30] == image[22, 90]          # A and B are the same grey
    assert image[5, 5] != image[5, 115]            # on different surrounds
    ax = viz.plot_lrn_response(k=1.0, reference=dict(k=2.0, n=5, alpha=1e-4, beta=0.75))
    assert len(ax.lines) == 4
    torch.manual_seed(0)
    maps = torch.rand(4, 8, 8)
    divisor = maps + 1
    divisor[0, 0, 0] = float("nan")                 # a / b where a = 0
    fig = viz.show_feature_maps(torch.zeros(3, 16, 16), maps, maps / 2, divisor, (0, 3))
    assert len(fig.axes) >= 9
    limits = [im.get_clim() for ax in fig.axes for im in ax.images if im.get_cmap().name == "magma"]
    assert limits and all(math.isfinite(low) and math.isfinite(high) for low, high in limits)
    assert "1 never seen (12)" in viz.draw_pooling(13, 2, 2).get_title()
    assert math.isclose(len(viz.draw_pooling(13, 3, 2).lines), 6)


def test_interactive_figure_draws_into_its_output_and_redraws_on_change():
    widgets = pytest.importorskip("ipywidgets")
    calls = []

    def draw(size, padding):
        calls.append((size, padding))
        return viz.draw_pooling(size, 3, 2)

    size = widgets.IntSlider(13, min=5, max=30)
    box = viz.interactive_figure(draw, size=size, padding=widgets.Dropdown(options=["a", "b"]))
    controls, output = box.children[:-1], box.children[-1]
    assert calls == [(13, "a")] and list(controls)[0] is size
    assert len(output.outputs) == 1 and output.outputs[0]["output_type"] == "display_data"
    size.value = 20
    assert calls[-1] == (20, "a")
    assert plt.get_fignums() == []      # every figure handed over is closed


def test_plot_epochs_to_marks_runs_that_never_get_there():
    fast = [{"epoch": e, "train_top1": v} for e, v in enumerate([0.7, 0.5, 0.3], start=1)]
    slow = [{"epoch": e, "train_top1": v} for e, v in enumerate([0.8, 0.7, 0.6], start=1)]
    ax = viz.plot_epochs_to({"ReLU": fast, "tanh": [slow]}, [0.7, 0.5, 0.3])
    lines = [line for line in ax.lines if len(line.get_xdata()) == 3]
    assert list(lines[0].get_ydata()) == [1.0, 2.0, 3.0]
    assert list(lines[1].get_ydata()) == [2.0, 3.0, 3.0]      # 50% and 30%: not reached in 3
    hollow = [line for line in ax.lines if line.get_markerfacecolor() == "white"]
    assert len(hollow) == 2 + 1                                 # two points and the legend entry
