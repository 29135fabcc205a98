"""The book's settings, read from ``_config.yml``: the one file that names the repository.

The build tool writes every notebook's Colab install cell and "Open in Colab" badge from here, and
the tests check the notebooks and the built HTML against the same file, so moving the repository
means editing ``repository:`` in ``_config.yml`` and rebuilding the notebooks.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
SOURCES = BOOK / "src"


def load_config() -> dict:
    """``_config.yml`` as a dict."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def toc_files() -> list[str]:
    """Every page of ``_toc.yml`` in reading order, as written there (``book/02_relu``)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("parts", []) + entry.get("chapters", []) + entry.get("sections", []))

    walk(toc.get("parts", []) + toc.get("chapters", []))
    return files


def git_requirement(config: dict, commit: str | None = None) -> str:
    """The pip requirement that installs the package from the repository at ``commit`` (the
    commit whose package a notebook's stored outputs came from), else its book branch."""
    repository = config["repository"]
    return f"alexnet @ git+{repository['url']}@{commit or repository['branch']}"


def package_commit() -> str:
    """The commit whose package the notebooks run now: ``HEAD``, refused (one line) while the
    package has uncommitted changes, since no commit would then hold the code behind the
    outputs."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()

    if git("status", "--porcelain", "--", "alexnet", "pyproject.toml"):
        raise SystemExit("alexnet/ or pyproject.toml has uncommitted changes: commit them first, "
                         "so that each notebook's Colab cell installs the code its outputs came "
                         "from")
    return git("rev-parse", "HEAD")


def colab_url(name: str, config: dict) -> str:
    """Colab's URL of ``book/<name>.ipynb``, made as sphinx-book-theme makes its launch button."""
    repository = config["repository"]
    org_repo = repository["url"].removeprefix("https://github.com/").strip("/")
    book = repository.get("path_to_book", "").strip("/")
    path = f"{book}/book/{name}.ipynb" if book else f"book/{name}.ipynb"
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{org_repo}/blob/{repository['branch']}/{path}"


def install_cell_source(config: dict, commit: str | None = None) -> str:
    """Every notebook's first cell: installs the package (at ``commit``, the one the stored
    outputs came from) in Colab and does nothing elsewhere."""
    return (
        "# In Colab, install this book's `alexnet` package (Colab already has PyTorch).\n"
        "# Elsewhere it does nothing: run `pip install -r requirements.txt` once.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "{git_requirement(config, commit)}"'
    )


def badge_source(name: str, config: dict) -> str:
    """The markdown cell under the install cell: an "Open in Colab" badge for this notebook."""
    badge = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({badge})]({colab_url(name, config)})"


def set_notebook_environment(environ=os.environ) -> None:
    """The environment every notebook runs in, here (build tool, nbval) and in CI.

    - ``ALEXNET_DATA``: ``../shared/datasets`` beside the checkout when it exists and nothing else
      is set; without it the package downloads what a chapter needs.
    - ``ALEXNET_CACHE``: ``~/.cache/alexnet`` unless set.
    - ``MPLBACKEND`` removed: with ``Agg`` forced, the kernel's inline backend shows no figures
      and the stored plots could not be reproduced.
    """
    shared = ROOT.parent / "shared" / "datasets"
    if "ALEXNET_DATA" not in environ and shared.is_dir():
        environ["ALEXNET_DATA"] = str(shared)
    environ.setdefault("ALEXNET_CACHE", str(Path.home() / ".cache" / "alexnet"))
    environ.pop("MPLBACKEND", None)
