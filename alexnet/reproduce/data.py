"""The CIFAR-10 images the experiments read, and their loaders.

CIFAR-10 is the paper's own data set for Figure 1 (§3.1) and §3.3's 13% → 11% result; for the
other claims, ImageNet ablations in the paper, it is a CIFAR-sized stand-in and every result says
so. Training subsets are spread evenly over the classes; the per-pixel mean (§2) and the RGB PCA
(§4.1) are always fitted on all 50,000 training images; every model is scored on all 10,000 test
images unless the scale says otherwise (only the ``test`` scale of the test suite does).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import torch

from ..data import BatchLoader, TensorImages, cifar10, cifar10_eval_loader, cifar10_loaders
from ..data import spread as spread_evenly
from ..transforms import PCALighting, fit_mean, fit_pca_lighting

__all__ = ["Cifar", "cifar", "spread", "loaders", "data_sha256"]


@dataclass
class Cifar:
    """The CIFAR-10 images one regime uses, with the statistics fitted on all 50,000."""

    train: TensorImages             # the training subset
    test: TensorImages              # the test images scored
    train_indices: torch.Tensor     # their positions in cifar10(train=True)
    test_indices: torch.Tensor      # and in cifar10(train=False)
    mean: torch.Tensor              # §2: per-pixel mean of all training images
    pca: PCALighting                # §4.1: PCA of all training pixels


def spread(n: int | None, total: int) -> torch.Tensor:
    """``n`` indices spread evenly over ``total`` (all of them for None): every class when the set
    is stored class by class."""
    return spread_evenly(total if n is None else min(n, total), total)


@lru_cache(maxsize=1)
def _full():
    train, test = cifar10(train=True), cifar10(train=False)
    return train, test, fit_mean(train.images), PCALighting(*fit_pca_lighting(train.images))


@lru_cache(maxsize=8)
def cifar(train_images: int | None, test_images: int | None = None) -> Cifar:
    """The subsets of one regime (cached: regimes of the same size share them)."""
    train, test, mean, pca = _full()
    i, j = spread(train_images, len(train)), spread(test_images, len(test))
    return Cifar(train.subset(i), test.subset(j), i, j, mean, pca)


def loaders(data: Cifar, batch_size: int, seed: int, device, augment: bool, lighting: bool):
    """(train, test, clean train) loaders of :func:`alexnet.data.cifar10_loaders`. Training
    batches: with ``augment`` §4.1's random 32×32 patches of the image padded by 4 and flips, with
    ``lighting`` PCA lighting; the test and the clean training loaders show whole centred images,
    so the train–test gap compares like with like (the clean loader holds as many training images
    as there are test images, at most)."""
    options = dict(mean=data.mean, device=device, seed=seed)
    train, test = cifar10_loaders(data.train, data.test, batch_size, augment=augment,
                                  lighting=data.pca if lighting else None, test_batch_size=500,
                                  **options)
    probe = data.train.subset(min(len(data.train), len(data.test)))
    return train, test, cifar10_eval_loader(probe, 500, **options)


def ten_crop_loader(data: Cifar, device) -> BatchLoader:
    """The test images padded by 4 (40×40), for §4.1's ten 32×32 patches."""
    return cifar10_eval_loader(data.test, 500, mean=data.mean, device=device, ten_crop=True)


def data_sha256(data: Cifar) -> str:
    """SHA-256 of the pixels and labels actually read (training subset, then test images)."""
    digest = hashlib.sha256()
    for part in (data.train, data.test):
        digest.update(part.images.cpu().contiguous().numpy().tobytes())
        digest.update(part.targets.cpu().numpy().tobytes())
    return digest.hexdigest()
