"""Build the book's notebooks: jupytext ``book/src/NN_name.py`` -> executed ``book/NN_name.ipynb``.

Usage::

    python book/tools/build_notebooks.py              # every source in book/src
    python book/tools/build_notebooks.py 02_relu      # some of them (a name or a path)

Each notebook is

1. read from its source and given, in front, the Colab install cell and the "Open in Colab" badge,
   both written from ``_config.yml`` (:mod:`bookconfig`);
2. executed top to bottom in a fresh kernel of this Python (as ``pytest --nbval-current-env``
   does), in ``book/`` as working directory, so execution counts run 1..N and the ipywidgets
   state is saved in the notebook metadata, where the HTML build finds it;
3. normalised so that rebuilding unchanged code gives the same file: kernel name ``python3``, no
   Python version, no timings, cell ids and widget model ids derived from content, cell metadata
   reduced to ``tags`` and ``mystnb``; a cell tagged ``nbval-ignore-output`` and
   ``remove-output`` (a timing) keeps no output, since it would only record this machine; a
   widget whose output the page removes (the controls are for Colab and Jupyter) keeps its
   ``text/plain`` but not its view, and the saved widget state keeps only the models that a view
   still on the page refers to (:func:`strip_unused_widgets`).

A cell that raises stops the build of that notebook and nothing is written (tag a cell
``raises-exception`` when the error is the point).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path

import ipykernel.kernelspec
import jupytext
import nbformat
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from bookconfig import BOOK, SOURCES, badge_source, install_cell_source, load_config, \
    package_commit, set_notebook_environment

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
LANGUAGE_INFO_KEYS = ("name", "pygments_lexer", "codemirror_mode", "file_extension", "mimetype",
                      "nbconvert_exporter")
CELL_METADATA_KEYS = ("tags", "mystnb")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
#: A cell tagged with both runs for the reader (a timing, say) but its output is not stored: the
#: page does not show it and nbval does not compare it, so it could only record this machine.
MACHINE_ONLY = {"nbval-ignore-output", "remove-output"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class _KernelSpecs(KernelSpecManager):
    """Every kernel name means one IPython kernel started with ``argv``."""

    def __init__(self, argv: list[str], **kwargs):
        super().__init__(**kwargs)
        self.argv = argv

    def get_kernel_spec(self, kernel_name):
        spec = ipykernel.kernelspec.get_kernel_dict()
        spec["argv"] = self.argv
        return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES, **spec)


class _Client(NotebookClient):
    """nbclient whose kernel is started with ``argv`` rather than looked up by name."""

    def __init__(self, nb, argv: list[str], **kwargs):
        super().__init__(nb, **kwargs)
        self.argv = argv

    def create_kernel_manager(self):
        self.km = AsyncKernelManager(kernel_name=KERNELSPEC["name"],
                                     kernel_spec_manager=_KernelSpecs(self.argv))
        return self.km


def execute_notebook(nb, cwd: Path, timeout: int = 1800, kernel_argv: list[str] | None = None):
    """Run ``nb`` in place in a fresh kernel started in ``cwd``.

    ``kernel_argv`` defaults to an IPython kernel of this Python; pass another to run the notebook
    with another interpreter (the Colab test does).
    """
    argv = kernel_argv or [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    _Client(nb, argv, timeout=timeout, record_timing=False, store_widget_state=True,
            resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def assemble(source: Path, config: dict, commit: str | None = None):
    """The notebook for ``source``, unexecuted: install cell (of the package at ``commit``),
    badge, then the source's cells."""
    nb = jupytext.read(source, fmt="py:percent")
    empty = [i for i, cell in enumerate(nb.cells) if not cell.source.strip()]
    if empty:
        raise SystemExit(f"{source}: empty cells at positions {empty}; delete them")
    install = nbformat.v4.new_code_cell(install_cell_source(config, commit),
                                        metadata={"tags": ["nbval-ignore-output", "remove-cell"]})
    badge = nbformat.v4.new_markdown_cell(badge_source(source.stem, config))
    nb.cells = [install, badge, *nb.cells]
    nb.metadata.pop("jupytext", None)
    return nb


def _stable_cell_ids(nb) -> None:
    """Cell ids from each cell's content (nbformat wants them unique)."""
    seen: dict[str, int] = {}
    for cell in nb.cells:
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
        seen[digest] = seen.get(digest, 0) + 1
        cell.id = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"


