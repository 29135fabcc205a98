"""The book's figures (alexnet.viz), chapters 1 to 9: each draws what it says, fits the book's
column and uses no font below 10 points (checked on every figure a test leaves open), and the
publishing helpers write what myst-nb reads."""
import pytest
import torch
from torch import nn

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import alexnet  # noqa: E402
from alexnet import viz  # noqa: E402
from alexnet.data import TensorImages  # noqa: E402
from alexnet.errors import AlexNetError  # noqa: E402
from alexnet.summary import layer_table  # noqa: E402


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


# ---------------------------------------------------------------- style

def test_too_small_text_finds_small_fonts():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("fine")
    ax.text(0, 0, "tiny", fontsize=7)
    assert viz.too_small_text(fig) == ["'tiny' (7 pt)"]
    plt.close(fig)


def test_figures_use_the_book_style_whatever_the_global_settings():
    with matplotlib.rc_context({"font.size": 6, "xtick.labelsize": 5, "legend.fontsize": 4}):
        ax = viz.plot_traffic([16, 32], per_image=1000, parameters=1000, highlight=16)
    assert ax.xaxis.get_ticklabels()[0].get_fontsize() >= 10
    assert ax.get_legend().get_texts()[0].get_fontsize() >= 10


# ---------------------------------------------------------------- chapter 1

def test_draw_architecture_labels_the_live_model():
    ax = viz.draw_architecture(alexnet.AlexNet(init="pytorch"))
    texts = [t.get_text() for t in ax.texts]
    assert "60,965,224 parameters" in ax.get_title()
    assert "conv2 128×27×27" in texts and "fc8 1000" in texts and "GPU 2" in texts
    assert "37.75M" in texts                                   # fc6's parameters
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


# ---------------------------------------------------------------- chapters 2-4

def test_chapter_figures_draw():
    assert len(viz.plot_activations().axes) == 2
    assert "0.500" in viz.plot_saturation("ReLU", 2.0).get_title()
    assert len(viz.plot_expected_gradient([0.5, 1, 2]).lines) == 3
    image = viz.simultaneous_contrast().images[0].get_array()
    assert image[22, 30] == image[22, 90]          # A and B are the same grey
    assert image[5, 5] != image[5, 115]            # on different surrounds
    ax = viz.plot_lrn_response(k=1.0, reference=dict(k=2.0, n=5, alpha=1e-4, beta=0.75))
    assert len(ax.lines) == 4
    assert "1 never seen (12)" in viz.draw_pooling(13, 2, 2).get_title()
    assert len(viz.draw_pooling(13, 3, 2).lines) == 6
    assert len(viz.draw_pooling(31, 5, 1).lines) == 27


def test_feature_maps_share_one_divisor_scale():
    torch.manual_seed(0)
    maps = torch.relu(torch.randn(8, 9, 9) * 100)
    fig = viz.show_lrn_maps(torch.zeros(3, 32, 32), maps, (0, 3, 5), k=1.0)
    divisors = [im for ax in fig.axes for im in ax.images if im.get_cmap().name == "magma"]
    assert len(divisors) == 3 and len({im.get_clim() for im in divisors}) == 1
    assert "k=1" in fig.get_suptitle()


# ---------------------------------------------------------------- results

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
    assert len(rates.lines) == 4 and rates.get_xscale() == "log"
    fig = viz.plot_claim({"tests": [test, {"name": "x", "verdict": "not measured"}, test]})
    assert [panel.get_title() for panel in fig.axes] == [ax.get_title()] * 2


def test_plot_epochs_to_marks_runs_that_never_get_there():
    fast = [{"epoch": e, "train_top1": v} for e, v in enumerate([0.7, 0.5, 0.3], start=1)]
    slow = [{"epoch": e, "train_top1": v} for e, v in enumerate([0.8, 0.7, 0.6], start=1)]
    ax = viz.plot_epochs_to({"ReLU": fast, "tanh": [slow]}, [0.7, 0.5, 0.3])
    lines = [line for line in ax.lines if len(line.get_xdata()) == 3]
    assert list(lines[0].get_ydata()) == [1.0, 2.0, 3.0]
    assert list(lines[1].get_ydata()) == [2.0, 3.0, 3.0]      # 50% and 30%: not reached in 3
    hollow = [line for line in ax.lines if line.get_markerfacecolor() == "white"]
    assert len(hollow) == 2 + 1                                 # two points and the legend entry


# ---------------------------------------------------------------- widgets and publishing

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


@pytest.fixture
def displayed(monkeypatch):
    """What IPython.display.display was given: (object, keyword arguments) pairs."""
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append((obj, kw)))
    return shown


