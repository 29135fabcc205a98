"""Result files, their verdicts in words, and the claims ledger.

A claim's result is ``<claim>-<scale>.json`` (in ``alexnet/results/`` for the shipped ones,
inside the package so that a chapter opened in Colab finds them): the paper's claim, our setting
in words, every test (estimate, 95% interval, MDE, p-value, Holm-adjusted p-value, direction,
size, the verdict in words), every run's record, and the provenance. :func:`finalise` fills in the
parts that look at every test of a scale at once (the Holm adjustment, hence the verdicts) and
rewrites the files and ``LEDGER.md``; nothing in either is typed by hand.
"""
from __future__ import annotations

import html
import math
import os
from pathlib import Path

from ..errors import AlexNetError
from ..runtime import write_atomic, write_json
from . import stats
from .claims import CLAIMS

__all__ = ["RESULTS", "result_path", "load", "load_file", "finalise", "describe", "words",
           "ledger_rows", "ledger_markdown", "ledger_html", "write_ledger"]

#: The shipped results, inside the package.
RESULTS = Path(__file__).resolve().parents[1] / "results"


def result_path(out: str | os.PathLike, name: str, scale: str) -> Path:
    return Path(out) / f"{name}-{scale}.json"


def load_file(path: str | os.PathLike) -> dict:
    """A result file as a dict, with one clear line if it is missing or damaged."""
    import json

    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise AlexNetError(f"no result file {path}: run `python -m alexnet reproduce` "
                           "first") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AlexNetError(f"{path} is not a valid result file ({e}): run the claim "
                           "again") from None


def load(name: str, scale: str = "cpu", results: str | os.PathLike = RESULTS) -> dict:
    """The result of claim ``name`` (or ``"reference"``, or ``"pilot"``) at ``scale``."""
    if name not in CLAIMS and name not in ("reference", "pilot"):
        raise AlexNetError(f"unknown result {name!r}: choose one of {', '.join(CLAIMS)}, "
                           "reference or pilot")
    return load_file(result_path(results, name, scale))


# ---------------------------------------------------------------- verdicts

def _amount(value: float, unit: str, signed: bool = False) -> str:
    if unit == "log":
        return f"×{math.exp(value):.2f}" if signed else f"×{math.exp(value):.3g}"
    if unit == "pp":
        return f"{value:+.1f}" if signed else f"{value:.1f}"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _unit_name(unit: str) -> str:
    return {"pp": " points", "nats": " nats"}.get(unit, "")


def estimate_text(test: dict) -> str:
    """The estimate and its 95% interval, e.g. "×1.99 (95% CI ×1.77 to ×2.23)"."""
    unit, bound = test["unit"], {"lower": "≥", "upper": "≤"}.get(test.get("bound"), "")
    text = bound + _amount(test["estimate"], unit, signed=True) + _unit_name(unit)
    if test["low"] is not None:
        text += (f" (95% CI {_amount(test['low'], unit, True)} to "
                 f"{_amount(test['high'], unit, True)})")
    return text


def words(test: dict) -> str:
    """The verdict in a sentence: what the interval says about direction and size, and what the
    run could have detected."""
    unit, paper = test["unit"], test.get("paper_value")
    paper_text = (f"the paper's {_amount(paper, unit)}{_unit_name(unit)}" if paper is not None
                  else "the paper gives no number on this scale")
    detect = (f"this run could detect {_amount(test['mde'], unit)}{_unit_name(unit)} or more"
              if test.get("mde") is not None else "one seed: no interval")
    if test["direction"] == "inconclusive":
        reason = ""
        if test["low"] is not None and (test["low"] > 0 or test["high"] < 0):
            reason = (f" after the Holm adjustment for the ledger's tests (p = {test['p']:.3f}, "
                      f"adjusted {test['p_adjusted']:.3f})")
        elif paper is not None and test["size"] == "smaller":
            reason = f"; an effect as large as {paper_text} lies above the interval"
        return f"inconclusive{reason}: {detect}; {paper_text}"
    side = "same direction as the paper" if test["direction"] == "paper" else \
        "the opposite direction to the paper"
    if paper is None or test["direction"] == "opposite":
        return f"{side} ({'against ' if paper is not None else ''}{paper_text})"
    if test["size"] == "consistent":
        return f"{side}, consistent with {paper_text}"
    share = math.exp(test["estimate"] - paper) if unit == "log" else test["estimate"] / paper
    amount = f"{share:.0%} of it" if share < 1 else f"{share:.1f} times it"
    return f"{side}, {test['size']} than {paper_text}: about {amount}"


def describe(test: dict) -> str:
    """One test's measurement in a sentence: the arms' means, the paired difference with its
    interval, the MDE, and the verdict in words."""
    if not test["n"]:
        return f"{test['name']}: not measured"
    text = f"{test['name']}: {estimate_text(test)}, n={test['n']}"
    if "arms" in test:
        kind = test["arms"]["unit"]
        means = ", ".join(f"{label} {_arm_value(m, kind)}"
                          for label, m in test["arms"]["means"].items())
        text = f"{test['name']}: {means}; difference {estimate_text(test)}, n={test['n']}"
    return text + (f" — {test['verdict_words']}" if test.get("verdict_words") else "")


def _arm_value(value: float | None, kind: str) -> str:
    if value is None:
        return "–"
    if kind in ("error", "gap", "share"):
        return f"{100 * value:.1f}%"
    return f"{value:.1f}" if kind == "epochs" else f"{value:.3f}"


