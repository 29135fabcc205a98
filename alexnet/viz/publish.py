"""Putting results on the book's page: numbers into sentences, figures into tabs, tables.

The book is built from the notebooks' stored outputs (Jupyter Book with myst-nb, nothing
re-executed), so whatever a sentence, a tab or a table shows must be an output of a cell:

- :func:`glue` stores a value under a name, hidden; a Markdown cell pastes it with myst-nb's
  ``{glue:}`name``` role (text) or ``{glue:figure}`` directive (a figure). The same format as
  ``myst_nb.glue``, written here so that a chapter also runs where myst-nb is not installed
  (Colab).
- :func:`figure_tabs` shows a few settings of a figure as tabs on the page (sphinx-design), the
  static counterpart of a widget, which needs a running kernel.
- :func:`markdown_table` turns rows into a table that renders on the page and in Jupyter.
"""
from __future__ import annotations

import html

__all__ = ["GLUE_PREFIX", "glue", "figure_tabs", "markdown_table"]

#: The MIME prefix under which myst-nb finds hidden glued outputs.
GLUE_PREFIX = "application/papermill.record/"


def _figure(value):
    """The matplotlib Figure of ``value`` (a Figure or an Axes), or None."""
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if isinstance(value, Axes):
        return value.figure
    return value if isinstance(value, Figure) else None


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value`` in this cell's outputs under ``name`` for myst-nb's glue roles.

    A ``str`` is stored as itself (``{glue:}`name``` pastes it without quotes); a matplotlib
    Figure or Axes as its image, and the figure is then closed, so that the notebook does not
    also show it; anything else as IPython displays it. Hidden unless ``display``.
    """
    from IPython.core.formatters import format_display_data
    from IPython.display import display as show

    figure = _figure(value)
    if isinstance(value, str):
        bundle, metadata = {"text/plain": value}, {}
    else:
        bundle, metadata = format_display_data(figure if figure is not None else value)
    prefix = "" if display else GLUE_PREFIX
    metadata = dict(metadata, scrapbook={"name": name, "mime_prefix": prefix})
    show({prefix + mime: data for mime, data in bundle.items()}, raw=True, metadata=metadata)
    if figure is not None:
        import matplotlib.pyplot as plt

        plt.close(figure)


def figure_tabs(name: str, figures: dict, alt: dict) -> None:
    """Show ``figures`` (label -> Figure or Axes) as tabs on the book's page, each image with its
    alt text ``alt[label]``.

    The figures are glued as ``name-0``, ``name-1``... and a MyST ``tab-set`` of ``glue:figure``
    directives is displayed as Markdown (the book renders output Markdown as MyST). Jupyter shows
    the HTML part instead, one line that names the settings: there, the widget is the way to
    see them.
    """
    items = []
    for i, (label, figure) in enumerate(figures.items()):
        glue(f"{name}-{i}", figure)
        text = " ".join(alt[label].split())
        items.append(f":::{{tab-item}} {label}\n```{{glue:figure}} {name}-{i}\n:alt: {text}\n```\n"
                     ":::\n")
    tabs = "::::{tab-set}\n" + "".join(items) + "::::\n"
    settings = ", ".join(html.escape(label) for label in figures)
    note = (f"<p><em>On the book's page: one tab per setting ({settings}). "
            "Here, use the controls above.</em></p>")
    from IPython.display import display

    display({"text/markdown": tabs, "text/html": note}, raw=True)


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows, columns=None, align=None):
    """A Markdown table (an IPython ``Markdown`` object, shown as a table in Jupyter and on the
    book's page). ``rows`` is a list of dicts (``columns`` picks and orders their keys, all keys
    by default) or of sequences (``columns`` names them). ``align`` is one of "l", "r", "c" per
    column (numbers read best right-aligned)."""
    from IPython.display import Markdown

    rows = list(rows)
    if rows and isinstance(rows[0], dict):
        columns = list(columns or rows[0])
        rows = [[row.get(c, "") for c in columns] for row in rows]
    columns = list(columns)
    marks = {"l": ":--", "r": "--:", "c": ":-:"}
    rule = [marks[a] for a in align] if align else ["---"] * len(columns)
    lines = ["| " + " | ".join(map(_cell, columns)) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(map(_cell, row)) + " |" for row in rows]
    return Markdown("\n".join(lines))
