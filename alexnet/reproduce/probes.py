"""What is measured on a trained network when its run ends, and kept in the run's record:
Figure 3's colour split (§6.1), Figure 4's neighbours and top-5 guesses (§6.1), §4.1's ten
patches, and the reference run's confusion matrix and conv1 kernels.

An arm names the probes its claims read (``Arm.probes``); :func:`.runs.train_arm` takes them
right after training, from the network with the weights of its best validation epoch, and stores
them in the record. So the run cache holds numbers, not weights (kilobytes a run instead of
megabytes): a GPU session's cache comes back through the device tool and the next session
resumes from it.
"""
from __future__ import annotations

import torch

from ..analysis import (colour_specificity, conv1_weight, last_hidden_features,
                        nearest_neighbours, neighbour_agreement, pixel_vectors, split_null,
                        top_k_predictions, tower_colour_specificity)
from ..transforms import SubtractMean, TenPatches
from .data import spread

__all__ = ["PROBES", "probe", "start_of", "filter_split", "neighbours_of", "ten_patch_errors",
           "confusion"]


def _conv1(model) -> torch.nn.Conv2d:
    return next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))


def start_of(model) -> dict:
    """conv1's weights and biases at initialisation (before training changes them in place)."""
    return {"weight": conv1_weight(model).clone(), "bias": _conv1(model).bias.detach().cpu().clone()}


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


def _filters(model, start, data, arm, scale, device) -> dict:
    weight = conv1_weight(model)
    return {**filter_split(model, start["weight"]),
            "conv1_weight": [round(v, 5) for v in weight.flatten().tolist()],
            "conv1_shape": list(weight.shape)}


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


def _neighbours(model, start, data, arm, scale, device) -> dict:
    return neighbours_of(model, data, scale.neighbour_queries, scale.neighbours_k, device)


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


def _ten_patch(model, start, data, arm, scale, device) -> dict:
    return ten_patch_errors(model, data, arm.crop, device)


# ---------------------------------------------------------------- the reference run

@torch.no_grad()
def confusion(model, data, device) -> torch.Tensor:
    """(10, 10) counts: row = true class, column = predicted class, over the test images."""
    model.eval()
    centre, counts = SubtractMean(data.mean), torch.zeros(10, 10, dtype=torch.long)
    for images, targets in zip(data.test.images.split(500), data.test.targets.split(500)):
        predicted = model(centre(images).to(device)).argmax(1).cpu()
        counts += torch.bincount(targets * 10 + predicted, minlength=100).view(10, 10)
    return counts


def _reference(model, start, data, arm, scale, device) -> dict:
    end, end_bias = conv1_weight(model), _conv1(model).bias.detach().cpu()
    return {"arch": type(model).__name__, "confusion": confusion(model, data, device).tolist(),
            "conv1_shape": list(end.shape),
            "conv1_start": [round(v, 6) for v in start["weight"].flatten().tolist()],
            "conv1_end": [round(v, 6) for v in end.flatten().tolist()],
            "conv1_bias_start": [round(v, 6) for v in start["bias"].tolist()],
            "conv1_bias_end": [round(v, 6) for v in end_bias.tolist()]}


#: The probes an arm may name, each ``(model, start, data, arm, scale, device) -> dict``.
PROBES = {"filters": _filters, "neighbours": _neighbours, "ten_patch": _ten_patch,
          "reference": _reference}


def probe(arm, model, start: dict, data, scale, device) -> dict:
    """Every probe ``arm`` names, on ``model`` after training (``start``: :func:`start_of` the
    same network before it)."""
    return {name: PROBES[name](model, start, data, arm, scale, device) for name in arm.probes}
