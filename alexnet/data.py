"""Data sets and loaders for the paper's experiments: ImageNet-style image folders (§2), CIFAR-10
(the data set of Figure 1 and §3.3's CIFAR-10 result), and loaders that apply §4.1's augmentation.

**Where the data comes from.** When the environment variable ``ALEXNET_DATA`` is set, it names a
folder holding the project's offline archives (``cifar10-jpeg.tar.gz``,
``imagenet-samples-256.tar.gz``) or what they extract to (``cifar10-jpeg/``, ``imagenet-samples/``),
and nothing is downloaded. When it is not set, the data is downloaded the ordinary way.

**Where decoded data goes.** ``$ALEXNET_CACHE`` or ``~/.cache/alexnet``, never ``ALEXNET_DATA``
(which may be read-only). Cache files are written to a temporary file and renamed, so two processes
(pytest, a notebook) never see half a file.

**Two kinds of loader, one interface.** :class:`BatchLoader` keeps a whole uint8 data set on one
device (CIFAR-10 on the GPU, or ImageNet packed at 256×256 by :func:`pack_image_folder`) and crops,
flips, lights and centres each batch there. :class:`FolderLoader` decodes JPEGs in DataLoader
workers. Both have ``set_epoch(epoch)`` and ``__len__`` and yield ``(images, targets)`` on the
requested device: float32 centred raw RGB on the 0–255 scale (see :mod:`alexnet.transforms`) and
int64 class indices, and both know the ``classes`` of their data (checkpoints store them).

**Which mean** (§2). CIFAR-10 and packed files subtract the per-pixel mean image of their training
set (:func:`pack_image_folder` computes and stores it); folders of JPEGs subtract torchvision's
per-channel ImageNet mean, because the per-pixel one needs a full decoding pass over the training
set first (see :mod:`alexnet.transforms`).

**What is refused, in one line.** A data set with fewer than two classes; an image whose pixels
cannot be made 8-bit RGB faithfully (16-bit images are scaled to 8 bits, not clipped); packed
images smaller than the 224 crop; a download that fails (no network) when ``ALEXNET_DATA`` is not
set; a data-loading worker killed by the system (the out-of-memory killer). Class folders are
listed without following a symbolic-link loop, each file once.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import shutil
import tarfile
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.v2 as v2
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler, Subset
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension
from tqdm import tqdm

from .errors import AlexNetError
from .runtime import default_workers, write_atomic
from .transforms import (IMAGENET_EIGVAL, IMAGENET_EIGVEC, IMAGENET_MEAN, PCALighting, SubtractMean,
                         center_crop, downsample, eval_transform, fit_mean, fit_pca_lighting,
                         random_crop_flip, train_transform)

CROP = 224   # §4.1: the network's input, cut from §2's 256x256 images

__all__ = [
    "CIFAR10_CLASSES", "TensorImages", "DataInfo", "BatchLoader", "FolderLoader",
    "data_dir", "cache_dir", "cifar10", "imagenet_samples", "imagenet_class_names", "load_rgb",
    "image_folder", "build_loaders", "pack_image_folder", "load_packed", "worker_killed",
]

#: torchvision's ``CIFAR10.classes``; also the sorted class folder names of the JPEG archive.
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck"]
IMAGENET_SAMPLES_URL = ("https://github.com/EliSchwartz/imagenet-sample-images/archive/refs/heads/"
                        "master.zip")
_LAYOUT = "root/<class>/<image>.jpg, one subfolder of images per class"


# ---------------------------------------------------------------- where data lives

def data_dir() -> Path | None:
    """The offline data folder that ``ALEXNET_DATA`` names, or None: download."""
    value = os.environ.get("ALEXNET_DATA")
    if not value:
        return None
    root = Path(value).expanduser()
    if not root.is_dir():
        raise AlexNetError(f"ALEXNET_DATA={value} is not a folder: point it at the folder that "
                           "holds cifar10-jpeg.tar.gz and imagenet-samples-256.tar.gz, or unset it "
                           "to download")
    return root


def cache_dir() -> Path:
    """``$ALEXNET_CACHE`` or ``~/.cache/alexnet``, created if needed."""
    root = Path(os.environ.get("ALEXNET_CACHE") or "~/.cache/alexnet").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def _offline(root: Path, folder: str, archive: str) -> Path:
    for path in (root / folder, root / archive):
        if path.exists():
            return path
    raise AlexNetError(f"ALEXNET_DATA={root} holds neither {archive} nor {folder}/: copy "
                       f"{archive} there (from the project's shared datasets), or unset "
                       "ALEXNET_DATA to download")


def _save_atomic(obj, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place."""
    write_atomic(path, lambda f: torch.save(obj, f))


