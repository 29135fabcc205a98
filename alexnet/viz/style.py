"""How the book's figures look: sized for the page's column, fonts readable there, sharp on
high-resolution screens.

The book's text column is about 690 pixels wide at a 1280-pixel window. A figure saved at 100 dpi
and at most :data:`COLUMN_WIDTH` inches wide is shown at its own size, so a 10-point font stays
10 points. Wider figures are scaled down, and their fonts with them; so figures here have at most
two plot panels a row, and image grids short titles.
"""
from __future__ import annotations

import functools

import matplotlib as mpl
import matplotlib.pyplot as plt

__all__ = ["COLUMN_WIDTH", "MIN_FONT_SIZE", "RC", "use_book_style", "styled", "new_figure",
           "axes_or_new", "too_small_text", "shown_width"]

#: The widest figure, in inches, that the book's column shows at its own size (at 100 dpi).
COLUMN_WIDTH = 6.8
#: The smallest font, in points, of any text in a figure.
MIN_FONT_SIZE = 10

#: Matplotlib settings of every figure drawn by :mod:`alexnet.viz` (and, after
#: :func:`use_book_style`, of a chapter's own figures).
RC = {
    "figure.figsize": (COLUMN_WIDTH, 3.4),
    "figure.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
}


def use_book_style(retina: bool = True) -> None:
    """Apply :data:`RC` to every figure from now on; in a notebook, with ``retina``, figures are
    stored at twice their resolution and shown at their size (sharp on high-resolution screens).
    """
    mpl.rcParams.update(RC)
    if not retina:
        return
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def styled(draw):
    """Decorator: ``draw`` makes its figure with :data:`RC`, whatever the global settings."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(RC):
            return draw(*args, **kwargs)
    return wrapper


def new_figure(width: float = COLUMN_WIDTH, height: float = 3.4, **kwargs):
    """``plt.subplots(figsize=(width, height), **kwargs)``: (figure, axes)."""
    return plt.subplots(figsize=(width, height), **kwargs)


def axes_or_new(ax, width: float = COLUMN_WIDTH, height: float = 3.4):
    """``ax``, or the axes of a new figure of that size."""
    if ax is not None:
        return ax
    return new_figure(width, height)[1]


def too_small_text(figure) -> list[str]:
    """The visible texts of ``figure`` (titles, labels, tick labels, legends, annotations) set
    below :data:`MIN_FONT_SIZE`, as ``"text (size pt)"``; what the tests check is empty."""
    small = []
    for text in figure.findobj(mpl.text.Text):
        if text.get_visible() and text.get_text().strip() and text.get_fontsize() < MIN_FONT_SIZE:
            small.append(f"{text.get_text()!r} ({text.get_fontsize():g} pt)")
    return small


def shown_width(figure) -> int:
    """The width in pixels at which the book shows ``figure``: saved at 100 dpi, cropped to what
    it draws (as the notebook's inline backend saves it), legends outside the axes included."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return Image.open(buffer).size[0]
