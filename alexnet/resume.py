"""Resuming a run exactly where its last checkpoint ended, and what a resume may change.

A checkpoint (:mod:`alexnet.checkpoint`) holds the model, the optimizer, the schedule, the
gradient scaler, the metrics history, every random-number state and the run's
:class:`~alexnet.recipe.TrainConfig`. :func:`restore` loads it into a
:class:`~alexnet.train.Trainer` and refuses, with one line, a checkpoint of another model, of other
classes, of another validation split, or of another schedule (:data:`FIXED_ON_RESUME`); the options
of :data:`CHANGEABLE_ON_RESUME` apply from the next epoch and are recorded in the checkpoint's
``config_changes``, so the checkpoint says what ran.
"""
from __future__ import annotations

import random
import warnings
from dataclasses import asdict

import torch
import torch.distributed as dist

from .checkpoint import check_entries, load_checkpoint, load_weights, weight_mismatch
from .distributed import on_rank_zero
from .errors import AlexNetError
from .recipe import TrainConfig, seed_everything

__all__ = ["FIXED_ON_RESUME", "CHANGEABLE_ON_RESUME", "restore", "rng_state", "set_rng_state",
           "plain_config", "class_difference"]

#: Options of a run that its checkpoint's optimizer and schedule state embody: --resume must repeat
#: them (the command-line flag in brackets).
FIXED_ON_RESUME = {"momentum": "momentum", "schedule": "--schedule", "milestones": "--milestones",
                   "lr_factor": "--lr-factor", "patience": "--patience",
                   "max_lr_drops": "max_lr_drops", "restore_best": "restore_best"}
#: Options that --resume may change: applied from the next epoch and recorded in the checkpoint's
#: ``config_changes`` (with a warning, except for ``epochs``: more epochs is how a run is extended).
CHANGEABLE_ON_RESUME = ("epochs", "batch_size", "lr", "weight_decay", "amp", "seed",
                        "early_stopping")
_ERRORS = (KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError)


def restore(trainer) -> bool:
    """Load ``trainer.checkpoint_path`` into ``trainer`` if it exists; True when training continues
    from it. A new ``lr``, ``weight_decay``, batch size, seed, ``amp`` or ``early_stopping``
    applies from the next epoch, with a warning."""
    path = trainer.checkpoint_path
    state = on_rank_zero(lambda: load_checkpoint(path) if path.exists() else None) \
        if path is not None else None
    if state is None:
        return False
    check_entries(state, path)
    _check_same_model(trainer, state)
    _check_same_data(trainer, state)
    _check_parameter_groups(trainer, state)
    changes = _changes(trainer, state)
    load_weights(trainer.module, state["model"], source=f"checkpoint {path}")
    _load_states(trainer, state)
    trainer.epoch, trainer.history = state["epoch"], state["history"]
    trainer.best_state = state.get("best_model")
    _apply(trainer, changes)
    trainer.config_changes = list(state.get("config_changes") or []) + changes
    trainer.saved_epoch = trainer.epoch
    _restore_rng(trainer, state)
    return True


def _refuse(trainer, what: str) -> AlexNetError:
    return AlexNetError(f"checkpoint {trainer.checkpoint_path} {what}: it was edited by hand or "
                        "written by another version; start a new run in another --checkpoint-dir")


def _check_same_model(trainer, state: dict) -> None:
    """A clear error, naming the options and the layers that differ, for another model's
    checkpoint. The devices of a two-tower model may differ (each rank has its own GPUs)."""
    saved = dict(state.get("model_config") or {})
    own = dict(getattr(trainer.module, "config", {}))
    for config in (saved, own):
        config.pop("devices", None)
    if saved != own:
        keys = sorted(k for k in set(saved) | set(own) if saved.get(k) != own.get(k))
        options = ", ".join(f"{k} {saved.get(k)!r} vs {own.get(k)!r}" for k in keys[:4])
        layers = weight_mismatch(trainer.module, state["model"])
        layers = f"; {layers}" if layers else ""
        raise AlexNetError(f"checkpoint {trainer.checkpoint_path} was trained with other model "
                           f"options (checkpoint vs this run: {options}{layers}): resume with "
                           "the same options, or use another --checkpoint-dir")


def _check_same_data(trainer, state: dict) -> None:
    """The same classes, and the same validation split (its size and seed)."""
    saved = state.get("classes")
    if saved is not None and trainer.classes is not None and list(saved) != trainer.classes:
        raise AlexNetError(f"checkpoint {trainer.checkpoint_path} was trained on other classes "
                           f"({class_difference(saved, trainer.classes)}): resume on the data "
                           "it was trained on, or use another --checkpoint-dir")
    if state.get("split") != trainer.split:
        raise AlexNetError(f"checkpoint {trainer.checkpoint_path} was trained with validation split "
                           f"{state.get('split')} but this run has {trainer.split}: resume with "
                           "the same --val-images and --val-seed, or use another --checkpoint-dir")


def _check_parameter_groups(trainer, state: dict) -> None:
    """§5's decay on weights only needs the two groups of :func:`~alexnet.recipe.parameter_groups`."""
    groups = state["optimizer"].get("param_groups")
    names = [g.get("name") for g in groups] if isinstance(groups, list) and \
        all(isinstance(g, dict) for g in groups) else None
    if names != [g["name"] for g in trainer.optimizer.param_groups]:
        raise _refuse(trainer, f"has optimizer parameter groups {names} where this version has "
                               "weights and biases")


