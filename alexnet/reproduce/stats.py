r"""The statistics of a claim: paired differences, their interval, power, and a two-part verdict.

Every comparison is paired by seed (same seed: same initial weights where the arms share a shape,
same batches, same crops). The per-seed differences :math:`d_i`, oriented so that positive is the
paper's direction, give a mean :math:`\bar d`, a standard error :math:`s/\sqrt n`, the t-based 95%
interval :math:`\bar d \pm t_{0.975,\,n-1}\, s/\sqrt n` and a two-sided p-value.

**Power.** The smallest true effect that ``n`` seeds detect with 80% power at the 5% level is
:math:`\mathrm{MDE} = (t_{0.975,\,n-1} + t_{0.80,\,n-1})\, \sigma / \sqrt n` (the usual normal
approximation with t quantiles). It is printed beside the paper's effect: a test whose MDE exceeds
the paper's effect cannot tell the paper right or wrong, whatever it finds.

**Two-part verdict.** ``direction``: "paper" or "opposite" when the 95% interval excludes 0 *and*
the p-value, Holm-adjusted over every test of the ledger, stays below 0.05; otherwise
"inconclusive". ``size``: where the paper's value falls against our interval: above it ("smaller":
our effect is smaller than the paper's), inside ("consistent"), below ("larger"), or "n/a" where the
paper gives no number on our scale.
"""
from __future__ import annotations

import math

__all__ = ["t_quantile", "t_cdf", "summarise", "mde", "seeds_for", "holm", "direction", "size",
           "ALPHA", "POWER"]

ALPHA, POWER = 0.05, 0.80


def _t_density_integral(x: float, df: int, steps: int = 2000) -> float:
    """∫_0^x of Student's t density, by Simpson's rule (x >= 0)."""
    norm = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    h = x / steps
    f = [(1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(steps + 1)]
    return norm * h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))


def t_cdf(x: float, df: int) -> float:
    """Student's t distribution function (no SciPy needed); far tails use a bounded integral."""
    half = _t_density_integral(min(abs(x), 1e3), df)
    return 0.5 + half if x >= 0 else 0.5 - half


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t with ``df`` degrees of freedom, by bisection."""
    low, high = 0.0, 1e3
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if t_cdf(mid, df) < p else (low, mid)
    return (low + high) / 2


def mde(sd: float | None, n: int) -> float | None:
    """The minimum detectable effect of ``n`` paired seeds with difference spread ``sd``."""
    if sd is None or n < 2:
        return None
    return (t_quantile(1 - ALPHA / 2, n - 1) + t_quantile(POWER, n - 1)) * sd / math.sqrt(n)


def seeds_for(effect: float, sd: float, low: int, high: int) -> int | None:
    """The fewest seeds in ``low..high`` whose MDE reaches ``effect``; None if none does."""
    for n in range(max(low, 2), high + 1):
        if mde(sd, n) <= effect:
            return n
    return None


def summarise(values: list[float]) -> dict:
    """Mean, standard deviation, standard error, 95% interval and two-sided p of differences."""
    n = len(values)
    out = {"n": n, "estimate": None, "sd": None, "se": None, "low": None, "high": None, "p": None}
    if n == 0:
        return out
    mean = sum(values) / n
    out["estimate"] = mean
    if n == 1:
        return out
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    se = sd / math.sqrt(n)
    half = t_quantile(1 - ALPHA / 2, n - 1) * se
    p = 2 * (1 - t_cdf(abs(mean) / se, n - 1)) if se > 0 else (0.0 if mean else 1.0)
    out.update(sd=sd, se=se, low=mean - half, high=mean + half, p=min(1.0, max(p, 0.0)))
    return out


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of a family of p-values (None stays None)."""
    order = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running, m = 0.0, len(order)
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def direction(summary: dict, p_adjusted: float | None) -> str:
    """"paper", "opposite" or "inconclusive" (module docstring)."""
    if summary["low"] is None or p_adjusted is None or p_adjusted >= ALPHA:
        return "inconclusive"
    if summary["low"] > 0:
        return "paper"
    if summary["high"] < 0:
        return "opposite"
    return "inconclusive"


def size(summary: dict, paper_value: float | None) -> str:
    """Where the paper's value sits against our interval: "smaller" (above it: our effect is
    smaller), "consistent" (inside), "larger" (below it), or "n/a"."""
    if paper_value is None or summary["low"] is None:
        return "n/a"
    if paper_value > summary["high"]:
        return "smaller"
    if paper_value < summary["low"]:
        return "larger"
    return "consistent"
