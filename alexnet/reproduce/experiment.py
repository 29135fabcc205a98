"""Running claims: one, all of them, or a GPU group; each result written with its provenance.

::

    python -m alexnet reproduce relu lrn --scale cpu           # two claims (the pilot first)
    python -m alexnet reproduce all --scale cpu                # every claim, then the ledger
    python -m alexnet reproduce all --scale gpu --group 1      # one group that fits a GPU call

The provenance of a result names the command, the code (git commit, whether the tree was dirty,
a hash of the package's source), the machine (device, CPU model, threads, load average at the
start and the end), the versions, the date, a SHA-256 of the data actually read, and
``wall_seconds``: the claim's own time plus the training time of every run it uses, including
runs made earlier for another claim or by the pilot.
"""
from __future__ import annotations

import os
import time

import torch

from ..errors import AlexNetError
from ..runtime import keep_freed_memory, machine, provenance, resolve_device, write_json
from ..train import TrainConfig, Trainer
from .claims import CLAIMS, ORDER, Context
from .data import data_sha256, for_regime
from ..files import check_destination
from .results import DEFAULT_OUT, finalise, load_file, result_path
from .pilot import piloted_arms
from .runs import CLOCK, build, log, time_arm
from .settings import ARMS, CONTROL, PRIMARY, SCALES, Arm, arm_key, with_overrides

__all__ = ["GPU_GROUPS", "context_for", "run_claim", "run_all", "setting_words", "regime_words",
           "schedule_words", "plan_estimate", "estimate_table"]

#: Claims in groups that each fit one GPU call of a few minutes (sharing regimes within a group).
GPU_GROUPS = {1: ("relu", "lrn"), 2: ("overlap", "dropout"),
              3: ("augmentation", "two-gpu", "depth", "filters", "neighbours")}


def context_for(scale: str, device: str | None = None, seeds: int | None = None,
                out: str | os.PathLike | None = DEFAULT_OUT, progress: bool = False,
                command: str | None = None, jobs: int = 1) -> Context:
    """The context claims run in; the seed plan is read from (and added to) ``out``'s
    ``pilot-<scale>.json``; ``command`` is what the pilot's provenance records."""
    if scale not in SCALES:
        raise AlexNetError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    size = SCALES[scale]
    if size.device == "cuda" and (not torch.cuda.is_available() or device == "cpu"):
        raise AlexNetError(f"--scale {scale} needs a CUDA device: use --scale cpu on this machine")
    where = resolve_device(device or size.device)
    if where.type == "cpu":
        keep_freed_memory()
    plan_file = result_path(out, "pilot", scale) if out is not None else None
    plans = load_file(plan_file)["regimes"] if plan_file and plan_file.is_file() else {}
    return Context(size, where, progress, seeds, plans, plan_file, command, jobs)


def setting_words(name: str, context: Context) -> str:
    """Our setting in words, generated from the scale (never typed)."""
    claim, scale = CLAIMS[name], context.scale
    regimes = ["figure1"] if name == "relu" else \
        ["overfit", "recipe"] if name == "augmentation" else [claim.regime]
    parts = []
    for r in regimes:
        g = scale.regime(r)
        if r == "figure1":
            images = training_images(g)
            rates = ", ".join(f"{x:g}" for x in scale.relu_lrs)
            parts.append(f"{images} training images, up to {scale.relu_budget} epochs to "
                         f"{scale.relu_target:.0%} training error at a constant learning rate, "
                         f"the fastest of {rates} per activation (chosen on seed "
                         f"{scale.tuning_seed}, which no test uses), no weight decay, dropout or "
                         "augmentation")
            continue
        parts.append(f"{r} regime: {regime_words(g)}; {context.seeds(r)} seeds")
    tested = f"{scale.test_images:,}" if scale.test_images else "all 10,000"
    return (f"{scale.name.upper()} scale: {claim.data_note}; {claim.model}; "
            + "; ".join(parts) + f"; scored on {tested} test images")


def training_images(g) -> str:
    """How many training images a regime trains on: its subset, or all of CIFAR-10's 50,000
    but the held-out ones."""
    if g.train_images:
        return f"{g.train_images:,}"
    return f"{50_000 - g.val_images:,}" if g.val_images else "all 50,000"


