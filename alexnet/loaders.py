"""Loaders for training, validation and test (§4.1's augmentation on the fly), and the validation
split of a data set that has none of its own.

**Two kinds of loader, one interface.** :class:`BatchLoader` keeps a whole uint8 data set on one
device (CIFAR-10 on the GPU, or ImageNet packed at 256×256 by
:func:`~alexnet.folders.pack_image_folder`) and crops, flips, lights and centres each batch there.
:class:`FolderLoader` decodes JPEGs in DataLoader workers. Both have ``set_epoch(epoch)`` and
``__len__`` and yield ``(images, targets)`` on the requested device: float32 centred raw RGB on the
0–255 scale (see :mod:`alexnet.transforms`) and int64 class indices, and both know the ``classes``
of their data (checkpoints store them).

**Validation and test** (§5, §6). §5 divides the learning rate "when the validation error rate
stopped improving": every decision taken while training reads a validation set, never the test
set. An ImageNet-style folder has its own: ``val/`` (the paper's validation set; ``test/`` only
where there is no ``val/``). CIFAR-10 has none, so :func:`build_loaders` holds out a seeded part of
its 50,000 training images (:func:`validation_split`: a tenth, 5,000, by default, the same number
from every class) and the validation loader reads those; the 10,000 test images are read by
:func:`build_test_loader` alone, once training is over.

**Which mean** (§2). CIFAR-10 and packed files subtract the per-pixel mean image of their training
set (for CIFAR-10, of all 50,000 training images: unlabelled statistics, never of the test
images); folders of JPEGs subtract torchvision's per-channel ImageNet mean, because the per-pixel
one needs a full decoding pass over the training set first (see :mod:`alexnet.transforms`).

**What is refused, in one line.** A data set with fewer than two classes; packed images smaller
than the 224 crop; a validation split larger than the training set; a data-loading worker killed
by the system (the out-of-memory killer).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler, Subset

from .datasets import TensorImages, cifar10, load_packed, packed_mean, spread
from .errors import AlexNetError, integer
from .folders import image_folder
from .runtime import default_workers
from .transforms import (IMAGENET_EIGVAL, IMAGENET_EIGVEC, IMAGENET_MEAN, PCALighting, SubtractMean,
                         center_crop, fit_mean, fit_pca_lighting, random_crop_flip)

__all__ = ["CROP", "VAL_FRACTION", "DataInfo", "BatchLoader", "FolderLoader", "build_loaders",
           "build_test_loader", "cifar10_loaders",
           "cifar10_eval_loader", "validation_split", "worker_killed"]

CROP = 224   # §4.1: the network's input, cut from §2's 256x256 images
#: The share of CIFAR-10's training images held out for validation by default (5,000 of 50,000).
VAL_FRACTION = 0.1


def _seed(*parts: int) -> int:
    """A 63-bit seed from (seed, epoch, ...): distinct tuples give unrelated random streams."""
    digest = hashlib.blake2b(repr(tuple(map(int, parts))).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def _on_device(data: TensorImages, device: torch.device | str) -> TensorImages:
    """The whole data set moved to ``device`` once; one line if it does not fit there (a smaller
    batch would not help: the images themselves are too large for the device's memory)."""
    try:
        return data.to(device)
    except torch.OutOfMemoryError:
        size = (data.images.numel() + 8 * data.targets.numel()) / 2 ** 30
        raise AlexNetError(f"the data set ({len(data):,} images, {size:.1f} GiB as uint8) does "
                           f"not fit in the memory of {device}: use fewer images (--train-subset, "
                           "or pack at a smaller --size), a device with more memory, or an image "
                           "folder, which is read batch by batch") from None


class BatchLoader:
    """Minibatches of a :class:`TensorImages` held on one device, augmented there (§4.1).

    The data moves to ``device`` once. Each epoch's order is a permutation seeded from
    ``(seed, epoch)`` and each batch's crops, flips and lighting from
    ``(seed, epoch, rank, batch)``, so an epoch is reproducible and a resumed run sees exactly what
    an uninterrupted one would; call ``set_epoch(epoch)`` before each epoch, as with
    DistributedSampler. With ``world_size > 1`` rank ``r`` takes every ``world_size``-th index of
    the permutation from ``r``, after cutting it to a multiple of ``world_size``: disjoint, equal
    shares.

    Per batch: subtract ``mean`` (per pixel or per channel; §2), zero-pad by ``padding`` (so the
    pad is the mean colour), then with ``augment`` a random ``crop``×``crop`` patch and flip per
    image and ``lighting`` (a :class:`~alexnet.transforms.PCALighting`); without it the central
    ``crop`` (``crop=None``: the whole padded image, for ten-crop testing). Yields float32 (B, 3,
    crop, crop) images and int64 targets. ``split`` records which part of its data set the loader
    holds (:func:`validation_split`'s record); the trainer stores it in checkpoints.
    """

    def __init__(self, data: TensorImages, batch_size: int, *, device: torch.device | str = "cpu",
                 shuffle: bool = True, augment: bool = False, crop: int | None = None,
                 padding: int = 0, mean: Tensor | None = None, lighting: PCALighting | None = None,
                 seed: int = 0, rank: int = 0, world_size: int = 1, drop_last: bool = False,
                 split: dict | None = None):
        if not 0 <= rank < world_size:
            raise AlexNetError(f"rank {rank} must be in 0..{world_size - 1} for world_size "
                               f"{world_size}")
        self.data = _on_device(data, device)
        self.mean = SubtractMean(mean if mean is not None else torch.zeros(3)).to(device)
        self.lighting = lighting.to(device) if lighting is not None else None
        if augment and crop is None:
            crop = data.images.shape[-1]  # patches as large as the image, from the padded image
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.augment, self.crop, self.padding = augment, crop, padding
        self.seed, self.rank, self.world_size, self.epoch = seed, rank, world_size, 0
        self.split = split

    @property
    def classes(self) -> list[str]:
        return self.data.classes

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> Tensor:
        """This rank's indices for the current epoch, in order."""
        n = len(self.data)
        generator = torch.Generator().manual_seed(_seed(self.seed, self.epoch))
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        return order[: n - n % self.world_size][self.rank::self.world_size]

    def __len__(self) -> int:
        n = len(self.data) // self.world_size
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        device = self.data.images.device
        indices, generator = self.indices().to(device), torch.Generator(device)
        for b in range(len(self)):
            batch = indices[b * self.batch_size:(b + 1) * self.batch_size]
            generator.manual_seed(_seed(self.seed, self.epoch, self.rank, b))
            yield self.transform(self.data.images[batch], generator), self.data.targets[batch]

    def transform(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """uint8 images → float32: centred, padded, cropped (with ``augment``: flipped, lit)."""
        x = self.mean(images)
        if self.augment:
            x = random_crop_flip(x, self.crop, self.padding, generator)
            return self.lighting(x, generator) if self.lighting is not None else x
        x = F.pad(x, (self.padding,) * 4) if self.padding else x
        return center_crop(x, self.crop) if self.crop else x


class FolderLoader:
    """A DataLoader over an image folder with :class:`BatchLoader`'s interface: ``set_epoch``,
    ``__len__``, and ``(images, targets)`` on ``device``.

    Shuffling and sharding by DistributedSampler (``drop_last=True``: disjoint equal shares), seeded
    from ``(seed, epoch)``. With ``workers > 0`` the workers' augmentation is seeded from
    ``(seed, epoch, rank)`` too; with ``workers=0`` it draws from torch's global generator. Any
    seed in [0, 2**64 - 1] works in every epoch (the sampler gets a 63-bit hash of it). A worker
    killed by the system (the out-of-memory killer) ends in one line, not a traceback.
    """

    def __init__(self, dataset, batch_size: int, *, device: torch.device | str = "cpu",
                 shuffle: bool = True, seed: int = 0, rank: int = 0, world_size: int = 1,
                 workers: int = 0, drop_last: bool = False):
        self.device, self.seed, self.rank = torch.device(device), seed, rank
        self.batch_size = batch_size
        self.sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank,
                                          shuffle=shuffle, seed=_seed(seed), drop_last=True)
        self.loader = DataLoader(dataset, batch_size, sampler=self.sampler, num_workers=workers,
                                 pin_memory=self.device.type == "cuda", drop_last=drop_last)
        self.workers = workers
        self.set_epoch(0)

    @property
    def classes(self) -> list[str]:
        dataset = self.loader.dataset
        return list(getattr(dataset, "dataset", dataset).classes)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)
        self.loader.generator = torch.Generator().manual_seed(_seed(self.seed, epoch, self.rank))

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        try:
            for images, targets in self.loader:
                yield (images.to(self.device, non_blocking=True),
                       targets.to(self.device, non_blocking=True))
        except RuntimeError as e:
            killed = worker_killed(e, self.workers)
            if killed is None:
                raise
            raise killed from None


