"""Result files, their verdicts in words, and the claims ledger.

A claim's result is ``<claim>-<scale>.json`` (in ``alexnet/results/`` for the shipped ones,
inside the package so that a chapter opened in Colab finds them; that folder is written only when
named, with ``--force``: :func:`alexnet.files.protect`): the paper's claim, our setting
in words, every test (estimate, the interval its verdict uses, MDE, p-value, Bonferroni p,
direction, size, the verdict in words; one test per claim is its declared primary test, the rest
are secondary results without a verdict), every run's record, and the provenance.
:func:`finalise` fills in the verdicts (:mod:`.stats`) and rewrites the files and ``LEDGER.md``,
all or none, after reading every file back through its schema (:mod:`.records`); nothing in
either is typed by hand. ``LEDGER.md`` has a section for every scale with results in its folder.
"""
from __future__ import annotations

import html
import math
from contextlib import contextmanager
import os
from pathlib import Path

from ..errors import AlexNetError
from ..files import json_text, locked, protect, write_all
from . import stats
from .claims import CLAIMS
from .records import load_file
from .settings import SCHEMA

__all__ = ["RESULTS", "result_path", "load", "load_file", "finalise", "verdict", "describe",
           "words", "estimate_text", "ledger_rows", "ledger_markdown", "ledger_html",
           "write_ledger", "VERDICT_WORDS"]

#: The shipped results, inside the package.
RESULTS = Path(__file__).resolve().parents[1] / "results"
protect(RESULTS)                 # written only when asked for by name, with --force
#: Where results go unless told: a folder of the user's, never the package's shipped results.
DEFAULT_OUT = "alexnet-results"


def result_path(out: str | os.PathLike, name: str, scale: str) -> Path:
    return Path(out) / f"{name}-{scale}.json"


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
    if unit == "share":
        return f"{value:.0%}"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _unit_name(unit: str) -> str:
    return {"pp": " points", "nats": " nats"}.get(unit, "")


def _level(test: dict) -> str:
    level = test.get("level", 0.95)
    return f"{100 * level:.2f}% CI" if round(level, 4) != 0.95 else "95% CI"


def estimate_text(test: dict) -> str:
    """The estimate and the interval the verdict uses, e.g. "×1.99 (99.44% CI ×1.57 to ×2.48)";
    a censored estimate is "not estimable (≥ ×1.76)"."""
    unit = test["unit"]
    if test["estimate"] is None:
        return "not measured"
    amount = _amount(test["estimate"], unit, signed=True) + _unit_name(unit)
    if test.get("bound"):
        return f"not estimable ({ {'lower': '≥', 'upper': '≤'}[test['bound']] }{amount})"
    if unit == "share":
        amount = f"{round(test['estimate'] * test['n'])} of {test['n']} ({amount})"
    if test["low"] is None:
        return amount
    return (f"{amount} ({_level(test)} {_amount(test['low'], unit, True)} to "
            f"{_amount(test['high'], unit, True)})")


def _size_sentence(test: dict) -> str:
    unit, paper = test["unit"], test.get("paper_value")
    if test.get("bound"):
        return ("Size not estimable: an arm missed the target in some run, so the estimate is a "
                "bound.")
    if paper is None:
        return "The paper gives no number to compare with."
    where = {"consistent": "lies inside the interval",
             "smaller": "lies above the interval: our effect is smaller",
             "larger": "lies below the interval: our effect is larger"}.get(test["size"])
    text = f"The paper's {_amount(paper, unit)}{_unit_name(unit)}"
    return f"{text} {where}." if where else f"{text} cannot be placed: no interval."


def _power_sentence(test: dict) -> str:
    if test["unit"] == "share":
        text = (f"With {test['n']} networks the test has {test['power_at_declared']:.0%} power at "
                f"a split rate of {test['declared_effect']:.0%}.") \
            if test.get("power_at_declared") is not None else ""
        return (text + f" {test['controls_split']} of {test['controls']} groups=1 controls "
                "split.").strip()
    if test.get("mde") is None:
        return "One seed: no interval."
    return (f"With {test['n']} seeds the test detects {_amount(test['mde'], test['unit'])}"
            f"{_unit_name(test['unit'])} or more with 80% power at α/9.")


def words(test: dict) -> str:
    """The verdict in whole sentences: direction (from the interval printed beside it), size
    (the paper's value against the same interval), and what the test could detect. Secondary
    results and claims not testable at this scale get no verdict."""
    if not test.get("primary"):
        return "Secondary result (95% interval, not adjusted): no verdict."
    if not test.get("testable", True):
        needs, why = test.get("seeds_needed"), test["not_testable_because"]
        head = f"needs {needs} seeds: {why}" if needs else why
        return (f"Not testable at this scale ({head}). The estimate beside it is descriptive, "
                "with its 95% interval.")
    level = _level(test).removesuffix(" CI")
    side = {"paper": f"The paper's direction: the {level} interval excludes zero.",
            "opposite": f"The opposite direction to the paper: the {level} interval excludes "
                        "zero.",
            "inconclusive": f"Inconclusive: the {level} interval includes zero."}
    if test["unit"] == "share":
        side = {"paper": f"The paper's direction: the {level} interval lies above the "
                         f"{test['null_rate']:.0%} that chance gives.",
                "opposite": f"Fewer splits than chance: the {level} interval lies below "
                            f"{test['null_rate']:.0%}.",
                "inconclusive": f"Inconclusive: the {level} interval includes the "
                                f"{test['null_rate']:.0%} that chance gives."}
    return " ".join([side[test["direction"]], _size_sentence(test), _power_sentence(test)])


