"""Every chapter as a Colab user runs it, on Colab's own package versions.

Usage::

    python book/tools/colab_check.py                       # build .colab-venv, run every chapter
    python book/tools/colab_check.py --venv /path/venv 01_architecture
    python book/tools/colab_check.py --out colab-report.json

1. **Colab's stack.** A Python 3.13 venv with the versions of ``book/tools/colab-runtime.txt``
   (googlecolab/backend-info, 2026-08: torch 2.11, triton 3.6, ipywidgets 7.7.1, IPython 7.34,
   ...), made once and reused (``--venv``; the default ``.colab-venv`` is ignored by git).
2. **The install, as the chapter does it.** Each chapter's unmodified first cell runs
   ``%pip install "alexnet @ git+<repository>@<commit>"`` in a kernel where ``google.colab`` is
   imported; git is told to fetch the repository URL from a snapshot (this checkout's history,
   and this working tree on top)
   (``url.<snapshot>.insteadOf``), and pip may reach its index for the package's own
   dependencies, as in Colab.
3. **Nothing replaced.** The venv's packages are listed before and after: a package whose version
   changed or that disappeared would make Colab ask for a runtime restart (numpy above all), so
   any such change fails the check. New packages are listed.
4. **Each chapter alone**, in a fresh kernel and an empty folder (Colab's ``/content``), with no
   alexnet installed before its install cell runs (Colab gives each notebook its own runtime):
   no file of the checkout is reachable, and no chapter runs on another chapter's commit. ``ALEXNET_DATA`` points at the offline data when it is set (Colab
   downloads instead).

Prints one line per chapter and the install's changes; ``--out`` writes them as JSON. Exit 1 when a
chapter fails or the install replaced a package.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient.exceptions import CellExecutionError

from bookconfig import ROOT, load_config, set_notebook_environment, toc_files
from build_notebooks import execute_notebook

PINS = Path(__file__).with_name("colab-runtime.txt")
PYTHON = "python3.13"
FAKE_COLAB = "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')"


def snapshot_repository(target: Path, branch: str) -> Path:
    """A git repository with this checkout's history, so that a notebook's install cell can name
    any of its commits (the one its outputs came from), and on ``branch`` this working tree (the
    files git does not ignore) committed on top."""
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(target)], check=True,
                   capture_output=True)
    git = ["git", "-c", "user.name=colab-check", "-c", "user.email=colab-check@localhost"]
    subprocess.run([*git, "checkout", "-q", "-B", branch], cwd=target, check=True,
                   capture_output=True)
    for old in target.iterdir():
        if old.name != ".git":
            shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    for args in (["add", "-A"], ["commit", "-q", "--allow-empty", "-m", "snapshot"]):
        subprocess.run([*git, *args], cwd=target, check=True, capture_output=True)
    return target


def install_commit(notebook: Path) -> str | None:
    """The commit a notebook's install cell names (``...@<sha>"``), if it names one."""
    import re

    cell = json.loads(notebook.read_text())["cells"][0]
    found = re.search(r'@([0-9a-f]{40})"', "".join(cell["source"]))
    return found.group(1) if found else None


def has_commit(repository: Path, commit: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=repository,
                          capture_output=True).returncode == 0


def colab_venv(path: Path) -> Path:
    """The venv with Colab's pinned packages (made when missing); returns its python."""
    python = path / "bin" / "python"
    if not python.exists():
        interpreter = shutil.which(PYTHON)
        if interpreter is None:
            raise SystemExit(f"{PYTHON} is not on PATH: install Python 3.13 (Colab's), or pass "
                             "--venv with a venv made from it")
        subprocess.run([interpreter, "-m", "venv", str(path)], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "-r", str(PINS)], check=True)
    return python


def installed(python: Path) -> dict[str, str]:
    """The venv's packages, name -> version."""
    listed = subprocess.run([python, "-m", "pip", "list", "--format=json"], capture_output=True,
                            text=True, check=True).stdout
    return {p["name"].lower(): p["version"] for p in json.loads(listed)}


