r"""How many seeds: planned from the pilot, at the rule that decides, within the CPU budget.

This module only computes; it trains nothing (the pilot runs in :mod:`.claims`, which calls
:func:`make_plan` with what it measured), so it imports neither the claims nor the runs.

**Seeds per claim.** Each claim's primary test (:data:`.claims.PRIMARY`) must pass the deciding
threshold α/9 (:data:`.stats.DECIDING`, two-sided) with 80% power at the effect it declares
(the paper's where the paper gives one). With :math:`\sigma_a, \sigma_b` the seed-to-seed spreads
of its two arms in the pilot (≥ 5 seeds each), the spread of a paired difference is planned as
:math:`\sqrt2\,\max(\sigma_a, \sigma_b)`: the noisier arm twice, which bounds it whenever the
arms are not negatively correlated (pairing by seed only removes variance then). The pilot's own
spread of the paired differences is recorded beside it. The seed count is the smallest ``n`` whose
MDE at α/9 (:func:`.stats.mde`) reaches the effect. Figure 3's count test needs the fewest
networks whose exact binomial test has 80% power at the declared split rate.

**Seeds per arm**: the most any testable claim using it needs, never fewer than the pilot's.
Arms that only secondary results use (no PCA lighting, the 24×24 patches) and Figure 3's
``groups=1`` controls train ``pilot_seeds`` and ``controls`` seeds; their minutes per run are the
measured minutes of their regime's baseline where they were not piloted themselves.

**The budget.** The plan's minutes are the pilot's (already spent) plus every arm's remaining
runs at the pilot's minutes per run. While they exceed the scale's ``budget_minutes``, the
testable claim whose runs cost the most (the minutes its removal saves: all of them plan for the
same 80% power, so this is the most expensive per unit of power) becomes "not testable at this
scale: needs N seeds"; so does a claim whose N passes ``max_seeds``. A claim the pilot's seeds
already power costs nothing more and stays testable, even when the pilot alone spent the budget.
No run is ever shortened.
"""
from __future__ import annotations

import math

from . import stats

__all__ = ["planned_sd", "claim_seeds", "make_plan", "plan_table"]


def planned_sd(values: dict[str, list[float]]) -> float | None:
    """√2 × the larger seed-to-seed spread of the two arms' per-seed values (module docstring)."""
    spreads = [stats.summarise(v)["sd"] for v in values.values()]
    if any(s is None for s in spreads):
        return None
    return math.sqrt(2) * max(spreads)


def claim_seeds(claim: dict, scale) -> dict:
    """The seeds one primary test needs: ``claim`` holds ``kind`` ("paired" or "count"),
    ``effect`` (in the test's unit; for counts the split rate to detect) and, when paired, the
    pilot's per-arm ``values``."""
    low, high = scale.min_seeds, scale.max_seeds
    if claim["kind"] == "count":
        n = stats.binomial_seeds(claim["effect"], claim["null_rate"], stats.DECIDING,
                                 stats.POWER, low, high)
        return {"sd_planned": None, "seeds_needed": max(low, n) if n else None}
    sd = planned_sd(claim["values"])
    differences = [a - b for a, b in zip(*claim["values"].values())]
    n = None if sd is None else stats.seeds_needed(claim["effect"], sd, stats.DECIDING,
                                                   stats.POWER, low, high)
    return {"sd_planned": sd, "sd_of_pilot_differences": stats.summarise(differences)["sd"],
            "seeds_needed": n}


def _arm_seeds(arms: dict, claims: dict) -> dict[str, int]:
    seeds = {key: arm["least_seeds"] for key, arm in arms.items()}
    for claim in claims.values():
        if claim["testable"]:
            for key in claim["arms"]:
                seeds[key] = max(seeds[key], claim["seeds_needed"])
    return seeds


def _minutes(arms: dict, seeds: dict, spent: float) -> float:
    return spent + sum(max(0, seeds[k] - a["trained"]) * a["minutes"] for k, a in arms.items())


def make_plan(pilot: dict, scale) -> dict:
    """The plan from the pilot: ``pilot["claims"]`` (per claim: ``regime``, ``arms`` (keys of
    ``pilot["arms"]``), ``kind``, ``effect``, ``effect_source``, ``values``), ``pilot["arms"]``
    (per arm: ``regime``, ``label``, ``minutes`` per run, ``measured`` (or estimated),
    ``trained`` (seeds the pilot ran), ``least_seeds``) and ``spent_minutes``."""
    claims = {}
    for name, claim in pilot["claims"].items():
        found = claim_seeds(claim, scale)
        claims[name] = {**{k: v for k, v in claim.items() if k != "values"}, **found,
                        "testable": found["seeds_needed"] is not None, "why": None}
        if found["seeds_needed"] is None:
            claims[name]["why"] = f"needs more than {scale.max_seeds} seeds"
    arms, spent, moved = pilot["arms"], pilot["spent_minutes"], []
    while True:
        seeds = _arm_seeds(arms, claims)
        total = _minutes(arms, seeds, spent)
        testable = [n for n, c in claims.items() if c["testable"]]
        if total <= scale.budget_minutes or not testable:
            break
        def saving(name):
            trial = {**claims, name: {**claims[name], "testable": False}}
            return total - _minutes(arms, _arm_seeds(arms, trial), spent)
        worst = max(testable, key=saving)
        if saving(worst) <= 0:          # the pilot alone spent the budget: what it powers stays
            break
        claims[worst].update(testable=False, why=(
            f"the plan's {total:.0f} minutes exceeded the budget of {scale.budget_minutes:.0f}, "
            f"and its runs cost the most, {saving(worst):.0f} minutes"))
        moved.append(worst)
    return {"scale": scale.name, "deciding_alpha": stats.DECIDING, "power": stats.POWER,
            "family": stats.FAMILY, "budget_minutes": scale.budget_minutes,
            "max_seeds": scale.max_seeds, "pilot_minutes": spent, "total_minutes": total,
            "claims": claims,
            "arms": {k: {**a, "seeds": seeds[k]} for k, a in arms.items()},
            "moved_to_not_testable": moved}


def plan_table(plan: dict) -> str:
    """The plan as text, printed before the long runs start."""
    lines = [f"Plan for --scale {plan['scale']}: primary tests at α/{plan['family']} = "
             f"{plan['deciding_alpha']:.4f} (two-sided), {plan['power']:.0%} power", "",
             f"{'regime':8} {'arm':48} {'min/run':>8} {'seeds':>5} {'minutes':>8}"]
    for a in plan["arms"].values():
        est = "" if a["measured"] else "~"
        lines.append(f"{a['regime']:8} {a['label'][:48]:48} {est + format(a['minutes'], '.1f'):>8} "
                     f"{a['seeds']:>5} {a['seeds'] * a['minutes']:>8.0f}")
    lines += ["", f"{'claim':13} {'effect':>8} {'σ plan':>8} {'seeds':>6}  verdict possible?"]
    for name, c in plan["claims"].items():
        sd = "-" if c["sd_planned"] is None else f"{c['sd_planned']:.3g}"
        n = c["seeds_needed"] or f">{plan.get('max_seeds', '')}"
        state = "yes" if c["testable"] else f"no: not testable at this scale ({c['why']})"
        lines.append(f"{name:13} {c['effect']:>8.3g} {sd:>8} {n!s:>6}  {state}")
    lines += ["", f"total {plan['total_minutes']:.0f} minutes of this machine "
                  f"(pilot {plan['pilot_minutes']:.0f}), budget {plan['budget_minutes']:.0f}; "
                  "~ marks minutes estimated from the regime's baseline"]
    return "\n".join(lines)