def describe(test: dict) -> str:
    """One test's measurement in a sentence: the arms' means, the difference with the interval
    its verdict uses, and the verdict in words."""
    if not test["n"]:
        return f"{test['name']}: not measured"
    text = f"{test['name']}: {estimate_text(test)}, n={test['n']}"
    if "arms" in test:
        kind = test["arms"]["unit"]
        means = ", ".join(f"{label} {_arm_value(m, kind)}"
                          for label, m in test["arms"]["means"].items())
        text = f"{test['name']}: {means}; difference {estimate_text(test)}, n={test['n']}"
    return text + (f". {test['verdict_words']}" if test.get("verdict_words") else "")


def _arm_value(value: float | None, kind: str) -> str:
    if value is None:
        return "–"
    if kind in ("error", "gap", "share"):
        return f"{100 * value:.1f}%"
    return f"{value:.1f}" if kind == "epochs" else f"{value:.3f}"


def _tests_of(scale: str, out: Path) -> list[tuple[Path, dict]]:
    return [(p, load_file(p)) for name in CLAIMS
            if (p := result_path(out, name, scale)).is_file()]


def _results_in(out: Path, scale: str) -> list[tuple[Path, dict]]:
    """Every claim's result at ``scale`` in ``out``, each file read and checked; one line if the
    folder does not exist or holds none."""
    if not out.is_dir():
        raise AlexNetError(f"no folder {out}: give --out the folder the results were written to")
    files = _tests_of(scale, out)
    if not files:
        raise AlexNetError(f"{out} holds no result files for --scale {scale} "
                           f"(<claim>-{scale}.json): check --out and --scale, or run the claims "
                           "first")
    return files


def verdict(test: dict) -> dict:
    """A test's verdict fields (:mod:`.stats`): for a testable primary test the Bonferroni p,
    the direction and the size from its α/9 interval; "not testable" or none otherwise."""
    if test.get("primary") and test.get("testable", True):
        bound = test.get("bound")
        return {"p_adjusted": stats.bonferroni(test["p"]), "family_size": stats.FAMILY,
                "direction": stats.direction(test, bound, test.get("null_rate") or 0.0),
                "size": stats.size(test, test.get("paper_value"), bound)}
    direction = "not testable" if test.get("primary") else None
    return {"p_adjusted": None, "family_size": stats.FAMILY, "direction": direction,
            "size": "n/a" if direction else None}


def finalise(out: str | os.PathLike = RESULTS, scale: str = "cpu") -> Path:
    """Give every test of ``scale`` its verdict fields and words, rewrite the result files and
    regenerate ``LEDGER.md``: every file is read and checked first, then all are written or none
    (:func:`alexnet.files.write_all`). Every result must hold exactly one primary test."""
    out = Path(out)
    with locked(out) if out.is_dir() else _nothing():
        files = _results_in(out, scale)
        texts = []
        for path, result in files:
            if sum(bool(t.get("primary")) for t in result["tests"]) != 1:
                raise AlexNetError(f"{path} does not hold exactly one primary test (made before "
                                   f"schema {SCHEMA}): rerun `python -m alexnet reproduce "
                                   f"{result['claim']} --scale {scale}`")
            result["schema"] = SCHEMA
            for test in result["tests"]:
                test.update(verdict(test))
                test["verdict_words"] = words(test)
            texts.append((path, json_text(result)))
        ledger = _ledger_text(out, {scale: files})
        write_all([(p, _text_writer(t), False, "json") for p, t in texts] +
                  [(out / "LEDGER.md", _text_writer(ledger), False, "ledger")])
    return out / "LEDGER.md"


def _text_writer(text: str):
    return lambda f: f.write(text)


@contextmanager
def _nothing():
    yield


# ---------------------------------------------------------------- the ledger

def ledger_rows(results: str | os.PathLike = RESULTS, scale: str = "cpu") -> list[dict]:
    """One row per test of every claim with a result at ``scale``: the claim, the paper's number,
    our estimate and interval, the MDE, the verdict in words, our setting and the file."""
    return _rows(_tests_of(scale, Path(results)))


