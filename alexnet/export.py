"""Ways out of the package: a network as ONNX, and a trained checkpoint packaged as weights.

:func:`export_onnx` uses PyTorch's dynamo exporter (``torch.onnx.export(..., dynamo=True)``; the
legacy TorchScript exporter fails on the LRN). By default the LRN of §3.3 is exported as the
elementwise operations it is made of. With ``lrn_op=True`` each LRN becomes ONNX's own ``LRN``
operator, which computes ``x / (bias + alpha/size · Σx²)^beta``: the paper's α on the sum becomes
``alpha = α·n``, ``k`` becomes ``bias``, and a per-group LRN (§3.2) is one ``LRN`` per group between
a ``Split`` and a ``Concat``.

:func:`export_weights` (``alexnet export-weights CHECKPOINT --name NAME``) turns a checkpoint of
``alexnet train`` into shipped weights (:mod:`alexnet.weights`): ``NAME.safetensors`` (the weights
and the training set's mean image of §2) and ``NAME.json``, the model card: the top-1 and top-5
error measured now on every test image of the data, the categories, the recipe and epochs from the
checkpoint, parameter count, file size and SHA-256, and the provenance (commit, device, CPU) of
this measurement and, with ``--record``, of the training run. Nothing is overwritten without
``--force``.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
from pathlib import Path

import torch
from torch import nn

from .architectures import build_model
from .checkpoint import check_entries, load_checkpoint, load_weights
from .data import build_loaders, build_test_loader
from .errors import AlexNetError
from .lrn import LocalResponseNorm, local_response_norm_reference
from .runtime import positive_int, provenance, resolve_device, write_atomic, write_json
from .train import Trainer, TrainConfig, class_difference
from .transforms import IMAGENET_MEAN
from .weights import MEAN_KEY, PRETRAINED, file_digest, save_safetensors

__all__ = ["export_onnx", "export_weights", "OnnxLRN", "add_arguments", "run"]


# ---------------------------------------------------------------- ONNX

@torch.library.custom_op("alexnet_export::lrn", mutates_args=())
def _lrn_op(x: torch.Tensor, size: int, alpha: float, beta: float, k: float,
            groups: int) -> torch.Tensor:
    """§3.3's LRN as one opaque operator, so that the exporter can translate it to ONNX's LRN."""
    return local_response_norm_reference(x, size, alpha, beta, k, groups)


@_lrn_op.register_fake
def _(x, size, alpha, beta, k, groups):
    return torch.empty_like(x)


class OnnxLRN(nn.Module):
    """A :class:`~alexnet.LocalResponseNorm` that exports as ONNX ``LRN`` operators."""

    def __init__(self, lrn: LocalResponseNorm) -> None:
        super().__init__()
        self.lrn = lrn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.lrn
        return _lrn_op(x, int(n.size), float(n.alpha), float(n.beta), float(n.k), int(n.groups))


def _onnx_lrn_table() -> dict:
    from onnxscript import opset18 as op

    def lrn(x, size: int, alpha: float, beta: float, k: float, groups: int):
        """ONNX divides its alpha by size: alpha = α·n; bias = k; one LRN per group."""
        parts = op.Split(x, axis=1, num_outputs=groups) if groups > 1 else [x]
        out = [op.LRN(p, alpha=alpha * size, beta=beta, bias=k, size=size) for p in parts]
        return op.Concat(*out, axis=1) if groups > 1 else out[0]

    return {torch.ops.alexnet_export.lrn.default: lrn}


def _with_lrn_ops(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose LocalResponseNorm modules are :class:`OnnxLRN`."""
    model = copy.deepcopy(model)
    for name, module in list(model.named_modules()):
        if isinstance(module, LocalResponseNorm):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, OnnxLRN(module))
    return model


def export_onnx(model: nn.Module, path: str | os.PathLike, *, lrn_op: bool = False,
                batch_size: int = 1, overwrite: bool = False) -> Path:
    """Write ``model`` (in eval mode) as an ONNX file taking (N, 3, S, S) images, any N; ``lrn_op``
    emits ONNX ``LRN`` operators. Needs ``pip install onnx onnxscript``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise AlexNetError(f"{path} already exists: choose another path, or pass overwrite=True")
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise AlexNetError("ONNX export needs onnx and onnxscript: pip install onnx onnxscript "
                           "(or pip install 'alexnet[onnx]')") from None
    # a CPU copy in eval mode: the graph is the same on every device (on CUDA the LRN would be
    # the Triton kernel's operator, which ONNX has no translation for), and `model` is untouched
    exported = (_with_lrn_ops(model) if lrn_op else copy.deepcopy(model)).cpu().eval()
    x = torch.zeros(batch_size, 3, model.image_size, model.image_size)
    program = torch.onnx.export(
        exported, (x,), dynamo=True, verbose=False, external_data=False,
        input_names=["images"], output_names=["logits"],
        dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
        custom_translation_table=_onnx_lrn_table() if lrn_op else None)
    data = program.model_proto.SerializeToString()            # one file, weights inside
    return write_atomic(path, lambda f: f.write(data))


# ---------------------------------------------------------------- checkpoints as weights

def _input(model: nn.Module, loader) -> tuple[torch.Tensor, dict]:
    """The mean that the data subtracted (§2) and the card's words for the input."""
    subtract = getattr(loader, "mean", None)
    mean = subtract.mean.cpu() if subtract is not None else IMAGENET_MEAN
    small = model.image_size == 32
    kind = "per-pixel mean image" if mean.dim() == 3 else "per-channel mean"
    return mean, dict(resize=model.image_size if small else 256, crop=None if small else 224,
                      scale="0-255 RGB", mean=f"the training set's {kind} (§2), stored in the file "
                                              f"as {MEAN_KEY}")


