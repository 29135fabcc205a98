"""A Colab user's first run, simulated: a fresh Python without this checkout on its path, a kernel
in which ``google.colab`` is imported (as Colab's own kernel does), and the book's first chapter
run from another folder. Its unmodified install cell does the installing:

- ``%pip install "alexnet @ git+<repository url>@<commit>"`` (the commit the chapter's outputs
  came from) reaches a git repository holding this checkout's history and working tree, because
  git is told (``url.<snapshot>.insteadOf``) to fetch the repository URL from there; pip records
  the URL and revision it was given, which the test reads back.
- The environment is a venv made without pip or system site-packages, plus one ``.pth`` line that
  names the global site-packages (torch, ipykernel, pip, setuptools: a 5 GB install otherwise).
  A folder named in a ``.pth`` file joins ``sys.path`` without its own ``.pth`` files being run,
  so the editable install of this checkout (a ``.pth`` hook there) does not leak in: before the
  install cell runs, ``import alexnet`` fails in the venv.
- pip runs offline (no index) and builds without isolation, with the setuptools it can see.
"""
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from bookconfig import ROOT, load_config, toc_files
from build_notebooks import execute_notebook
from colab_check import FAKE_COLAB, has_commit, install_commit, snapshot_repository

REPORT = """\
import importlib.metadata, alexnet
print(alexnet.__file__)
print(importlib.metadata.distribution("alexnet").read_text("direct_url.json"))"""


def first_chapter() -> Path:
    notebooks = [ROOT / f"{page}.ipynb" for page in toc_files()]
    return next(notebook for notebook in notebooks if notebook.is_file())


def fresh_venv(target: Path) -> Path:
    """A venv that sees the global site-packages but not this checkout; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    python = target / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run([python, "-c", where], capture_output=True, text=True,
                             check=True).stdout.strip()
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "global_site_packages.pth").write_text("\n".join(sorted(here)) + "\n")
    return python


@pytest.mark.slow
def test_colab_user_installs_from_the_repository_and_runs_the_first_chapter(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)
    repository = load_config()["repository"]
    snapshot = snapshot_repository(tmp_path / "repository", repository["branch"])
    python = fresh_venv(tmp_path / "venv")
    leak = subprocess.run([python, "-c", "import alexnet; print(alexnet.__file__)"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert leak.returncode != 0, f"the checkout leaks into the fresh venv: {leak.stdout}"

    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{snapshot.as_uri()}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", repository["url"])
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_NO_BUILD_ISOLATION", "0")  # pip reads it as build_isolation=0: off
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")

    chapter = first_chapter()
    commit = install_commit(chapter)
    assert commit, "the install cell names the commit of its outputs"
    if not has_commit(snapshot, commit):
        shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT,
                                 capture_output=True, text=True).stdout.strip()
        assert shallow == "true", f"{chapter.name} installs {commit}, which is not in main's history"
        pytest.skip(f"this checkout is shallow: {commit} is not in it, so pip could not fetch it")
    workdir = tmp_path / "content"  # Colab's working folder, far from the checkout
    workdir.mkdir()
    nb = nbformat.read(chapter, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    argv = [str(python), "-m", "ipykernel_launcher", f"--IPKernelApp.exec_lines={[FAKE_COLAB]!r}",
            "-f", "{connection_file}"]
    try:
        execute_notebook(nb, workdir, timeout=600, kernel_argv=argv)
    except CellExecutionError as error:
        pip_said = "".join(o.get("text", "") for o in nb.cells[0].outputs)
        pytest.fail(f"{chapter.name} failed in the fresh venv.\n"
                    f"Install cell output:\n{pip_said}\n{error}")

    printed = "".join(o.text for o in nb.cells[-1].outputs if o.output_type == "stream")
    installed, direct_url = printed.split("\n", 1)
    assert Path(installed).is_relative_to(tmp_path / "venv"), installed
    assert not Path(installed).is_relative_to(ROOT)
    direct_url = json.loads(direct_url)
    assert direct_url["url"] == repository["url"]
    assert direct_url["vcs_info"]["requested_revision"] == commit
    assert direct_url["vcs_info"]["commit_id"] == commit


def test_the_stored_colab_report_covers_every_chapter_and_says_where_it_ran():
    """``bench/results/colab-check.json`` (``python book/tools/colab_check.py --venv ... --out
    ...``): every page of the book that is a notebook ran in Colab's stack, nothing the install
    did replaced a package, and the report names its commit (in this history) and machine."""
    report = json.loads((ROOT / "bench" / "results" / "colab-check.json").read_text())
    notebooks = {Path(page).name for page in toc_files() if (ROOT / f"{page}.ipynb").is_file()}
    assert {row["chapter"] for row in report["chapters"]} == notebooks, "rerun colab_check.py"
    assert all(row["passed"] for row in report["chapters"]) and not report["install"]["replaced"]
    assert report["python"].startswith("3.13") and report["cpu"].startswith("CPU: ")
    assert has_commit(ROOT, report["commit"]) or subprocess.run(
        ["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True,
        text=True).stdout.strip() == "true", report["commit"]
