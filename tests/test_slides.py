"""course_utils.tools.slides: offline reveal.js decks from executed notebooks (``make slides``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.tools import export, slides
from conftest import CHROMIUM, CHROMIUM_ARGS, offline_page
from course_utils.lessons import REPO

ARTIFACTS = REPO / "build" / "browser-test"
REMOTE_ATTR = re.compile(r"<(?!a[\s>])[a-zA-Z][\w-]*\b[^>]*?\s(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I)
COURSE = {"number": "98", "year": "2012", "track": "vision", "title": "Slides test", "idea": "decks",
          "papers": [{"title": "A paper", "authors": "A. Author", "year": 2012, "arxiv": "1207.0580"}]}


def _lesson_notebook() -> nbformat.NotebookNode:
    """A lesson-shaped notebook with four slide headings, a figure, a formula, a widget and a solution cell."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.course = COURSE
    nb.cells = [
        md("# 98 · 2012 · Slides test\n\nThe paper: [arXiv](https://arxiv.org/abs/1207.0580)."),
        code("SEED = 0  # random seed\nSMOKE = False  # tiny run", metadata={"tags": ["parameters"]}),
        md("## The key idea\n\nA formula: $$y = \\max(0, x)$$"),
        md("Plain text, no heading: continues the slide.\n\n#### a small heading stays on the slide too"),
        code("import matplotlib.pyplot as plt\nimport numpy as np\n"
             "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot(np.maximum(0, np.linspace(-1, 1, 9)))\n"
             "ax.set_title('ReLU')\nplt.show()"),
        md("\n\n## A widget\n"),  # leading blank lines: still a heading
        code("from course_utils import widgets\n"
             "def draw(k):\n    fig, ax = plt.subplots(figsize=(3, 2))\n    ax.plot(np.arange(5) ** k)\n    return fig\n"
             "control = widgets.explore(draw, [1, 2, 3], 2, 'power')"),
        md("### Exercise (a sub-heading, not a new slide)"),
        code("def answer():\n    return 42", metadata={"tags": ["solution"]}),
        md("## Going further\n\nRead the paper."),
    ]
    return nb


HEADINGS = 4  # '# 98 ...', '## The key idea', '## A widget', '## Going further'


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> Path:
    """The test lesson executed with papermill (SMOKE=True injected) into a build/-like folder."""
    import papermill

    lessons = tmp_path_factory.mktemp("lessons")
    build = tmp_path_factory.mktemp("build")
    source = lessons / "98_2012_slides_test.ipynb"
    nbformat.write(_lesson_notebook(), source)
    target = build / source.name
    papermill.execute_notebook(str(source), str(target), parameters={"SMOKE": True}, kernel_name="python3",
                               progress_bar=False, cwd=str(lessons))
    return target


@pytest.fixture(scope="module")
def deck(executed, tmp_path_factory) -> Path:
    """The deck built once for the module."""
    return slides.build_deck(executed, tmp_path_factory.mktemp("slides"))


def _top_sections(html: str) -> int:
    """Number of slides (top-level <section> elements)."""
    from bs4 import BeautifulSoup

    return len(BeautifulSoup(html, "html.parser").select("div.slides > section"))


def test_deck_name_and_one_slide_per_heading(deck, executed):
    """build/slides/<name>.slides.html with one slide per '# '/'## ' heading."""
    assert deck.name == "98_2012_slides_test.slides.html"
    html = deck.read_text(encoding="utf-8")
    nb = nbformat.read(executed, as_version=4)
    assert sum(slides.is_heading(c) for c in nb.cells) == HEADINGS
    assert _top_sections(html) == HEADINGS
    assert html.count("<section") == 2 * HEADINGS  # nbconvert nests a (sub)slide section in each slide


