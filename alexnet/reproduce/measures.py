"""What the claims measure on trained networks, beyond their errors: Figure 1's search and runs
(§3.1), Figure 3's colour split (§6.1), Figure 4's neighbours (§6.1) and §4.1's ten patches.

Each function takes finished runs (or trains Figure 1's, through :mod:`.runs`) and returns plain
numbers; the claims (:mod:`.claims`) turn them into tests, the pilot (:func:`.claims.pilot`)
into a plan, the reference run (:mod:`.reference`) into its figures.
"""
from __future__ import annotations

import math

import torch

from ..analysis import (colour_specificity, conv1_weight, last_hidden_features,
                        nearest_neighbours, neighbour_agreement, pixel_vectors, split_null,
                        top_k_predictions, tower_colour_specificity)
from ..transforms import SubtractMean, TenPatches
from .data import spread
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


# ---------------------------------------------------------------- Figure 3 (§6.1)

def filter_split(model, start) -> dict:
    """Figure 3 for one network: each tower's colour-specificity index after training and at
    initialisation, the gap between the towers, its permutation null (mean and p-value)."""
    weight = conv1_weight(model)
    index = colour_specificity(weight)
    split = split_null(index)
    return {"towers": tower_colour_specificity(weight),
            "towers_at_init": tower_colour_specificity(start), "gap": split["gap"],
            "null_gap_mean": split["null_mean"], "p_value": split["p_value"],
            "index_per_kernel": [round(v, 5) for v in index.tolist()]}


# ---------------------------------------------------------------- Figure 4 (§6.1)

def neighbours_of(model, data, queries: int, k: int, device) -> dict:
    """Figure 4 for one network: the share of each query's ``k`` nearest training images (by fc7
    distance, and by pixel distance) that have its class, and a few examples."""
    centre = SubtractMean(data.mean)
    chosen = spread(min(queries, len(data.test)), len(data.test))
    query_images, query_labels = data.test.images[chosen], data.test.targets[chosen]
    pixels_q, pixels_db = pixel_vectors(query_images), pixel_vectors(data.train.images)
    _, by_pixels = nearest_neighbours(pixels_q, pixels_db, max(k, 6))
    features = [torch.cat([last_hidden_features(model, centre(part).to(device)).cpu()
                           for part in images.split(5000)])
                for images in (query_images, data.train.images)]
    _, by_features = nearest_neighbours(features[0], features[1], max(k, 6))
    agree = {name: neighbour_agreement(query_labels, data.train.targets, idx[:, :k]).mean().item()
             for name, idx in (("feature", by_features), ("pixel", by_pixels))}
    shown = spread(5, len(chosen))
    probabilities, classes = top_k_predictions(model, centre(query_images[spread(8, len(chosen))])
                                               .to(device))
    test_at = data.test_indices[chosen]
    return {"feature_agreement": agree["feature"], "pixel_agreement": agree["pixel"],
            "queries": len(chosen), "k": k,
            "examples": [{"test_index": int(test_at[i]),
                          "by_features": data.train_indices[by_features[i, :6]].tolist(),
                          "by_pixels": data.train_indices[by_pixels[i, :6]].tolist()}
                         for i in shown.tolist()],
            "top5": {"test_index": test_at[spread(8, len(chosen))].tolist(),
                     "classes": classes.cpu().tolist(),
                     "probabilities": [[round(p, 5) for p in row]
                                       for row in probabilities.cpu().tolist()]}}


# ---------------------------------------------------------------- §4.1's ten patches

@torch.no_grad()
def ten_patch_errors(model, data, size: int, device) -> dict:
    """Test error of a network trained on ``size``×``size`` patches: on the centre patch, and on
    the softmax averaged over the ten patches of :class:`~alexnet.transforms.TenPatches`."""
    model.eval()
    centre, patches = SubtractMean(data.mean), TenPatches(size)
    wrong = {"centre": 0, "ten": 0}
    for images, targets in zip(data.test.images.split(500), data.test.targets.split(500)):
        views = patches(centre(images)).to(device)                       # (N, 10, 3, s, s)
        probabilities = model(views.flatten(0, 1)).float().softmax(-1)
        probabilities = probabilities.view(len(images), 10, -1).cpu()
        wrong["centre"] += (probabilities[:, TenPatches.CENTRE].argmax(1) != targets).sum().item()
        wrong["ten"] += (probabilities.mean(1).argmax(1) != targets).sum().item()
    return {k: v / len(data.test) for k, v in wrong.items()}
