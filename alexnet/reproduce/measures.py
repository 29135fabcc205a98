"""Figure 1's learning-rate search and runs (§3.1): what the ``relu`` claim measures, beyond
the errors. Figure 3's split, Figure 4's neighbours and §4.1's ten patches are measured on each
network when its run ends (:mod:`.probes`, re-exported here).
"""
from __future__ import annotations

import math

from .probes import filter_split, neighbours_of, ten_patch_errors
from .runs import figure1_run

__all__ = ["tune_learning_rate", "figure1", "filter_split", "neighbours_of",
           "ten_patch_errors"]


# ---------------------------------------------------------------- Figure 1 (§3.1)

def _faster(run: dict, best: dict) -> bool:
    a, b = run["epochs_to_target"], best["epochs_to_target"]
    if a is not None and b is not None:
        return a < b
    if a is not None or b is not None:
        return a is not None
    return run["final_train_top1"] < best["final_train_top1"]


def _edge(best: dict, rates: list[float]) -> str | None:
    """"high" or "low" when the best rate is the grid's edge and a rate past it could still win
    (a diverged neighbour closes the edge); None when it is interior."""
    if best["lr"] == max(rates) and not best["diverged"]:
        return "high"
    if best["lr"] == min(rates):
        return "low"
    return None


def tune_learning_rate(activation: str, context) -> dict:
    """§3.1: "the learning rates for each network were chosen independently to make training as
    fast as possible": each rate of the grid on the tuning seed (no test uses it); the fewest
    epochs to the target wins, else the lowest training error at the end. Later rates get only as
    many epochs as the best so far needed, since they cannot win with more. While the best rate
    is an edge of the grid, the grid grows past it by its own step (at most
    ``relu_grid_extensions`` rates), so that the chosen rate is interior; the added rates are
    recorded."""
    scale, runs, best, added = context.scale, [], None, []
    rates = sorted(scale.relu_lrs)
    step = (rates[-1] / rates[0]) ** (1 / max(1, len(rates) - 1))
    queue = list(rates)
    while queue:
        lr = queue.pop(0)
        reached = best is not None and best["epochs_to_target"] is not None
        budget = max(1, math.ceil(best["epochs_to_target"])) if reached else scale.relu_tune_epochs
        run = figure1_run(activation, lr, scale.tuning_seed, scale, context.device, budget,
                          context.progress)
        runs.append(run)
        if best is None or _faster(run, best):
            best = run
        if not queue and len(added) < scale.relu_grid_extensions:
            edge = _edge(best, rates)
            if edge:
                rates.append(rates[-1] * step if edge == "high" else rates[0] / step)
                rates.sort()
                added.append(rates[-1] if edge == "high" else rates[0])
                queue.append(added[-1])
    return {"activation": activation, "lr": best["lr"], "grid": runs, "rates": rates,
            "added_rates": added, "at_grid_edge": _edge(best, rates) is not None}


def figure1(context, seeds: int, activations: tuple[str, ...] = ("relu", "tanh")) -> dict:
    """Both activations: the tuned rates and seeds ``0..seeds-1`` run at them."""
    scale = context.scale
    tuned = {a: tune_learning_rate(a, context) for a in activations}
    runs = {a: [figure1_run(a, tuned[a]["lr"], s, scale, context.device, scale.relu_budget,
                            context.progress) for s in range(seeds)] for a in tuned}
    return {"tuned": tuned, "runs": runs}


def figure1_epochs(found: dict) -> dict[str, list[float]]:
    """Per activation, each seed's epochs to the target; a run that never got there counts
    with its whole curve (the estimate is then a bound)."""
    return {a: [len(r["curve"]) if r["epochs_to_target"] is None else r["epochs_to_target"]
                for r in found["runs"][a]] for a in found["runs"]}