def _measure(model: nn.Module, data: str, state: dict, device, batch_size: int,
             progress: bool) -> tuple[dict, object]:
    """Top-1/top-5 error of ``model`` on every test image of ``data`` (CIFAR-10's 10,000; a
    folder's ``test/``, or its ``val/`` when it has no ``test/``), never the held-out images."""
    _, loader, info = build_loaders(data, batch_size, device=device, train=False, workers=0)
    loader = build_test_loader(data, batch_size, device=device, workers=0) or loader
    saved = state.get("classes")
    if saved is not None and list(saved) != list(info.classes):
        raise AlexNetError(f"the checkpoint was trained on other classes than {data}'s "
                           f"({class_difference(list(saved), list(info.classes))}): pass the data "
                           "it was trained on (--data)")
    result = Trainer(model, TrainConfig(progress=progress), device).evaluate(loader)
    images = len(loader.data) if hasattr(loader, "data") else len(loader.loader.dataset)
    test = dict(data=data, images=images, top1_error=result["val_top1"],
                top5_error=result["val_top5"], loss=result["val_loss"])
    return test, (loader, info)


def _record(path) -> dict | None:
    """The provenance of the training run, from a results JSON (its ``provenance`` entry)."""
    if path is None:
        return None
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise AlexNetError(f"cannot read the training record {path} ({e}): pass the JSON that the "
                           "training run wrote") from None
    return record.get("provenance", record) if isinstance(record, dict) else None


#: What the shipped card keeps of each epoch of the training run (its learning curve).
CURVE_KEYS = ("epoch", "lr", "train_loss", "train_top1", "val_loss", "val_top1")


def export_weights(checkpoint: str | os.PathLike, name: str, *, data: str = "cifar10",
                   out: str | os.PathLike | None = None, record: str | os.PathLike | None = None,
                   force: bool = False, device: str = "cpu", batch_size: int = 500,
                   progress: bool = False) -> Path:
    """Package ``checkpoint`` as ``out/name.safetensors`` + ``out/name.json`` (default ``out``: the
    package's :data:`~alexnet.weights.PRETRAINED` folder), measuring its test error on ``data``."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_]*", name):
        raise AlexNetError(f"--name {name!r} must be lower-case letters, digits and _ (e.g. "
                           "cifar10_v1)")
    out = Path(out) if out is not None else PRETRAINED
    target, card = out / f"{name}.safetensors", out / f"{name}.json"
    for path in (target, card):
        if path.exists() and not force:
            raise AlexNetError(f"{path} already exists: pass --force to replace it")
    state = check_entries(load_checkpoint(checkpoint), checkpoint, needed=("model", "model_config"))
    model = build_model(state["model_config"])
    load_weights(model, state["model"], source=f"checkpoint {checkpoint}")
    device = resolve_device(device)
    test, (loader, info) = _measure(model.to(device), data, state, device, batch_size, progress)
    mean, inputs = _input(model, loader)
    save_safetensors({**model.state_dict(), MEAN_KEY: mean}, target, {"format": "pt"})
    history = state.get("history") or []
    meta = dict(name=name, file=target.name, sha256=file_digest(target),
                file_size=target.stat().st_size, model_config=model.config,
                num_params=sum(p.numel() for p in model.parameters()),
                categories=list(info.classes), test=test, input=inputs,
                evaluation=f"measured by alexnet export-weights on all {test['images']:,} test "
                           f"images of {data}, one centred view each",
                recipe=state.get("train_config"), epochs=state.get("epoch"),
                last_epoch=history[-1] if history else None,
                curve=[{k: row[k] for k in CURVE_KEYS if k in row} for row in history],
                config_changes=state.get("config_changes", []),
                checkpoint=dict(file=str(checkpoint), sha256=file_digest(Path(checkpoint))),
                training_provenance=_record(record), provenance=provenance(device))
    write_json(meta, card)
    return target


# ---------------------------------------------------------------- `alexnet export-weights`

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a checkpoint of `alexnet train` (runs/ref/last.pt)")
    parser.add_argument("--name", required=True, help="the weights' name, e.g. cifar10_v1")
    parser.add_argument("--data", default="cifar10", help="the data it was trained on; its test "
                        "(or val) images are scored (default: cifar10)")
    parser.add_argument("--out", help=f"folder for NAME.safetensors and NAME.json (default: the "
                        f"package's {PRETRAINED.name}/ folder, shipped with it)")
    parser.add_argument("--record", help="a results JSON of the training run: its provenance goes "
                        "into the meta")
    parser.add_argument("--force", action="store_true", help="replace existing files")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (for the measurement)")
    parser.add_argument("--batch-size", type=positive_int, default=500)
    parser.add_argument("--no-progress", dest="progress", action="store_false")


def run(args: argparse.Namespace) -> int:
    target = export_weights(args.checkpoint, args.name, data=args.data, out=args.out,
                            record=args.record, force=args.force, device=args.device,
                            batch_size=args.batch_size, progress=args.progress)
    meta = json.loads(target.with_suffix(".json").read_text())
    test = meta["test"]
    print(f"wrote {target} ({meta['file_size']:,} bytes, SHA-256 {meta['sha256'][:12]}…) and "
          f"{target.with_suffix('.json').name}: top-1 error {test['top1_error']:.2%}, top-5 error "
          f"{test['top5_error']:.2%} on {test['images']:,} test images of {test['data']}")
    return 0
