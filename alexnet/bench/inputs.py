"""The input pipeline: §4.1's augmentation on images held on the device, and JPEGs decoded
from a folder in DataLoader workers."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .settings import Settings
from .timing import guarded, time_calls

__all__ = ["bench_input", "bench_folder", "jpeg_folder"]


def bench_input(s: Settings) -> dict:
    """Images/s of §4.1's augmentation: on-device uint8 images, and JPEGs from a folder."""
    from ..data import BatchLoader, TensorImages
    from ..transforms import IMAGENET_EIGVAL, IMAGENET_EIGVEC, IMAGENET_MEAN, PCALighting

    count = 2 * s.batch_size  # two batches' worth, so successive batches read different images
    generator = torch.Generator(s.device).manual_seed(0)
    images = torch.randint(0, 256, (count, 3, 256, 256), dtype=torch.uint8, device=s.device,
                           generator=generator)
    data = TensorImages(images, torch.randint(0, 1000, (count,), device=s.device), ["?"] * 1000)
    loader = BatchLoader(data, s.batch_size, device=s.device, augment=True, crop=224,
                         mean=IMAGENET_MEAN, lighting=PCALighting(IMAGENET_EIGVAL, IMAGENET_EIGVEC),
                         drop_last=True)
    batches = _endless(loader)
    timing = time_calls(lambda: next(batches), s.device, s.warmup, s.rounds)
    tensors = {"images_per_s": s.batch_size / timing["median_s"], "stored": "uint8 256x256",
               "steps": "mean, random 224 crop + flip, PCA lighting (alexnet.data.BatchLoader)",
               **timing}
    return {"tensors": tensors, "folder": guarded(lambda: bench_folder(s))}


def jpeg_folder(root: Path, count: int = 192) -> tuple[Path, str]:
    """The ImageNet sample photographs when the offline data is configured, else ``count``
    synthetic 256×340 JPEGs (smooth colour fields plus texture, about a photograph's size)."""
    from ..data import data_dir, imagenet_samples

    if data_dir() is not None:
        return imagenet_samples(), "the 1,000 ImageNet sample photographs (shorter side 256)"
    from PIL import Image

    generator = torch.Generator().manual_seed(0)
    for i in range(count):
        folder = root / f"class{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        field = torch.rand(3, 4, 5, generator=generator)[None] * 255
        smooth = F.interpolate(field, size=(256, 340), mode="bicubic", align_corners=False)[0]
        texture = torch.randn(3, 256, 340, generator=generator) * 12
        pixels = (smooth + texture).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        Image.fromarray(pixels).save(folder / f"{i}.jpg", quality=90)
    return root, f"{count} synthetic 256x340 JPEGs"


def bench_folder(s: Settings) -> dict:
    """Images/s of decoding + §4.1's augmentation from a JPEG folder in DataLoader workers, at
    the default worker count, after the workers have started (first batch excluded)."""
    from ..data import FolderLoader, image_folder
    from ..runtime import default_workers

    with tempfile.TemporaryDirectory() as tmp:
        root, what = jpeg_folder(Path(tmp))
        dataset = image_folder(root, train=True, verify=False)
        workers, batch = default_workers(), 32
        loader = FolderLoader(dataset, batch, device=s.device, workers=workers, drop_last=True)
        seen, start = 0, None
        for i, (images, _) in enumerate(loader):
            if i == 0:
                start = time.perf_counter()
                continue
            seen += len(images)
            if seen >= 640:
                break
        seconds = time.perf_counter() - start
    return {"images_per_s": seen / seconds, "images": seen, "workers": workers,
            "batch_size": batch, "source": what,
            "steps": "JPEG decode, shorter side 256 + centre 256, mean, random 224 crop + flip, "
                     "PCA lighting (alexnet.data.image_folder + FolderLoader)"}


def _endless(loader):
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        yield from loader
        epoch += 1