def _extract_atomic(archive: Path, target: Path) -> None:
    """Extract ``archive`` (top folder ``target.name``) into a temporary folder, then rename."""
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        try:
            os.replace(tmp / target.name, target)
        except OSError:
            if not target.is_dir():  # else another process finished first: use its copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- tensors in memory

def _spread(n: int, total: int) -> Tensor:
    if not 0 < n <= total:
        raise AlexNetError(f"a subset of {n} images must be between 1 and the {total} images "
                           "there are")
    return torch.arange(n) * total // n


@dataclass
class TensorImages:
    """A labelled image set held as tensors: ``images`` uint8 (N, 3, H, W) on the 0–255 scale,
    ``targets`` int64 (N,), ``classes`` the class names (index = target), and ``mean`` the
    per-pixel mean image (3, H, W) of §2 when it was computed (:func:`pack_image_folder` does)."""

    images: Tensor
    targets: Tensor
    classes: list[str]
    mean: Tensor | None = None

    def __post_init__(self) -> None:
        shape, dtype = tuple(self.images.shape), self.images.dtype
        if dtype != torch.uint8 or len(shape) != 4 or shape[1] != 3:
            raise AlexNetError(f"images must be uint8 (N, 3, H, W) on the 0-255 scale, got {dtype} "
                               f"{shape}: store raw RGB pixels")
        if self.targets.shape != shape[:1] or self.targets.dtype != torch.int64:
            raise AlexNetError(f"targets must be int64 of shape ({shape[0]},), got "
                               f"{self.targets.dtype} {tuple(self.targets.shape)}")

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i):
        return self.images[i], self.targets[i]

    def subset(self, n_or_indices: int | Sequence[int] | Tensor) -> TensorImages:
        """``n`` images spread evenly over the set (every class kept when stored class by class),
        or the images at the given indices."""
        if isinstance(n_or_indices, int):
            indices = _spread(n_or_indices, len(self))
        else:
            indices = torch.as_tensor(n_or_indices, dtype=torch.long)
        indices = indices.to(self.images.device)
        return TensorImages(self.images[indices], self.targets[indices], self.classes, self.mean)

    def to(self, device: torch.device | str) -> TensorImages:
        mean = self.mean.to(device) if self.mean is not None else None
        return TensorImages(self.images.to(device), self.targets.to(device), self.classes, mean)

    def state_dict(self) -> dict:
        state = {"images": self.images, "targets": self.targets, "classes": list(self.classes)}
        if self.mean is not None:
            state["mean"] = self.mean
        return state


def load_packed(file: str | os.PathLike) -> TensorImages:
    """Load a file written by :func:`pack_image_folder` (or a CIFAR-10 cache file), safely:
    ``torch.load(weights_only=True)`` never runs code from the file."""
    file = Path(file)
    if not file.is_file():
        raise AlexNetError(f"packed data file {file} does not exist: create it with "
                           "`python -m alexnet pack FOLDER FILE`")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated zip, a pickle of other objects, not a torch file at all
        raise AlexNetError(f"{file} is not a readable packed data file ({type(e).__name__}): "
                           "delete it and create it again with `python -m alexnet pack`") from e
    if not isinstance(state, dict) or not {"images", "targets", "classes"} <= set(state):
        raise AlexNetError(f"{file} is not a packed data file (it has no images, targets and "
                           "classes): pass a file written by `python -m alexnet pack`")
    mean = state.get("mean")
    return TensorImages(state["images"], state["targets"], list(state["classes"]),
                        mean if isinstance(mean, Tensor) else None)


def _packed_mean(file: Path) -> Tensor | None:
    """The per-pixel mean stored in a packed file, read without loading its images (mmap)."""
    try:
        state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:
        raise AlexNetError(f"{file} is not a readable packed data file ({type(e).__name__}): "
                           "delete it and create it again with `python -m alexnet pack`") from None
    mean = state.get("mean") if isinstance(state, dict) else None
    return mean.clone() if isinstance(mean, Tensor) else None


# ---------------------------------------------------------------- CIFAR-10

