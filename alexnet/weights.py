"""Trained weights, the torchvision way: an enum per model whose entries carry their preprocessing
(``transforms()``, taking a PIL image) and a model card (``meta``).

- ``CifarAlexNet_Weights.CIFAR10_V1``: :class:`~alexnet.CifarAlexNet` trained by this package on
  CIFAR-10's 50,000 training images with the paper's recipe; shipped inside the package
  (``alexnet/pretrained/``), its error measured on all 10,000 test images (``meta``).
- ``AlexNet_Weights.BVLC``: BVLC's Caffe AlexNet (2014), downloaded into torch's hub cache and read
  by :mod:`alexnet.caffe`; faithful to what BVLC trained, which is not quite the paper (``meta``).

``CifarAlexNet(weights="cifar10")`` and ``AlexNet(weights="bvlc")`` (or the enum entries) build the
network the weights need and load them; the weights fix every architecture option, and an option
given with a different value is refused with one line. A shipped file is checked against the
SHA-256 in its meta, a downloaded one against its published SHA-1. A model built with weights
keeps their entry as ``model.weights`` (its ``transforms()`` and ``meta`` at hand).

The CIFAR-10 file is made from a training checkpoint by ``alexnet export-weights`` (see
:mod:`alexnet.export`), which measures the test error and records the provenance in
``<name>.json`` beside ``<name>.safetensors``. ``save_pretrained`` / ``from_pretrained``
(:class:`PretrainedMixin`) write and read any model as safetensors with a model card.
"""
from __future__ import annotations

import enum
import hashlib
import inspect
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torchvision.transforms.v2 as v2
from torch import nn

from . import caffe
from .checkpoint import load_weights
from .errors import AlexNetError
from .runtime import write_atomic, write_json
from .transforms import SubtractMean, eval_transform

__all__ = ["CifarAlexNet_Weights", "AlexNet_Weights", "WeightsEnum", "PretrainedMixin",
           "PRETRAINED", "find_weights", "init_pretrained", "file_digest", "load_safetensors",
           "save_safetensors", "model_card", "table"]

#: Where shipped weights live (``<name>.safetensors`` + ``<name>.json``).
PRETRAINED = Path(__file__).resolve().parent / "pretrained"
#: The key of the shipped file's input mean (§2), beside the model's own keys.
MEAN_KEY = "transforms.mean"
BVLC_URL = "http://dl.caffe.berkeleyvision.org/bvlc_alexnet.caffemodel"
BVLC_SHA1 = "9116a64c0fbe4459d18f4bb6b56d647b63920377"   # models/bvlc_alexnet/readme.md
#: BVLC's mean pixel (B 104.0, G 116.7, R 122.7, the mean of ilsvrc_2012_mean.npy), as RGB.
BVLC_MEAN_RGB = (122.7, 116.7, 104.0)
BVLC_SOURCE = "https://github.com/BVLC/caffe/tree/master/models/bvlc_alexnet"


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file, read in 1 MiB pieces."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def _safetensors():
    try:
        import safetensors.torch
    except ImportError:
        raise AlexNetError("safetensors files need the safetensors package: pip install "
                           "safetensors") from None
    return safetensors.torch


