"""The book's machinery: table of contents, notebooks built from their sources, the Colab cells,
and a real ``jupyter-book build . -W --keep-going`` whose HTML is read as a reader sees it: Colab
links, tables that render, lines that fit the column, real alt text, page titles without raw
LaTeX, and an "Exercises" section closing every chapter.

The notebooks' own outputs are checked by nbval (``pytest book/``), not here.
"""
import base64
import html as html_module
import re
import struct
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

from bookconfig import BOOK, ROOT, SOURCES, badge_source, install_cell_source, toc_files

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The jupyter-book of this Python (one from another environment on PATH might be v2).
JUPYTER_BOOK = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]


def expected_colab_url(name: str) -> str:
    """sphinx-book-theme's launch URL: {colab_url}/github/{org}/{repo}/blob/{branch}/{path}.ipynb"""
    repository = CONFIG["repository"]
    org, repo = repository["url"].removeprefix("https://github.com/").split("/")
    path = "/".join(p for p in (repository["path_to_book"], f"book/{name}.ipynb") if p)
    return (f"{CONFIG['launch_buttons']['colab_url']}/github/{org}/{repo}"
            f"/blob/{repository['branch']}/{path}")


def read(notebook: Path):
    return nbformat.read(notebook, as_version=4)


def test_config_names_the_repository_and_never_executes_notebooks():
    repository = CONFIG["repository"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repository["url"])
    assert repository["branch"] and repository["path_to_book"] == ""
    assert CONFIG["execute"]["execute_notebooks"] == "off"  # stored outputs, checked by nbval
    assert CONFIG["only_build_toc_files"] is True


def test_every_toc_entry_exists_and_every_notebook_is_in_the_toc():
    pages = toc_files()
    assert len(pages) == len(set(pages)), f"a page is listed twice: {pages}"
    missing = [p for p in pages
               if not any((ROOT / f"{p}{ext}").is_file() for ext in (".md", ".ipynb"))]
    assert not missing, f"_toc.yml lists pages that do not exist: {missing}"
    unlisted = [n.name for n in NOTEBOOKS if f"book/{n.stem}" not in pages]
    assert not unlisted, f"notebooks missing from _toc.yml: {unlisted}"