def _jpeg_files(source: Path):
    """(``cifar10-jpeg/<split>/<class>/<file>``, bytes) of every JPEG in a folder or a .tar.gz."""
    if source.is_dir():
        for path in sorted(source.rglob("*.jpg")):
            yield path.relative_to(source.parent).as_posix(), path.read_bytes()
        return
    with tarfile.open(source) as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".jpg"):
                yield member.name, archive.extractfile(member).read()


def _decode_cifar10(source: Path) -> dict[str, TensorImages]:
    """Decode every JPEG of the archive (or folder) straight into tensors, split by split, with
    PIL as :func:`image_folder` does (about 10 s for the 60,000 images, once)."""
    files: dict[str, list] = {}
    try:
        for name, data in _jpeg_files(source):
            split, label, file = PurePosixPath(name).parts[-3:]
            files.setdefault(split, []).append((label, file, data))
    except (tarfile.TarError, EOFError, OSError) as e:
        raise AlexNetError(f"{source} is not a readable CIFAR-10 archive ({e}): copy "
                           "cifar10-jpeg.tar.gz again") from e
    splits = {}
    for split, items in files.items():
        items.sort()  # class by class, then by file name
        labels = sorted({label for label, _, _ in items})
        if labels != CIFAR10_CLASSES:
            raise AlexNetError(f"{source} {split}/ has class folders {labels}, not CIFAR-10's "
                               f"{CIFAR10_CLASSES}: copy cifar10-jpeg.tar.gz again")
        pixels = np.stack([np.asarray(load_rgb(io.BytesIO(d))) for _, _, d in items])
        images = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()
        targets = torch.tensor([labels.index(label) for label, _, _ in items])
        splits[split] = TensorImages(images, targets, labels)
    return splits


def cifar10(train: bool = True) -> TensorImages:
    """CIFAR-10's 50,000 training or 10,000 test images as uint8 (N, 3, 32, 32) tensors.

    Offline (``ALEXNET_DATA``): the JPEG copy of CIFAR-10 (lossy, so pixels differ slightly from
    the original binaries), decoded once into the cache. Online: torchvision's
    ``CIFAR10(download=True)`` in the cache. Both come in the same order, class by class and, within
    a class, in the order of the original release (the JPEG copy numbers each class's images in
    that order), so an index names the same picture on every machine: results that store indices
    (nearest neighbours, §6.1) stay valid for users who download the data.
    """
    split = "train" if train else "test"
    root = data_dir()
    if root is None:
        from torchvision.datasets import CIFAR10

        try:
            ds = CIFAR10(cache_dir() / "cifar10", train=train, download=True)
        except (OSError, RuntimeError) as e:     # no network (URLError), a broken download
            raise _download_failed("CIFAR-10", "cifar10-jpeg.tar.gz", e) from None
        targets = torch.tensor(ds.targets)
        order = torch.sort(targets, stable=True).indices   # class by class, as offline
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2)[order].contiguous()
        return TensorImages(images, targets[order], list(ds.classes))
    cached = cache_dir() / f"cifar10-jpeg-{split}.pt"
    if not cached.exists():
        source = _offline(root, "cifar10-jpeg", "cifar10-jpeg.tar.gz")
        for name, part in _decode_cifar10(source).items():
            _save_atomic(part.state_dict(), cache_dir() / f"cifar10-jpeg-{name}.pt")
    return load_packed(cached)


def _download_failed(what: str, archive: str, error: Exception) -> AlexNetError:
    """One line for a failed download: the reason (e.g. no network), and the offline way."""
    reason = str(getattr(error, "reason", None) or getattr(error, "strerror", None) or error).strip()
    reason = reason.splitlines()[0] if reason else type(error).__name__
    return AlexNetError(f"could not download {what} ({reason}): connect to the internet, or set "
                        f"ALEXNET_DATA to a folder holding {archive}")


# ---------------------------------------------------------------- ImageNet samples

def imagenet_samples() -> Path:
    """A folder (ImageFolder layout) with one ILSVRC-2012 photograph per class, 1,000 classes,
    shorter side 256, plus ``classes.tsv`` (wnid, name). From ``ALEXNET_DATA`` when set (the
    archive is extracted to the cache once), else downloaded from GitHub."""
    root = data_dir()
    target = cache_dir() / "imagenet-samples"
    if root is None:
        if not target.is_dir():
            _download_imagenet_samples(target)
        return target
    source = _offline(root, "imagenet-samples", "imagenet-samples-256.tar.gz")
    if source.is_dir():
        return source
    if not target.is_dir():
        _extract_atomic(source, target)
    return target