def worker_killed(error: BaseException, workers: int | None = None) -> AlexNetError | None:
    """The one line for PyTorch's "DataLoader worker ... exited unexpectedly / is killed by signal"
    (a worker killed by the out-of-memory killer, or by hand); None for any other error."""
    text = str(error)
    if not isinstance(error, RuntimeError) or "DataLoader worker" not in text:
        return None
    detail = text.strip().splitlines()[0].rstrip(". ")
    fewer = f"fewer --workers than {workers}" if workers else "fewer --workers"
    return AlexNetError(f"a data-loading worker process died ({detail}), most likely killed by "
                        f"the system's out-of-memory killer: use {fewer} or a smaller "
                        "--batch-size, or give the machine more memory")


@dataclass
class DataInfo:
    """What the model needs to know about the data: class count, input size, class names."""

    num_classes: int
    image_size: int
    classes: list[str]


def validation_split(targets: Tensor, images: int | None = None, seed: int = 0
                     ) -> tuple[Tensor, Tensor, dict]:
    """Hold out ``images`` of a training set for validation (default: a tenth of it), the same
    number from every class (one more for the first classes when it does not divide), chosen by a
    generator seeded with ``seed``. Returns ``(train_indices, val_indices, record)``, the indices in
    increasing order; ``record`` (``{"held_out": images, "of": len(targets), "seed": seed}``) is what
    checkpoints store, so that a resumed run keeps the same split."""
    total = len(targets)
    images = round(total * VAL_FRACTION) if images is None else integer("val_images", images, 0)
    if images >= total:
        raise AlexNetError(f"a validation split of {images} images leaves none of the {total} "
                           "training images to train on: pass a smaller --val-images")
    classes = int(targets.max()) + 1 if total else 0
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed % 2**64))
    order = order[torch.sort(targets[order], stable=True).indices]   # class by class, shuffled
    first = torch.searchsorted(targets[order].contiguous(), torch.arange(classes))
    share = [images // classes + (c < images % classes) for c in range(classes)]
    held = torch.cat([order[f:f + n] for f, n in zip(first.tolist(), share)]) if classes else order[:0]
    keep = torch.ones(total, dtype=torch.bool)
    keep[held] = False
    record = {"held_out": images, "of": total, "seed": seed}
    return keep.nonzero().flatten(), held.sort().values, record


def cifar10_loaders(train: TensorImages, test: TensorImages, batch_size: int, *, mean: Tensor,
                    device: torch.device | str = "cpu", seed: int = 0, augment: bool = True,
                    lighting: PCALighting | None = None, ten_crop: bool = False, rank: int = 0,
                    world_size: int = 1, test_batch_size: int | None = None,
                    split: dict | None = None) -> tuple[BatchLoader, BatchLoader]:
    """The one pair of CIFAR-10 loaders: ``(train_loader, eval_loader)``, with §2's per-pixel
    ``mean`` subtracted. Training crops are 32×32 patches of the image padded by 4, with flips
    (with ``augment``) and PCA ``lighting``: our CIFAR-sized analogue of the paper's 224 patches
    of 256 (9² positions here, 33² there). ``test`` (validation or test images) is read by
    :func:`cifar10_eval_loader` in batches of ``test_batch_size`` (default ``batch_size``)."""
    common = dict(device=device, mean=mean, seed=seed, rank=rank, world_size=world_size,
                  split=split)
    train_loader = BatchLoader(train, batch_size, augment=augment, crop=32,
                               padding=4 if augment else 0, lighting=lighting, **common)
    return train_loader, cifar10_eval_loader(test, test_batch_size or batch_size,
                                             ten_crop=ten_crop, **common)


def cifar10_eval_loader(images: TensorImages, batch_size: int, *, mean: Tensor,
                        device: torch.device | str = "cpu", ten_crop: bool = False,
                        **options) -> BatchLoader:
    """CIFAR-10 images read whole and centred, in order; with ``ten_crop`` padded by 4 to 40×40
    for §4.1's ten 32×32 patches (:func:`~alexnet.transforms.ten_crop_predict`). ``options``:
    :class:`BatchLoader`'s ``seed``, ``rank``, ``world_size``, ``split``."""
    return BatchLoader(images, batch_size, shuffle=False, crop=None if ten_crop else 32,
                       padding=4 if ten_crop else 0, mean=mean, device=device, **options)


def build_loaders(data: str, batch_size: int, *, device: torch.device | str = "cpu",
                  seed: int = 0, augment: bool = True, rank: int = 0, world_size: int = 1,
                  workers: int | None = None, train_subset: int | None = None,
                  lighting: bool = True, ten_crop: bool = False, train: bool = True,
                  val_images: int | None = None, val_seed: int = 0):
    """``(train_loader, val_loader, info)`` for ``data``: ``"cifar10"``, or a folder with ``train/``
    and ``val/`` (or ``test/``) subfolders of class folders (ImageNet layout), or with
    ``train.pt`` and ``val.pt`` (or ``test.pt``) from :func:`~alexnet.folders.pack_image_folder`.

    - ``augment``: §4.1's random crops and flips, plus PCA lighting when ``lighting``
    - ``ten_crop``: the validation loader yields whole mean-subtracted images (256×256, or CIFAR-10
      padded to 40×40) for :func:`~alexnet.transforms.ten_crop_predict`
    - ``train_subset``: train on that many images spread evenly over the training set
    - ``val_images``, ``val_seed``: CIFAR-10's validation split (:func:`validation_split`; default
      a tenth of the training images, seed 0); 0 gives no validation loader. The test images are
      not read here: :func:`build_test_loader` reads them
    - ``workers``: JPEG-decoding processes for image folders (default: one per usable core,
      :func:`alexnet.runtime.default_workers`); CIFAR-10 and packed files need none

    Folders of JPEGs use the per-channel ImageNet mean and the PCA of :mod:`alexnet.transforms`;
    packed files the per-pixel mean stored in ``train.pt`` (§2; read without its images when only
    validating). A folder without ``train/``, or ``train=False`` (evaluation: the training images
    of a folder are then not even listed), gives ``train_loader=None``. A data set with fewer than
    two classes is refused: there is nothing to classify.
    """
    if data == "cifar10":
        return _cifar10_split_loaders(batch_size, device, seed, augment, lighting, ten_crop, rank,
                                      world_size, train_subset, val_images, val_seed)
    root = _data_folder(data)
    val = _split(root, "val") or _split(root, "test")
    train_split = _split(root, "train") if train else None
    if val is None:
        found = ", ".join(sorted(p.name for p in root.iterdir())[:5]) or "nothing"
        raise AlexNetError(f"data folder {root} has no val/ (or test/) subfolder (found: {found}): "
                           "lay it out as train/<class>/<image> and val/<class>/<image>")
    common = dict(device=device, seed=seed, rank=rank, world_size=world_size)
    workers = default_workers() if workers is None else workers
    if val.suffix == ".pt":
        return _packed_loaders(train_split, val, batch_size, augment, lighting, ten_crop,
                               train_subset, common)
    val_set = image_folder(val, train=False, ten_crop=ten_crop)
    _enough_classes(val_set.classes, val)
    val_loader = FolderLoader(val_set, batch_size, shuffle=False, workers=workers, **common)
    info = DataInfo(len(val_set.classes), CROP, list(val_set.classes))
    if train_split is None:
        return None, val_loader, info
    train_set = image_folder(train_split, train=augment,
                             eigval=IMAGENET_EIGVAL if lighting else None)
    _same_classes(train_set.classes, val_set.classes, train_split, val)
    _enough_classes(train_set.classes, train_split)
    if train_subset:
        train_set = Subset(train_set, spread(train_subset, len(train_set)).tolist())
    return FolderLoader(train_set, batch_size, workers=workers, **common), val_loader, info


def build_test_loader(data: str, batch_size: int, *, device: torch.device | str = "cpu",
                      workers: int | None = None, ten_crop: bool = False, rank: int = 0,
                      world_size: int = 1):
    """The loader of ``data``'s test images, read once after training (§6), or None: CIFAR-10's
    10,000 test images; a folder's ``test/`` (or ``test.pt``) when it has ``val/`` too (with only
    ``val/``, the paper's case for ImageNet, the validation set is what is reported)."""
    common = dict(device=device, rank=rank, world_size=world_size)
    if data == "cifar10":
        train, test = cifar10(train=True), cifar10(train=False)
        return cifar10_eval_loader(test, batch_size, mean=fit_mean(train.images),
                                   ten_crop=ten_crop, **common)
    root = _data_folder(data)
    test = _split(root, "test")
    if test is None or _split(root, "val") is None:
        return None
    if test.suffix == ".pt":
        test_set = load_packed(test)
        _fits_the_crop(test_set, test)
        mean = _training_mean(None, test.with_name("train.pt"), test_set, test)
        return BatchLoader(test_set, batch_size, shuffle=False, crop=None if ten_crop else CROP,
                           mean=mean, **common)
    workers = default_workers() if workers is None else workers
    return FolderLoader(image_folder(test, train=False, ten_crop=ten_crop), batch_size,
                        shuffle=False, workers=workers, **common)


def _data_folder(data: str) -> Path:
    root = Path(data)
    if not root.is_dir():
        raise AlexNetError(f"data {data!r} is neither 'cifar10' nor a folder: pass 'cifar10' or a "
                           "folder with train/ and val/ (or test/) subfolders of class folders")
    return root


def _cifar10_split_loaders(batch_size, device, seed, augment, lighting, ten_crop, rank, world_size,
                           train_subset, val_images, val_seed):
    """CIFAR-10's training images, less the held-out validation split, and that split."""
    images = cifar10(train=True)
    mean = fit_mean(images.images)
    pca = PCALighting(*fit_pca_lighting(images.images)) if augment and lighting else None
    kept, held, record = validation_split(images.targets, val_images, val_seed)
    train = images.subset(kept)
    if train_subset:
        train = train.subset(train_subset)
    loaders = cifar10_loaders(train, images.subset(held), batch_size, mean=mean, device=device,
                              seed=seed, augment=augment, lighting=pca, ten_crop=ten_crop,
                              rank=rank, world_size=world_size, split=record)
    val_loader = loaders[1] if len(held) else None
    return loaders[0], val_loader, DataInfo(10, 32, list(images.classes))


def _split(root: Path, name: str) -> Path | None:
    for path in (root / name, root / f"{name}.pt"):
        if path.exists():
            return path
    return None


def _enough_classes(classes: list[str], where: Path) -> None:
    if len(classes) < 2:
        found = ", ".join(map(repr, classes)) or "none"
        raise AlexNetError(f"{where} has {len(classes)} class{'' if classes else 'es'} ({found}): a "
                           "classifier needs at least two classes, one folder of images each")


def _same_classes(train: list[str], val: list[str], train_path: Path, val_path: Path) -> None:
    if train != val:
        differ = sorted(set(train) ^ set(val))[:5]
        raise AlexNetError(f"{train_path} and {val_path} have different class folders (e.g. "
                           f"{', '.join(differ)}): both need the same classes")


def _packed_loaders(train, val, batch_size, augment, lighting, ten_crop, train_subset, common):
    """Packed 256×256 uint8 files (§2, done once): §4.1's 224 patches cut on the device, after
    subtracting the per-pixel mean image stored in ``train.pt`` (§2)."""
    val_set = load_packed(val)
    _enough_classes(val_set.classes, val)
    _fits_the_crop(val_set, val)
    info = DataInfo(len(val_set.classes), CROP, val_set.classes)
    train_set = load_packed(train) if train is not None else None
    mean = _training_mean(train_set, val.with_name("train.pt"), val_set, val)
    val_loader = BatchLoader(val_set, batch_size, shuffle=False, crop=None if ten_crop else CROP,
                             mean=mean, **common)
    if train_set is None:
        return None, val_loader, info
    _same_classes(train_set.classes, val_set.classes, train, val)
    _fits_the_crop(train_set, train)
    if train_subset:
        train_set = train_set.subset(train_subset)
    pca = PCALighting(IMAGENET_EIGVAL, IMAGENET_EIGVEC) if augment and lighting else None
    train_loader = BatchLoader(train_set, batch_size, augment=augment, crop=CROP, lighting=pca,
                               mean=mean, **common)
    return train_loader, val_loader, info


def _fits_the_crop(data: TensorImages, file: Path) -> None:
    side = min(data.images.shape[-2:])
    if side < CROP:
        raise AlexNetError(f"{file} holds {side}x{side} images, smaller than the network's "
                           f"{CROP}x{CROP} crop (§4.1): pack them again with --size 256 (§2)")


def _training_mean(train_set: TensorImages | None, train_file: Path, val_set: TensorImages,
                   val_file: Path) -> Tensor:
    """§2's per-pixel mean of the training set, from ``train.pt`` (read lazily when only
    validating); torchvision's per-channel ImageNet mean for files packed without one."""
    if train_set is not None:
        mean = train_set.mean
    else:
        mean = packed_mean(train_file) if train_file.is_file() else None
    if mean is None:
        return IMAGENET_MEAN
    if tuple(mean.shape[-2:]) != tuple(val_set.images.shape[-2:]):
        raise AlexNetError(f"{train_file} and {val_file} were packed at different sizes "
                           f"({tuple(mean.shape[-2:])} vs {tuple(val_set.images.shape[-2:])}): "
                           "pack both with the same --size")
    return mean
