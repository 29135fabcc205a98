"""The one environment of the test session: notebooks run with the book's environment (offline
data, cache, inline figures), even when a single notebook is tested on its own (``pytest
book/01_architecture.ipynb``), and so do the tests in tests/ (their fixtures: tests/conftest.py).

It is set here, at import time, because nbval's kernels inherit the environment of the pytest
process when they start: ``ALEXNET_DATA`` defaults to ``../shared/datasets`` beside the checkout
(when it exists), ``ALEXNET_CACHE`` to ``~/.cache/alexnet``, and ``MPLBACKEND`` is removed so the
kernels draw inline figures as the stored notebooks have them (book/tools/bookconfig.py).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "book" / "tools"))
from bookconfig import set_notebook_environment  # noqa: E402

set_notebook_environment()
