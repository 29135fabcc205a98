"""Data sets as tensors and files: where the data lives, CIFAR-10 (the data set of Figure 1 and
§3.3's CIFAR-10 result), the ImageNet sample photographs, and packed uint8 files (§2).

**Where the data comes from.** When the environment variable ``ALEXNET_DATA`` is set, it names a
folder holding the project's offline archives (``cifar10-jpeg.tar.gz``,
``imagenet-samples-256.tar.gz``) or what they extract to (``cifar10-jpeg/``, ``imagenet-samples/``),
and nothing is downloaded. When it is not set, the data is downloaded the ordinary way.

**Where decoded data goes.** ``$ALEXNET_CACHE`` or ``~/.cache/alexnet``, never ``ALEXNET_DATA``
(which may be read-only). Cache files are written to a temporary file and renamed, so two processes
(pytest, a notebook) never see half a file.

**What is refused, in one line.** An image whose pixels cannot be made 8-bit RGB faithfully (16-bit
images are scaled to 8 bits, not clipped); a download that fails (no network) when ``ALEXNET_DATA``
is not set.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

import numpy as np
import torch
import torchvision.transforms.v2 as v2
from PIL import Image
from torch import Tensor
from tqdm import tqdm

from .errors import AlexNetError
from .runtime import write_atomic

__all__ = ["CIFAR10_CLASSES", "TensorImages", "data_dir", "cache_dir", "cifar10",
           "imagenet_samples", "imagenet_class_names", "load_rgb", "load_packed", "packed_mean",
           "save_atomic", "spread", "source_sha256", "cifar10_source"]

#: torchvision's ``CIFAR10.classes``; also the sorted class folder names of the JPEG archive.
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck"]
IMAGENET_SAMPLES_URL = ("https://github.com/EliSchwartz/imagenet-sample-images/archive/refs/heads/"
                        "master.zip")


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


def save_atomic(obj, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place."""
    write_atomic(path, lambda f: torch.save(obj, f), kind="decoded data", force=True)


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

def spread(n: int, total: int) -> Tensor:
    """``n`` indices spread evenly over ``range(total)``: every class keeps its share when the set
    is stored class by class, as CIFAR-10 is here."""
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
            indices = spread(n_or_indices, len(self))
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


def packed_mean(file: Path) -> Tensor | None:
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
    PIL as :func:`image_folder` does (about 10 s for the 60,000 images, once). A damaged image
    or one that is not 32×32 is named by its member name."""
    files: dict[str, list] = {}
    try:
        for name, data in _jpeg_files(source):
            split, label, file = PurePosixPath(name).parts[-3:]
            files.setdefault(split, []).append((label, file, data, name))
    except (tarfile.TarError, EOFError, OSError) as e:
        raise AlexNetError(f"{source} is not a readable CIFAR-10 archive ({e}): copy "
                           "cifar10-jpeg.tar.gz again") from e
    if not {"train", "test"} <= set(files):
        raise AlexNetError(f"{source} holds no CIFAR-10 JPEGs (cifar10-jpeg/train/ and test/): "
                           "copy cifar10-jpeg.tar.gz again")
    splits = {}
    for split, items in files.items():
        items.sort()  # class by class, then by file name
        labels = sorted({label for label, *_ in items})
        if labels != CIFAR10_CLASSES:
            raise AlexNetError(f"{source} {split}/ has class folders {labels}, not CIFAR-10's "
                               f"{CIFAR10_CLASSES}: copy cifar10-jpeg.tar.gz again")
        pixels = np.stack([_cifar_pixels(d, f"{name} in {source}") for _, _, d, name in items])
        images = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()
        targets = torch.tensor([labels.index(label) for label, *_ in items])
        splits[split] = TensorImages(images, targets, labels)
    return splits


def _cifar_pixels(data: bytes, name: str) -> np.ndarray:
    pixels = np.asarray(load_rgb(io.BytesIO(data), name=name))
    if pixels.shape != (32, 32, 3):
        raise AlexNetError(f"image {name} is {pixels.shape[1]}x{pixels.shape[0]}, not CIFAR-10's "
                           "32x32: copy cifar10-jpeg.tar.gz again")
    return pixels


def source_sha256(source: Path) -> str:
    """The SHA-256 of a CIFAR-10 archive, or of a folder's file names, sizes and times: what
    the decoded cache is tied to, so a changed ``ALEXNET_DATA`` is decoded again."""
    digest = hashlib.sha256()
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            stat = path.stat()
            digest.update(f"{path.relative_to(source)}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
                          .encode())
        return digest.hexdigest()
    with open(source, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def cifar10_source() -> Path:
    """The offline CIFAR-10 (``cifar10-jpeg/`` or ``cifar10-jpeg.tar.gz`` in ``ALEXNET_DATA``)."""
    return _offline(data_dir(), "cifar10-jpeg", "cifar10-jpeg.tar.gz")


def _decoded(cached: Path, sha256: str) -> TensorImages | None:
    """The decoded cache file if it was decoded from the archive of this ``sha256``."""
    try:
        state = torch.load(cached, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - a damaged cache is decoded again, never trusted
        return None
    if not isinstance(state, dict) or state.get("source_sha256") != sha256:
        return None
    return load_packed(cached)


def cifar10(train: bool = True) -> TensorImages:
    """CIFAR-10's 50,000 training or 10,000 test images as uint8 (N, 3, 32, 32) tensors.

    Offline (``ALEXNET_DATA``): the JPEG copy of CIFAR-10 (lossy, so pixels differ slightly from
    the original binaries), decoded once into the cache, which records the SHA-256 of the
    archive it came from: another archive is decoded again. Online: torchvision's
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
    source = cifar10_source()
    sha256 = source_sha256(source)
    cached = cache_dir() / f"cifar10-jpeg-{split}.pt"
    found = _decoded(cached, sha256) if cached.exists() else None
    if found is None:
        for name, part in _decode_cifar10(source).items():
            save_atomic({**part.state_dict(), "source_sha256": sha256},
                        cache_dir() / f"cifar10-jpeg-{name}.pt")
        found = load_packed(cached)
    return found


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



# ---------------------------------------------------------------- decoding an image

SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N"}   # PIL's modes of 16-bit grayscale


def load_rgb(path, name: str | None = None) -> Image.Image:
    """Open an image (a path or a file object) as 8-bit RGB, the input of §2: grayscale, palette,
    CMYK and other modes are converted; 16-bit grayscale is scaled to 8 bits (65535 → 255), not
    clipped. (PIL already reduces 16-bit RGB to 8 bits per channel when it opens the file.) An
    image whose white level is unknown (32-bit integer or floating-point pixels) is refused.
    ``name`` names a file object in messages (an archive's member)."""
    what = name or path
    try:
        with Image.open(path) as image:
            return _to_rgb(image, what)
    except OSError as e:  # a file cut short passes verify() at start-up and fails only here
        advice = "" if name else " (`alexnet pack` decodes every image up front)"
        raise AlexNetError(f"image {what} is truncated or corrupt ({e}): remove or replace "
                           f"it{advice}") from None


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