def test_glue_writes_what_myst_nb_glue_writes(displayed, monkeypatch):
    myst_nb = pytest.importorskip("myst_nb.ext.glue")
    monkeypatch.setattr(myst_nb, "ipy_display", lambda obj, **kw: displayed.append((obj, kw)))
    viz.glue("number", 0.25)
    myst_nb.glue("number", 0.25, display=False)
    assert displayed[0] == displayed[1]
    viz.glue("words", "60,965,224 parameters")
    bundle, options = displayed[2]
    assert bundle == {viz.publish.GLUE_PREFIX + "text/plain": "60,965,224 parameters"}
    assert options["metadata"]["scrapbook"] == {"name": "words",
                                                "mime_prefix": viz.publish.GLUE_PREFIX}


def test_glue_stores_a_figure_as_an_image_and_closes_it(displayed):
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    InteractiveShell.instance()                   # a shell whose formatters draw figures
    set_matplotlib_formats("png")
    ax = viz.draw_pooling(13, 3, 2)
    viz.glue("pooling", ax)
    (bundle, _), = displayed
    assert viz.publish.GLUE_PREFIX + "image/png" in bundle
    assert plt.get_fignums() == []


def test_glue_with_alt_stores_a_figure_as_an_img_that_keeps_its_alt_text(displayed):
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    InteractiveShell.instance()
    set_matplotlib_formats("png")
    viz.glue("pooling", viz.draw_pooling(13, 3, 2), alt='Windows "3 wide"\nevery 2')
    (bundle, _), = displayed
    img = bundle[viz.publish.GLUE_PREFIX + "text/html"]
    assert img.startswith('<img src="data:image/png;base64,iVBORw0KGgo')
    assert img.endswith('alt="Windows &quot;3 wide&quot; every 2">')
    assert viz.publish.GLUE_PREFIX + "image/png" not in bundle and plt.get_fignums() == []


def test_figure_tabs_glue_each_figure_and_show_a_tab_set(displayed):
    figures = {"z=3, s=2": viz.draw_pooling(13, 3, 2), "z=2, s=2": viz.draw_pooling(13, 2, 2)}
    viz.figure_tabs("pool", figures, {"z=3, s=2": "overlapping\nwindows", "z=2, s=2": "tiled"})
    names = [kw["metadata"]["scrapbook"]["name"] for _, kw in displayed[:2]]
    assert names == ["pool-0", "pool-1"]
    tabs = displayed[2][0]["text/markdown"]
    assert tabs.startswith("::::{tab-set}\n:::{tab-item} z=3, s=2\n```{glue:figure} pool-0\n")
    assert ":alt: overlapping windows\n" in tabs and tabs.endswith("::::\n")
    assert "z=2, s=2" in displayed[2][0]["text/html"]


def test_claim_table_has_three_columns_with_the_papers_number_beside_the_test():
    result = {"tests": [{"name": "test error, a − b", "paper": "2 points", "unit": "points",
                         "estimate": 0.7, "low": -0.9, "high": 2.4, "level": 0.95,
                         "verdict_words": "Not testable."}]}
    header, rule, row = viz.claim_table(result).data.splitlines()
    assert header == "| test (the paper) | ours (95% CI) | verdict |" and rule.count("|") == 4
    assert row.startswith("| test error, a − b (the paper: 2 points) | ")
    assert row.endswith(" | Not testable. |")


def test_markdown_table_from_dicts_or_rows():
    table = viz.markdown_table([{"layer": "conv1", "bytes": "1|2"}, {"layer": "fc6", "bytes": 3}],
                               align="lr")
    assert table.data.splitlines() == ["| layer | bytes |", "|:--|--:|", "| conv1 | 1\\|2 |",
                                       "| fc6 | 3 |"]
    assert viz.markdown_table([[1, 2]], ["a", "b"]).data.splitlines()[2] == "| 1 | 2 |"


def test_wrapped_folds_long_lines_under_their_indent():
    text = "short\n    (5): Conv2d(96, 256, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2), groups=2)"
    lines = viz.wrapped(text, 60).splitlines()
    assert lines[0] == "short" and all(len(line) <= 60 for line in lines)
    assert lines[2].startswith("        ") and " ".join(l.strip() for l in lines[1:]) == \
        text.splitlines()[1].strip()


def test_image_of_saves_twice_the_resolution_and_shows_the_figures_size():
    ax = viz.draw_pooling(13, 3, 2)
    width = viz.shown_width(ax.figure)
    png, jpeg = viz.image_of(ax), viz.image_of(viz.draw_pooling(13, 3, 2), photo=True)
    assert png.format == "png" and jpeg.format == "jpeg"
    assert abs(png.width - width) <= 2 and jpeg.width == png.width
    assert png.data[:4] == b"\x89PNG" and jpeg.data[:2] == b"\xff\xd8"
    assert plt.get_fignums() == []