def _rows(files: list[tuple[Path, dict]]) -> list[dict]:
    rows = []
    for path, result in files:
        claim = CLAIMS[result["claim"]]
        for test in result["tests"]:
            rows.append({"claim": f"{claim.number}. {claim.name} ({claim.section})",
                         "primary": bool(test.get("primary")),
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
edit by hand. Each claim has one **primary** test, declared before the runs: a paired
comparison by seed (a count of networks for Figure 3), oriented so that a positive difference is
the paper's direction, with its interval at level 1 − 0.05/9 (Bonferroni over the nine claims) and
the smallest effect it detects with 80% power at that level (MDE). Its verdict has two parts,
both read from that interval: the **direction** (the paper's or the opposite where the interval
excludes zero, else inconclusive) and the **size** (the paper's value above, inside or below the
interval). A claim whose effect the CPU budget cannot power says "not testable at this scale" and
how many seeds it needs. The other rows are **secondary** results: an estimate with its 95%
interval, no verdict. CPU-scale rows are small runs of CIFAR-10 on a CPU, not the paper's ImageNet
experiments; a rerun on another CPU model or thread count gives other per-seed numbers
(floating-point sums in another order change every training run), within the seed-to-seed spread.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _section(rows: list[dict], scale: str) -> list[str]:
    lines = [f"## {scale.upper()} scale", "",
             "| Claim | Test | Paper | Ours (interval) | MDE at α/9 | Verdict |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        test = ("**primary**: " if r["primary"] else "secondary: ") + r["test"]
        lines.append("| " + " | ".join(_cell(c) for c in (
            r["claim"], test, r["paper"], r["ours"], r["mde"], r["verdict"])) + " |")
    settings = {r["claim"]: (r["setting"], r["file"], r["run"]) for r in rows}
    lines += ["", "### Settings", ""]
    lines += [f"- **{claim}** ({file}; {run}): {setting}"
              for claim, (setting, file, run) in settings.items()]
    return lines + [""]


def ledger_markdown(rows: list[dict] | dict, scale: str = "cpu") -> str:
    """The ledger: ``rows`` of one ``scale``, or ``{scale: rows}`` for every scale it covers."""
    by_scale = rows if isinstance(rows, dict) else {scale: rows}
    lines = [LEDGER_HEADER]
    for name, found in by_scale.items():
        lines += _section(found, name)
    if "cpu" in by_scale and "gpu" not in by_scale:
        lines.append("GPU scale: not yet run: needs a CUDA GPU (`python -m alexnet reproduce all "
                     "--scale gpu`).")
    return "\n".join(lines).rstrip() + "\n"


def _ledger_text(out: Path, given: dict) -> str:
    """LEDGER.md of ``out``: a section for every scale with results there (``given`` holds the
    results of the scale being finalised, the others are read), so a ledger of one scale never
    drops another's rows."""
    from .settings import SCALES

    found = {name: given[name] if name in given else _tests_of(name, out) for name in SCALES}
    return ledger_markdown({name: _rows(files) for name, files in found.items() if files})


#: A primary test's verdict in a word or two, for the compact ledger and its forest plot.
VERDICT_WORDS = {"paper": "paper's way", "opposite": "opposite", "inconclusive": "inconclusive",
                 "not testable": "not testable"}


def ledger_html(results: str | os.PathLike = RESULTS, scale: str = "cpu") -> str:
    """The ledger as a compact HTML table for the book, one row per claim (its primary test):
    claim · ours, the paper's number under it · the verdict in a word, with the verdict's
    sentences, the secondary results and the claim's setting in a dropdown under the word. Three
    columns, so that the verdict stays on a 390-px phone's screen."""
    rows, out = ledger_rows(results, scale), []
    head = "".join(f"<th>{h}</th>" for h in ("Claim", "Ours (the paper's)", "Verdict"))
    for claim in dict.fromkeys(r["claim"] for r in rows):
        mine = [r for r in rows if r["claim"] == claim]
        primary = next((r for r in mine if r["primary"]), mine[0])
        word = VERDICT_WORDS.get(primary["direction"], "no verdict")
        size = primary["size"] if primary["size"] not in (None, "n/a") else None
        secondary = "".join(f"<li>{html.escape(r['test'])}: {html.escape(r['ours'])}</li>"
                            for r in mine if r is not primary)
        details = (f"<p>{html.escape(primary['test'])}. {html.escape(primary['verdict'])}</p>"
                   + (f"<p>Secondary results (95% intervals, no verdict):</p><ul>{secondary}</ul>"
                      if secondary else "")
                   + f"<p><small>{html.escape(primary['setting'])} "
                     f"({html.escape(primary['run'])})</small></p>")
        verdict = (f"<b>{word}</b>" + (f"<br>size {size}" if size else "")
                   + f"<details><summary>why</summary>{details}</details>")
        ours = (f"{html.escape(primary['ours'])}<br>"
                f"<small>paper: {html.escape(primary['paper'])}</small>")
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in (
            html.escape(claim.split(" (")[0]), ours, verdict)) + "</tr>")
    return (f'<table class="table ledger" style="font-size: 0.9em">'   # denser: fits a phone
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(out)}'
            "</tbody></table>")


def write_ledger(out: str | os.PathLike = RESULTS, scale: str = "cpu") -> Path:
    """Regenerate ``out/LEDGER.md`` from the result files there (every scale's)."""
    out = Path(out)
    _results_in(out, scale)
    return write_all([(out / "LEDGER.md", _text_writer(_ledger_text(out, {})), False,
                       "ledger")])[0]
