"""course_utils.tools.export: executed notebook -> standalone HTML that renders offline."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import nbformat
import pytest

from course_utils.tools import export
from conftest import CHROMIUM, CHROMIUM_ARGS, offline_page
from course_utils.lessons import REPO

# A 2x2 red PNG, referenced from markdown to check that markdown images get embedded.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg=="
)
ARTIFACTS = REPO / "build" / "browser-test"

# Independent of export.external_resources: resource attributes on any element but
# <a>, and JavaScript module imports, that point to the network.
REMOTE_ATTR = re.compile(r"<(?!a[\s>])[a-zA-Z][\w-]*\b[^>]*?\s(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I)
REMOTE_IMPORT = re.compile(r"\bimport\b[^;\n]*?[\"'](?:https?:)?//|\bfrom\s+[\"'](?:https?:)?//")


def _small_notebook() -> nbformat.NotebookNode:
    """Markdown with a formula, an arXiv link and a local image; a figure; an explore widget."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.course = {"number": "99", "year": "2012", "title": "Export test"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "# 99 · 2012 · Export test\n\nPaper on [arXiv](https://arxiv.org/abs/1207.0580). "
            "Inline $E = mc^2$, and a display formula:\n\n"
            "$$\\sigma(x) = \\frac{1}{1 + e^{-x}}, \\qquad \\sum_{i=1}^{n} w_i x_i \\in \\mathbb{R}$$"),
        nbformat.v4.new_markdown_cell("## A local image\n\n![a red square](square.png)"),
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\nimport numpy as np\n"
            "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot(np.arange(5) ** 2)\nax.set_title('squares')\nplt.show()"),
        nbformat.v4.new_code_cell(
            "from course_utils import widgets\n"
            "def draw(k):\n    fig, ax = plt.subplots(figsize=(3, 2))\n    ax.plot(np.arange(5) ** k)\n    return fig\n"
            "control = widgets.explore(draw, [1, 2, 3], 2, 'power')"),
    ]
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> Path:
    """A small notebook executed with nbclient: formula, matplotlib figure, local image, widget."""
    from nbclient import NotebookClient

    folder = tmp_path_factory.mktemp("executed")
    (folder / "square.png").write_bytes(PNG)
    nb = _small_notebook()
    NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(folder)}}).execute()
    path = folder / "99_2012_export_test.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def exported(executed, tmp_path_factory) -> Path:
    """The small notebook exported once for the module."""
    return export.to_html(executed, tmp_path_factory.mktemp("html"))


def test_html_has_no_network_references(exported):
    """No src/href (except <a> links) or JS import points to http(s) or //host."""
    html = exported.read_text(encoding="utf-8")
    assert not REMOTE_ATTR.findall(html), REMOTE_ATTR.findall(html)[:5]
    assert not REMOTE_IMPORT.findall(html), REMOTE_IMPORT.findall(html)[:5]
    assert export.external_resources(html) == []
    assert "https://arxiv.org/abs/1207.0580" in html  # links a reader clicks stay


def test_images_are_embedded(exported):
    """Output figures and the markdown image are data: URIs."""
    html = exported.read_text(encoding="utf-8")
    srcs = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", html)
    assert len(srcs) >= 3, srcs  # the figure, the widget's default figure, the markdown image
    assert all(s.startswith("data:image/png;base64,") for s in srcs), [s[:40] for s in srcs]
    assert "data:image/png;base64," + base64.b64encode(PNG).decode() in html


def test_mathjax_comes_from_the_vendor_copy(exported):
    """MathJax is loaded from out_dir/vendor/mathjax, which holds what it needs (and not 73 MB)."""
    html = exported.read_text(encoding="utf-8")
    assert '<script src="vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe">' in html
    vendor = exported.parent / "vendor" / "mathjax"
    for part in ("MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions/Safe.js",
                 "jax/output/CommonHTML/fonts/TeX/fontdata.js", "fonts/HTML-CSS/TeX/woff/MathJax_Main-Regular.woff"):
        assert (vendor / part).is_file(), part
    size = sum(f.stat().st_size for f in vendor.rglob("*") if f.is_file())
    assert size < 15e6, f"vendor copy is {size / 1e6:.0f} MB: only the needed files should be copied"
    assert "$E = mc^2$" in html or "E = mc^2" in html  # left for MathJax to typeset


def test_widgets_become_a_note_and_scripts_are_gone(exported):
    """Widget views become a note; no require.js, mermaid or widget state."""
    html = exported.read_text(encoding="utf-8")
    assert "course-widget-note" in html and "Interactive control (slider)" in html
    assert "application/vnd.jupyter.widget-state+json" not in html
    assert "require.js" not in html and "mermaid.esm" not in html and '<script type="module"' not in html
    assert "<title>99 · 2012 · Export test</title>" in html


def test_vendor_copy_is_made_once(executed, tmp_path):
    """A second export reuses the vendor copy; a stale stamp triggers a fresh one."""
    first = export.to_html(executed, tmp_path)
    stamp = tmp_path / "vendor" / "mathjax" / ".course-vendor.json"
    mtime = stamp.stat().st_mtime_ns
    export.to_html(executed, tmp_path)
    assert stamp.stat().st_mtime_ns == mtime
    # A stale stamp (other version) triggers a fresh copy.
    data = json.loads(stamp.read_text())
    stamp.write_text(json.dumps({**data, "version": "0.0.0"}))
    export.to_html(executed, tmp_path)
    assert json.loads(stamp.read_text())["version"] == "2.7.9"
    assert first.exists() and not list((tmp_path / "vendor").glob(".mathjax.tmp-*"))


