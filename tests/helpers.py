"""Plain helpers the tests import (their fixtures live in tests/conftest.py).

The real data is read offline from ``ALEXNET_DATA`` (the root conftest.py points it at
``../shared/datasets`` when that exists); tests that need it are skipped when it is absent, so the
suite never downloads. ``run_alexnet`` runs the real CLI in a fresh process (``python -m
alexnet``), for what only a process shows: signals, exit status, tracebacks.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"


def offline_folder() -> Path | None:
    """The folder of offline data sets, or None when it holds no CIFAR-10."""
    folder = Path(os.environ.get("ALEXNET_DATA") or SHARED)
    found = (folder / "cifar10-jpeg.tar.gz").exists() or (folder / "cifar10-jpeg").is_dir()
    return folder if found else None


needs_data = pytest.mark.skipif(offline_folder() is None,
                                reason="needs the offline datasets: set ALEXNET_DATA")


def noise_image(height: int, width: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    """A PIL image of random pixels: every window of it is unique."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode)


def make_image_folder(root: Path, classes=("cat", "dog"), per_class: int = 2,
                      size=(40, 30)) -> Path:
    """root/<class>/<i>.png, small random RGB images."""
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            noise_image(size[1], size[0], seed=10 * c + i).save(root / name / f"{i}.png")
    return root


def tiny_folder(root: Path, classes=("cat", "dog"), per_class: int = 3, val: bool = True) -> Path:
    """``root/train`` (and ``root/val``) with ``per_class`` random 300x260 RGB images a class."""
    make_image_folder(root / "train", classes, per_class, size=(300, 260))
    if val:
        make_image_folder(root / "val", classes, 1, size=(300, 260))
    return root


def subprocess_env(extra: dict | None = None) -> dict:
    """This process's environment with this checkout first on the path, plus ``extra``."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def alexnet_command(*args: str, launcher: tuple = ()) -> list[str]:
    """``python -m alexnet ARGS``, or ``python -m LAUNCHER... -m alexnet ARGS`` (torchrun)."""
    return [sys.executable, *launcher, "-m", "alexnet", *args]


def run_alexnet(*args: str, env: dict | None = None, launcher: tuple = (),
                timeout: float = 180) -> subprocess.CompletedProcess:
    """The real CLI in a new process; stdout and stderr as text."""
    return subprocess.run(alexnet_command(*args, launcher=launcher), env=subprocess_env(env),
                          capture_output=True, text=True, timeout=timeout)


def without_seconds(history: list[dict]) -> list[dict]:
    """A metrics history without its wall-clock times (the one thing two runs never share)."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]
