"""Offline reveal.js decks from the executed lessons (``make slides``).

One deck per lesson, ``build/slides/NN_YYYY_slug.slides.html``, built from the
*executed* notebook ``build/NN_YYYY_slug.ipynb`` that the batch runner writes, so the
figures appear. A lesson that has not been executed yet is run first with
``python -m course_utils.tools.batch run --lessons NN`` (``--no-run`` turns that into an error).

How a notebook becomes slides (in a copy; the notebook itself is not changed):

* every markdown cell whose first line starts with ``# `` or ``## `` opens a new slide;
  every other cell continues the current slide (``slide_type`` ``-``). Content before
  the first heading, if any, forms a slide of its own. A slide taller than the screen
  scrolls.
* **every cell is kept**: the decks are the instructor's, built from the instructor
  version, so ``solution`` cells stay, and so do the ``parameters`` cell and papermill's
  injected parameters (they say which values produced the figures).
* ipywidgets controls become a short note (see :data:`course_utils.tools.export.WIDGET_NOTE`);
  the static figure for the default value is shown above it.

Everything loads from ``build/slides/vendor/``: reveal.js (``dist`` and the speaker
notes plugin, press ``s``) and MathJax, copied once from ``node_modules`` (``npm ci`` in
``make setup``). No CDN links: require.js, jQuery and mermaid from nbconvert's reveal
template are left out, and reveal.js is loaded with plain ``<script>`` tags.

Command line::

    python -m course_utils.tools.slides                 # every lesson
    python -m course_utils.tools.slides --lessons 01 03 # some lessons
    python -m course_utils.tools.slides --no-run        # fail instead of executing missing lessons
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Sequence

from . import export
from ..lessons import REPO, catalogue

__all__ = [
    "BUILD_DIR",
    "REVEAL_PARTS",
    "SLIDES_DIR",
    "THEME",
    "build_all",
    "build_deck",
    "ensure_executed",
    "is_heading",
    "main",
    "mark_slides",
    "split_at_headings",
    "vendor_reveal",
]

BUILD_DIR = REPO / "build"
SLIDES_DIR = BUILD_DIR / "slides"
#: What the decks need from the reveal.js npm package.
REVEAL_PARTS = ("dist", "plugin/notes", "LICENSE", "package.json")
#: reveal.js theme; only themes without web-font imports work offline (white, black...).
THEME = "white"
#: Logical slide size (reveal.js scales it to the window).
WIDTH, HEIGHT = 1280, 800

# nbconvert's reveal template, without its CDN scripts (jQuery, require.js, mermaid,
# the widget manager), loading reveal.js and its notes plugin with plain script tags.
_REVEAL_TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_css -%}
<style type="text/css">
/* a slide taller than the screen scrolls instead of being cut off */
.reveal .slides > section > section {
  max-height: {{ resources.reveal.height }}px;
  overflow-y: auto;
  box-sizing: border-box;
}
.reveal .slides section .jp-OutputArea-output img { max-width: 100%; }
</style>
{%- endblock html_head_css -%}
{% block footer_js %}
<script src="{{ resources.reveal.url_prefix }}/dist/reveal.js"></script>
<script src="{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"></script>
<script>
Reveal.initialize({
  controls: true,
  progress: true,
  hash: true,
  center: false,
  transition: "{{ resources.reveal.transition }}",
  slideNumber: "{{ resources.reveal.number }}",
  width: {{ resources.reveal.width }},
  height: {{ resources.reveal.height }},
  plugins: [RevealNotes]
});
Reveal.on("slidechanged", function (event) {
  if (window.MathJax && MathJax.Hub) { MathJax.Hub.Rerender(event.currentSlide); }
});
</script>
{% endblock footer_js %}
"""


def is_heading(cell) -> bool:
    """True for a markdown cell whose first non-blank line starts with ``# `` or ``## ``."""
    if cell.get("cell_type") != "markdown":
        return False
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(source)
    lines = [line for line in source.splitlines() if line.strip()]
    return bool(lines) and lines[0].startswith(("# ", "## "))


def split_at_headings(cell) -> list:
    """A markdown cell cut before every ``# `` / ``## `` heading line (outside code fences).

    Lessons often put a section heading in the middle of a markdown cell, after the
    closing remarks of the previous section; each section still gets its own slide.
    Other cells come back unchanged, as a one-element list.
    """
    import copy

    if cell.get("cell_type") != "markdown":
        return [cell]
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    parts, current, fenced = [], [], False
    for line in source.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith(("# ", "## ")) and any(x.strip() for x in current):
            parts.append("".join(current))
            current = []
        current.append(line)
    parts.append("".join(current))
    if len(parts) == 1:
        return [cell]
    out = []
    for text in parts:
        piece = copy.deepcopy(cell)
        piece["source"] = text.strip("\n")
        out.append(piece)
    return out