def _download_imagenet_samples(target: Path) -> None:
    """EliSchwartz/imagenet-sample-images (flat ``<wnid>_<name>.JPEG`` files), laid out as the
    offline archive: ``<wnid>/`` folders, shorter side rescaled to 256 (§2), ``classes.tsv``."""
    from torchvision.datasets.utils import download_and_extract_archive

    raw = cache_dir() / "imagenet-sample-images"
    try:
        download_and_extract_archive(IMAGENET_SAMPLES_URL, str(raw))
    except (OSError, RuntimeError) as e:
        raise _download_failed("the ImageNet sample photographs", "imagenet-samples-256.tar.gz",
                               e) from None
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    rows, resize = ["synset\tname"], v2.Resize(256, antialias=True)
    for path in tqdm(sorted(raw.rglob("n*_*.JPEG")), desc="rescaling ImageNet samples"):
        wnid, name = path.stem.split("_", 1)
        (tmp / wnid).mkdir(exist_ok=True)
        resize(load_rgb(path)).save(tmp / wnid / path.name, quality=90)
        rows.append(f"{wnid}\t{name.replace('_', ' ')}")
    (tmp / "classes.tsv").write_text("\n".join(rows) + "\n")
    os.chmod(tmp, 0o755)  # mkdtemp makes it private
    os.replace(tmp, target)


def imagenet_class_names() -> list[str]:
    """The 1,000 ILSVRC-2012 class names, readable ("tench", "goldfish", ...), in class-index
    order (sorted wnids, as ImageFolder numbers them)."""
    lines = (imagenet_samples() / "classes.tsv").read_text().splitlines()[1:]
    names = dict(line.split("\t", 1) for line in lines if line)
    return [names[wnid] for wnid in sorted(names)]


# ---------------------------------------------------------------- image folders

SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N"}   # PIL's modes of 16-bit grayscale


def load_rgb(path) -> Image.Image:
    """Open an image (a path or a file object) as 8-bit RGB, the input of §2: grayscale, palette,
    CMYK and other modes are converted; 16-bit grayscale is scaled to 8 bits (65535 → 255), not
    clipped. (PIL already reduces 16-bit RGB to 8 bits per channel when it opens the file.) An
    image whose white level is unknown (32-bit integer or floating-point pixels) is refused."""
    try:
        with Image.open(path) as image:
            return _to_rgb(image, path)
    except OSError as e:  # a file cut short passes verify() at start-up and fails only here
        raise AlexNetError(f"image {path} is truncated or corrupt ({e}): remove or replace it "
                           "(`alexnet pack` decodes every image up front)") from None


