"""The reference run: the family working, on all of CIFAR-10.

``alexnet reproduce reference --scale cpu`` trains two networks on CIFAR-10's training images
(45,000; the other 5,000 held out for every training decision) and scores them on all 10,000 test
images, once each, after training:

- :class:`~alexnet.FourLayerCNN`, Figure 1's net, with cuda-convnet's recipe for it (crops and
  flips, weight decay 0.004, ``layers-18pct.cfg`` in cuda-convnet's examples);
- :class:`~alexnet.CifarAlexNet` with the paper's recipe (§5: SGD, momentum 0.9, weight decay
  5e-4, batch 128, learning rate 0.01 divided by 10 three times; §4.1 crops, flips and PCA
  lighting; §4.2 dropout 0.5 in fc6 and fc7).

The learning rates follow §5's rule on held-out training images (no schedule reads the test
set); the test images are also scored after every epoch, for the curve only. The result, ``reference-<scale>.json``, holds
per network its test error, curves, per-class errors, confusion matrix, conv1 kernels at the start
and the end (Figure 3's material: each tower's kernels and W − W_init), its towers' colour split,
and Figure 4's material (top-5 predictions for a few test images, and the nearest training images
of test images by fc7 distance and by pixel distance).
"""
from __future__ import annotations

import os
import time

import torch

from ..files import check_destination, write_json
from ..runtime import machine, provenance
from .data import data_sha256, for_regime
from .experiment import context_for, regime_words, schedule_words
from .probes import confusion
from .results import RESULTS, result_path
from .runs import log, train_arm
from .settings import SCHEMA, Arm

__all__ = ["REFERENCE_ARMS", "run_reference", "confusion", "schedule_words"]

#: The two reference networks: their arms in the scale's ``reference-*`` regimes.
REFERENCE_ARMS = (Arm("FourLayerCNN, cuda-convnet's recipe", "reference-four",
                      probes=("reference", "neighbours")),
                  Arm("CifarAlexNet, the paper's recipe", "reference-cifar",
                      probes=("reference", "filters", "neighbours")))


def _network(arm: Arm, context, progress: bool) -> dict:
    scale = context.scale
    regime = scale.regime(arm.regime)
    run = train_arm(arm, scale, 0, context.device, progress, test_curve=True)
    data = for_regime(regime, scale.test_images)
    probes = run.record["probes"]
    found = probes["reference"]
    counts = torch.tensor(found["confusion"])
    entry = {"arch": found["arch"], "label": arm.label, "regime": regime.name,
             "test_images": len(data.test), "train_images": len(data.train),
             "test_error": run.metrics["test_top1"], "test_loss": run.metrics["test_loss"],
             "train_error": run.metrics["train_top1"], "curve": run.record["curve"],
             "seconds": run.record["seconds"], "model": run.record["model"],
             "classes": list(data.test.classes),
             "per_class_error": (1 - counts.diag() / counts.sum(1)).tolist(),
             **{k: v for k, v in found.items() if k != "arch"},
             "data_sha256": data_sha256(data)}
    if "filters" in probes:
        entry["filters"] = probes["filters"]
    entry["neighbours"] = probes["neighbours"]
    return entry


def run_reference(scale: str = "cpu", out: str | os.PathLike | None = RESULTS,
                  progress: bool = False, device: str | None = None,
                  command: str | None = None) -> dict:
    """Train (or load) both reference networks and write ``out/reference-<scale>.json`` (checked
    before anything trains: :func:`alexnet.files.check_destination`)."""
    context = context_for(scale, device, 1, None, progress)
    if out is not None:
        check_destination(result_path(out, "reference", context.scale.name), "json")
    load_start, began = machine(context.device)["load_average"], time.perf_counter()
    networks = {arm.regime.removeprefix("reference-"): _network(arm, context, progress)
                for arm in REFERENCE_ARMS}
    wall = time.perf_counter() - began
    trained = sum(n["seconds"] for n in networks.values())
    result = {"scale": context.scale.name, "schema": SCHEMA,
              "regimes": {arm.regime: regime_words(context.scale.regime(arm.regime))
                          for arm in REFERENCE_ARMS},
              "networks": networks,
              "provenance": {**provenance(context.device, command),
                             "load_average_start": load_start,
                             "data_sha256": {n: e["data_sha256"] for n, e in networks.items()},
                             "wall_seconds": round(max(wall, trained), 1)}}
    for name, entry in networks.items():
        log(progress, f"reference {name}: test error {entry['test_error']:.2%}")
    if out is not None:
        write_json(result, result_path(out, "reference", context.scale.name))
    return result
