"""The CIFAR-10 images the experiments read, and their loaders.

CIFAR-10 is the paper's own data set for Figure 1 (§3.1) and §3.3's 13% → 11% result; for the
other claims, ImageNet ablations in the paper, it is a CIFAR-sized stand-in and every result says
so. A regime's images (:func:`for_regime`) are drawn in two steps: first its validation split,
``val_images`` training images held out with ``val_seed``, the same number from every class
(:func:`alexnet.data.validation_split`, as ``alexnet train --val-images`` holds them out); then
its training subset, spread evenly over the classes among the images left. So the validation
images are never training images, and every decision taken while training (§5's plateau
schedule, early stopping, the epoch kept) reads them, never the test set. The per-pixel mean
(§2) and the RGB PCA (§4.1) are always fitted on all 50,000 training images (unlabelled
statistics); every model is scored on all 10,000 test images unless the scale says otherwise
(only the ``test`` scale of the test suite does).

**Patches.** By default the networks see 32×32 images: training batches are random 32×32
patches of the image padded by 4, with flips (§4.1's analogue), and validation, test and clean
training images are whole. With ``crop`` (cuda-convnet's protocol for ten-patch testing, its
``CroppedCIFARDataProvider``) training batches are random ``crop``×``crop`` patches of the 32×32
image, without padding, with flips, and every scored image is its centre patch.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import torch

from ..data import BatchLoader, TensorImages, cifar10, validation_split
from ..data import spread as spread_evenly
from ..transforms import PCALighting, fit_mean, fit_pca_lighting

__all__ = ["Cifar", "cifar", "for_regime", "spread", "loaders", "data_sha256"]

#: Images per batch when scoring (validation, test, clean training images): the result does not
#: depend on it.
EVAL_BATCH = 500


@dataclass
class Cifar:
    """The CIFAR-10 images one regime uses, with the statistics fitted on all 50,000."""

    train: TensorImages             # the training subset
    val: TensorImages               # the held-out training images (may be empty)
    test: TensorImages              # the test images scored
    train_indices: torch.Tensor     # their positions in cifar10(train=True)
    val_indices: torch.Tensor       # likewise
    test_indices: torch.Tensor      # and in cifar10(train=False)
    split: dict                     # validation_split's record: held_out, of, seed
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
def cifar(train_images: int | None, test_images: int | None = None, val_images: int = 0,
          val_seed: int = 0) -> Cifar:
    """The subsets of one regime (cached: regimes of the same size share them): ``val_images``
    held out with ``val_seed``, then ``train_images`` spread over the rest (all of it for None).
    With no validation split the training subset is the one spread over all 50,000."""
    train, test, mean, pca = _full()
    kept, held, split = validation_split(train.targets, val_images, val_seed)
    i, j = kept[spread(train_images, len(kept))], spread(test_images, len(test))
    return Cifar(train.subset(i), train.subset(held), test.subset(j), i, held, j, split, mean, pca)


def for_regime(regime, test_images: int | None = None) -> Cifar:
    """The images of a :class:`~.settings.Regime`: its training subset, its validation split and
    ``test_images`` test images (None: all 10,000)."""
    return cifar(regime.train_images, test_images, regime.val_images, regime.val_seed)


def _scored(images: TensorImages, data: Cifar, device, crop: int | None) -> BatchLoader:
    """Images read whole (or their centre ``crop`` patch), centred, in order."""
    return BatchLoader(images, EVAL_BATCH, shuffle=False, crop=crop or 32, mean=data.mean,
                       device=device, split=data.split)


def loaders(data: Cifar, batch_size: int, seed: int, device, augment: bool, lighting: bool,
            crop: int | None = None) -> dict:
    """``{"train", "val", "test", "clean"}`` loaders (``val`` None without a validation split).
    Training batches: with ``augment`` random patches and flips (module docstring), with
    ``lighting`` PCA lighting. The validation, test and clean training loaders show the images
    whole (or their centre ``crop`` patch), so the train–test gap compares like with like; the
    clean loader holds as many training images as there are test images, at most."""
    pad = 0 if crop or not augment else 4
    train = BatchLoader(data.train, batch_size, augment=augment, crop=crop or 32, padding=pad,
                        lighting=data.pca if lighting else None, mean=data.mean, device=device,
                        seed=seed, split=data.split)
    probe = data.train.subset(min(len(data.train), len(data.test)))
    return {"train": train, "val": _scored(data.val, data, device, crop) if len(data.val) else None,
            "test": _scored(data.test, data, device, crop),
            "clean": _scored(probe, data, device, crop)}


def data_sha256(data: Cifar) -> str:
    """SHA-256 of the pixels and labels actually read: the training subset, the validation split
    (when there is one), then the test images."""
    known = data.__dict__.get("_sha256")         # computed once per subset (they are cached)
    if known is None:
        digest = hashlib.sha256()
        for part in (data.train, data.val, data.test):
            if len(part):
                digest.update(part.images.cpu().contiguous().numpy().tobytes())
                digest.update(part.targets.cpu().numpy().tobytes())
        known = data.__dict__["_sha256"] = digest.hexdigest()
    return known