@pytest.mark.parametrize("snippet, expected", [
    ('<script src="https://cdn.example.org/x.js"></script>', "script src"),
    ('<script src="//cdn.example.org/x.js"></script>', "script src"),
    ('<link rel="stylesheet" href="http://example.org/a.css">', "link href"),
    ("<style>@import url(https://fonts.googleapis.com/css?family=Lato);</style>", "fonts.googleapis"),
    ("<style>@import 'https://example.org/a.css';</style>", "example.org/a.css"),
    ('<div style="background: url(https://example.org/bg.png)"></div>', "bg.png"),
    ('<script type="module">import mermaid from "https://cdn.example.org/m.mjs";</script>', "m.mjs"),
    ('<script>const m = await import("https://cdn.example.org/m.mjs");</script>', "m.mjs"),
    ("<script>el.src = 'https://unpkg.com/x/embed-amd.js';</script>", "embed-amd.js"),
    ('<script>require(["https://cdn.example.org/lib.js"], f)</script>', "lib.js"),
    ('<img src="figures/missing.png">', "not embedded"),
    ('<img src="https://example.org/a.png">', "img src"),
    ('<iframe src="https://www.youtube.com/embed/x"></iframe>', "iframe src"),
])
def test_external_resources_finds(snippet, expected):
    """Each kind of network reference is reported."""
    found = export.external_resources(f"<html><body>{snippet}</body></html>")
    assert found and expected in " ".join(found), found


def test_external_resources_allows_links_data_and_relative():
    """Links, data URIs, relative paths, JSON data, namespaces and comments are fine."""
    html = ('<a href="https://arxiv.org/abs/1207.0580">paper</a><img src="data:image/png;base64,AAAA">'
            '<script src="vendor/mathjax/MathJax.js"></script><link rel="stylesheet" href="vendor/x.css">'
            '<script type="application/json">{"u": "https://example.org/x.js"}</script>'
            "<svg xmlns='http://www.w3.org/2000/svg'></svg><style>/* see https://example.org */</style>")
    assert export.external_resources(html) == []


def _with_markdown(executed: Path, tmp_path: Path, markdown: str) -> Path:
    """A copy of the executed notebook with one more markdown cell."""
    nb = nbformat.read(executed, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def test_remote_image_is_a_clear_error(executed, tmp_path):
    """A markdown image from the web is refused, naming the URL; nothing is written."""
    path = _with_markdown(executed, tmp_path, "![logo](https://example.org/logo.png)")
    with pytest.raises(export.OfflineExportError, match="example.org/logo.png"):
        export.to_html(path, tmp_path / "out")
    assert not (tmp_path / "out" / "nb.html").exists()


def test_missing_local_image_is_a_clear_error(executed, tmp_path):
    """A markdown image that cannot be found is refused."""
    path = _with_markdown(executed, tmp_path, "![gone](nowhere/gone.png)")
    with pytest.raises(export.OfflineExportError, match="not embedded"):
        export.to_html(path, tmp_path / "out")


def test_missing_notebook_and_missing_npm_assets(executed, tmp_path, monkeypatch):
    """Clear errors for a wrong notebook path and for node_modules not installed."""
    with pytest.raises(FileNotFoundError, match="make run"):
        export.to_html(tmp_path / "nope.ipynb", tmp_path)
    with pytest.raises(FileNotFoundError, match="make setup"):
        export.vendor_mathjax(tmp_path, root=tmp_path)


def test_unexecuted_notebook_warns(tmp_path):
    """Exporting a notebook that was never executed warns."""
    path = tmp_path / "raw.ipynb"
    nbformat.write(_small_notebook(), path)
    (tmp_path / "square.png").write_bytes(PNG)
    with pytest.warns(UserWarning, match="unexecuted"):
        export.to_html(path, tmp_path / "out")


@pytest.mark.browser
def test_html_renders_math_offline_in_chromium(exported, chromium):
    """Open the file with every non-file request blocked: MathJax typesets from the vendor copy."""
    with chromium() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page, remote, failed, _ = offline_page(browser, {"width": 1000, "height": 1200})
            page.goto(exported.as_uri(), wait_until="load", timeout=30_000)
            page.wait_for_function("window.MathJax && MathJax.isReady", timeout=30_000)
            page.evaluate("new Promise(done => MathJax.Hub.Queue(() => done(true)))")
            typeset = page.evaluate("document.querySelectorAll('.MathJax_CHTML').length")
            errors = page.evaluate("document.querySelectorAll('.MathJax_Error, merror').length")
            fonts = page.evaluate("Array.from(document.fonts).filter(f => f.status === 'loaded').map(f => f.family)")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "export.png"), full_page=True)
        finally:
            browser.close()
    assert remote == [] and failed == [], (remote, failed)
    assert typeset == 2 and errors == 0, (typeset, errors)
    assert any(f.startswith("MJXc-TeX-main") for f in fonts), fonts  # MathJax's own web fonts, from vendor/


def test_plots_without_figures_warn(tmp_path):
    """A lesson executed with a non-inline backend (MPLBACKEND=agg) has no figures: say so."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="")]
    nb.cells = [cell]
    path = tmp_path / "agg.ipynb"
    nbformat.write(nb, path)
    with pytest.warns(UserWarning, match="MPLBACKEND"):
        export.to_html(path, tmp_path / "out")