def _stable_widget_ids(text: str, nb, name: str) -> str:
    """Widget model ids (random uuids, saved in random order) renamed after the notebook name and
    the order in which a reader meets them: displayed widgets cell by cell, each followed by the
    models its state refers to (``IPY_MODEL_<id>``), depth first; then any that nothing shows."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    order: list[str] = []

    def visit(model_id: str) -> None:
        if model_id in state and model_id not in order:
            order.append(model_id)
            refs = re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state[model_id], sort_keys=True))
            for ref in refs:
                visit(ref)

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view:
                visit(view["model_id"])
    unseen = sorted((json.dumps(state[m], sort_keys=True), m) for m in state if m not in order)
    order += [m for _, m in unseen]
    for i, model_id in enumerate(order):
        text = text.replace(model_id, hashlib.sha1(f"{name}:{i}".encode()).hexdigest()[:32])
    return text


def _referenced(state: dict, roots: list[str]) -> set[str]:
    """The widget models ``roots`` refer to (``IPY_MODEL_<id>`` in their state), transitively."""
    found, todo = set(), list(roots)
    while todo:
        model_id = todo.pop()
        if model_id in state and model_id not in found:
            found.add(model_id)
            todo += re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state[model_id]))
    return found


def strip_unused_widgets(nb) -> None:
    """Saved widget state only for widgets the page shows.

    The HTML build embeds the whole state in the page, but a cell tagged ``remove-output`` shows
    nothing there: its controls are for a live kernel (Colab, Jupyter), which rebuilds them. Its
    widget view is dropped (its ``text/plain`` stays, which nbval compares; nbval ignores views),
    then every model that no remaining view reaches; with none left, the state goes."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "remove-output" in cell.metadata.get("tags", []):
            for output in cell.outputs:
                output.get("data", {}).pop(WIDGET_VIEW, None)
    widgets = nb.metadata.get("widgets", {})
    state = widgets.get(WIDGET_STATE, {}).get("state", {})
    views = [o["data"][WIDGET_VIEW]["model_id"] for c in nb.cells for o in c.get("outputs", [])
             if WIDGET_VIEW in o.get("data", {})]
    kept = _referenced(state, views)
    for model_id in set(state) - kept:
        del state[model_id]
    if not state:
        nb.metadata.pop("widgets", None)


def normalise(nb, name: str) -> str:
    """The executed notebook as the text to commit (see the module docstring, step 3)."""
    info = nb.metadata.get("language_info", {})
    nb.metadata["language_info"] = {k: info[k] for k in LANGUAGE_INFO_KEYS if k in info}
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in CELL_METADATA_KEYS}
        if MACHINE_ONLY <= set(cell.metadata.get("tags", [])):
            cell.outputs = []           # neither shown nor compared: only this machine's numbers
    strip_unused_widgets(nb)
    _stable_cell_ids(nb)
    nbformat.validate(nb)
    text = _stable_widget_ids(nbformat.writes(nb), nb, name)
    # Written again so that the renamed widget models are sorted by their new ids, as nbformat does.
    return json.dumps(json.loads(text), sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def build(source: Path, config: dict, timeout: int, commit: str | None = None) -> Path:
    """Assemble, execute and write ``book/<source stem>.ipynb``."""
    nb = assemble(source, config, commit)
    execute_notebook(nb, BOOK, timeout)
    counts = [cell.execution_count for cell in nb.cells if cell.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), f"{source}: execution counts {counts}"
    target = BOOK / f"{source.stem}.ipynb"
    target.write_text(normalise(nb, source.stem))
    return target


def _sources(names: list[str]) -> list[Path]:
    if not names:
        return sorted(SOURCES.glob("*.py"))
    paths = [SOURCES / f"{Path(name).stem}.py" for name in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"no such notebook source: {', '.join(missing)}")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*",
                        help="notebooks to build: 02_relu or book/src/02_relu.py (default: all)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    args = parser.parse_args(argv)
    set_notebook_environment()
    config, commit = load_config(), package_commit()
    failed = []
    for source in _sources(args.names):
        start = time.perf_counter()
        try:
            target = build(source, config, args.timeout, commit)
        except CellExecutionError as error:
            print(f"FAILED {source.relative_to(BOOK.parent)}\n{error}", file=sys.stderr)
            failed.append(source.stem)
            continue
        print(f"built {target.relative_to(BOOK.parent)} in {time.perf_counter() - start:.1f} s")
    if failed:
        print(f"not written (a cell raised): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