def _to_rgb(image: Image.Image, path) -> Image.Image:
    mode = image.mode
    if mode in SIXTEEN_BIT or (mode == "I" and image.format == "PNG"):   # PNG's "I": 16-bit gray
        pixels = np.asarray(image).astype(np.int64).clip(0, 65535)
        eight = ((pixels * 255 + 32767) // 65535).astype(np.uint8)
        return Image.fromarray(eight).convert("RGB")
    if mode in ("I", "F"):
        kind = "32-bit integer" if mode == "I" else "floating-point"
        raise AlexNetError(f"image {path} has {kind} pixels (PIL mode {mode}), whose white level "
                           "is unknown: convert it to 8-bit RGB (or 16-bit PNG), or remove it")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    try:
        return image.convert("RGB")
    except ValueError as e:
        raise AlexNetError(f"image {path} has PIL mode {mode}, which does not convert to RGB "
                           f"({e}): convert it to 8-bit RGB, or remove it") from None


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
    _save_atomic(packed.state_dict(), out_file)
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


# ---------------------------------------------------------------- loaders

def _seed(*parts: int) -> int:
    """A 63-bit seed from (seed, epoch, ...): distinct tuples give unrelated random streams."""
    digest = hashlib.blake2b(repr(tuple(map(int, parts))).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


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
    crop, crop) images and int64 targets.
    """

    def __init__(self, data: TensorImages, batch_size: int, *, device: torch.device | str = "cpu",
                 shuffle: bool = True, augment: bool = False, crop: int | None = None,
                 padding: int = 0, mean: Tensor | None = None, lighting: PCALighting | None = None,
                 seed: int = 0, rank: int = 0, world_size: int = 1, drop_last: bool = False):
        if not 0 <= rank < world_size:
            raise AlexNetError(f"rank {rank} must be in 0..{world_size - 1} for world_size "
                               f"{world_size}")
        self.data = data.to(device)
        self.mean = SubtractMean(mean if mean is not None else torch.zeros(3)).to(device)
        self.lighting = lighting.to(device) if lighting is not None else None
        if augment and crop is None:
            crop = data.images.shape[-1]  # patches as large as the image, from the padded image
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.augment, self.crop, self.padding = augment, crop, padding
        self.seed, self.rank, self.world_size, self.epoch = seed, rank, world_size, 0

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


def build_loaders(data: str, batch_size: int, *, device: torch.device | str = "cpu",
                  seed: int = 0, augment: bool = True, rank: int = 0, world_size: int = 1,
                  workers: int | None = None, train_subset: int | None = None,
                  lighting: bool = True, ten_crop: bool = False, train: bool = True):
    """``(train_loader, val_loader, info)`` for ``data``: ``"cifar10"``, or a folder with ``train/``
    and ``val/`` (or ``test/``) subfolders of class folders (ImageNet layout), or with
    ``train.pt`` and ``val.pt`` (or ``test.pt``) from :func:`pack_image_folder`.

    - ``augment``: §4.1's random crops and flips, plus PCA lighting when ``lighting``
    - ``ten_crop``: the validation loader yields whole mean-subtracted images (256×256, or CIFAR-10
      padded to 40×40) for :func:`~alexnet.transforms.ten_crop_predict`
    - ``train_subset``: train on that many images spread evenly over the training set
    - ``workers``: JPEG-decoding processes for image folders (default: one per usable core,
      :func:`alexnet.runtime.default_workers`); CIFAR-10 and packed files need none

    CIFAR-10 stays on ``device``: its per-pixel mean and PCA are fitted on the training images, and
    the training crops are 32×32 patches of the image padded by 4, with flips: our CIFAR-sized
    analogue of the paper's 224 patches of 256 (9² positions here, 33² there). Folders of JPEGs use
    the per-channel ImageNet mean and the PCA of :mod:`alexnet.transforms`; packed files the
    per-pixel mean stored in ``train.pt`` (§2; read without its images when only validating). A
    folder without ``train/``, or ``train=False`` (evaluation: the training images of a folder are
    then not even listed), gives ``train_loader=None``. A data set with fewer than two classes is
    refused: there is nothing to classify.
    """
    if data == "cifar10":
        return _cifar10_loaders(batch_size, device, seed, augment, lighting, ten_crop, rank,
                                world_size, train_subset)
    root = Path(data)
    if not root.is_dir():
        raise AlexNetError(f"data {data!r} is neither 'cifar10' nor a folder: pass 'cifar10' or a "
                           "folder with train/ and val/ (or test/) subfolders of class folders")
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
        train_set = Subset(train_set, _spread(train_subset, len(train_set)).tolist())
    return FolderLoader(train_set, batch_size, workers=workers, **common), val_loader, info


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


def _cifar10_loaders(batch_size, device, seed, augment, lighting, ten_crop, rank, world_size,
                     train_subset):
    train, test = cifar10(train=True), cifar10(train=False)
    mean = fit_mean(train.images)
    pca = PCALighting(*fit_pca_lighting(train.images)) if augment and lighting else None
    if train_subset:
        train = train.subset(train_subset)
    common = dict(device=device, mean=mean, seed=seed, rank=rank, world_size=world_size)
    train_loader = BatchLoader(train, batch_size, augment=augment, crop=32,
                               padding=4 if augment else 0, lighting=pca, **common)
    val_loader = BatchLoader(test, batch_size, shuffle=False, crop=None if ten_crop else 32,
                             padding=4 if ten_crop else 0, **common)
    return train_loader, val_loader, DataInfo(10, 32, list(train.classes))


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
        mean = _packed_mean(train_file) if train_file.is_file() else None
    if mean is None:
        return IMAGENET_MEAN
    if tuple(mean.shape[-2:]) != tuple(val_set.images.shape[-2:]):
        raise AlexNetError(f"{train_file} and {val_file} were packed at different sizes "
                           f"({tuple(mean.shape[-2:])} vs {tuple(val_set.images.shape[-2:])}): "
                           "pack both with the same --size")
    return mean
