"""The pilot and the context claims run in: every primary test's arms on ``pilot_seeds`` seeds,
then the plan (:mod:`.plan`), printed and written with its provenance before the long runs.

The pilot's runs are the first seeds of the claims' own runs (the run cache keeps them), so
they cost nothing twice. The plan reads only the pilot's seed-to-seed spreads and minutes per
run, never a difference between arms: the effects stay unseen when the seeds are chosen (the
differences are recorded, and the pilot's seeds are part of each test). Arms that no primary
test compares by spread (no PCA lighting, the 24×24 patches, Figure 3's controls) are not
piloted: the plan counts their runs at their regime baseline's minutes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..files import update_json
from ..runtime import provenance
from .data import data_sha256, for_regime
from .measures import figure1, figure1_epochs
from .parallel import Job, train_side_by_side
from .plan import make_plan, plan_table
from .records import load_file
from .runs import train_arm
from .settings import ARMS, CONTROL, PRIMARY, SCHEMA, Arm, Primary, Scale, arm_key

__all__ = ["Context", "pilot", "piloted_arms"]


@dataclass
class Context:
    """What a claim's run needs: the scale, the device, and how many seeds each arm gets:
    ``fixed_seeds`` if given, else the plan (:func:`pilot`), kept per regime in ``plans``
    (``{regime: {"seeds", "arms", "claims"}}``) and in ``plan_file``."""

    scale: Scale
    device: torch.device
    progress: bool = False
    fixed_seeds: int | None = None
    plans: dict = field(default_factory=dict)
    plan_file: Path | None = None
    command: str | None = None
    jobs: int = 1

    def train_planned(self) -> None:
        """With ``jobs > 1``: every planned run of every arm, side by side, into the run cache
        (:mod:`.parallel`), before the claims read them one by one."""
        jobs = [Job("figure1", a, self.arm_seeds("figure1", a), _weight(self.scale, "figure1"))
                for a in ("relu", "tanh")]
        for regime in ("lrn", "overfit", "recipe"):
            jobs += [Job(regime, i, s, _weight(self.scale, regime))
                     for i, arm in enumerate(ARMS[regime])
                     for s in range(self.arm_seeds(regime, arm))]
        train_side_by_side(jobs, self.scale, self.device, self.jobs, self.progress)

    def planned(self, regime: str) -> dict:
        if not self.plans:
            self.plans = pilot(self)
        return self.plans[regime]

    def seeds(self, regime: str) -> int:
        """The most seeds any arm of ``regime`` gets."""
        return self.fixed_seeds or self.planned(regime)["seeds"]

    def arm_seeds(self, regime: str, arm: Arm | str) -> int:
        return self.fixed_seeds or self.planned(regime)["arms"][arm_key(regime, arm)]["seeds"]

    def claim_plan(self, name: str) -> dict:
        """The plan's entry for a claim (testable or not, seeds needed); fixed seeds: testable."""
        if self.fixed_seeds:
            return {"testable": True, "seeds_needed": None, "why": None}
        return self.planned(PRIMARY[name].regime)["claims"][name]

    def runs(self, arm: Arm, seeds: int | None = None) -> list:
        """Seeds ``0..n-1`` of ``arm`` (n: ``seeds`` or the plan's)."""
        n = seeds or self.arm_seeds(arm.regime, arm)
        return [train_arm(arm, self.scale, s, self.device, self.progress) for s in range(n)]

    def arm(self, regime: str, index: int) -> list:
        """Every seed's run of arm ``index`` of ``regime``."""
        return self.runs(ARMS[regime][index])


def _weight(scale: Scale, regime: str) -> float:
    """A run's expected cost, for the order of :func:`.parallel.train_side_by_side` only: its
    training images × epochs, ×4 for CifarAlexNet; Figure 1's job is a search and its seeds."""
    g = scale.regime(regime)
    images = g.train_images or 45_000
    if regime == "figure1":
        return images * scale.relu_tune_epochs * (len(scale.relu_lrs) + scale.pilot_seeds)
    return images * g.epochs * (4 if g.arch == "cifar" else 1)


def _pilot_jobs(context: Context) -> list[Job]:
    scale, k = context.scale, context.scale.pilot_seeds
    jobs = [Job("figure1", a, k, _weight(scale, "figure1")) for a in ("relu", "tanh")]
    for p in PRIMARY.values():
        if p.regime != "figure1":
            jobs += [Job(p.regime, ARMS[p.regime].index(arm), s, _weight(scale, p.regime))
                     for arm in piloted_arms(p) for s in range(k)]
    return list(dict.fromkeys(jobs))


def _arm(regime: str, label: str, seconds: list[float] | None, trained: int, least: int,
         estimate: float | None = None) -> dict:
    minutes = sum(seconds) / len(seconds) / 60 if seconds else estimate
    return {"regime": regime, "label": label, "minutes": minutes, "measured": bool(seconds),
            "trained": trained, "least_seeds": least}


