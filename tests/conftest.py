"""The tests' fixtures, found by pytest for every test module (plain helpers: tests/helpers.py;
the environment the notebooks and tests run in: the root conftest.py).

Decoded data goes to one cache folder for the whole pytest session, so CIFAR-10's 60,000 JPEGs are
decoded once (about 5 s) and the user's own cache is left alone. ``small_cifar``: the environment
under which ``--data cifar10`` is 1,024 real CIFAR-10 training images and 200 test images, spread
evenly over the classes. It is the package's own cache file format
(``ALEXNET_CACHE/cifar10-jpeg-*.pt``) filled with a subset, so a CPU epoch, with its validation,
takes a second instead of the full test set's 25.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import offline_folder


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("alexnet-cache")


@pytest.fixture
def offline(monkeypatch, session_cache) -> Path:
    """ALEXNET_DATA = the offline datasets, ALEXNET_CACHE = this session's cache, for one test."""
    folder = offline_folder()
    if folder is None:
        pytest.skip("needs the offline datasets: set ALEXNET_DATA")
    monkeypatch.setenv("ALEXNET_DATA", str(folder))
    monkeypatch.setenv("ALEXNET_CACHE", str(session_cache))
    return folder


def with_offline_env(session_cache: Path, load):
    """``load()`` with the offline environment set only while it runs."""
    folder = offline_folder()
    if folder is None:
        pytest.skip("needs the offline datasets: set ALEXNET_DATA")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALEXNET_DATA", str(folder))
        mp.setenv("ALEXNET_CACHE", str(session_cache))
        return load()


@pytest.fixture(scope="session")
def cifar_train(session_cache):
    from alexnet.data import cifar10

    return with_offline_env(session_cache, lambda: cifar10(train=True))


@pytest.fixture(scope="session")
def cifar_test(session_cache):
    from alexnet.data import cifar10

    return with_offline_env(session_cache, lambda: cifar10(train=False))


@pytest.fixture(scope="session")
def imagenet_root(session_cache) -> Path:
    from alexnet.data import imagenet_samples

    return with_offline_env(session_cache, imagenet_samples)


@pytest.fixture(scope="session")
def small_cifar(cifar_train, cifar_test, tmp_path_factory) -> dict:
    """``ALEXNET_DATA`` and ``ALEXNET_CACHE`` for a small CIFAR-10 (1,024 + 200 real images)."""
    from alexnet.datasets import source_sha256

    cache = tmp_path_factory.mktemp("small-cifar")
    folder = offline_folder()
    source = folder / "cifar10-jpeg" if (folder / "cifar10-jpeg").is_dir() else \
        folder / "cifar10-jpeg.tar.gz"
    sha256 = source_sha256(source)       # the decoded cache is tied to the archive it came from
    torch.save({**cifar_train.subset(1024).state_dict(), "source_sha256": sha256},
               cache / "cifar10-jpeg-train.pt")
    torch.save({**cifar_test.subset(200).state_dict(), "source_sha256": sha256},
               cache / "cifar10-jpeg-test.pt")
    return {"ALEXNET_DATA": str(offline_folder()), "ALEXNET_CACHE": str(cache)}


@pytest.fixture
def cifar_env(small_cifar, monkeypatch) -> dict:
    """The small CIFAR-10 for in-process ``alexnet.cli.main`` calls in one test."""
    for name, value in small_cifar.items():
        monkeypatch.setenv(name, value)
    return small_cifar
