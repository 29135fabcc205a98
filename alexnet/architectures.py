"""Every network of the package by name, and a model rebuilt from its ``config``.

Each model keeps the options it was built with in ``model.config`` (``arch`` plus its keyword
arguments), and every checkpoint stores that dict. :func:`build_model` turns it back into the same
network with fresh weights; the command line builds its models the same way, so a model has one
route from options to modules. This module imports :mod:`alexnet.model` and
:mod:`alexnet.two_tower`; neither imports it, so there is no import cycle between them.
"""
from __future__ import annotations

import inspect

from torch import nn

from .errors import AlexNetError
from .model import AlexNet, CifarAlexNet, FourLayerCNN
from .two_tower import TwoTowerAlexNet

__all__ = ["ARCHITECTURES", "build_model", "upgrade_config"]

ARCHITECTURES = {c.__name__: c for c in (AlexNet, CifarAlexNet, FourLayerCNN, TwoTowerAlexNet)}
WITH_DROPOUT = {"AlexNet", "CifarAlexNet", "TwoTowerAlexNet"}


def upgrade_config(config: dict) -> dict:
    """A stored ``config`` as this version reads it. Checkpoints written before ``dropout_style``
    existed were trained with ``nn.Dropout``, so they get ``dropout_style="inverted"`` (the
    default is now §4.2's dropout, which would halve their fc6 and fc7 outputs at test time)."""
    config = dict(config)
    if config.get("arch") in WITH_DROPOUT:
        config.setdefault("dropout_style", "inverted")
    return config


def build_model(config: dict) -> nn.Module:
    """Rebuild a model from its ``config`` (stored in every checkpoint), with fresh weights."""
    if not isinstance(config, dict):
        raise AlexNetError(f"a model config must be a dict with 'arch' and the model's options, "
                           f"got {type(config).__name__}")
    options = upgrade_config(config)
    arch = options.pop("arch", None)
    if arch not in ARCHITECTURES:
        raise AlexNetError(f"unknown architecture {arch!r} in the checkpoint; known: "
                           f"{sorted(ARCHITECTURES)}")
    cls = ARCHITECTURES[arch]
    if arch == "TwoTowerAlexNet":
        options.pop("groups", None)
    accepted = _options_of(cls)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise AlexNetError(f"the model config names option(s) {', '.join(unknown)} that {arch} does "
                           "not have: pass a config stored by this package (model.config)")
    return cls(**options)


def _options_of(cls) -> set[str]:
    """The keyword options of ``cls``, following ``**kwargs`` to its base classes."""
    names = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return names - {"self"}
