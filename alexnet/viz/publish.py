"""Putting results on the book's page: numbers into sentences, figures into tabs, tables.

The book is built from the notebooks' stored outputs (Jupyter Book with myst-nb, nothing
re-executed), so whatever a sentence, a tab or a table shows must be an output of a cell:

- :func:`glue` stores a value under a name, hidden; a Markdown cell pastes it with myst-nb's
  ``{glue:}`name``` role (text) or ``{glue:figure}`` directive (a figure). The same format as
  ``myst_nb.glue``, written here so that a chapter also runs where myst-nb is not installed
  (Colab).
- :func:`figure_tabs` shows a few settings of a figure as tabs on the page (sphinx-design), the
  static counterpart of a widget, which needs a running kernel.
- :func:`markdown_table` turns rows into a table that renders on the page and in Jupyter;
  :func:`claim_table` is one for a claim's tests.
- :func:`glue_claim` glues what a chapter says about a claim's result, all read from the result
  (:mod:`alexnet.reproduce`): its setting, and each test's estimate, arms and verdict.
- :func:`wrapped` folds long printed lines (a module's repr) to the page's 79 columns.
- :func:`image_of` and :func:`show_photo`: a figure of photographs as a sharp JPEG, a fraction of
  the size of a PNG (the notebooks stay small).
"""
from __future__ import annotations

import html
import textwrap

__all__ = ["GLUE_PREFIX", "image_of", "show_photo", "glue", "glue_claim", "figure_tabs",
           "markdown_table", "claim_table", "departures_box", "wrapped"]

#: The MIME prefix under which myst-nb finds hidden glued outputs.
GLUE_PREFIX = "application/papermill.record/"


def _figure(value):
    """The matplotlib Figure of ``value`` (a Figure or an Axes), or None."""
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if isinstance(value, Axes):
        return value.figure
    return value if isinstance(value, Figure) else None