def _changes(trainer, state: dict) -> list[dict]:
    """Refuse a resume that changes what the saved optimizer and schedule embody; list the
    changes of ``CHANGEABLE_ON_RESUME``, which apply."""
    saved, own = state["train_config"], plain_config(trainer.config)
    try:
        TrainConfig(**{k: v for k, v in saved.items() if k in own})
    except (AlexNetError, TypeError) as e:
        raise _refuse(trainer, f"has a train_config that this version cannot take ({e})") from None
    defaults = plain_config(TrainConfig())
    for name, flag in FIXED_ON_RESUME.items():
        old = saved.get(name, defaults[name])
        if old != own[name]:
            raise AlexNetError(f"checkpoint {trainer.checkpoint_path} was trained with {name} "
                               f"{old!r} but this run asks for {own[name]!r}: resume with the "
                               f"same {flag} (the saved schedule continues), or start a new run "
                               "in another --checkpoint-dir")
    changes = [{"after_epoch": state["epoch"], "option": name,
                "from": saved.get(name, defaults[name]), "to": own[name]}
               for name in CHANGEABLE_ON_RESUME if saved.get(name, defaults[name]) != own[name]]
    for change in changes:
        if change["option"] == "amp" and change["to"] == "fp16" and not state["scaler"]:
            change["grad_scaler"] = "fresh"          # the saved run had none (_load_states)
    return changes


def _load_states(trainer, state: dict) -> None:
    """The optimizer, schedule and gradient-scaler states. A run without ``--amp fp16`` saved an
    empty scaler state (its scaler was disabled): resumed with fp16, the scaler starts fresh, as
    a new fp16 run's does (its first steps find the scale), and the ``amp`` change says so."""
    try:
        trainer.optimizer.load_state_dict(state["optimizer"])
        trainer.scheduler.load_state_dict(state["scheduler"])
        if state["scaler"] or not trainer.scaler.is_enabled():
            trainer.scaler.load_state_dict(state["scaler"])
    except _ERRORS as e:
        raise _refuse(trainer, f"has an optimizer or schedule state that does not fit this run "
                               f"({type(e).__name__})") from None


def _apply(trainer, changes: list[dict]) -> None:
    """A new ``lr`` scales the current rate (and the schedule's base and floor) by new / old, so the
    drops taken so far are kept; a new ``weight_decay`` replaces the weights group's."""
    for change in changes:
        option, old, new, after = (change[k] for k in ("option", "from", "to", "after_epoch"))
        if option == "epochs":
            continue
        if option == "weight_decay":
            trainer.optimizer.param_groups[0]["weight_decay"] = new
        if option != "lr":
            scaler = " with a fresh gradient scaler" if change.get("grad_scaler") else ""
            _note(trainer, f"resuming with {option} {new!r} where the checkpoint's run used "
                           f"{old!r}: it applies from epoch {after + 1}{scaler} (so the run is not "
                           "the one an uninterrupted run would be), and the change is recorded in "
                           "the checkpoint")
            continue
        ratio, current = new / old, trainer.optimizer.param_groups[0]["lr"]
        for group in trainer.optimizer.param_groups:
            group["lr"] *= ratio
            if "initial_lr" in group:
                group["initial_lr"] *= ratio
        for name in ("min_lrs", "base_lrs", "_last_lr"):
            if hasattr(trainer.scheduler, name):
                setattr(trainer.scheduler, name,
                        [v * ratio for v in getattr(trainer.scheduler, name)])
        _note(trainer, f"resuming with learning rate {new:g} where the checkpoint's run started "
                       f"at {old:g}: the rate goes from {current:g} to {current * ratio:g} from "
                       f"epoch {after + 1} (the drops so far are kept), and the change is recorded "
                       "in the checkpoint")


def _note(trainer, text: str) -> None:
    if trainer.rank == 0:
        warnings.warn(text, stacklevel=4)


def _restore_rng(trainer, state: dict) -> None:
    """This rank's random-number state as it was; with another number of processes than the
    checkpoint's, a fresh seed per (seed, epoch, rank): training goes on, not bit for bit."""
    saved = state.get("rng_ranks") or [state["rng"]]
    world = dist.get_world_size() if trainer.distributed else 1
    if len(saved) != world:
        seed_everything(trainer.config.seed + 1_000_003 * trainer.epoch + trainer.rank)
        return
    try:
        set_rng_state(saved[trainer.rank])
    except _ERRORS as e:
        raise _refuse(trainer, f"has a random-number state that cannot be restored "
                               f"({type(e).__name__})") from None


def rng_state() -> dict:
    """Every random-number state a run depends on, as tensors and plain values (weights_only-safe)."""
    import numpy as np

    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
            "numpy": [kind, torch.from_numpy(keys.astype("int64")), pos, has_gauss, gauss]}


def set_rng_state(state: dict) -> None:
    """Put back what :func:`rng_state` returned."""
    import numpy as np

    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        # one state per GPU the saving process saw; a machine with fewer visible GPUs takes the
        # states of those it has (its GPUs' streams go on; the others have no GPU to run on)
        for index, cuda_state in enumerate(state["cuda"][:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, index)
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype("uint32"), pos, has_gauss, cached))


def plain_config(config: TrainConfig) -> dict:
    """The config as plain values (milestones as a list), as checkpoints store it."""
    plain = asdict(config)
    plain["milestones"] = list(plain["milestones"])
    return plain


def class_difference(saved: list[str], ours: list[str]) -> str:
    """How two class lists differ, in a few words (checkpoint vs data)."""
    if len(saved) != len(ours):
        return f"{len(saved)} classes in the checkpoint, {len(ours)} in the data"
    i = next(i for i, (a, b) in enumerate(zip(saved, ours)) if a != b)
    return f"class {i} is {saved[i]!r} in the checkpoint and {ours[i]!r} in the data"
