"""The nonlinearities of §3.1, by name: one table for every model and for the analysis of
saturation.

"The standard way to model a neuron's output f as a function of its input x is with f(x) =
tanh(x) or f(x) = (1 + e^−x)^−1. In terms of training time with gradient descent, these saturating
nonlinearities are much slower than the non-saturating nonlinearity f(x) = max(0, x)", the
Rectified Linear Unit (§3.1). A model's ``activation`` option is a key of :data:`ACTIVATIONS`;
:data:`LABELS` is how the book writes each name.
"""
from __future__ import annotations

from torch import nn

__all__ = ["ACTIVATIONS", "LABELS"]

#: The paper's ReLU and the saturating units it replaces, as module classes.
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
#: The names as the book and its figures write them.
LABELS = {"relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid"}