def changes(before: dict[str, str], after: dict[str, str]) -> dict[str, dict]:
    """What an install did to the venv: ``replaced`` (version changed or removed) and ``added``."""
    replaced = {name: {"before": version, "after": after.get(name)}
                for name, version in before.items() if after.get(name) != version}
    added = {name: version for name, version in after.items() if name not in before}
    return {"replaced": replaced, "added": added}


def fresh_runtime(python: Path) -> None:
    """No alexnet in the venv, as in a fresh Colab runtime: Colab gives every notebook its own, so
    a chapter must never run on the package an earlier chapter installed (pip would keep it:
    same name, same version)."""
    subprocess.run([python, "-m", "pip", "uninstall", "-q", "-y", "alexnet"], check=True,
                   capture_output=True)


def provenance(argv: list[str] | None) -> dict:
    """What the report ran: the command, the commit and whether the tree differed from it, and
    this machine (CPU model, usable cores, load average at the end)."""
    from alexnet.runtime import code_state, machine

    code, here = code_state(), machine("cpu")
    args = sys.argv[1:] if argv is None else argv
    return {"command": " ".join(["python book/tools/colab_check.py", *args]),
            "commit": code["git_commit"], "tree_differs": bool(code.get("dirty")),
            "cpu": here["device"], "load_average": here["load_average"]}


def run_chapter(notebook: Path, python: Path, timeout: int) -> dict:
    """``notebook`` run top to bottom in a fresh kernel of ``python``, in an empty folder."""
    nb = nbformat.read(notebook, as_version=4)
    argv = [str(python), "-m", "ipykernel_launcher", f"--IPKernelApp.exec_lines={[FAKE_COLAB]!r}",
            "-f", "{connection_file}"]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="content-") as content:
        try:
            execute_notebook(nb, Path(content), timeout=timeout, kernel_argv=argv)
            error = None
        except CellExecutionError as e:
            error = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
    return {"chapter": notebook.stem, "passed": error is None, "error": error,
            "seconds": round(time.perf_counter() - start, 1)}


def git_redirect(snapshot: Path, url: str) -> None:
    """Make git fetch ``url`` from ``snapshot`` (for this process and its children)."""
    os.environ.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.{snapshot.as_uri()}.insteadOf",
                       "GIT_CONFIG_VALUE_0": url, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="chapters (default: every notebook of _toc.yml)")
    parser.add_argument("--venv", type=Path, default=ROOT / ".colab-venv")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--out", type=Path, help="write the report as JSON here")
    args = parser.parse_args(argv)
    set_notebook_environment()
    os.environ.pop("PYTHONPATH", None)
    python = colab_venv(args.venv)
    fresh_runtime(python)
    before = installed(python)
    pages = [ROOT / f"{page}.ipynb" for page in toc_files()]
    notebooks = [p for p in pages if p.is_file() and (not args.names or p.stem in args.names)]
    repository = load_config()["repository"]
    with tempfile.TemporaryDirectory(prefix="colab-repo-") as snapshot:
        git_redirect(snapshot_repository(Path(snapshot), repository["branch"]), repository["url"])
        chapters = []
        for notebook in notebooks:
            fresh_runtime(python)   # each chapter installs the commit its own outputs came from
            chapters.append(run_chapter(notebook, python, args.timeout))
            row = chapters[-1]
            print(f"{'passed' if row['passed'] else 'FAILED'} {row['chapter']} "
                  f"({row['seconds']:.0f} s){': ' + row['error'] if row['error'] else ''}")
    install = changes(before, installed(python))
    print(f"install replaced: {install['replaced'] or 'nothing'}; added: "
          f"{', '.join(f'{k} {v}' for k, v in sorted(install['added'].items())) or 'nothing'}")
    report = {"stack": {k: before.get(k) for k in ("torch", "triton", "ipywidgets", "ipython",
                                                   "numpy", "matplotlib")},
              "python": subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                                       capture_output=True, text=True).stdout.strip(),
              "chapters": chapters, "install": install, **provenance(argv)}
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    ok = all(row["passed"] for row in chapters) and not install["replaced"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