def image_of(figure, photo: bool = False):
    """``figure`` (a Figure or an Axes) as an IPython ``Image`` saved at twice its resolution and
    shown at its size, as the retina inline backend does: PNG, or with ``photo`` JPEG (quality
    90), which keeps figures of photographs small. The figure is closed."""
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image
    from PIL import Image as Picture

    figure = _figure(figure)
    buffer = io.BytesIO()
    kind = "jpeg" if photo else "png"
    figure.savefig(buffer, format=kind, dpi=2 * figure.dpi, bbox_inches="tight",
                   facecolor="white", **({"pil_kwargs": {"quality": 90}} if photo else {}))
    plt.close(figure)
    width, height = Picture.open(io.BytesIO(buffer.getvalue())).size
    return Image(data=buffer.getvalue(), format=kind, width=width // 2, height=height // 2)


def show_photo(figure) -> None:
    """Display a figure of photographs as a JPEG (:func:`image_of`) in place of ``plt.show()``."""
    from IPython.display import display

    display(image_of(figure, photo=True))


def glue(name: str, value, display: bool = False, alt: str | None = None) -> None:
    """Store ``value`` in this cell's outputs under ``name`` for myst-nb's glue roles.

    A ``str`` is stored as itself (``{glue:}`name``` pastes it without quotes); a matplotlib
    Figure or Axes as its image, and the figure is then closed, so that the notebook does not
    also show it; anything else as IPython displays it. Hidden unless ``display``.

    With ``alt``, a figure is stored as an HTML ``<img>`` with that alt text, for a page that
    pastes it from another document (the ``glue`` directive's ``:doc:`` option): myst-nb gives an
    image pasted across documents no alt text of its own.
    """
    from IPython.core.formatters import format_display_data
    from IPython.display import display as show

    figure = _figure(value)
    if isinstance(value, str):
        bundle, metadata = {"text/plain": value}, {}
    else:
        bundle, metadata = format_display_data(figure if figure is not None else value)
    if alt is not None and "image/png" in bundle:
        width = metadata.get("image/png", {}).get("width")
        size = f' width="{width}"' if width else ""
        bundle = {"text/html": f'<img src="data:image/png;base64,{bundle["image/png"]}" '
                               f'alt="{html.escape(" ".join(alt.split()))}"{size}>',
                  "text/plain": alt}
        metadata = {}
    prefix = "" if display else GLUE_PREFIX
    metadata = dict(metadata, scrapbook={"name": name, "mime_prefix": prefix})
    show({prefix + mime: data for mime, data in bundle.items()}, raw=True, metadata=metadata)
    if figure is not None:
        import matplotlib.pyplot as plt

        plt.close(figure)


def figure_tabs(name: str, figures: dict, alt: dict, photo: bool = False) -> None:
    """Show ``figures`` (label -> Figure or Axes) as tabs on the book's page, each image with its
    alt text ``alt[label]``.

    The figures are glued as ``name-0``, ``name-1``... and a MyST ``tab-set`` of ``glue:figure``
    directives is displayed as Markdown (the book renders output Markdown as MyST). Jupyter shows
    the HTML part instead, one line that names the settings: there, the widget is the way to
    see them. With ``photo``, the images are JPEGs (:func:`image_of`).
    """
    items = []
    for i, (label, figure) in enumerate(figures.items()):
        glue(f"{name}-{i}", image_of(figure, photo) if photo else figure)
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


def wrapped(text: str, width: int = 76) -> str:
    """``text`` with every line longer than ``width`` folded at spaces, the continuation indented
    four spaces deeper than the line: ``print(viz.wrapped(str(model)))`` fits the page."""
    lines = []
    for line in str(text).splitlines():
        indent = line[:len(line) - len(line.lstrip())]
        lines += textwrap.wrap(line, width, initial_indent="", subsequent_indent=indent + "    ",
                               break_long_words=False, break_on_hyphens=False,
                               drop_whitespace=True) if len(line) > width else [line]
    return "\n".join(lines)


def _arm_text(value, kind: str) -> str:
    if value is None:
        return "–"
    if kind in ("error", "gap", "share"):
        return f"{100 * value:.1f}%"
    return f"{value:.1f}" if kind == "epochs" else f"{value:.3f}"


def glue_claim(prefix: str, result: dict) -> None:
    """Glue a claim result's words for the chapter's sentences, under ``prefix``:

    ``prefix-setting`` (our setting in words), ``prefix-device``, ``prefix-seeds``, and for each
    test i: ``prefix-i`` (the whole measurement in a sentence, :func:`alexnet.reproduce.describe`),
    ``prefix-i-estimate`` (the paired difference and its 95% interval), ``prefix-i-verdict``
    (the verdict in words), ``prefix-i-paper`` (the paper's number), ``prefix-i-mde``,
    ``prefix-i-needed`` (the seeds the plan found a primary test needs; "–" for others),
    ``prefix-i-effect`` (the effect the plan asked it to detect) and
    ``prefix-i-arm-j`` (arm j's mean, e.g. a test error).
    """
    from .. import reproduce

    glue(f"{prefix}-setting", result["setting"])
    glue(f"{prefix}-device", result["provenance"]["device"])
    counts = sorted({t["n"] for t in result["tests"] if t.get("n")})   # the seeds each test used
    glue(f"{prefix}-seeds", "–".join(map(str, sorted({counts[0], counts[-1]}))) if counts else "–")
    for i, test in enumerate(result["tests"]):
        glue(f"{prefix}-{i}", reproduce.describe(test))
        glue(f"{prefix}-{i}-estimate", reproduce.estimate_text(test))
        glue(f"{prefix}-{i}-verdict", test.get("verdict_words", "not finalised"))
        glue(f"{prefix}-{i}-paper", test["paper"])
        mde = test.get("mde")
        glue(f"{prefix}-{i}-mde", "–" if mde is None else
             reproduce.estimate_text({**test, "estimate": mde, "low": None, "bound": None})
             .lstrip("+"))
        needed, effect = test.get("seeds_needed"), test.get("declared_effect")
        glue(f"{prefix}-{i}-needed", "–" if needed is None else str(needed))
        glue(f"{prefix}-{i}-effect", "–" if effect is None else
             reproduce.estimate_text({**test, "estimate": effect, "low": None, "bound": None})
             .lstrip("+"))
        arms = test.get("arms", {})
        for j, mean in enumerate(arms.get("means", {}).values()):
            glue(f"{prefix}-{i}-arm-{j}", _arm_text(mean, arms["unit"]))


def glue_run_means(prefix: str, result: dict, key: str = "train_top1") -> dict:
    """Glue the mean of one run metric per arm of a claim result (e.g. the training error, which
    the tests themselves do not report) as ``prefix-key-j`` for arm j, in the order the arms
    first appear in ``result["runs"]``; return the means by arm label."""
    values: dict[str, list] = {}
    for run in result["runs"]:
        if run["metrics"].get(key) is not None:
            values.setdefault(run["arm"], []).append(run["metrics"][key])
    means = {arm: sum(v) / len(v) for arm, v in values.items()}
    kind = "error" if key.endswith(("top1", "gap")) else "loss"
    for j, mean in enumerate(means.values()):
        glue(f"{prefix}-{key}-{j}", _arm_text(mean, kind))
    return means


def claim_table(result: dict):
    """A claim's tests as a table: the test with the paper's number · ours (estimate, 95%
    interval) · verdict. Three columns, so that the verdict stays on a 390-px phone's screen."""
    from .. import reproduce

    rows = [{"test (the paper)": f"{t['name']} (the paper: {t['paper']})",
             "ours (95% CI)": reproduce.estimate_text(t),
             "verdict": t.get("verdict_words", "not finalised")} for t in result["tests"]]
    return markdown_table(rows)


def departures_box(rows: list[dict]) -> None:
    """Show the package's departures from the paper (:func:`alexnet.departures.departures`: name,
    paper, ours, why, setting) on the book's page as one dropdown per departure, titled with its
    name, so that the list reads at a glance and each opens to the paper's text, the package's
    choice, the reason and the setting now; in Jupyter, as an HTML list."""
    from IPython.display import display

    def item(r, bold, em, code):
        return (f"{bold(r['name'])} {em('The paper:')} {r['paper']} {em('This package:')} "
                f"{r['ours']} {em('Why:')} {r['why']} {em('Set now:')} {code(r['setting'])}")

    myst = "\n".join(
        f":::{{dropdown}} {r['name']}\n*The paper:* {r['paper']}\n\n*This package:* {r['ours']}"
        f"\n\n*Why:* {r['why']}\n\n*Set now:* `{r['setting']}`\n:::\n" for r in rows)
    esc = html.escape
    page = "<ul>" + "".join("<li>" + item(
        {k: esc(str(v)) for k, v in r.items()}, lambda t: f"<b>{t}.</b>",
        lambda t: f"<i>{t}</i>", lambda t: f"<code>{t}</code>") + "</li>" for r in rows) + "</ul>"
    display({"text/markdown": myst, "text/html": "<h4>Departures from the paper</h4>" + page},
            raw=True)