def save_safetensors(tensors: dict, path: Path, metadata: dict | None = None) -> Path:
    """``tensors`` as a safetensors file, written atomically."""
    data = _safetensors().save({k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                               metadata)
    return write_atomic(path, lambda f: f.write(data))


def load_safetensors(path: Path, sha256: str | None = None) -> dict:
    """The tensors of a safetensors file; with ``sha256``, only if the file has that digest."""
    if not Path(path).is_file():
        raise AlexNetError(f"{path} does not exist: check the path (save_pretrained writes "
                           "model.safetensors)")
    data = Path(path).read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise AlexNetError(f"{path} does not match the SHA-256 its meta records ({sha256[:12]}…): "
                           "the file is damaged or was replaced; reinstall the package, or package "
                           "the weights again (alexnet export-weights ... --force)")
    try:
        return _safetensors().load(data)
    except Exception as e:           # safetensors raises its own SafetensorError
        raise AlexNetError(f"{path} is not a readable safetensors file ({e}): write it "
                           "again") from None


# ---------------------------------------------------------------- two kinds of weights

@dataclass(eq=False)
class Shipped:
    """Weights trained by this package and shipped in :data:`PRETRAINED` with their meta JSON."""

    name: str
    alias: str
    static: dict = field(default_factory=dict)

    def path(self) -> Path:
        return PRETRAINED / f"{self.name}.safetensors"

    def meta(self) -> dict:
        file = PRETRAINED / f"{self.name}.json"
        stored = json.loads(file.read_text()) if file.is_file() else {}
        return {**self.static, **stored, "available": bool(stored) and self.path().is_file()}

    def available(self) -> dict:
        """The meta, when the weights are in this installation; else one line saying so."""
        meta = self.meta()
        if not meta["available"]:
            raise AlexNetError(
                f"the weights {self.name} are not in this installation ({self.path()} is missing): "
                f"train a network and package it with `alexnet export-weights CHECKPOINT --name "
                f"{self.name}`, or install a release of the package that ships them")
        return meta

    def tensors(self) -> dict:
        return load_safetensors(self.path(), self.available()["sha256"])

    def state_dict(self, progress: bool = True) -> dict:
        return {k: v for k, v in self.tensors().items() if k != MEAN_KEY}

    def options(self) -> dict:
        return {k: v for k, v in self.available()["model_config"].items() if k != "arch"}

    def transforms(self) -> Callable:
        """§2 as in training: resize (and crop), centre with the training set's mean, 0-255."""
        inputs = self.available()["input"]
        return eval_transform(self.tensors()[MEAN_KEY], crop=inputs["crop"], size=inputs["resize"])


@dataclass(eq=False)
class CaffeDownload:
    """BVLC's Caffe weights: downloaded once into ``torch.hub.get_dir()/checkpoints``."""

    file: str
    url: str
    sha1: str
    alias: str
    static: dict = field(default_factory=dict)

    def path(self) -> Path:
        return Path(torch.hub.get_dir()) / "checkpoints" / self.file

    def meta(self) -> dict:
        from torchvision.models import AlexNet_Weights as TorchvisionWeights

        names = TorchvisionWeights.IMAGENET1K_V1.meta["categories"]  # sorted wnids, as Caffe's
        return {**self.static, "categories": list(names), "model_config": self.options(),
                "num_params": caffe.parameter_count(self.options()),
                "available": self.path().is_file()}

    def fetch(self, progress: bool = True) -> Path:
        """The file, downloaded first if needed; refused unless its SHA-1 is the published one."""
        path = self.path()
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.partial")
            try:
                torch.hub.download_url_to_file(self.url, str(partial), progress=progress)
            except (OSError, RuntimeError) as e:
                partial.unlink(missing_ok=True)
                raise AlexNetError(f"could not download {self.url} ({e}): connect to the internet, "
                                   f"or copy {self.file} to {path}") from None
            self._check(partial, remove=True)
            os.replace(partial, path)
        self._check(path, remove=False)
        return path

    def _check(self, path: Path, remove: bool) -> None:
        got = file_digest(path, "sha1")
        if got != self.sha1:
            if remove:
                path.unlink(missing_ok=True)
            fix = "try again" if remove else f"delete {path} and try again"
            raise AlexNetError(f"{path.name} has SHA-1 {got}, not the published {self.sha1}: the "
                               f"download is damaged or another file; {fix}")

    def state_dict_for(self, model: nn.Module, progress: bool = True) -> dict:
        return caffe.alexnet_state_dict(model, caffe.read_caffemodel(self.fetch(progress)))

    def options(self) -> dict:
        return dict(caffe.CAFFE_OPTIONS, num_classes=1000, channels=[96, 256, 384, 384, 256],
                    hidden=4096, groups=2)

    def transforms(self) -> Callable:
        """Caffe's test-time input: resize to 256x256 (no aspect kept, as Caffe's
        ``convert_imageset`` did), central 227x227, 0-255 RGB minus BVLC's mean pixel (the model
        reads RGB: :mod:`alexnet.caffe` reversed conv1's BGR inputs)."""
        return v2.Compose([v2.Resize((256, 256), antialias=True), v2.CenterCrop(227),
                           v2.PILToTensor(), v2.ToDtype(torch.float32, scale=False),
                           SubtractMean(torch.tensor(BVLC_MEAN_RGB))])


# ---------------------------------------------------------------- the enums

class WeightsEnum(enum.Enum):
    """torchvision's ``WeightsEnum``, with a short alias per entry (``"cifar10"``, ``"bvlc"``)."""

    @classmethod
    def verify(cls, obj) -> WeightsEnum:
        """``obj`` (an entry, its name, ``"Enum.NAME"`` or its alias) as an entry of ``cls``."""
        if isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            for entry in cls:
                if obj in (entry.name, f"{cls.__name__}.{entry.name}", entry.value.alias):
                    return entry
        choices = ", ".join(sorted({repr(e.value.alias) for e in cls} | {e.name for e in cls}))
        raise AlexNetError(f"no weights {obj!r} for {cls.__name__.removesuffix('_Weights')}: use "
                           f"one of {choices}")

    @property
    def meta(self) -> dict:
        """The model card: categories, accuracy, recipe, source, licence, file facts."""
        return self.value.meta()

    def transforms(self) -> Callable:
        """The preprocessing these weights were trained with, for one PIL image."""
        return self.value.transforms()

    def options(self) -> dict:
        """The model options these weights need."""
        return self.value.options()

    def state_dict_for(self, model: nn.Module, progress: bool = True) -> dict:
        """The weights as ``model``'s state dict (``model`` built with :meth:`options`)."""
        if hasattr(self.value, "state_dict_for"):
            return self.value.state_dict_for(model, progress)
        return self.value.state_dict(progress)


class CifarAlexNet_Weights(WeightsEnum):  # noqa: N801 (torchvision's naming)
    """Weights for :class:`~alexnet.CifarAlexNet`."""

    CIFAR10_V1 = Shipped("cifar10_v1", alias="cifar10", static=dict(
        data="CIFAR-10", source="this package (`alexnet export-weights` records how)",
        licence="MIT", licence_note="the package's licence; CIFAR-10's own terms apply to its "
                                    "images"))
    DEFAULT = CIFAR10_V1


class AlexNet_Weights(WeightsEnum):  # noqa: N801 (torchvision's naming)
    """Weights for :class:`~alexnet.AlexNet`."""

    BVLC = CaffeDownload("bvlc_alexnet.caffemodel", BVLC_URL, BVLC_SHA1, alias="bvlc", static=dict(
        data="ImageNet-1K (ILSVRC-2012)", source=BVLC_SOURCE, url=BVLC_URL, sha1=BVLC_SHA1,
        # models/bvlc_alexnet/readme.md: ILSVRC-2012 validation set, centre crop, iteration 360k
        metrics={"top1_accuracy": 57.1, "top5_accuracy": 80.2},
        evaluation="published by BVLC: ILSVRC-2012 validation, centre crop (not measured here)",
        licence="unrestricted use", licence_note="BVLC's readme since commit 6b842060a "
        "(2014-12-29); ImageNet's terms of access still apply to its users",
        recipe="Caffe, 360,000 iterations of SGD: batch 256, lr 0.01 ÷10 every 100,000 "
               "iterations, momentum 0.9, weight decay 5e-4 (solver.prototxt)",
        departures=["no PCA lighting (§4.1)", "biases 0.1 where the paper uses 1 (§5)",
                    "Caffe's LRN: k = 1 and alpha/n on the sum (2e-5), over all maps of a "
                    "layer, where §3.3 has k = 2, alpha = 1e-4",
                    "227x227 inputs, conv1 without padding",
                    "BGR inputs (0-255 minus the mean pixel); conv1 reversed here to read RGB",
                    "images resized to 256x256 without keeping their aspect (§2 crops)",
                    "inverted dropout (x1/(1-p) in training)"],
        input=dict(resize=[256, 256], crop=227, mean_rgb=list(BVLC_MEAN_RGB), scale="0-255",
                   mean="BVLC's mean pixel, the channel means of ilsvrc_2012_mean.npy (Caffe's "
                        "training subtracted that whole mean image)")))
    DEFAULT = BVLC


ENUMS = (CifarAlexNet_Weights, AlexNet_Weights)


def find_weights(name) -> WeightsEnum:
    """The weights called ``name`` in any enum (``"cifar10"``, ``"bvlc"``, ``"BVLC"``...)."""
    if isinstance(name, WeightsEnum):
        return name
    for cls in ENUMS:
        try:
            return cls.verify(name)
        except AlexNetError:
            pass
    known = ", ".join(repr(e.value.alias) for cls in ENUMS for e in cls if e.name != "DEFAULT")
    raise AlexNetError(f"no weights called {name!r}: use one of {known}")


# ---------------------------------------------------------------- models built with weights

def _defaults(cls) -> dict:
    """The default of every keyword option of ``cls``, following ``**kwargs`` to its bases."""
    defaults = {}
    for klass in reversed(cls.__mro__):
        if "__init__" in vars(klass) and issubclass(klass, nn.Module) and klass is not nn.Module:
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.default is not p.empty:
                    defaults[p.name] = p.default
    return defaults


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def init_pretrained(model: nn.Module, weights, enum_class: type[WeightsEnum], progress: bool,
                    given: dict) -> None:
    """Build ``model`` (an instance being constructed) with the options ``weights`` need and load
    them. ``given`` holds the constructor's arguments: one that is not its default and differs
    from what the weights need is refused with one line."""
    entry = enum_class.verify(weights)
    needed, defaults = entry.options(), _defaults(type(model))
    for name, value in given.items():
        if name in needed and _plain(value) != _plain(defaults.get(name)) and \
                _plain(value) != _plain(needed[name]):
            raise AlexNetError(f"{enum_class.__name__}.{entry.name} needs {name}={needed[name]!r}, "
                               f"got {name}={value!r}: leave {name} out")
    type(model).__init__(model, **{**given, **needed})
    load_weights(model, entry.state_dict_for(model, progress), source=f"weights {entry.name}")
    model.weights = entry


class PretrainedMixin:
    """``save_pretrained(folder)`` / ``cls.from_pretrained(folder)``: the weights as safetensors
    (``model.safetensors``), the options as ``config.json`` and a model card (``README.md``)."""

    def save_pretrained(self, folder: str | os.PathLike, meta: dict | None = None) -> Path:
        """Write the model to ``folder``; ``meta`` (default: its weights' card, if any) goes into
        the card and ``config.json``."""
        folder = Path(folder)
        weights = getattr(self, "weights", None)
        meta = dict(meta if meta is not None else weights.meta if weights is not None else {})
        meta.setdefault("num_params", sum(p.numel() for p in self.parameters()))
        state = self.state_dict()
        save_safetensors(state, folder / "model.safetensors", {"format": "pt"})
        write_json({"model_config": self.config, "meta": meta}, folder / "config.json")
        card = model_card(self.config["arch"], meta)
        write_atomic(folder / "README.md", lambda f: f.write(card), binary=False)
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, **overrides):
        """The model that :meth:`save_pretrained` wrote to ``folder`` (``overrides`` replace
        options, e.g. ``devices`` of a two-tower model)."""
        folder = Path(folder)
        config_file = folder / "config.json"
        if not config_file.is_file():
            raise AlexNetError(f"{folder} has no config.json: pass a folder written by "
                               "model.save_pretrained(folder)")
        try:
            config = dict(json.loads(config_file.read_text())["model_config"])
        except (ValueError, KeyError, TypeError) as e:
            raise AlexNetError(f"{config_file} is not a config that save_pretrained wrote ({e!r}): "
                               "write the folder again") from None
        arch = config.pop("arch", None)
        if arch != cls.__name__:
            raise AlexNetError(f"{folder} holds a {arch}, not a {cls.__name__}: use "
                               f"{arch}.from_pretrained")
        model = cls(**{**config, **overrides})
        load_weights(model, load_safetensors(folder / "model.safetensors"),
                     source=f"safetensors file in {folder}")
        return model


