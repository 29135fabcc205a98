r"""The book's figures, one module per concept of the paper.

Every function draws one figure, or into the ``ax`` it is given, and returns what it drew (an Axes
or a Figure); the notebook calls ``plt.show()``. Nothing here trains or changes a model, and the
numbers the figures rest on are computed where they belong (:mod:`alexnet.analysis`,
:mod:`alexnet.summary`). Figures fit the book's column (:mod:`~alexnet.viz.style`). Matplotlib is
needed (``pip install alexnet[book]``).

============================  ===========================================================  =====
module                        draws                                                         ch.
============================  ===========================================================  =====
:mod:`.architecture`          the network as in Figure 2; the side of its maps              1, 6
:mod:`.activations`           ReLU, tanh, sigmoid and the gradient they pass (§3.1)         2
:mod:`.lrn`                   lateral inhibition; LRN's curve; LRN on real feature maps     3
:mod:`.pooling`               which inputs each pooling window sees (§3.4)                  4
:mod:`.images`                photographs in a grid: crops, flips, lighting, ten patches    1, 5
:mod:`.parallel`              bytes between GPUs per step, model vs data parallelism        6
:mod:`.results`               curves; a claim's per-seed values; the ledger's forest plot   2–8
:mod:`.neighbours`            Figure 4: top-5 predictions, nearest neighbours (§6.1)        7
:mod:`.filters`               Figure 3: conv1 kernels per tower, their colour index         8
:mod:`.widgets`               a figure with controls (ipywidgets)                           1–8
:mod:`.publish`               glued numbers and figures, tabs of settings, tables           1–8
:mod:`.style`                 figure sizes and fonts for the page                           1–8
============================  ===========================================================  =====
"""
from .activations import ACTIVATION_COLOURS, plot_activations, plot_expected_gradient, \
    plot_saturation
from .architecture import CROSS_COLOUR, GPU_COLOURS, draw_architecture, plot_map_sizes
from .filters import plot_filters, plot_kernel_index, plot_tower_filters
from .images import as_display_images, show_augmentations, show_images
from .lrn import plot_lrn_response, show_feature_maps, show_lrn_maps, simultaneous_contrast
from .neighbours import plot_neighbour_examples, plot_neighbours, plot_top5
from .parallel import plot_traffic
from .pooling import draw_pooling
from .publish import claim_table, departures_box, figure_tabs, glue, glue_claim, glue_run_means, \
    image_of, markdown_table, show_photo, wrapped
from .results import plot_arms, plot_claim, plot_confusion, plot_curves, \
    plot_epochs_to, plot_forest, plot_learning_rates, seed_curves
from .style import COLUMN_WIDTH, shown_width, too_small_text, use_book_style
from .widgets import interactive_figure

__all__ = ["ACTIVATION_COLOURS", "as_display_images", "claim_table", "COLUMN_WIDTH",
           "CROSS_COLOUR", "departures_box", "draw_architecture", "draw_pooling",
           "figure_tabs", "glue", "glue_claim", "glue_run_means", "image_of", "show_photo",
           "GPU_COLOURS", "interactive_figure",
           "markdown_table", "plot_activations", "plot_arms", "plot_claim",
           "plot_confusion", "plot_curves", "plot_epochs_to", "plot_expected_gradient",
           "plot_filters", "plot_forest", "plot_kernel_index", "plot_learning_rates",
           "plot_lrn_response", "plot_map_sizes", "plot_neighbour_examples",
           "plot_neighbours", "plot_saturation", "plot_top5", "plot_tower_filters",
           "plot_traffic", "seed_curves", "show_augmentations", "show_feature_maps",
           "show_images", "show_lrn_maps", "shown_width", "simultaneous_contrast", "too_small_text",
           "use_book_style", "wrapped"]
