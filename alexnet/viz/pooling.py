"""Chapter 4's figure: which inputs each pooling unit sees."""
from __future__ import annotations

import math

from matplotlib.patches import Rectangle

from ..pooling import pooling_coverage, pooling_windows
from .style import COLUMN_WIDTH, axes_or_new, styled

__all__ = ["draw_pooling"]


@styled
def draw_pooling(size: int, window: int, stride: int, ax=None):
    """A row of ``size`` inputs shaded by how many windows see them (hatched: none), and above it
    the window of every output (z = ``window``, s = ``stride``), staggered so overlaps show."""
    windows = pooling_windows(size, window, stride)
    coverage = pooling_coverage(size, window, stride)
    levels = max(1, math.ceil(window / stride))
    ax = axes_or_new(ax, COLUMN_WIDTH, 1.5 + 0.3 * levels)
    shades = {0: "white", 1: "#c6dbef", 2: "#6baed6"}
    for i, count in enumerate(coverage):
        ax.add_patch(Rectangle((i, 0), 1, 1, facecolor=shades.get(count, "#2171b5"),
                               edgecolor="black", hatch="//" if count == 0 else None, lw=0.8))
        if size <= 31:
            ax.text(i + 0.5, 0.5, str(i), ha="center", va="center")
    for j, (start, stop) in enumerate(windows):
        y = 1.3 + 0.5 * (j % levels)
        ax.plot([start + 0.1, stop - 0.1], [y, y], color=f"C{j % 10}", lw=3,
                solid_capstyle="butt")
    twice = sum(c > 1 for c in coverage)
    unseen = [i for i, c in enumerate(coverage) if c == 0]
    listed = f" ({', '.join(map(str, unseen))})" if 0 < len(unseen) <= 6 else ""
    ax.set_title(f"z={window}, s={stride}: {size} inputs → {len(windows)} outputs\n"
                 f"{twice} inputs seen twice or more, {len(unseen)} never seen{listed}")
    ax.set_xlim(-0.2, size + 0.2)
    ax.set_ylim(-0.2, 1.4 + 0.5 * levels)
    ax.axis("off")
    return ax
