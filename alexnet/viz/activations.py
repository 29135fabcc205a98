"""Chapter 2's figures: ReLU against the saturating units, and how much gradient they pass."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..analysis import ACTIVATIONS, activation_gradient, expected_gradient
from .style import COLUMN_WIDTH, axes_or_new, styled

__all__ = ["ACTIVATION_COLOURS", "plot_activations", "plot_expected_gradient", "plot_saturation"]

ACTIVATION_COLOURS = {"ReLU": "tab:blue", "tanh": "tab:orange", "sigmoid": "tab:green"}


@styled
def plot_activations(lim: float = 4.0, names=("ReLU", "tanh", "sigmoid")):
    """Two panels: the activations f(x) and their derivatives f'(x) on [-lim, lim]."""
    x = torch.linspace(-lim, lim, 801)
    fig, (left, right) = plt.subplots(1, 2, figsize=(COLUMN_WIDTH, 3.0))
    for name in names:
        y, gradient = activation_gradient(name, x)
        colour = ACTIVATION_COLOURS.get(name)
        left.plot(x.numpy(), y.numpy(), label=name, color=colour, lw=2)
        right.plot(x.numpy(), gradient.numpy(), label=name, color=colour, lw=2)
    left.set(title="f(x)", xlabel="x", ylim=(-1.2, lim))
    right.set(title="f′(x): the gradient passed", xlabel="x", ylim=(-0.05, 1.1))
    for ax in (left, right):
        ax.axhline(0, color="black", lw=0.5)
        ax.axvline(0, color="black", lw=0.5)
    left.legend(loc="upper left")
    fig.tight_layout()
    return fig


@styled
def plot_expected_gradient(spreads, names=tuple(ACTIVATIONS), ax=None):
    """E[f'(x)] for inputs x ~ N(0, σ²) against σ (:func:`~alexnet.analysis.expected_gradient`),
    one line per activation."""
    ax = axes_or_new(ax, COLUMN_WIDTH, 3.0)
    spreads = list(spreads)
    for name in names:
        ax.plot(spreads, [expected_gradient(name, s) for s in spreads], lw=2, label=name,
                color=ACTIVATION_COLOURS.get(name))
    ax.set(xlabel="spread σ of the unit's inputs", ylabel="average factor E[f′(x)]",
           ylim=(0, 1.05))
    ax.legend()
    return ax


@styled
def plot_saturation(name: str, spread: float, ax=None):
    """An activation's derivative f'(x) with the density of inputs x ~ N(0, spread²) beneath it;
    the title gives E[f'(x)] (:func:`~alexnet.analysis.expected_gradient`)."""
    ax = axes_or_new(ax, COLUMN_WIDTH, 3.0)
    lim = max(4.0, 3 * spread)
    x = torch.linspace(-lim, lim, 801)
    _, gradient = activation_gradient(name, x)
    density = torch.exp(-0.5 * (x / spread) ** 2)
    ax.fill_between(x.numpy(), 0, density.numpy(), color="grey", alpha=0.25,
                    label=f"inputs ~ N(0, {spread:g}²)")
    ax.plot(x.numpy(), gradient.numpy(), color=ACTIVATION_COLOURS.get(name), lw=2,
            label=f"{name}′(x)")
    ax.set(xlabel="input x", ylim=(0, 1.1), xlim=(-lim, lim),
           title=f"{name}, σ = {spread:g}: average factor E[f′(x)] = "
                 f"{expected_gradient(name, spread):.3f}")
    ax.legend(loc="upper right")
    return ax
