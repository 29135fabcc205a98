"""Shared test setup: the environment the notebooks run in, for nbval and the book tests.

It is set here, at import time, because nbval's kernels inherit the environment of the pytest
process when they start: ``ALEXNET_DATA`` defaults to ``../shared/datasets`` beside the checkout
(when it exists), ``ALEXNET_CACHE`` to ``~/.cache/alexnet``, and ``MPLBACKEND`` is removed so the
kernels draw inline figures as the stored notebooks have them (book/tools/bookconfig.py).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "tools"))

from bookconfig import set_notebook_environment  # noqa: E402

set_notebook_environment()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: builds the book or a fresh environment (seconds)")