def mark_slides(nb):
    """A copy of ``nb`` with each cell's ``slideshow.slide_type`` set: every section heading
    opens a slide (markdown cells are split at headings, see :func:`split_at_headings`),
    everything else is ``-`` (continues the slide). Raises ``ValueError`` for a notebook
    without cells."""
    import copy

    if not nb.cells:
        raise ValueError("the notebook has no cells: nothing to put on slides")
    nb = copy.deepcopy(nb)
    nb.cells = [piece for cell in nb.cells for piece in split_at_headings(cell)]
    for cell in nb.cells:
        cell.metadata["slideshow"] = {"slide_type": "slide" if is_heading(cell) else "-"}
    return nb


def vendor_reveal(out_dir: Path, root: Path | None = None) -> Path:
    """Copy reveal.js ``dist`` and ``plugin/notes`` into ``out_dir/vendor/reveal.js`` (once)."""
    return export.vendor_copy(export.node_package("reveal.js", root), Path(out_dir) / "vendor" / "reveal.js", REVEAL_PARTS)


def _check_theme(reveal_dir: Path, theme: str) -> None:
    """Refuse a missing reveal.js theme, or one that imports web fonts."""
    css = reveal_dir / "dist" / "theme" / f"{theme}.css"
    if not css.is_file():
        themes = sorted(p.stem for p in css.parent.glob("*.css"))
        raise ValueError(f"no reveal.js theme {theme!r}; available: {', '.join(themes)}")
    remote = export.external_resources(f"<style>{css.read_text(encoding='utf-8')}</style>")
    if remote:
        raise ValueError(f"reveal.js theme {theme!r} loads web fonts ({remote[0]}), so it needs the internet; use 'white' or 'black'")


def build_deck(executed_ipynb: Path, out_dir: Path = SLIDES_DIR, *, theme: str = THEME) -> Path:
    """Build ``out_dir/<name>.slides.html`` from one executed notebook; return its path.

    reveal.js and MathJax are copied (once) into ``out_dir/vendor`` and referenced by
    relative paths, so the folder can be copied to a classroom machine as is. Raises
    ``FileNotFoundError`` (notebook or npm assets missing), ``ValueError`` (bad theme,
    empty notebook) or :class:`course_utils.tools.export.OfflineExportError` (the deck would
    need the network, or an image could not be embedded).
    """
    from nbconvert import SlidesExporter

    executed_ipynb, out_dir = Path(executed_ipynb), Path(out_dir)
    nb = export.read_executed(executed_ipynb)
    nb = mark_slides(export.offline_notebook(nb))
    out_dir.mkdir(parents=True, exist_ok=True)
    reveal_dir = vendor_reveal(out_dir)
    _check_theme(reveal_dir, theme)
    exporter = SlidesExporter(
        embed_images=True,
        reveal_url_prefix="vendor/reveal.js",
        reveal_theme=theme,
        reveal_transition="none",
        reveal_number="c/t",
        reveal_width=str(WIDTH),
        reveal_height=str(HEIGHT),
        mathjax_url=export.mathjax_url(),
        require_js_url="",
        jquery_url="",
        mermaid_js_url="",
        mermaid_layout_elk_js_url="",
        jupyter_widgets_base_url="",
        font_awesome_url="",
    )
    exporter.raw_template = _REVEAL_TEMPLATE
    images = export.image_dir(nb, executed_ipynb)
    resources = {"metadata": {"name": executed_ipynb.stem, "path": str(images)}}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not able to be represented.*")
        body, _ = exporter.from_notebook_node(nb, resources=resources)
    export.check_offline(body, f"slides of {executed_ipynb.name} (markdown images looked up in {images})")
    export.vendor_mathjax(out_dir)
    target = out_dir / f"{executed_ipynb.stem}.slides.html"
    target.write_text(body, encoding="utf-8")
    return target


