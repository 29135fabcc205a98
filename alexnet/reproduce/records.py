"""Reading back what ``reproduce`` wrote: result, pilot and reference files, each checked
against its schema (:mod:`alexnet.schema`) before anything uses it.

A file edited by hand, damaged, holding NaN or an impossible number (an error rate above 1, a
p-value below 0, an interval upside down), or another claim's result under this claim's name, is
refused with one line naming the file and the field, and a way out that works: a damaged pilot
file is deleted (the pilot reruns, its runs read back from the run cache), a result restored or
rerun.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .. import schema
from ..errors import AlexNetError
from .settings import PRIMARY

__all__ = ["RESULT_RULES", "PILOT_RULES", "REFERENCE_RULES", "load_file"]

#: What a result file must hold (alexnet.schema): the fields the ledger and the book read.
RESULT_RULES = [
    ("claim", schema.text(PRIMARY)), ("scale", schema.text()), ("setting", schema.text()),
    ("tests", schema.listing()), ("tests[].name", schema.text()),
    ("tests[].unit", schema.text(("pp", "log", "nats", "index", "share"))),
    ("tests[].n", schema.integer(0)), ("tests[].estimate", schema.number(optional=True)),
    ("tests[].low", schema.number(optional=True)), ("tests[].high", schema.number(optional=True)),
    ("tests[].sd", schema.number(0, optional=True)),
    ("tests[].se", schema.number(0, optional=True)),
    ("tests[].mde", schema.number(0, optional=True)),
    ("tests[].p", schema.number(0, 1, optional=True)),
    ("tests[].p_adjusted", schema.number(0, 1, optional=True)),
    ("tests[].level", schema.number(0, 1, optional=True)),
    ("tests[].differences", schema.listing()), ("runs", schema.listing()),
    ("runs[].seed", schema.integer(0, optional=True)),
    ("runs[].metrics.test_top1", schema.number(0, 1, optional=True)),
    ("runs[].metrics.train_top1", schema.number(0, 1, optional=True)),
    ("runs[].metrics.test_loss", schema.number(0, optional=True)),
    ("runs[].seconds", schema.number(0, optional=True)),
    ("provenance", schema.mapping()), ("provenance.date", schema.text()),
    ("provenance.device", schema.text()), ("provenance.wall_seconds", schema.number(0))]
#: A pilot file: the plan of seeds per regime that the claims read.
PILOT_RULES = [
    ("scale", schema.text()), ("regimes", schema.mapping()),
    ("regimes.*.seeds", schema.integer(1)), ("regimes.*.arms", schema.mapping(optional=True)),
    ("regimes.*.arms.*.seeds", schema.integer(1, optional=True)),
    ("regimes.*.arms.*.minutes", schema.number(0, optional=True)),
    ("regimes.*.claims.*.testable", schema.flag(optional=True))]
#: The reference run's file.
REFERENCE_RULES = [
    ("scale", schema.text()), ("networks", schema.mapping()),
    ("networks.*.test_error", schema.number(0, 1)), ("networks.*.train_error", schema.number(0, 1)),
    ("networks.*.test_loss", schema.number(0)), ("networks.*.seconds", schema.number(0)),
    ("provenance", schema.mapping())]


def _kind(path: Path) -> str:
    """What a file of this folder is, from its name: pilot, reference or a claim's result."""
    return path.name.split("-")[0] if path.name.split("-")[0] in ("pilot", "reference") \
        else "result"


def _fix(path: Path, kind: str) -> str:
    """The truthful way out for a damaged file of ``kind``."""
    scale = path.stem.rsplit("-", 1)[-1]
    if kind == "pilot":
        return (f"delete it and run the claims again (the pilot reruns, its runs read back from "
                f"the run cache), or restore it (e.g. git checkout {path})")
    what = "reference" if kind == "reference" else path.stem.rsplit("-", 1)[0]
    return (f"restore it (e.g. git checkout {path}), or delete it and rerun `python -m alexnet "
            f"reproduce {what} --scale {scale} --out {path.parent} --force`")


def load_file(path: str | os.PathLike) -> dict:
    """A result, pilot or reference file as a dict, checked against its schema
    (:mod:`alexnet.schema`): one clear line naming the file and the field if it is missing,
    damaged, holds NaN or impossible numbers, or is another claim's or scale's result."""
    path = Path(path)
    kind = _kind(path)
    try:
        found = json.loads(path.read_text())
    except FileNotFoundError:
        raise AlexNetError(f"no result file {path}: run `python -m alexnet reproduce` "
                           "first") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AlexNetError(f"{path} is not a valid {kind} file ({e}): "
                           f"{_fix(path, kind)}") from None
    rules = {"pilot": PILOT_RULES, "reference": REFERENCE_RULES}.get(kind, RESULT_RULES)
    schema.validate(found, rules, path, _fix(path, kind))
    if kind == "result":
        schema.ordered(found, [("tests[]", "low", "high")], path, _fix(path, kind))
        named = path.stem.rsplit("-", 1)
        if [found["claim"], found["scale"]] != named:
            raise AlexNetError(f"{path} holds the result of claim {found['claim']!r} at scale "
                               f"{found['scale']!r}, not what its name says (a copy under "
                               f"another name?): delete it, or name it "
                               f"{found['claim']}-{found['scale']}.json")
    return found
