"""``make site``: the course website, built by Sphinx with MyST-NB from the executed lessons.

The site has the course's front page with the lesson map (run times and milestone
margins), one page per track and a page by year for navigation, every executed lesson with
its figures, the glossary and the contributor guide, and Sphinx's own search. It works with
no network, from the file system or ``python -m http.server``:

* the lessons are the executed notebooks of ``make run`` (``build/<slug>.ipynb``; a missing
  one is run first), never re-executed by Sphinx (``nb_execution_mode = "off"``);
* widgets become a short note, as in the HTML exports (:func:`export.offline_notebook`), and
  MyST-NB is told to load no widget scripts;
* MathJax is the local copy from ``node_modules`` (``make setup`` installs it);
* after the build every page is scanned for anything it would load from the web
  (:func:`export.external_resources`); one such reference fails the build.

    python -m course_utils.tools.site               # build/site/index.html
    python -m course_utils.tools.site --no-run      # fail for a lesson not executed yet
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from ..lessons import LESSONS_DIR, REPO, catalogue, course_map
from . import bench, export
from .slides import ensure_executed

__all__ = ["write_sources", "build_site", "check_site"]

BUILD_DIR = REPO / "build"
TITLE = "Deep Learning 2012–2020, one notebook at a time"
TRACK_TITLES = {"tour": "Start here", "foundations": "Foundations: training deep nets", "vision": "Seeing",
                "language": "Language", "generative": "Generative models", "reinforcement": "Reinforcement learning",
                "beyond": "Beyond 2020's frontier"}

CONF = r'''# Written by course_utils.tools.site (make site); every build rewrites it.
project = {title!r}
extensions = ["myst_nb", "sphinx.ext.mathjax"]
html_theme = "sphinx_book_theme"
html_title = {title!r}
html_static_path = ["static"]
# MathJax 2 from the course's own copy (node_modules), relative to _static: no CDN.
mathjax_path = "vendor/mathjax/MathJax.js?config={mathjax_config}"
# MyST-NB marks sections tex2jax_ignore and math blocks class "math": tell MathJax 2 to typeset those.
mathjax2_config = {{"tex2jax": {{"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                               "processClass": "math|output_area|tex2jax_process|mathjax_process",
                               "ignoreClass": "tex2jax_ignore|mathjax_ignore"}}}}
nb_execution_mode = "off"      # the lessons were executed by `make run`
nb_ipywidgets_js = {{}}          # widget views were replaced by a note; load no widget scripts
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.xref_missing", "myst.header", "misc.highlighting_failure", "mystnb.unknown_mime_type"]
exclude_patterns = ["_build"]
html_theme_options = {{"use_download_button": False, "use_fullscreen_button": False,
                      "show_toc_level": 2, "home_page_in_toc": True}}
html_show_sourcelink = False
html_last_updated_fmt = None
'''


def _track_page(track: str, rows: list[dict]) -> str:
    lines = [f"# {TRACK_TITLES.get(track, track.title())}", ""]
    for r in rows:
        lines.append(f"* **{r['number']} · {r['year']}**: {r['title']}" + ("" if r["status"] == "written" else " *(planned)*"))
    written = [r for r in rows if r["status"] == "written"]
    if written:
        lines += ["", "```{toctree}", ":maxdepth: 1", ""] + [f"lessons/{r['slug']}" for r in written] + ["```"]
    return "\n".join(lines) + "\n"


def write_sources(executed: dict[str, Path], src: Path, lessons_dir: Path | None = None) -> Path:
    """Write the Sphinx source tree for ``executed`` (lesson number -> executed notebook) into ``src``."""
    if src.exists():
        shutil.rmtree(src)
    (src / "lessons").mkdir(parents=True)
    static = src / "static"
    export.vendor_copy(export.node_package("mathjax"), static / "vendor" / "mathjax", export.MATHJAX_PARTS)
    (src / "conf.py").write_text(CONF.format(title=TITLE, mathjax_config=export.MATHJAX_CONFIG), encoding="utf-8")
    rows = course_map(lessons_dir)
    by_slug = {r["number"]: r for r in catalogue(lessons_dir)}
    for number, path in executed.items():
        nb = export.offline_notebook(export.read_executed(path))
        nbformat.write(nb, src / "lessons" / f"{by_slug[number]['slug']}.ipynb")
    for rec in rows:  # planned lessons appear on the track pages; only executed ones get a page
        if rec["status"] == "written" and rec["number"] not in executed:
            rec["status"] = "not built"
    tracks = list(dict.fromkeys(r["track"] for r in rows))
    for track in tracks:
        (src / f"track-{track}.md").write_text(_track_page(track, [r for r in rows if r["track"] == track]), encoding="utf-8")
    by_year = ["# The lessons by year", "", "| years | lesson | track |", "|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["year"], r["number"])):
        title = f"[{r['title']}](lessons/{r['slug']}.ipynb)" if r["number"] in executed else f"{r['title']} *(planned)*"
        by_year.append(f"| {r['year']} | {r['number']} · {title} | {r['track']} |")
    (src / "by-year.md").write_text("\n".join(by_year) + "\n", encoding="utf-8")
    for name in ("GLOSSARY.md", "CONTRIBUTING.md"):
        shutil.copy(REPO / name, src / name)
    lesson_map = bench.lesson_map(lessons_dir, link="lessons/{slug}.ipynb")
    index = [f"# {TITLE}", "",
             "Interactive lessons in Python and PyTorch that walk through the ideas that made deep learning, "
             "2012 to 2020. Each lesson tells the story of a paper, builds the idea from scratch, checks it "
             "against the real library component, reproduces the paper's finding at small scale, and runs "
             "offline on a 2-core laptop CPU in about a minute or two.", "",
             "This site shows every lesson as executed with its default parameters. To run them yourself, "
             "clone the repository and type `make lab`.", "",
             "## The lesson map", "",
             "Run times are seconds on a 2-core CPU with no GPU (`make bench`); the last column is the "
             "milestone with the least room over five seeds.", "", lesson_map, "",
             "```{toctree}", ":caption: Tracks", ":maxdepth: 2", ""] + [f"track-{t}" for t in tracks] + [
             "```", "", "```{toctree}", ":caption: Reference", ":maxdepth: 1", "", "by-year", "GLOSSARY",
             "CONTRIBUTING", "```"]
    (src / "index.md").write_text("\n".join(index) + "\n", encoding="utf-8")
    return src


def check_site(html_dir: Path) -> None:
    """Raise :class:`export.OfflineExportError` if any page would load something from the web."""
    for page in sorted(Path(html_dir).rglob("*.html")):
        export.check_offline(page.read_text(encoding="utf-8"), str(page.relative_to(html_dir)), images_embedded=False)


def build_site(executed: dict[str, Path], out: Path = BUILD_DIR / "site", lessons_dir: Path | None = None) -> Path:
    """Build the site into ``out`` (sources in ``out/../site-src``); return ``out/index.html``."""
    src = write_sources(executed, Path(out).parent / "site-src", lessons_dir)
    if Path(out).exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "1", str(src), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"sphinx failed (status {done.returncode}):\n{done.stderr[-3000:]}")
    check_site(out)
    return Path(out) / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.site", description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="fail for a lesson not executed yet instead of running it")
    parser.add_argument("--out", type=Path, default=BUILD_DIR / "site", help="output folder (default build/site)")
    args = parser.parse_args(argv)
    try:
        executed = {r["number"]: ensure_executed(r, BUILD_DIR, run=not args.no_run) for r in catalogue(LESSONS_DIR)}
        index = build_site(executed, args.out)
    except (FileNotFoundError, RuntimeError, export.OfflineExportError) as exc:
        print(f"site: {exc}", file=sys.stderr)
        return 1
    print(f"site: {index} (open it in a browser, or `python -m http.server -d {args.out}`)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