def _tests_of(scale: str, out: Path) -> list[tuple[Path, dict]]:
    return [(p, load_file(p)) for name in CLAIMS
            if (p := result_path(out, name, scale)).is_file()]


def finalise(out: str | os.PathLike = RESULTS, scale: str = "cpu") -> Path:
    """Adjust every test's p-value for all the tests of ``scale`` (Holm), give each its verdict,
    rewrite the result files and regenerate ``LEDGER.md``."""
    out = Path(out)
    files = _tests_of(scale, out)
    family = [t for _, result in files for t in result["tests"]]
    for test, adjusted in zip(family, stats.holm([t["p"] for t in family])):
        test["p_adjusted"] = adjusted
        test["family_size"] = sum(t["p"] is not None for t in family)
        test["direction"] = stats.direction(test, adjusted)
        test["size"] = stats.size(test, test.get("paper_value"))
        test["verdict_words"] = words(test)
    for path, result in files:
        write_json(result, path)
    return write_ledger(out, scale)


# ---------------------------------------------------------------- the ledger

def ledger_rows(results: str | os.PathLike = RESULTS, scale: str = "cpu") -> list[dict]:
    """One row per test of every claim with a result at ``scale``: the claim, the paper's number,
    our estimate and interval, the MDE, the verdict in words, our setting and the file."""
    rows = []
    for path, result in _tests_of(scale, Path(results)):
        claim = CLAIMS[result["claim"]]
        for test in result["tests"]:
            rows.append({"claim": f"{claim.number}. {claim.name} ({claim.section})",
                         "statement": claim.statement, "paper": test["paper"],
                         "test": test["name"], "ours": estimate_text(test),
                         "mde": (f"{_amount(test['mde'], test['unit'])}"
                                 f"{_unit_name(test['unit'])}" if test.get("mde") else "–"),
                         "verdict": test.get("verdict_words", "not finalised"),
                         "direction": test.get("direction"), "size": test.get("size"),
                         "setting": result["setting"], "file": path.name,
                         "run": _run_note(result["provenance"])})
    return rows


def _run_note(p: dict) -> str:
    code = f"commit {(p.get('git_commit') or '?')[:7]}" + (" + local changes" if p.get("dirty") else "")
    return (f"{p['date'][:10]}, {p['wall_seconds'] / 60:.0f} min on {p['device']}, load "
            f"{p.get('load_average')}, {code}")


LEDGER_HEADER = """# Claims ledger

Generated by `python -m alexnet reproduce ledger` from the result files in this folder; do not
edit by hand. Each row is one test of a claim: a paired comparison by seed, oriented so that a
positive difference is the paper's direction, with its 95% interval and the smallest effect the
run could detect (MDE, 80% power). The verdict has two parts: the **direction** (the paper's, the
opposite, or inconclusive; a direction needs an interval that excludes zero *and* a p-value below
0.05 after Holm's adjustment for all the tests below) and the **size** (the paper's value above,
inside or below our interval). CPU-scale rows are small runs of CIFAR-10 on a CPU, not the paper's
ImageNet experiments; a rerun on another CPU model or thread count gives other per-seed numbers
(floating-point sums in another order change every training run), within the seed-to-seed spread.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def ledger_markdown(rows: list[dict], scale: str = "cpu") -> str:
    lines = [LEDGER_HEADER, f"## {scale.upper()} scale", "",
             "| Claim | Test | Paper | Ours (95% CI) | MDE | Verdict |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r[k]) for k in (
            "claim", "test", "paper", "ours", "mde", "verdict")) + " |")
    settings = {r["claim"]: (r["setting"], r["file"], r["run"]) for r in rows}
    lines += ["", "### Settings", ""]
    lines += [f"- **{claim}** ({file}; {run}): {setting}"
              for claim, (setting, file, run) in settings.items()]
    gpu = "GPU scale: not yet run: needs a CUDA GPU (`python -m alexnet reproduce all --scale gpu`)."
    return "\n".join(lines + ["", gpu if scale == "cpu" else ""]).rstrip() + "\n"


def ledger_html(results: str | os.PathLike = RESULTS, scale: str = "cpu") -> str:
    """The ledger as a compact HTML table for the book: claim · paper · ours · verdict, with each
    claim's setting in a dropdown."""
    rows, out, previous = ledger_rows(results, scale), [], None
    head = "".join(f"<th>{h}</th>" for h in ("Claim", "Paper", "Ours (95% CI)", "Verdict"))
    for r in rows:
        claim = "" if r["claim"] == previous else (
            f"<b>{html.escape(r['claim'])}</b><details><summary>setting</summary>"
            f"<small>{html.escape(r['setting'])} ({html.escape(r['run'])})</small></details>")
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in (
            claim, html.escape(r["paper"]),
            f"{html.escape(r['test'])}: <b>{html.escape(r['ours'])}</b>",
            html.escape(r["verdict"]))) + "</tr>")
        previous = r["claim"]
    return (f'<table class="table ledger"><thead><tr>{head}</tr></thead><tbody>{"".join(out)}'
            "</tbody></table>")


def write_ledger(out: str | os.PathLike = RESULTS, scale: str = "cpu") -> Path:
    """Regenerate ``out/LEDGER.md`` from the result files there."""
    text = ledger_markdown(ledger_rows(out, scale), scale)
    return write_atomic(Path(out) / "LEDGER.md", lambda f: f.write(text), binary=False)
