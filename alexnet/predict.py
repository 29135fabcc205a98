"""``alexnet predict IMAGE... --weights cifar10``: the top-5 classes of each image, with their
probabilities, from trained weights (:mod:`alexnet.weights`) and their own preprocessing.

::

    $ alexnet predict cat.jpg --weights cifar10
    cat.jpg
      71.3%  cat
      ...
"""
from __future__ import annotations

import argparse

import torch

from .data import load_rgb
from .model import AlexNet, CifarAlexNet
from .runtime import positive_int, resolve_device
from .weights import AlexNet_Weights, CifarAlexNet_Weights, find_weights

__all__ = ["pretrained_model", "predict", "add_arguments", "run"]

MODELS = {CifarAlexNet_Weights: CifarAlexNet, AlexNet_Weights: AlexNet}


def pretrained_model(weights, progress: bool = True) -> torch.nn.Module:
    """The network of ``weights`` (a name such as ``"cifar10"``, or an enum entry), in eval mode."""
    entry = find_weights(weights)
    return MODELS[type(entry)](weights=entry, progress=progress).eval()


@torch.no_grad()
def predict(model: torch.nn.Module, images: list, top: int = 5) -> list[list[tuple[str, float]]]:
    """The ``top`` most probable classes of each PIL image, as (category, probability) pairs."""
    preprocess, categories = model.weights.transforms(), model.weights.meta["categories"]
    device = next(model.parameters()).device
    batch = torch.stack([preprocess(image) for image in images]).to(device)
    probabilities = model(batch).softmax(dim=1).cpu()
    values, indices = probabilities.topk(min(top, probabilities.shape[1]), dim=1)
    return [[(categories[i], p) for p, i in zip(v.tolist(), c.tolist())]
            for v, c in zip(values, indices)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any PIL format)")
    parser.add_argument("--weights", default="cifar10", help="cifar10 (shipped with the package) "
                        "or bvlc (BVLC's Caffe AlexNet, downloaded once into torch's hub cache)")
    parser.add_argument("--top", type=positive_int, default=5, help="classes shown per image")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")


def run(args: argparse.Namespace) -> int:
    model = pretrained_model(args.weights).to(resolve_device(args.device))
    for path in args.images:
        (ranked,) = predict(model, [load_rgb(path)], args.top)
        print(path)
        for category, probability in ranked:
            print(f"  {probability:6.1%}  {category}")
    return 0
