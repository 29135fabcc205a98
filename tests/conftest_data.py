"""Fixtures for the data tests (imported by tests/test_data.py and tests/test_transforms.py).

The real data is read offline from ``ALEXNET_DATA`` (tests/conftest.py points it at
``../shared/datasets`` when that exists); tests that need it are skipped when it is absent, so the
suite never downloads. Decoded data goes to one cache folder for the whole pytest session, so
CIFAR-10's 60,000 JPEGs are decoded once (about 5 s) and the user's own cache is left alone.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def offline_folder() -> Path | None:
    folder = Path(os.environ.get("ALEXNET_DATA") or SHARED)
    found = (folder / "cifar10-jpeg.tar.gz").exists() or (folder / "cifar10-jpeg").is_dir()
    return folder if found else None


needs_data = pytest.mark.skipif(offline_folder() is None,
                                reason="needs the offline datasets: set ALEXNET_DATA")


_loaded: dict = {}   # shared by every test module that imports these fixtures, once per session


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    if "cache" not in _loaded:
        _loaded["cache"] = tmp_path_factory.mktemp("alexnet-cache")
    return _loaded["cache"]


@pytest.fixture
def offline(monkeypatch, session_cache) -> Path:
    """ALEXNET_DATA = the offline datasets, ALEXNET_CACHE = this session's cache, for one test."""
    folder = offline_folder()
    if folder is None:
        pytest.skip("needs the offline datasets: set ALEXNET_DATA")
    monkeypatch.setenv("ALEXNET_DATA", str(folder))
    monkeypatch.setenv("ALEXNET_CACHE", str(session_cache))
    return folder


def _with_offline_env(session_cache, load):
    """``load()`` once per session, with the offline environment set only while it runs."""
    folder = offline_folder()
    if folder is None:
        pytest.skip("needs the offline datasets: set ALEXNET_DATA")
    if load not in _loaded:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("ALEXNET_DATA", str(folder))
            mp.setenv("ALEXNET_CACHE", str(session_cache))
            _loaded[load] = load()
    return _loaded[load]


def _cifar10_train():
    from alexnet.data import cifar10

    return cifar10(train=True)


def _cifar10_test():
    from alexnet.data import cifar10

    return cifar10(train=False)


@pytest.fixture(scope="session")
def cifar_train(session_cache):
    return _with_offline_env(session_cache, _cifar10_train)


@pytest.fixture(scope="session")
def cifar_test(session_cache):
    return _with_offline_env(session_cache, _cifar10_test)


@pytest.fixture(scope="session")
def imagenet_root(session_cache) -> Path:
    from alexnet.data import imagenet_samples

    return _with_offline_env(session_cache, imagenet_samples)


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