def _percent(value) -> str:
    return "—" if value is None else f"{value:.1f}"


def _metrics(meta: dict) -> tuple:
    """(top-1, top-5) accuracy in percent: published ones, or 1 - the measured test errors."""
    if "metrics" in meta:
        return meta["metrics"]["top1_accuracy"], meta["metrics"]["top5_accuracy"]
    test = meta.get("test")
    if not test:
        return None, None
    return 100 * (1 - test["top1_error"]), 100 * (1 - test["top5_error"])


def model_card(arch: str, meta: dict) -> str:
    """A model card (Markdown) written from ``meta``."""
    top1, top5 = _metrics(meta)
    lines = [f"# {arch}", "", "AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012), from the "
             "`alexnet` package.", ""]
    facts = [("data", meta.get("data")), ("top-1 accuracy (%)", _percent(top1)),
             ("top-5 accuracy (%)", _percent(top5)),
             ("evaluation", meta.get("evaluation")), ("parameters", meta.get("num_params")),
             ("input", meta.get("input")), ("recipe", meta.get("recipe")),
             ("source", meta.get("source")), ("licence", meta.get("licence")),
             ("licence note", meta.get("licence_note")),
             ("SHA-256", meta.get("sha256")),
             ("commit", meta.get("provenance", {}).get("git_commit"))]
    lines += [f"- **{name}**: {value}" for name, value in facts if value not in (None, "")]
    if meta.get("departures"):
        lines += ["", "## Departures from the paper", ""] + [f"- {d}" for d in meta["departures"]]
    return "\n".join(lines) + "\n"


def _link(source: str) -> str:
    """A GitHub address as a Markdown link named owner/repository."""
    match = re.match(r"https://github\.com/([^/]+/[^/]+)", source)
    return f"[{match.group(1)}]({source})" if match else source


def table() -> str:
    """The README's weights table (Markdown), from each available entry's ``meta``."""
    rows = ["| weights | data | top-1 acc. | top-5 acc. | input | parameters | source | licence |",
            "|---|---|---|---|---|---|---|---|"]
    for cls in ENUMS:
        for entry in cls:
            meta = entry.meta
            if isinstance(entry.value, Shipped) and not meta["available"]:
                continue
            top1, top5 = _metrics(meta)
            size = meta["input"]["crop"] or meta["input"]["resize"]
            rows.append(f"| `{cls.__name__}.{entry.name}` (`{entry.value.alias}`) | {meta['data']} "
                        f"| {_percent(top1)} | {_percent(top5)} | {size}×{size} | "
                        f"{meta['num_params']:,} | {_link(meta['source'])} | {meta['licence']} |")
    return "\n".join(rows)