# ---------------------------------------------------------------- figures of chapters 5-9

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
    red_rgb = matplotlib.colors.to_rgb(viz.CROSS_COLOUR)
    red = [[p.get_facecolor()[:3] == red_rgb for p in ax.patches] for ax in bars]
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


def _primary(claim, unit, estimate, low, high, paper, direction, **more):
    test = {"name": f"{claim} test", "primary": True, "unit": unit, "estimate": estimate,
            "low": low, "high": high, "paper_value": paper, "direction": direction, **more}
    return {"claim": claim, "tests": [{"name": "secondary", "unit": "pp"}, test]}


def test_forest_draws_each_primary_interval_in_its_unit_with_the_papers_value():
    import math
    results = [_primary("relu", "log", math.log(3), math.log(2), math.log(4.5), math.log(6),
                        "paper"),
               _primary("lrn", "pp", 0.5, -1.0, 2.0, 2.0, "inconclusive"),
               _primary("overlap", "pp", 0.1, -0.5, 0.7, 0.4, "not testable", testable=False),
               _primary("filters", "share", 0.6, 0.3, 0.85, None, "paper", null_rate=0.05)]
    fig = viz.plot_forest(results, names={"relu": "2. ReLU"})
    assert len(fig.axes) == 4
    relu, lrn, overlap, filters = fig.axes
    interval = lambda ax: next(l for l in ax.lines if len(l.get_xdata()) == 2  # noqa: E731
                               and l.get_linewidth() == 2.5)
    assert relu.get_xscale() == "log"
    assert list(interval(relu).get_xdata()) == pytest.approx([2, 4.5])
    paper = [l for l in relu.lines if l.get_marker() == "D"]
    assert paper[0].get_xdata()[0] == pytest.approx(6)
    assert list(interval(filters).get_xdata()) == pytest.approx([30, 85])
    assert [l.get_xdata()[0] for l in filters.lines if l.get_linestyle() == "--"] == [5.0]
    assert not [l for l in filters.lines if l.get_marker() == "D"]     # no paper value
    assert interval(overlap).get_color() == "grey" and interval(lrn).get_color() == "black"
    texts = [[t.get_text() for t in ax.texts] for ax in fig.axes]
    assert texts == [["2. ReLU", "paper's way"], ["lrn", "inconclusive"],
                     ["overlap", "not testable"], ["filters", "paper's way"]]


def test_forest_without_a_primary_test_says_so():
    with pytest.raises(AlexNetError, match="primary"):
        viz.plot_forest([{"claim": "lrn", "tests": [{"name": "x", "unit": "pp"}]}])


def test_departures_show_as_one_dropdown_each_with_every_field(monkeypatch):
    import IPython.display

    from alexnet import departures

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda data, raw: shown.append(data))
    rows = departures.departures()
    viz.departures_box(rows)
    myst = shown[0]["text/markdown"]
    titles = [line.removeprefix(":::{dropdown} ") for line in myst.splitlines()
              if line.startswith(":::{dropdown}")]
    assert titles == [r["name"] for r in rows]
    assert myst.count("\n:::\n") == len(rows)          # every dropdown closed
    for r in rows:
        assert r["paper"] in myst and r["why"] in myst and f"`{r['setting']}`" in myst


def test_glue_claim_names_the_seeds_a_not_testable_test_needed(monkeypatch):
    from alexnet import reproduce

    glued = {}
    monkeypatch.setattr(viz.publish, "glue", lambda name, value, display=False:
                        glued.__setitem__(name, value))
    monkeypatch.setattr(reproduce, "describe", lambda test: test["name"])
    monkeypatch.setattr(reproduce, "estimate_text", lambda test: f"{test['estimate']:+.1f}")
    result = {"setting": "s", "provenance": {"device": "cpu"}, "tests": [
        {"name": "primary", "n": 5, "estimate": 0.7, "paper": "2 points", "mde": None,
         "seeds_needed": 17, "testable": False, "declared_effect": 2.0, "arms": {"unit": "error", "means": {"a": 0.3}}},
        {"name": "secondary", "n": 5, "estimate": 0.05, "paper": "-", "mde": None}]}
    viz.glue_claim("lrn", result)
    assert glued["lrn-0-needed"] == "17" and glued["lrn-1-needed"] == "–"
    assert glued["lrn-0-effect"] == "2.0" and glued["lrn-1-effect"] == "–"
    assert glued["lrn-0-estimate"] == "+0.7" and glued["lrn-seeds"] == "5"
