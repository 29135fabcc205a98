"""Files read back are checked against a schema: one line naming the file and the field.

A result, a pilot plan or a run-cache record is data the package wrote, but it may come back
edited by hand, damaged, or from another version. Before anything reads it, :func:`validate`
checks it: every number in it must be finite (JSON's ``NaN`` and ``Infinity`` are refused wherever
they are), and each field a rule names must be there (unless optional), of its kind and in its
range (an error rate in [0, 1], a p-value in [0, 1], a count of seeds >= 1, an interval whose low
end is not above its high end). A rule is ``("tests[].p", number(0, 1, optional=True))``: dots go
into mappings, ``[]`` into every item of a list, ``*`` into every value of a mapping.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Iterable

from .errors import AlexNetError

__all__ = ["Field", "number", "integer", "text", "flag", "listing", "mapping", "validate",
           "ordered", "non_finite"]

_MISSING = object()


@dataclass(frozen=True)
class Field:
    """What one field must be: ``kind`` (number, integer, text, flag, list, dict), a range, the
    allowed values, whether it may be absent or null."""

    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    optional: bool = False

    def problem(self, value) -> str | None:
        """Why ``value`` does not fit, or None."""
        if value is _MISSING or value is None:
            return None if self.optional else "is missing" if value is _MISSING else "is null"
        kinds = {"number": numbers.Real, "integer": numbers.Integral, "text": str, "flag": bool,
                 "list": list, "dict": dict}
        if not isinstance(value, kinds[self.kind]) or \
                (self.kind in ("number", "integer") and isinstance(value, bool)):
            return f"is {type(value).__name__} {_show(value)}, not a {self.kind}"
        if self.choices is not None and value not in self.choices:
            return f"is {_show(value)}, not one of {', '.join(map(str, self.choices))}"
        if (self.low is not None and value < self.low) or \
                (self.high is not None and value > self.high):
            return f"is {value}, outside [{_bound(self.low)}, {_bound(self.high)}]"
        return None


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _bound(value) -> str:
    return "…" if value is None else f"{value:g}"


def number(low=None, high=None, optional=False) -> Field:
    return Field("number", low, high, optional=optional)


def integer(low=None, high=None, optional=False) -> Field:
    return Field("integer", low, high, optional=optional)


def text(choices=None, optional=False) -> Field:
    return Field("text", choices=tuple(choices) if choices else None, optional=optional)


def flag(optional=False) -> Field:
    return Field("flag", optional=optional)


def listing(optional=False) -> Field:
    return Field("list", optional=optional)


def mapping(optional=False) -> Field:
    return Field("dict", optional=optional)


def non_finite(obj, where: str = "") -> str | None:
    """The first field of ``obj`` holding NaN or an infinity, or None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return where or "(the whole file)"
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) \
        if isinstance(obj, list) else ()
    for key, value in items:
        found = non_finite(value, f"{where}[{key}]" if isinstance(key, int) else
                           f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


def _values(obj, parts: list[str], where: str) -> Iterable[tuple[str, object]]:
    """The values a rule's path reaches, each with where it is."""
    if not parts:
        yield where, obj
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        for i, item in enumerate(obj if isinstance(obj, list) else []):
            yield from _values(item, rest, f"{where}[{i}]")
    elif head == "*":
        for key, item in (obj.items() if isinstance(obj, dict) else ()):
            yield from _values(item, rest, f"{where}.{key}" if where else str(key))
    elif isinstance(obj, dict):
        yield from _values(obj.get(head, _MISSING), rest, f"{where}.{head}" if where else head)
    elif obj is not _MISSING and obj is not None:
        yield f"{where}.{head}" if where else head, _MISSING


def _split(path: str) -> list[str]:
    return [p for part in path.replace("[]", ".[].").split(".") for p in [part] if p]


def validate(obj, rules: list[tuple[str, Field]], file, fix: str) -> dict:
    """``obj`` (read from ``file``) if it follows ``rules``; else one line naming the file, the
    field and what is wrong with it, then ``fix``."""
    def refuse(where: str, why: str):
        raise AlexNetError(f"{file}: field {where} {why}: {fix}")

    if not isinstance(obj, dict):
        refuse("(the whole file)", f"is {type(obj).__name__}, not a JSON object")
    bad = non_finite(obj)
    if bad:
        refuse(bad, "is not a finite number (NaN or infinity)")
    for path, field in rules:
        for where, value in _values(obj, _split(path), ""):
            why = field.problem(value)
            if why:
                refuse(where, why)
    return obj


def ordered(obj, pairs: list[tuple[str, str, str]], file, fix: str) -> None:
    """For each ``(items, low, high)``: in every item ``items`` reaches, ``low <= high`` where
    both are numbers (an interval, a range)."""
    for items, low, high in pairs:
        for where, item in _values(obj, _split(items), ""):
            if isinstance(item, dict) and isinstance(item.get(low), numbers.Real) and \
                    isinstance(item.get(high), numbers.Real) and item[low] > item[high]:
                raise AlexNetError(f"{file}: field {where}.{low} is {item[low]}, above "
                                   f"{where}.{high} ({item[high]}): {fix}")
