"""How many seeds: decided from a pilot's seed-to-seed spread, before any comparison is run.

The pilot trains the baseline arm of each regime with the first ``pilot_seeds`` seeds (runs the
claims then reuse: the choice depends only on the baseline's spread, never on an effect). With
:math:`\\sigma` the spread of the baseline's test error, a paired difference of two arms spreads
by at most :math:`\\sqrt 2\\,\\sigma` (pairing by seed only removes variance), so a regime gets the
fewest seeds whose minimum detectable effect (80% power, 5% level) reaches each of its claims'
paper effects, within the seeds its CPU budget allows (``Regime.budget_minutes``). An effect no
affordable number of seeds can detect is reported as such, and its claim as an estimate.

Figure 1's regime measures a ratio directly: its pilot runs both activations, and the spread is
that of the log ratio itself.
"""
from __future__ import annotations

import math

from . import stats
from .claims import ARMS, Context, figure1
from .runs import train_arm

__all__ = ["EFFECTS", "plan_regime"]

#: The paper's effects (in test-error points, or log ratios for Figure 1) each regime must detect.
EFFECTS = {
    "figure1": {"ReLU vs tanh, ×6 (§3.1)": math.log(6)},
    "lrn": {"LRN, 2 points (§3.3)": 2.0},
    "overfit": {"overlapping pooling, 0.4 points (§3.4)": 0.4},
    "recipe": {"PCA lighting, 1 point (§4.1)": 1.0, "two GPUs, 1.7 points (§3.2)": 1.7,
               "depth, 2 points (§7)": 2.0},
}


def _plan(name: str, sd: float, minutes: float, arms: int, scale) -> dict:
    budget = scale.regime(name).budget_minutes
    affordable = int(budget // max(minutes * arms, 1e-9))
    cap = max(scale.min_seeds, min(scale.max_seeds, affordable))
    needed = {label: stats.seeds_for(effect, sd, scale.min_seeds, cap)
              for label, effect in EFFECTS[name].items()}
    powered = [n for n in needed.values() if n is not None]
    return {"sd_of_difference": sd, "minutes_per_run": minutes, "arms": arms,
            "budget_minutes": budget, "most_seeds_affordable": cap, "seeds_needed": needed,
            "undetectable": [label for label, n in needed.items() if n is None],
            "seeds": max(powered) if powered else cap}


def plan_regime(name: str, context: Context) -> dict:
    """One regime's seed count and the evidence for it; trains (or loads) the pilot runs."""
    scale = context.scale
    if name == "figure1":
        found = figure1(context, seeds=scale.pilot_seeds)
        epochs = {a: [r["epochs_to_target"] or len(r["curve"]) for r in found["runs"][a]]
                  for a in found["runs"]}
        ratios = [math.log(s / f) for s, f in zip(epochs["tanh"], epochs["relu"])]
        runs = [r for a in found["runs"] for r in found["runs"][a]]
        minutes = sum(r["seconds"] for r in runs) / scale.pilot_seeds / 60
        return {**_plan(name, stats.summarise(ratios)["sd"], minutes, 1, scale),
                "pilot_log_ratios": ratios}
    runs = [train_arm(ARMS[name][0], scale, s, context.device, context.progress)
            for s in range(scale.pilot_seeds)]
    errors = [100 * r.metrics["test_top1"] for r in runs]
    minutes = sum(r.record["seconds"] for r in runs) / len(runs) / 60
    return {**_plan(name, math.sqrt(2) * stats.summarise(errors)["sd"], minutes,
                    len(ARMS[name]), scale), "pilot_test_errors": errors}