def _claim(name: str, values: dict | None, arms: list[str]) -> dict:
    p = PRIMARY[name]
    return {"regime": p.regime, "arms": arms, "kind": p.kind, "effect": p.effect,
            "effect_source": p.source, "unit": p.unit, "values": values,
            "null_rate": 0.05 if p.kind == "count" else None}


def _figure1(context: Context, arms: dict, claims: dict) -> float:
    k = context.scale.pilot_seeds
    found = figure1(context, k)
    seconds = sum(r["seconds"] for a in found["tuned"] for r in found["tuned"][a]["grid"])
    for a, runs in found["runs"].items():
        arms[arm_key("figure1", a)] = _arm("figure1", a, [r["seconds"] for r in runs], k, k)
        seconds += sum(r["seconds"] for r in runs)
    epochs = figure1_epochs(found)
    claims["relu"] = _claim("relu", {a: [math.log(e) for e in epochs[a]] for a in ("tanh", "relu")},
                            [arm_key("figure1", a) for a in ("relu", "tanh")])
    return seconds


def _values(name: str, runs: list[list], context: Context) -> dict:
    """The per-seed values a primary test compares (worse arm first), in its unit."""
    if name == "neighbours":
        found = [r.record["probes"]["neighbours"] for r in runs[0]]
        return {"fc7": [100 * f["feature_agreement"] for f in found],
                "pixels": [100 * f["pixel_agreement"] for f in found]}
    better, worse = ([100 * r.metrics["test_top1"] for r in arm] for arm in runs)
    return {"worse": worse, "better": better}


def piloted_arms(p: Primary) -> list[Arm]:
    """The arms the pilot trains for a primary test: both arms of a paired test, the grouped arm
    of Figure 3's count (its controls are not compared by spread)."""
    return [ARMS[p.regime][i] for i in p.arms[:1 if p.kind == "count" else None]]


def pilot(context: Context) -> dict:
    """Train the pilot, make the plan, print it, write ``plan_file``; the plan per regime."""
    scale, k = context.scale, context.scale.pilot_seeds
    train_side_by_side(_pilot_jobs(context), scale, context.device, context.jobs,
                       context.progress)
    arms, claims = {}, {}
    seconds = _figure1(context, arms, claims)
    trained = {}
    for name, p in PRIMARY.items():
        if p.regime == "figure1":
            continue
        piloted = piloted_arms(p)
        for arm in piloted:
            if arm_key(p.regime, arm) not in trained:
                trained[arm_key(p.regime, arm)] = context.runs(arm, k)
                found = [r.record["seconds"] for r in trained[arm_key(p.regime, arm)]]
                arms[arm_key(p.regime, arm)] = _arm(p.regime, arm.label, found, k, k)
                seconds += sum(found)
        keys = [arm_key(p.regime, a) for a in piloted]
        values = None if p.kind == "count" else _values(name, [trained[x] for x in keys], context)
        claims[name] = _claim(name, values, keys)
    for regime in ("lrn", "overfit", "recipe"):
        baseline = arms[arm_key(regime, ARMS[regime][0])]["minutes"]
        for arm in ARMS[regime]:
            least = scale.controls if arm == CONTROL else k
            arms.setdefault(arm_key(regime, arm), _arm(regime, arm.label, None, 0, least, baseline))
    plan = make_plan({"claims": claims, "arms": arms, "spent_minutes": seconds / 60}, scale)
    table = plan_table(plan)
    print(table, flush=True)
    regimes = {r: {"seeds": max(a["seeds"] for a in plan["arms"].values() if a["regime"] == r),
                   "arms": {x: a for x, a in plan["arms"].items() if a["regime"] == r},
                   "claims": {n: c for n, c in plan["claims"].items() if c["regime"] == r}}
               for r in ("figure1", "lrn", "overfit", "recipe")}
    if context.plan_file is not None:
        written = {"scale": scale.name, "schema": SCHEMA, "regimes": regimes, "plan": plan,
                   "pilot_values": {n: c["values"] for n, c in claims.items()}, "table": table,
                   "provenance": {**provenance(context.device, context.command),
                                  "data_sha256": {r: data_sha256(for_regime(
                                      scale.regime(r), scale.test_images))
                                      for r in regimes},
                                  "wall_seconds": round(seconds, 1)}}
        update_json(context.plan_file, lambda found: merged(found, written), read=load_file)
    return regimes


def merged(found: dict | None, written: dict) -> dict:
    """The pilot file another process left (``found``, read under the folder's lock) with this
    pilot's plan added: a regime planned only there keeps its plan, so two claims started at once
    into one ``--out`` never lose one."""
    if not found:
        return written
    return {**found, **written, "regimes": {**found["regimes"], **written["regimes"]},
            "pilot_values": {**found.get("pilot_values", {}), **written["pilot_values"]}}
