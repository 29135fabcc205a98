r"""The statistics of a claim: paired differences, their interval, power, and a two-part verdict.

**One primary test per claim, declared before running** (:data:`.claims.PRIMARY`): nine claims,
a family of :data:`FAMILY` = 9 tests. Everything else a claim measures (gaps, losses, ratios, the
other parts of §4.1) is a *secondary* result: an estimate with its unadjusted 95% interval, and
no verdict.

**Paired differences.** Every comparison is paired by seed (same seed: same initial weights where
the arms share a shape, same batches, same crops). The per-seed differences :math:`d_i`, oriented
so that positive is the paper's direction, give a mean :math:`\bar d`, a standard error
:math:`s/\sqrt n`, the interval :math:`\bar d \pm t_{1-a/2,\,n-1}\, s/\sqrt n` and a two-sided
p-value.

**The rule that decides: Bonferroni at α/9, and the interval is the decision.** A primary
test's interval is printed at level :math:`1 - \alpha/9` (α = 0.05: a 99.44% interval); the
direction verdict is "paper" when it lies above 0, "opposite" when below, "inconclusive" when it
holds 0. That is exactly :math:`p < \alpha/9`, the Bonferroni test, so the nine intervals hold
their true values together with probability at least 95% and the printed interval can never
disagree with the verdict. We chose Bonferroni over Holm's step-down deliberately: Holm rejects
at least as much, but its later steps have no interval that matches them (Holm-compatible
simultaneous intervals say only "> 0" for a rejected hypothesis, Strassburger & Bretz 2008), and
Bonferroni's threshold is Holm's first step, the one power is planned at. :func:`holm` is kept
for comparison. The **size** verdict reads the same interval: the paper's value above it
("smaller": our effect is smaller), inside ("consistent"), below ("larger"), "n/a" without one.

**Censored values.** Epochs to a target that an arm never reaches count as the whole budget:
the estimate is then a bound (``bound="lower"``: the true value is at least it), "not
estimable", with no size verdict; the direction stands only where the bound points the same way
as the interval (a lower bound above 0 is above 0).

**Power at the rule that decides.** The smallest true effect ``n`` seeds detect with 80% power
at threshold ``a`` is :math:`\mathrm{MDE} = (t_{1-a/2,\,n-1} + t_{0.80,\,n-1})\,\sigma/\sqrt n`
(two-sided paired t, the usual approximation with t quantiles); :func:`seeds_needed` inverts it
for the paper's effect at ``a = α/9``.

**Counts** (Figure 3: how many networks split): an exact binomial test against the rate a
calibrated permutation test gives by chance (5%), with the Clopper–Pearson interval at the same
level: the interval excludes the null rate exactly when the two-sided exact p is below ``a``.
"""
from __future__ import annotations

import math

__all__ = ["ALPHA", "POWER", "FAMILY", "DECIDING", "t_quantile", "t_cdf", "summarise", "mde",
           "seeds_needed", "seeds_for", "holm", "bonferroni", "direction", "size",
           "binomial_test", "clopper_pearson", "binomial_power", "binomial_seeds",
           "rerun_tolerance"]

ALPHA, POWER = 0.05, 0.80
#: The family of primary tests: one per claim of the paper.
FAMILY = 9
#: The threshold a primary test must pass (two-sided): α/9.
DECIDING = ALPHA / FAMILY


def _t_density_integral(x: float, df: int, steps: int = 2000) -> float:
    """∫_0^x of Student's t density, by Simpson's rule (x >= 0)."""
    norm = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    h = x / steps
    f = [(1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(steps + 1)]
    return norm * h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))


