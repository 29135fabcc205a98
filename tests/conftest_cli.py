"""Fixtures for the command-line, error, resume and distributed tests (tests/test_cli.py,
test_errors.py, test_resume.py, test_distributed.py).

``small_cifar``: the environment under which ``--data cifar10`` is 1,024 real CIFAR-10 training
images and 200 test images, spread evenly over the classes. It is the package's own cache file
format (``ALEXNET_CACHE/cifar10-jpeg-*.pt``) filled with a subset, so a CPU epoch, with its
validation, takes a second instead of the full test set's 25. ``tiny_folder``: an ImageNet-style
``train/`` + ``val/`` folder of random 300x260 images. ``run_alexnet``: the real CLI in a fresh
process (``python -m alexnet``), for what only a process shows: signals, exit status, tracebacks.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest_data import (cifar_test, cifar_train, make_image_folder, noise_image,  # noqa: F401
                           offline_folder, session_cache)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def small_cifar(cifar_train, cifar_test, tmp_path_factory) -> dict:  # noqa: F811
    """``ALEXNET_DATA`` and ``ALEXNET_CACHE`` for a small CIFAR-10 (1,024 + 200 real images)."""
    cache = tmp_path_factory.mktemp("small-cifar")
    torch.save(cifar_train.subset(1024).state_dict(), cache / "cifar10-jpeg-train.pt")
    torch.save(cifar_test.subset(200).state_dict(), cache / "cifar10-jpeg-test.pt")
    return {"ALEXNET_DATA": str(offline_folder()), "ALEXNET_CACHE": str(cache)}


@pytest.fixture
def cifar_env(small_cifar, monkeypatch) -> dict:
    """The small CIFAR-10 for in-process ``alexnet.cli.main`` calls in one test."""
    for name, value in small_cifar.items():
        monkeypatch.setenv(name, value)
    return small_cifar


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


__all__ = ["REPO", "alexnet_command", "cifar_env", "cifar_test", "cifar_train", "noise_image",
           "run_alexnet", "session_cache", "small_cifar", "subprocess_env", "tiny_folder",
           "without_seconds"]