def regime_words(g) -> str:
    """A regime (:class:`~.settings.Regime`) in words: images, schedule, recipe, regularisers."""
    images = training_images(g)
    regular = [x for x, on in (("crops and flips", g.augment), ("PCA lighting", g.lighting),
                               (f"dropout {g.dropout:g}", g.dropout > 0)) if on]
    return (f"{images} training images, "
            + (", ".join(regular) if regular else "no dropout or augmentation")
            + f", batch {g.batch_size}, momentum 0.9, weight decay {g.weight_decay:g}; "
            + schedule_words(g))


def schedule_words(g) -> str:
    """A regime's learning-rate schedule and stopping rule in words."""
    if g.schedule == "step":
        steps = ", ".join(map(str, g.milestones))
        return f"{g.epochs} epochs, SGD lr {g.lr:g} ÷10 after epochs {steps}"
    if g.schedule == "constant":
        return f"up to {g.epochs} epochs at a constant lr"
    stop = (f", stopped after {g.early_stopping} epochs without improvement"
            if g.early_stopping else "")
    return (f"up to {g.epochs} epochs, SGD lr {g.lr:g} ÷10 when the error on {g.val_images:,} "
            f"held-out training images has not improved for {g.plateau_patience} epochs (at "
            f"most {g.max_lr_drops} times){stop}, tested once at the best validation epoch")


def _data_hashes(name: str, context: Context) -> dict:
    regimes = ["figure1"] if name == "relu" else \
        ["overfit", "recipe"] if name == "augmentation" else [CLAIMS[name].regime]
    return {r: data_sha256(for_regime(context.scale.regime(r), context.scale.test_images))
            for r in regimes}


def _seconds_used(found: dict) -> float:
    runs = list(found.get("runs", [])) + list(found.get("extra", {}).get("tuning", []))
    return sum(r.get("seconds", 0.0) for r in runs)


def run_claim(name: str, scale: str = "cpu", out: str | os.PathLike | None = DEFAULT_OUT,
              progress: bool = False, device: str | None = None, seeds: int | None = None,
              command: str | None = None, context: Context | None = None,
              finalise_now: bool = True) -> dict:
    """Run one claim and return its result; with ``out``, write ``out/<claim>-<scale>.json``,
    then (``finalise_now``) adjust every test of the scale for multiplicity and rewrite the
    ledger. The result holds ``claim``, ``paper``, ``setting`` (in words), ``scale``,
    ``regimes`` (the settings as data), ``seeds``, ``tests``, ``runs``, ``extra``,
    ``why_it_may_differ`` and ``provenance``."""
    if name not in CLAIMS:
        raise AlexNetError(f"unknown claim {name!r}: choose one of {', '.join(CLAIMS)} or all")
    if out is not None:                # before any training: a result that cannot be written
        check_destination(result_path(out, name, scale), "json")
    context = context or context_for(scale, device, seeds, out, progress, command)
    spec, load_start = CLAIMS[name], machine(context.device)["load_average"]
    began, trained_before = time.perf_counter(), CLOCK["training_seconds"]
    found = spec.run(context)
    own = time.perf_counter() - began - (CLOCK["training_seconds"] - trained_before)
    from dataclasses import asdict

    result = {"claim": name, "number": spec.number,
              "paper": {"section": spec.section, "statement": spec.statement,
                        "number": spec.paper_number},
              "setting": setting_words(name, context), "scale": context.scale.name,
              "regimes": {r: asdict(g) for r, g in context.scale.regimes.items()},
              "seeds": {r: p["seeds"] for r, p in context.plans.items()}
              if not context.fixed_seeds else context.fixed_seeds,
              "tests": found["tests"], "runs": found["runs"], "extra": found.get("extra", {}),
              "why_it_may_differ": spec.differs,
              "provenance": {**provenance(context.device, command), "load_average_start":
                             load_start, "data_sha256": _data_hashes(name, context),
                             "wall_seconds": round(own + _seconds_used(found), 1)}}
    log(progress, f"{name}: done ({result['provenance']['wall_seconds'] / 60:.1f} min)")
    if out is not None:
        write_json(result, result_path(out, name, context.scale.name))
        if finalise_now:
            finalise(out, context.scale.name)
            result = load_file(result_path(out, name, context.scale.name))
    return result