def ensure_executed(rec: dict, build_dir: Path = BUILD_DIR, *, run: bool = True) -> Path:
    """The executed notebook of lesson ``rec`` (a :func:`course_utils.lessons.catalogue` record).

    When ``build_dir/<slug>.ipynb`` is missing and ``run`` is true, executes the lesson
    with ``python -m course_utils.tools.batch run --lessons NN`` (its output goes to the
    terminal). Warns when the executed copy is older than the lesson. Raises
    ``FileNotFoundError`` (``run`` false) or ``RuntimeError`` (the run wrote nothing).
    """
    build_dir = Path(build_dir)
    executed = build_dir / f"{rec['slug']}.ipynb"
    number = rec["number"]
    if not executed.is_file():
        if not run:
            raise FileNotFoundError(f"{executed} is missing: run `make run LESSONS={number}` first")
        print(f"slides: {executed.name} not executed yet, running lesson {number} with the batch runner", flush=True)
        cmd = [sys.executable, "-m", "course_utils.tools.batch", "run", "--lessons", number]
        done = subprocess.run(cmd, cwd=REPO, check=False)
        if not executed.is_file():
            raise RuntimeError(
                f"`{' '.join(cmd[1:])}` (exit status {done.returncode}) did not write {executed}; see its output above"
            )
        if done.returncode != 0:
            warnings.warn(f"the batch run of lesson {number} exited with status {done.returncode}; "
                          f"the deck shows what it executed", stacklevel=2)
    elif Path(rec["path"]).is_file() and Path(rec["path"]).stat().st_mtime > executed.stat().st_mtime:
        warnings.warn(f"{executed} is older than {Path(rec['path']).name}: run `make run LESSONS={number}` "
                      f"to refresh the figures", stacklevel=2)
    return executed


def _wanted(numbers: Sequence[str] | None) -> list[str] | None:
    """Lesson numbers from the command line ('1', '01,03', ...) as two-digit strings."""
    if not numbers:
        return None
    out = []
    for item in numbers:
        out += [n.strip().zfill(2) for n in str(item).replace(",", " ").split() if n.strip()]
    return out


def build_all(numbers: Sequence[str] | None = None, *, build_dir: Path = BUILD_DIR, out_dir: Path | None = None,
              run_missing: bool = True, lessons_dir: Path | None = None, theme: str = THEME) -> dict[str, Path | Exception]:
    """Build the decks of ``numbers`` (default: every lesson in the catalogue).

    Returns ``{number: deck path or the exception that stopped it}``: one lesson failing
    does not stop the others. Raises ``ValueError`` for unknown lesson numbers or when
    there are no lessons at all.
    """
    build_dir = Path(build_dir)
    out_dir = Path(out_dir) if out_dir else build_dir / "slides"
    cat = catalogue(lessons_dir)
    if not cat:
        raise ValueError(f"no lessons found in {lessons_dir or REPO / 'lessons'}")
    wanted = _wanted(numbers)
    if wanted:
        known = {r["number"] for r in cat}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise ValueError(f"unknown lesson number(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        cat = [r for r in cat if r["number"] in wanted]
    results: dict[str, Path | Exception] = {}
    for rec in cat:
        try:
            executed = ensure_executed(rec, build_dir, run=run_missing)
            results[rec["number"]] = build_deck(executed, out_dir, theme=theme)
        except Exception as exc:  # reported by main(), the other lessons still get decks
            results[rec["number"]] = exc
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``make slides``). Returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.slides", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lessons", nargs="*", metavar="NN", help="lesson numbers (default: all), e.g. 01 03 or 01,03")
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR, help="where the executed notebooks are (default: build/)")
    parser.add_argument("--out-dir", type=Path, default=None, help="where the decks go (default: <build-dir>/slides)")
    parser.add_argument("--no-run", action="store_true", help="fail for a lesson that has not been executed, instead of running it")
    parser.add_argument("--theme", default=THEME, help=f"reveal.js theme without web fonts (default: {THEME})")
    args = parser.parse_args(argv)

    def show(message, category, filename, lineno, file=None, line=None):
        """Print warnings as one plain line each, without the source location."""
        print(f"slides: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = show
        try:
            results = build_all(args.lessons, build_dir=args.build_dir, out_dir=args.out_dir,
                                run_missing=not args.no_run, theme=args.theme)
        except (ValueError, FileNotFoundError) as exc:
            print(f"slides: {exc}", file=sys.stderr)
            return 2
    failed = 0
    for number, result in results.items():
        if isinstance(result, Exception):
            failed += 1
            print(f"slides: lesson {number} FAILED: {type(result).__name__}: {result}", file=sys.stderr)
        else:
            print(f"slides: lesson {number} -> {result.relative_to(REPO) if result.is_relative_to(REPO) else result}")
    if results and not failed:
        print(f"slides: {len(results)} deck(s) in {Path(next(iter(results.values()))).parent}; open one in a browser "
              "(works offline; press 's' for speaker notes)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
