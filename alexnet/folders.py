"""ImageNet-style image folders (§2): ``root/<class>/<image>``, read with the paper's transforms,
and packed once into uint8 files of 256×256 images.

**What is refused, in one line.** A folder that is not laid out as class folders of images, class
folders without a readable image, packed images written over an existing file without ``force``.
Class folders are listed without following a symbolic-link loop, each file once; unreadable files
are skipped with one warning.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
import torchvision.transforms.v2 as v2
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension
from tqdm import tqdm

from .datasets import TensorImages, load_rgb, save_atomic
from .errors import AlexNetError
from .runtime import default_workers
from .transforms import (IMAGENET_EIGVAL, IMAGENET_EIGVEC, IMAGENET_MEAN, downsample,
                         eval_transform, fit_mean, train_transform)

__all__ = ["image_folder", "pack_image_folder"]

_LAYOUT = "root/<class>/<image>.jpg, one subfolder of images per class"


class _Verified:
    """``is_valid_file`` for ImageFolder: an image extension, and PIL can open and verify it."""

    def __init__(self, verify: bool) -> None:
        self.verify, self.skipped = verify, []

    def __call__(self, path: str) -> bool:
        if not has_file_allowed_extension(path, IMG_EXTENSIONS):
            return False
        if not self.verify:
            return True
        try:
            with Image.open(path) as image:
                image.verify()
            return True
        except Exception:  # PIL raises OSError, SyntaxError, ValueError, ... for broken files
            self.skipped.append(path)
            return False


class _EmptyClasses(FileNotFoundError):
    """Class folders in which no readable image was found."""

    def __init__(self, classes: list[str]) -> None:
        super().__init__(", ".join(classes))
        self.classes = classes


class _ImageFolder(ImageFolder):
    """ImageFolder that ignores hidden files and folders (``.ipynb_checkpoints`` is not a class,
    ``._photo.jpg`` is not a photo), and lists each class folder without looping: symbolic links
    to folders are followed (class folders are often links), but never into a folder already
    visited, and a file reached by two paths is listed once."""

    def find_classes(self, directory):
        classes = sorted(e.name for e in os.scandir(directory)
                         if e.is_dir() and not e.name.startswith("."))
        return classes, {name: i for i, name in enumerate(classes)}

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None,
                     allow_empty: bool = False) -> list[tuple[str, int]]:
        valid = is_valid_file or (lambda path: has_file_allowed_extension(path, extensions))
        samples, empty = [], []
        for name in sorted(class_to_idx):
            files = [f for f in _files_once(os.path.join(directory, name)) if valid(f)]
            samples += [(f, class_to_idx[name]) for f in files]
            if not files:
                empty.append(name)
        if empty and not allow_empty:
            raise _EmptyClasses(empty)
        return samples


def _files_once(folder: str) -> list[str]:
    """Every file below ``folder`` (hidden ones excepted), each once, in torchvision's order
    (folder by folder, sorted); each folder is entered once, so a link loop ends."""
    visited, seen, listing, pending = set(), set(), [], [folder]
    while pending:
        current = pending.pop()
        try:
            info = os.stat(current)
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:                                   # a dangling link, no permission
            continue
        if (info.st_dev, info.st_ino) in visited:
            continue
        visited.add((info.st_dev, info.st_ino))
        files = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    pending.append(entry.path)
                elif entry.is_file():
                    key = (entry.stat().st_dev, entry.stat().st_ino)
                    if key not in seen:
                        seen.add(key)
                        files.append(entry.path)
            except OSError:
                continue
        listing.append((current, files))
    return [path for _, files in sorted(listing) for path in files]


def _check_folder(root: Path) -> None:
    if not root.is_dir():
        raise AlexNetError(f"image folder {root} does not exist: pass a folder laid out as "
                           f"{_LAYOUT}")
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    if not entries:
        raise AlexNetError(f"image folder {root} is empty: lay it out as {_LAYOUT}")
    if not any(p.is_dir() for p in entries):
        raise AlexNetError(f"image folder {root} has no class folders: lay it out as {_LAYOUT}")


def image_folder(root: str | os.PathLike, train: bool, *, mean: Tensor = IMAGENET_MEAN,
                 eigval: Tensor | None = IMAGENET_EIGVAL, eigvec: Tensor = IMAGENET_EIGVEC,
                 ten_crop: bool = False, transform=None, verify: bool = True) -> ImageFolder:
    """An ImageNet-style folder as a data set with the paper's transforms (§2, §4.1).

    ``train``: random 224 patches, flips and PCA lighting (none when ``eigval`` is None); else the
    central 224 patch, or with ``ten_crop`` the whole mean-subtracted 256×256 image for
    :func:`~alexnet.transforms.ten_crop_predict`. ``transform`` replaces all of these. Unreadable
    files are skipped with one warning (``verify=False`` skips the check, for speed); grayscale,
    palette and CMYK images are converted to RGB.
    """
    root = Path(root)
    _check_folder(root)
    if transform is None:
        transform = (train_transform(mean, eigval, eigvec) if train
                     else eval_transform(mean, crop=None if ten_crop else 224))
    check = _Verified(verify)
    try:
        return _ImageFolder(str(root), transform, loader=load_rgb, is_valid_file=check)
    except _EmptyClasses as e:
        raise AlexNetError(f"image folder {root} has class folders without readable images "
                           f"({', '.join(e.classes[:5])}{', ...' if len(e.classes) > 5 else ''}): "
                           "add images or remove those folders") from None
    finally:
        if check.skipped:
            names = ", ".join(Path(p).relative_to(root).as_posix() for p in check.skipped[:5])
            more = ", ..." if len(check.skipped) > 5 else ""
            warnings.warn(f"skipped {len(check.skipped)} unreadable image file(s) in {root}: "
                          f"{names}{more}", stacklevel=2)


def pack_image_folder(root: str | os.PathLike, out_file: str | os.PathLike, size: int = 256, *,
                      workers: int | None = None, progress: bool = True,
                      overwrite: bool = False) -> TensorImages:
    """§2's preprocessing done once: every image of a folder rescaled (shorter side ``size``) and
    centre-cropped, stored as uint8 (N, 3, size, size) with targets and class names in one file
    (``N·3·size²`` bytes: 196 kB an image at 256), which :func:`load_packed` reads back.

    The file also holds §2's per-pixel mean image of these images (float32 (3, size, size)); the
    loaders of a packed ``train.pt`` subtract it from the training and the validation images.
    An existing ``out_file`` is refused unless ``overwrite`` (``alexnet pack --force``), before any
    image is decoded, and so is a folder or a path below a file."""
    out_file = Path(out_file)
    _check_output(out_file, overwrite)
    to_uint8 = v2.Compose([downsample(size), v2.PILToTensor()])
    dataset = image_folder(root, train=False, transform=to_uint8)
    images = torch.empty(len(dataset), 3, size, size, dtype=torch.uint8)
    done = 0
    with tqdm(total=len(dataset), unit="img", desc=f"packing {root}", disable=not progress) as bar:
        workers = default_workers() if workers is None else workers
        for batch, _ in DataLoader(dataset, batch_size=64, num_workers=workers):
            images[done:done + len(batch)] = batch
            done += len(batch)
            bar.update(len(batch))
    packed = TensorImages(images, torch.tensor(dataset.targets), list(dataset.classes),
                          fit_mean(images))
    _check_output(out_file, overwrite)                # it may have appeared while we decoded
    save_atomic(packed.state_dict(), out_file)
    return packed


def _check_output(out: Path, overwrite: bool) -> None:
    """One line for an output path that cannot or must not be written."""
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise AlexNetError(f"cannot write {out}: {blocker} is a file, not a folder; choose another "
                           "output path")
    if out.is_dir():
        raise AlexNetError(f"{out} is a folder: name the output file, e.g. {out / 'train.pt'}")
    if out.exists() and not overwrite:
        raise AlexNetError(f"{out} already exists: pass --force to replace it, or choose another "
                           "output file")