def run_all(scale: str = "cpu", out: str | os.PathLike | None = DEFAULT_OUT,
            progress: bool = False, device: str | None = None, seeds: int | None = None,
            command: str | None = None,
            names=ORDER, jobs: int = 1) -> dict:
    """Claims ``names`` (default all, in :data:`ORDER`) in one context, so runs they share train
    once; each result is written as soon as its claim is done, the ledger at the end. With
    ``jobs > 1`` every planned run is trained first, ``jobs`` side by side (:mod:`.parallel`)."""
    context = context_for(scale, device, seeds, out, progress, command, jobs)
    if jobs > 1:
        context.train_planned()
    results = {n: run_claim(n, out=out, command=command, context=context, finalise_now=False)
               for n in names}
    if out is None:
        return results
    finalise(out, context.scale.name)
    return {n: load_file(result_path(out, n, context.scale.name)) for n in names}


def _epoch_seconds(timing: dict) -> float:
    """Seconds of one epoch: training, then scoring the validation images."""
    n = timing["images"]
    return n["train"] * timing["train"] + n["val"] * timing["score"]


def _cap_minutes(timing: dict, epochs: int) -> float:
    """Minutes of one run that trains (and validates) for all ``epochs``, then scores once."""
    return (epochs * _epoch_seconds(timing) + timing["images"]["scored"] * timing["score"]) / 60


def _figure1_estimate(context: Context) -> dict:
    """Figure 1's search and pilot seeds at their epoch caps, per activation."""
    scale, rows = context.scale, {}
    rated = with_overrides(scale, "figure1", lr=scale.relu_lrs[0])   # the search sets the rate
    for activation in ("relu", "tanh"):
        arm = Arm(activation, "figure1", (("activation", activation),))
        timing = time_arm(arm, rated, context.device)
        epochs = ((len(scale.relu_lrs) + scale.relu_grid_extensions) * scale.relu_tune_epochs
                  + scale.pilot_seeds * scale.relu_budget)
        rows[arm_key("figure1", activation)] = {
            "regime": "figure1", "label": activation, "seconds_per_epoch": _epoch_seconds(timing),
            "epochs": scale.relu_budget, "minutes": _cap_minutes(timing, scale.relu_budget),
            "pilot_runs": scale.pilot_seeds, "pilot_minutes": _cap_minutes(timing, epochs),
            "least_seeds": scale.pilot_seeds}
    return rows


def plan_estimate(context: Context) -> dict:
    """What ``reproduce plan`` (the pilot) and the plan's least seeds would cost here, trained
    nothing: each arm's seconds per image measured on a few batches of its own loaders
    (:func:`.runs.time_arm`), every run at its regime's epoch cap (early stopping usually ends
    runs sooner, so these are upper bounds), Figure 1 with its whole search at its caps. The
    seeds beyond the least depend on the pilot's spreads, which only the pilot measures."""
    scale, rows = context.scale, _figure1_estimate(context)
    piloted = {id(a) for p in PRIMARY.values() if p.regime != "figure1" for a in piloted_arms(p)}
    for regime in ("lrn", "overfit", "recipe"):
        g = scale.regime(regime)
        for arm in ARMS[regime]:
            timing = time_arm(arm, scale, context.device)
            minutes, k = _cap_minutes(timing, g.epochs), scale.pilot_seeds
            rows[arm_key(regime, arm)] = {
                "regime": regime, "label": arm.label, "epochs": g.epochs, "minutes": minutes,
                "seconds_per_epoch": _epoch_seconds(timing),
                "pilot_runs": k if id(arm) in piloted else 0,
                "pilot_minutes": minutes * k if id(arm) in piloted else 0.0,
                "least_seeds": scale.controls if arm == CONTROL else scale.min_seeds}
    least = sum(r["pilot_minutes"] if r["regime"] == "figure1" else r["least_seeds"] * r["minutes"]
                for r in rows.values())
    return {"scale": scale.name, "device": machine(context.device)["device"],
            "load_average": machine(context.device)["load_average"], "arms": rows,
            "pilot_minutes": sum(r["pilot_minutes"] for r in rows.values()),
            "least_plan_minutes": least, "budget_minutes": scale.budget_minutes}


