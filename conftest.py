"""Notebooks run with the book's environment (offline data, cache, inline figures), even when a
single notebook is tested on its own (``pytest book/01_architecture.ipynb``)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "book" / "tools"))
from bookconfig import set_notebook_environment  # noqa: E402

set_notebook_environment()