def test_chapters_are_numbered_by_the_book_and_sections_by_hand():
    """The chapters' part is numbered one level deep (chapter titles and figures: "8.", "Fig.
    8.2"), so a chapter's title carries no number of its own, and a section's title, which that
    numbering does not reach, carries its "1.1"."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    chapters, *rest = toc["parts"]
    assert chapters["numbered"] == 1 and not any(part.get("numbered") for part in rest)
    for n, chapter in enumerate(chapters["chapters"], 1):
        title = jupytext.read(SOURCES / f"{Path(chapter['file']).name}.py").cells[0].source
        assert re.match(r"# [^\d]", title), title.splitlines()[0]
        for number, section in enumerate(chapter.get("sections", []), 1):
            title = jupytext.read(SOURCES / f"{Path(section['file']).name}.py").cells[0].source
            assert title.startswith(f"# {n}.{number} "), title.splitlines()[0]


def test_every_notebook_has_a_source_and_every_source_a_notebook():
    assert NOTEBOOKS, "book/ has no notebooks"
    assert {n.stem for n in NOTEBOOKS} == {s.stem for s in SOURCES.glob("*.py")}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda n: n.stem)
def test_notebook_is_built_from_its_current_source(notebook):
    """Someone edited book/src/NN.py without rebuilding, or edited the .ipynb by hand: run
    ``python book/tools/build_notebooks.py NN``."""
    source = jupytext.read(SOURCES / f"{notebook.stem}.py", fmt="py:percent")
    built = read(notebook).cells[2:]
    assert [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in built] == \
           [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in source.cells]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda n: n.stem)
def test_colab_install_cell_and_badge_come_first_and_match_the_config(notebook):
    install, badge = read(notebook).cells[:2]
    repository = CONFIG["repository"]
    assert install.cell_type == "code"
    commit = re.search(r'@([0-9a-f]{40})"', install.source)
    assert commit, "the install cell must name the commit its outputs came from"
    commit = commit.group(1)
    assert install.source == install_cell_source(CONFIG, commit)
    assert f'%pip install -q "alexnet @ git+{repository["url"]}@{commit}"' in install.source
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT,
                             capture_output=True, text=True).stdout.strip()
    if shallow == "false":                   # the commit is in main's history
        assert subprocess.run(["git", "merge-base", "--is-ancestor", commit, "HEAD"],
                              cwd=ROOT).returncode == 0, commit
    assert 'if "google.colab" in sys.modules:' in install.source
    assert {"nbval-ignore-output", "remove-cell"} <= set(install.metadata["tags"])
    assert install.outputs == [], "the install cell must do nothing outside Colab"
    assert badge.cell_type == "markdown"
    assert badge.source == badge_source(notebook.stem, CONFIG)
    assert f"({expected_colab_url(notebook.stem)})" in badge.source


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda n: n.stem)
def test_notebook_was_executed_top_to_bottom_in_one_kernel_with_widget_state(notebook):
    nb = read(notebook)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert nb.metadata["kernelspec"]["name"] == "python3"
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    views = [o.data[WIDGET_VIEW]["model_id"] for c in code for o in c.outputs
             if WIDGET_VIEW in o.get("data", {})]
    assert set(views) <= set(state), "a displayed widget has no saved state: rebuild the notebook"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda n: n.stem)
def test_every_chapter_has_controls_for_a_live_kernel_and_saves_no_unused_widget_state(notebook):
    """The controls run in Colab and Jupyter; the page removes their output, so the page embeds
    no state for them: only models that a view left on the page reaches are saved."""
    nb = read(notebook)
    code = [c for c in nb.cells if c.cell_type == "code"]
    controls = [c for c in code if re.search(r"viz\.interactive_figure\(", c.source)
                and re.search(r"widgets\.\w*(Slider|Dropdown|Checkbox|ToggleButtons)\(", c.source)]
    assert controls, "every chapter has at least one ipywidgets control for the reader to vary"
    assert all(c.outputs for c in controls), "the controls' cell ran and kept its text output"
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    views = [o.data[WIDGET_VIEW]["model_id"] for c in code for o in c.outputs
             if WIDGET_VIEW in o.get("data", {})]
    reached, todo = set(), list(views)
    while todo:
        model = todo.pop()
        if model in state and model not in reached:
            reached.add(model)
            todo += re.findall(r"IPY_MODEL_([0-9a-f]+)", str(state[model]))
    assert set(state) == reached, f"{len(set(state) - reached)} saved widget models no view shows"
    hidden = [c for c in code if "remove-output" in c.metadata.get("tags", [])
              and any(WIDGET_VIEW in o.get("data", {}) for o in c.outputs)]
    assert not hidden, "a widget the page removes keeps its view (and so its state)"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda n: n.stem)
def test_no_visible_cell_is_test_harness_and_no_machine_output_is_stored(notebook):
    """Asserts, glue calls, nbval markers and the static tabs that stand in for a live kernel's
    controls run in hidden cells (the page shows code a learner reads); a cell neither shown nor
    compared (a timing) stores no output."""
    for cell in read(notebook).cells:
        tags = set(cell.metadata.get("tags", []))
        if cell.cell_type != "code":
            continue
        if not {"remove-input", "remove-cell"} & tags:
            assert not re.search(r"^\s*assert\b|NBVAL|\bglue(_\w+)?\(|\bfigure_tabs\(", cell.source, re.M), \
                cell.source[:200]
        if {"nbval-ignore-output", "remove-output"} <= tags:
            assert cell.outputs == [], cell.source[:200]


SHOWN_CODE_CHARACTERS = 76   # a code cell's box on the page is narrower than its output's
HIDDEN_CODE_CHARACTERS = 79  # the source a reader opens in Colab or in the notebook file


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda n: n.stem)
def test_code_fits_the_column_in_the_notebook(notebook):
    """Shown code within 76 columns (the page's code box, with its padding); hidden code and
    printed text within 79 (Colab, the notebook file, the output box). The built page is checked
    again by ``test_code_and_text_outputs_fit_the_column``."""
    wide = []
    for cell in read(notebook).cells:
        tags = set(cell.metadata.get("tags", []))
        if cell.cell_type != "code" or "remove-cell" in tags:
            continue
        shown = not {"remove-input", "hide-input", "hide-cell"} & tags
        limit = SHOWN_CODE_CHARACTERS if shown else HIDDEN_CODE_CHARACTERS
        wide += [line for line in cell.source.splitlines() if len(line) > limit]
        wide += [line for output in cell.outputs if output.output_type == "stream"
                 for line in output.text.splitlines() if len(line) > HIDDEN_CODE_CHARACTERS]
    assert not wide, f"{len(wide)} lines wider than the column: {wide[:3]}"


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    """``jupyter-book build . -W --keep-going`` into a temporary folder: (html folder, its log)."""
    out = tmp_path_factory.mktemp("book")
    run = subprocess.run(
        [*JUPYTER_BOOK, "build", str(ROOT), "-W", "--keep-going", "--path-output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-5000:]
    return out / "_build" / "html", log


@pytest.mark.slow
def test_book_builds_with_no_warnings(built_book):
    _, log = built_book
    assert not re.findall(r".*WARNING.*", log)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda n: n.stem)
def test_built_page_launches_colab_and_embeds_only_the_widgets_it_shows(built_book, notebook):
    html_dir, _ = built_book
    html = (html_dir / "book" / f"{notebook.stem}.html").read_text()
    launch = re.findall(r'<a href="([^"]+)"[^>]*?title="Launch on Colab"', html, flags=re.S)
    assert launch == [expected_colab_url(notebook.stem)]
    assert f'href="{expected_colab_url(notebook.stem)}"><img alt="Open In Colab"' in html  # badge
    assert "google.colab" not in html, "the install cell should be removed from the page"
    shows_widgets = bool(read(notebook).metadata.get("widgets"))
    assert (WIDGET_STATE in html) == shows_widgets


@pytest.mark.slow
def test_markdown_pages_have_no_launch_button(built_book):
    html_dir, _ = built_book
    for page in toc_files():
        if (ROOT / f"{page}.md").is_file():
            assert "Launch on Colab" not in (html_dir / f"{page}.html").read_text()


# ---------------------------------------------------------------- the page as a reader sees it

COLUMN_CHARACTERS = 79      # the code column shows about 80 monospace characters (~690 px)
COLUMN_PIXELS = 700         # widest figure shown at its own size in the text column


def chapter_pages():
    return [page for page in toc_files() if (ROOT / f"{page}.ipynb").is_file()]


def visible_text(page: str) -> str:
    """The page's article as text, without code blocks, scripts and styles."""
    article = re.search(r"<article.*?</article>", page, flags=re.S).group(0)
    article = re.sub(r"<(script|style|pre|code)\b.*?</\1>", " ", article, flags=re.S)
    return html_module.unescape(re.sub(r"<[^>]+>", " ", article))


def code_lines(page: str) -> list[str]:
    """Every line of every code cell, text output and code example on the page, as displayed.
    Left out: the package's own code shown with ``literalinclude`` (Sphinx's "default"
    highlighting), which keeps the package's 100 columns."""
    lines = []
    blocks = re.findall(r'<div class="([^"]*)"><div class="highlight"><pre>(.*?)</pre>', page,
                        flags=re.S)
    for kind, block in blocks:
        if "highlight-default" not in kind:
            lines += html_module.unescape(re.sub(r"<[^>]+>", "", block)).splitlines()
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("page", chapter_pages(), ids=lambda p: p.split("/")[-1])
def test_tables_render_and_no_markdown_pipes_show(built_book, page):
    html_dir, _ = built_book
    text = visible_text((html_dir / f"{page}.html").read_text())
    rows = [line for line in text.splitlines() if re.fullmatch(r"\s*\|.*\|\s*", line)]
    assert not re.search(r"\|\s*:?-{3,}", text), "a Markdown table shows as raw text"
    assert not rows, f"raw Markdown table rows on the page: {rows[:3]}"


@pytest.mark.slow
@pytest.mark.parametrize("page", chapter_pages(), ids=lambda p: p.split("/")[-1])
def test_every_chapter_closes_with_exercises(built_book, page):
    html_dir, _ = built_book
    article = (html_dir / f"{page}.html").read_text()
    headings = re.findall(r"<h2>(.*?)<a class=\"headerlink\"", article)
    assert headings and headings[-1] == "Exercises", headings
    exercises = article[article.rindex('id="exercises"'):]
    items = re.findall(r"<li>", exercises.split('<footer')[0])
    assert 3 <= len(items), f"{len(items)} exercises"
    assert "Solution" in exercises, "the exercises have hidden solutions"


@pytest.mark.slow
@pytest.mark.parametrize("page", toc_files(), ids=lambda p: p.split("/")[-1])
def test_page_titles_have_no_raw_latex(built_book, page):
    html_dir, _ = built_book
    title = re.search(r"<title>(.*?)</title>", (html_dir / f"{page}.html").read_text()).group(1)
    assert not re.search(r"\\[(a-zA-Z]|\$", html_module.unescape(title)), title


@pytest.mark.slow
@pytest.mark.parametrize("page", chapter_pages(), ids=lambda p: p.split("/")[-1])
def test_code_and_text_outputs_fit_the_column(built_book, page):
    html_dir, _ = built_book
    wide = [line for line in code_lines((html_dir / f"{page}.html").read_text())
            if len(line) > COLUMN_CHARACTERS]
    assert not wide, f"{len(wide)} lines wider than {COLUMN_CHARACTERS}: {wide[:3]}"


@pytest.mark.slow
@pytest.mark.parametrize("page", chapter_pages(), ids=lambda p: p.split("/")[-1])
def test_images_have_real_alt_text(built_book, page):
    html_dir, _ = built_book
    article = re.search(r"<article.*?</article>", (html_dir / f"{page}.html").read_text(),
                        flags=re.S).group(0)
    alts = re.findall(r"<img\b[^>]*?\balt=\"([^\"]*)\"", article)
    assert alts
    bad = [alt for alt in alts if len(alt) < 20 and alt != "Open In Colab"
           or re.search(r"\.(png|jpe?g|svg)$|^_images/|^/", alt)]
    assert not bad, f"images without a description: {bad}"


def png_width(data: str) -> int:
    """The width in pixels of a base64 PNG (its IHDR chunk)."""
    return struct.unpack(">I", base64.b64decode(data[:48])[16:20])[0]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda n: n.stem)
def test_figures_fit_the_column(notebook):
    """Stored figures are at most COLUMN_PIXELS wide as shown (a retina PNG gives its shown width
    in the output's metadata), so the page never scales their fonts down."""
    too_wide = []
    for cell in read(notebook).cells:
        for output in cell.get("outputs", []):
            for mime, data in output.get("data", {}).items():
                if mime.endswith("image/png"):
                    shown = output.get("metadata", {}).get("image/png", {}).get("width")
                    width = shown or png_width(data)
                    if width > COLUMN_PIXELS:
                        too_wide.append(width)
    assert not too_wide, f"figures wider than the column: {too_wide}"