def test_deck_is_offline(deck):
    """No network references; reveal.js and MathJax load from vendor/ next to the deck."""
    html = deck.read_text(encoding="utf-8")
    assert not REMOTE_ATTR.findall(html), REMOTE_ATTR.findall(html)[:5]
    assert export.external_resources(html) == []
    for ref in ("vendor/reveal.js/dist/reveal.css", "vendor/reveal.js/dist/theme/white.css",
                "vendor/reveal.js/dist/reveal.js", "vendor/reveal.js/plugin/notes/notes.js",
                "vendor/mathjax/MathJax.js"):
        assert f'"{ref}' in html, ref
        assert (deck.parent / ref).is_file(), ref
    assert "unpkg.com" not in html and "cdnjs" not in html and "require(" not in html


def test_deck_embeds_the_figure_and_keeps_every_cell(deck):
    """Figures are data URIs; solution, parameters and widget note are on the slides."""
    html = deck.read_text(encoding="utf-8")
    srcs = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", html)
    assert len(srcs) == 2 and all(s.startswith("data:image/png;base64,") for s in srcs)  # ReLU + widget default
    assert "Interactive control (slider)" in html
    assert "return" in html and "answer" in html  # the solution cell (instructor deck)
    assert "injected-parameters" in html or "SMOKE" in html  # which values made the figures
    assert "<title>98 · 2012 · Slides test slides</title>" in html


def test_is_heading():
    """Only markdown cells whose first non-blank line starts with '# ' or '## '."""
    md = nbformat.v4.new_markdown_cell
    assert slides.is_heading(md("# Title"))
    assert slides.is_heading(md("\n\n## Section\ntext"))
    assert slides.is_heading(md(["## Section\n", "more"]))  # list-of-lines sources
    assert not slides.is_heading(md("### Sub-section"))
    assert not slides.is_heading(md("#hashtag"))
    assert not slides.is_heading(md("text\n## later heading"))
    assert not slides.is_heading(nbformat.v4.new_code_cell("# a comment"))


