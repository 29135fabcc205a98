"""Figures the reader can change in a running notebook (ipywidgets).

On the book's static page a widget does nothing without a kernel; each chapter pairs its widget
with :func:`alexnet.viz.figure_tabs`, a few settings of the same figure as tabs.
"""
from __future__ import annotations

import matplotlib.pyplot as plt

from .publish import image_of

__all__ = ["interactive_figure"]


def _figure_of(drawn):
    """The Figure that a drawing function returned (a Figure, an Axes, or None: the current one)."""
    if drawn is None:
        return plt.gcf()
    return drawn if isinstance(drawn, plt.Figure) else drawn.figure


def interactive_figure(draw, photo: bool = False, **controls):
    """A figure the reader can change: the ipywidgets ``controls`` (given by keyword) above an
    output area where ``draw(**values)`` draws (it returns a Figure or an Axes, and does not call
    ``plt.show()``); the figure is redrawn whenever a control changes.

    Unlike ``ipywidgets.interactive``, the first figure goes into the output area's state directly
    instead of being printed while the cell runs. So the cell's stored output is the widget alone,
    which strict nbval can compare (it cannot replay the ``clear_output`` that ``interactive``
    sends). With ``photo``, figures are shown as JPEGs (:func:`alexnet.viz.image_of`), which keeps
    a figure of photographs small in the saved notebook.
    """
    import ipywidgets as widgets
    from IPython.display import display

    output = widgets.Output()

    def render(change=None):
        figure = _figure_of(draw(**{name: c.value for name, c in controls.items()}))
        shown = image_of(figure, photo=True) if photo else figure
        if change is None:
            output.append_display_data(shown)
        else:
            output.clear_output(wait=True)
            with output:
                display(shown)
        plt.close(figure)

    for control in controls.values():
        control.observe(render, names="value")
    render()
    return widgets.VBox([*controls.values(), output])
