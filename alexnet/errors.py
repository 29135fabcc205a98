"""User-facing errors, and the checks of hyper-parameters that raise them.

Every mistake a user can make (a wrong image size, a missing data folder, a corrupt checkpoint, a
nonsense CLI value, an absurd hyper-parameter given to the Python API) raises :class:`AlexNetError`
with one line that names the cause and the fix. The CLI prints that line and exits with status 1
instead of showing a stack trace.

:func:`integer`, :func:`real` and :func:`choice` check one argument of a constructor
(``AlexNet(num_classes=0)``, ``TrainConfig(lr=float("inf"))``) so that a bad value stops at once,
with its name, instead of becoming NaNs or an error deep inside PyTorch.
"""
from __future__ import annotations

import math
import numbers

__all__ = ["AlexNetError", "integer", "real", "choice"]


class AlexNetError(ValueError):
    """A bad input, explained in one line: what is wrong and how to fix it."""


def integer(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` when it is an integer (not a bool, not 4096.0) in [low, high]."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and (low is None or value >= low) and (high is None or value <= high):
        return int(value)
    raise AlexNetError(f"{name} must be an integer {_range(low, high)}, got {value!r}")


def real(name: str, value, low: float | None = None, high: float | None = None, *,
         low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a ``float`` when it is a finite real number in the given interval."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (low is None or (value > low if low_open else value >= low)) and \
            (high is None or (value < high if high_open else value <= high)):
        return float(value)
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    if low is not None and high is not None:
        where = f"in {left}{low:g}, {high:g}{right}"
    elif low is not None:
        where = f"{'>' if low_open else '>='} {low:g}"
    else:
        where = f"{'<' if high_open else '<='} {high:g}"
    raise AlexNetError(f"{name} must be a finite number {where}, got {value!r}")


def choice(name: str, value, choices) -> object:
    """``value`` when it is one of ``choices``."""
    if value in tuple(choices):
        return value
    raise AlexNetError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def _range(low, high) -> str:
    if low is not None and high is not None:
        return f"in [{low}, {high}]"
    if low is not None:
        return f">= {low}"
    return f"<= {high}" if high is not None else ""