def t_cdf(x: float, df: int) -> float:
    """Student's t distribution function (no SciPy needed). The density is integrated on
    [0, min(|x|, 50)] and the tail past 50 added in closed form, so small p-values keep their
    digits."""
    ax = abs(x)
    half = _t_density_integral(min(ax, 50.0), df)
    if ax > 50.0:                      # ∫_50^ax of the density, ≈ c·(50^-df − ax^-df)
        c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) * df ** (df / 2 - 1) \
            / math.sqrt(math.pi)
        half += c * (50.0 ** -df - ax ** -df)
    half = min(half, 0.5)
    return 0.5 + half if x >= 0 else 0.5 - half


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t with ``df`` degrees of freedom, by bisection."""
    low, high = 0.0, 1e4
    for _ in range(80):
        mid = (low + high) / 2
        low, high = (mid, high) if t_cdf(mid, df) < p else (low, mid)
    return (low + high) / 2


def mde(sd: float | None, n: int, alpha: float = DECIDING, power: float = POWER) -> float | None:
    """The minimum detectable effect of ``n`` paired seeds with difference spread ``sd``, at the
    two-sided threshold ``alpha`` (default: the deciding α/9) with ``power``."""
    if sd is None or n < 2:
        return None
    return (t_quantile(1 - alpha / 2, n - 1) + t_quantile(power, n - 1)) * sd / math.sqrt(n)


def seeds_needed(effect: float, sd: float, alpha: float = DECIDING, power: float = POWER,
                 low: int = 2, high: int = 1000) -> int | None:
    """The fewest seeds (``low``..``high``) whose MDE reaches ``effect``; None if none does."""
    if sd == 0:
        return max(low, 2)
    for n in range(max(low, 2), high + 1):
        if mde(sd, n, alpha, power) <= abs(effect):
            return n
    return None


def seeds_for(effect: float, sd: float, low: int, high: int) -> int | None:
    """:func:`seeds_needed` at the deciding threshold, within ``low..high`` (older name)."""
    return seeds_needed(effect, sd, DECIDING, POWER, low, high)


def summarise(values: list[float], alpha: float = ALPHA) -> dict:
    """Mean, sd, standard error, the ``1 - alpha`` interval and the two-sided p of differences."""
    n = len(values)
    out = {"n": n, "estimate": None, "sd": None, "se": None, "low": None, "high": None, "p": None,
           "level": 1 - alpha}
    if n == 0:
        return out
    mean = sum(values) / n
    out["estimate"] = mean
    if n == 1:
        return out
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    se = sd / math.sqrt(n)
    half = t_quantile(1 - alpha / 2, n - 1) * se
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


def bonferroni(p: float | None, family: int = FAMILY) -> float | None:
    """The Bonferroni-adjusted p-value: below α exactly when ``p`` is below α/``family``."""
    return None if p is None else min(1.0, family * p)


def direction(summary: dict, bound: str | None = None, null: float = 0.0) -> str:
    """"paper", "opposite" or "inconclusive", from the interval alone: above or below ``null``
    (0 for a difference, the chance rate for a count); with a censored ``bound``, only the side
    the bound cannot undo."""
    low, high = summary.get("low"), summary.get("high")
    if low is None:
        return "inconclusive"
    if low > null and bound != "upper":
        return "paper"
    if high < null and bound != "lower":
        return "opposite"
    return "inconclusive"


def size(summary: dict, paper_value: float | None, bound: str | None = None) -> str:
    """Where the paper's value sits against the interval: "smaller" (above it: our effect is
    smaller), "consistent" (inside), "larger" (below it), or "n/a" (no paper value, no interval,
    or a censored estimate)."""
    if paper_value is None or summary.get("low") is None or bound:
        return "n/a"
    if paper_value > summary["high"]:
        return "smaller"
    if paper_value < summary["low"]:
        return "larger"
    return "consistent"


# ---------------------------------------------------------------- counts (Figure 3)

def _binomial_tail(k: int, n: int, p: float, upper: bool) -> float:
    """P(X >= k) (``upper``) or P(X <= k) for X ~ Binomial(n, p)."""
    ks = range(k, n + 1) if upper else range(0, k + 1)
    return min(1.0, sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in ks))


def binomial_test(k: int, n: int, p0: float) -> float:
    """Two-sided exact p of ``k`` successes in ``n`` at rate ``p0``: twice the smaller tail."""
    return min(1.0, 2 * min(_binomial_tail(k, n, p0, True), _binomial_tail(k, n, p0, False)))


def clopper_pearson(k: int, n: int, alpha: float = DECIDING) -> tuple[float, float]:
    """The equal-tailed exact interval of a rate at level ``1 - alpha``, by bisection."""
    def solve(tail, target):
        low, high = 0.0, 1.0
        for _ in range(60):
            mid = (low + high) / 2
            low, high = (mid, high) if tail(mid) < target else (low, mid)
        return (low + high) / 2
    lower = 0.0 if k == 0 else solve(lambda r: _binomial_tail(k, n, r, True), alpha / 2)
    upper = 1.0 if k == n else solve(lambda r: 1 - _binomial_tail(k, n, r, False), 1 - alpha / 2)
    return lower, upper


def binomial_power(n: int, rate: float, p0: float, alpha: float = DECIDING) -> float:
    """Chance that ``n`` networks splitting at true ``rate`` pass the test against ``p0``."""
    passing = [k for k in range(n + 1) if binomial_test(k, n, p0) < alpha and k / n > p0]
    return sum(math.comb(n, k) * rate ** k * (1 - rate) ** (n - k) for k in passing)


def binomial_seeds(rate: float, p0: float, alpha: float = DECIDING, power: float = POWER,
                   low: int = 2, high: int = 1000) -> int | None:
    """The fewest networks whose count test has ``power`` at true ``rate``."""
    return next((n for n in range(max(low, 1), high + 1)
                 if binomial_power(n, rate, p0, alpha) >= power), None)


# ---------------------------------------------------------------- the rerun check

def rerun_tolerance(values: list[float], factor: float = 3.0, floor: float = 0.5) -> float:
    """How far a rerun of a shipped seed may land from its shipped value on another CPU:
    ``factor`` times the largest difference measured between CPUs for that seed (``values``: one
    per CPU), at least ``floor``."""
    measured = [v for v in values if v is not None]
    spread = max(measured) - min(measured) if len(measured) > 1 else 0.0
    return max(factor * spread, floor)