def test_mark_slides_copies_and_content_before_first_heading_gets_a_slide(tmp_path):
    """mark_slides works on a copy; leading content forms its own slide."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("## One"),
                nbformat.v4.new_markdown_cell("text")]
    marked = slides.mark_slides(nb)
    assert [c.metadata.slideshow["slide_type"] for c in marked.cells] == ["-", "slide", "-"]
    assert "slideshow" not in nb.cells[0].metadata  # the input is not changed
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    with pytest.warns(UserWarning, match="unexecuted"):
        deck = slides.build_deck(path, tmp_path / "out")
    assert _top_sections(deck.read_text(encoding="utf-8")) == 2  # the leading code cell + '## One'
    with pytest.raises(ValueError, match="no cells"):
        slides.mark_slides(nbformat.v4.new_notebook())


def test_theme_with_web_fonts_is_refused(executed, tmp_path):
    """Themes importing Google Fonts, or unknown themes, are clear errors."""
    with pytest.raises(ValueError, match="needs the internet"):
        slides.build_deck(executed, tmp_path, theme="simple")
    with pytest.raises(ValueError, match="no reveal.js theme"):
        slides.build_deck(executed, tmp_path, theme="nope")


def _record(tmp_path: Path) -> dict:
    """A catalogue record for the test lesson, its executed copy expected in tmp_path."""
    return {**COURSE, "slug": "98_2012_slides_test", "path": str(tmp_path / "98_2012_slides_test.ipynb")}


def test_missing_executed_notebook_runs_the_batch_runner(executed, tmp_path, monkeypatch):
    """A missing executed notebook is produced by `python -m course_utils.tools.batch run --lessons NN`."""
    calls = []

    def fake_run(cmd, cwd, check):
        """Stand-in for the batch runner: writes the executed notebook."""
        calls.append(cmd)
        (tmp_path / "98_2012_slides_test.ipynb").write_bytes(executed.read_bytes())
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(slides.subprocess, "run", fake_run)
    path = slides.ensure_executed(_record(tmp_path), tmp_path)
    assert calls == [[sys.executable, "-m", "course_utils.tools.batch", "run", "--lessons", "98"]]
    assert path == tmp_path / "98_2012_slides_test.ipynb"
    slides.ensure_executed(_record(tmp_path), tmp_path)  # present now: not run again
    assert len(calls) == 1


def test_batch_runner_writing_nothing_is_a_clear_error(tmp_path, monkeypatch):
    """The batch run writing nothing, or --no-run, gives a clear error."""
    monkeypatch.setattr(slides.subprocess, "run", lambda cmd, cwd, check: subprocess.CompletedProcess(cmd, 1))
    with pytest.raises(RuntimeError, match="exit status 1.*did not write"):
        slides.ensure_executed(_record(tmp_path), tmp_path)
    with pytest.raises(FileNotFoundError, match="make run LESSONS=98"):
        slides.ensure_executed(_record(tmp_path), tmp_path, run=False)


def test_build_all_from_a_catalogue(executed, tmp_path):
    """build_all finds lessons in the catalogue and rejects unknown numbers."""
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    nbformat.write(_lesson_notebook(), lessons / executed.name)  # newer than the executed copy
    with pytest.warns(UserWarning, match="older than"):
        results = slides.build_all(["98"], build_dir=executed.parent, out_dir=tmp_path / "decks",
                                   run_missing=False, lessons_dir=lessons)
    assert results == {"98": tmp_path / "decks" / "98_2012_slides_test.slides.html"}
    with pytest.raises(ValueError, match="unknown lesson number"):
        slides.build_all(["7"], build_dir=executed.parent, lessons_dir=lessons)


def test_command_line_help_and_errors(tmp_path):
    """`python -m course_utils.tools.slides --help` works; unknown lessons exit with status 2."""
    done = subprocess.run([sys.executable, "-m", "course_utils.tools.slides", "--help"], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert done.returncode == 0 and "--lessons" in done.stdout and "--no-run" in done.stdout
    assert slides.main(["--lessons", "77", "--no-run", "--build-dir", str(tmp_path)]) == 2


@pytest.mark.browser
def test_deck_renders_offline_in_chromium(deck, chromium):
    """Open the deck with every non-file request blocked; reveal.js starts, each slide shows, math renders."""
    with chromium() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page, remote, failed, errors = offline_page(browser, {"width": 1280, "height": 800})
            page.goto(deck.as_uri(), wait_until="load", timeout=30_000)
            page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=30_000)
            total = page.evaluate("Reveal.getTotalSlides()")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            math_width = 0
            for i in range(total):
                page.evaluate(f"Reveal.slide({i})")
                page.wait_for_timeout(300)  # reveal.js fires 'slidechanged' (MathJax re-render) after the move
                page.evaluate("new Promise(done => MathJax.Hub.Queue(() => done(true)))")
                widths = page.evaluate("""Array.from(Reveal.getCurrentSlide().querySelectorAll('.MathJax_CHTML'))
                                          .map(e => e.getBoundingClientRect().width)""")
                math_width = max([math_width, *widths])
                page.screenshot(path=str(ARTIFACTS / f"slides-{i}.png"))
        finally:
            browser.close()
    assert remote == [] and failed == [] and errors == [], (remote, failed, errors)
    assert total == HEADINGS
    assert math_width > 50, "the formula on slide 2 was not typeset visibly"


def test_a_heading_inside_a_markdown_cell_opens_a_slide():
    md = nbformat.v4.new_markdown_cell
    nb = nbformat.v4.new_notebook()
    nb.cells = [md("# Title\n\nIntro.\n\n## Part one\n\nText.\n\n```python\n# not a heading\n```\n\n## Part two\nMore.")]
    marked = slides.mark_slides(nb)
    assert [c.source.splitlines()[0] for c in marked.cells] == ["# Title", "## Part one", "## Part two"]
    assert [c.metadata["slideshow"]["slide_type"] for c in marked.cells] == ["slide"] * 3
    assert "# not a heading" in marked.cells[1].source
    assert len(nb.cells) == 1  # the notebook itself is not changed