def estimate_table(estimate: dict) -> str:
    """:func:`plan_estimate` as text."""
    lines = [f"Estimate for --scale {estimate['scale']} on {estimate['device']} (load average "
             f"{estimate['load_average']}), every run at its epoch cap: an upper bound", "",
             f"{'regime':8} {'arm':48} {'s/epoch':>8} {'epochs':>6} {'min/run':>8} "
             f"{'pilot':>5} {'pilot min':>9}"]
    for r in estimate["arms"].values():
        lines.append(f"{r['regime']:8} {r['label'][:48]:48} {r['seconds_per_epoch']:>8.1f} "
                     f"{r['epochs']:>6} {r['minutes']:>8.1f} {r['pilot_runs']:>5} "
                     f"{r['pilot_minutes']:>9.0f}")
    lines += ["", f"reproduce plan (the pilot; Figure 1 with its whole search): at most "
                  f"{estimate['pilot_minutes']:.0f} minutes",
              f"every arm at the least seeds the plan can give: at most "
              f"{estimate['least_plan_minutes']:.0f} minutes, budget "
              f"{estimate['budget_minutes']:.0f}; more seeds follow from the pilot's spreads"]
    return "\n".join(lines)


class _TimedBatches:
    """``steps`` copies of one random CIFAR-sized batch; the clock starts after ``warmup`` steps
    (the device waited for) and :meth:`images_per_second` stops it."""

    def __init__(self, batch_size: int, device: torch.device, steps: int, warmup: int) -> None:
        self.batch_size, self.device, self.steps, self.warmup = batch_size, device, steps, warmup
        self.x = torch.randn(batch_size, 3, 32, 32, device=device)
        self.y = torch.randint(0, 10, (batch_size,), device=device)
        self.start = None

    def __iter__(self):
        for i in range(self.steps):
            if i == self.warmup:
                torch.cuda.synchronize(self.device)
                self.start = time.perf_counter()
            yield self.x, self.y

    def images_per_second(self) -> float:
        torch.cuda.synchronize(self.device)
        return (self.steps - self.warmup) * self.batch_size / (time.perf_counter() - self.start)


def gpu_estimate(group: int, context: Context) -> float:
    """Seconds a GPU group should take at most: every arm's images × epochs × the most seeds,
    over images/s of :meth:`~alexnet.train.Trainer.fit` measured on this device for each network
    (printed before the group runs)."""
    rates = {}
    for arch_regime in ("lrn", "recipe"):
        regime = context.scale.regime(arch_regime)
        model = build(ARMS[arch_regime][0], regime)
        timed = _TimedBatches(regime.batch_size, context.device, steps=25, warmup=5)
        config = TrainConfig(epochs=1, batch_size=regime.batch_size, schedule="step",
                             progress=False, reseed=False)
        Trainer(model, config, context.device).fit(timed)
        rates[regime.arch] = timed.images_per_second()
    regimes = {CLAIMS[n].regime for n in GPU_GROUPS[group]} | \
        ({"overfit"} if "augmentation" in GPU_GROUPS[group] else set())
    total = 0.0
    for r in regimes:
        g = context.scale.regime(r)
        images = (g.train_images or 50_000) * (g.epochs if r != "figure1" else
                                               context.scale.relu_budget)
        arms = 2 if r == "figure1" else len(ARMS[r])
        total += images * arms * context.scale.max_seeds / rates[g.arch]
    return total


def run_group(group: int, scale: str = "gpu", out=DEFAULT_OUT, progress: bool = False,
              device: str | None = None, command: str | None = None) -> dict:
    """One GPU group: print its time estimate, then run its claims (resumable: finished runs are
    read back from the run cache)."""
    if group not in GPU_GROUPS:
        raise AlexNetError(f"unknown group {group}: choose one of {', '.join(map(str, GPU_GROUPS))}")
    context = context_for(scale, device, None, out, progress)
    estimate = gpu_estimate(group, context)
    print(f"group {group} ({', '.join(GPU_GROUPS[group])}): at most about {estimate / 60:.1f} "
          f"minutes on {machine(context.device)['device']}", flush=True)
    return run_all(scale, out, progress, device, None, command, GPU_GROUPS[group])
