"""Standalone HTML from an executed notebook that renders without internet.

:func:`to_html` converts an executed notebook with nbconvert's ``lab`` template, then
makes it work offline (a classroom's wifi fails):

* **MathJax** is served from a local copy of ``node_modules/mathjax`` (installed by
  ``npm ci`` in ``make setup``), copied once into ``<out_dir>/vendor/mathjax``: only the
  files the ``TeX-AMS_CHTML-full`` configuration loads (about 8 MB of the 73 MB package).
* **require.js, mermaid and the ipywidgets HTML manager** are CDN scripts in nbconvert's
  template; they are left out. The lessons need none of them: figures are PNG outputs,
  and a widget's output is replaced by a short note (the static figure for the default
  value is always drawn above it, see :mod:`course_utils.widgets`). A ```` ```mermaid ````
  block stays visible as its source text.
* **Images** are embedded: outputs are data URIs already, and markdown images (files or
  attachments) are embedded with ``embed_images``.

After rendering, the HTML is scanned (:func:`external_resources`); a reference that would
load something from the network, or an image that could not be embedded, raises
:class:`OfflineExportError` naming it. Links a reader clicks (``<a href>``, e.g. to arXiv)
are fine: they are not loaded by the page.

:mod:`course_utils.tools.slides` builds the reveal.js decks on the same pieces.
"""

from __future__ import annotations

import copy
import html as html_lib
import json
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Iterable

from ..lessons import REPO

__all__ = [
    "MATHJAX_CONFIG",
    "MATHJAX_PARTS",
    "OfflineExportError",
    "WIDGET_NOTE",
    "check_offline",
    "external_resources",
    "image_dir",
    "mathjax_url",
    "node_package",
    "offline_notebook",
    "read_executed",
    "to_html",
    "vendor_copy",
    "vendor_mathjax",
]

#: The MathJax 2 configuration nbconvert's templates use (TeX in, CommonHTML out).
MATHJAX_CONFIG = "TeX-AMS_CHTML-full,Safe"

#: What that configuration loads, relative to the MathJax package. ``localization`` is
#: kept whole because MathJax follows the browser's language (e.g. zh-hans).
MATHJAX_PARTS = (
    "MathJax.js",
    "LICENSE",
    "package.json",
    "config/TeX-AMS_CHTML-full.js",
    "config/Safe.js",
    "extensions",
    "jax/input/TeX",
    "jax/element",
    "jax/output/CommonHTML",
    "jax/output/PreviewHTML",
    "localization",
    "fonts/HTML-CSS/TeX/woff",
    "fonts/HTML-CSS/TeX/otf",
)

#: Shown where a notebook had an ipywidgets control: static HTML has no kernel behind it.
WIDGET_NOTE = (
    '<div class="course-widget-note" style="font-style: italic; color: #555; '
    'border-left: 3px solid #0072B2; padding: 0.2em 0.6em;">'
    "Interactive control ({what}): open the notebook in JupyterLab to move it. "
    "The figure above shows the default value.</div>"
)

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_STAMP = ".course-vendor.json"

# The lab template without its CDN scripts (require.js, mermaid, the widget manager).
_LAB_TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""


class OfflineExportError(ValueError):
    """The exported HTML would need the network (or an image could not be embedded)."""


# --------------------------------------------------------------------------- vendoring


def node_package(name: str, root: Path | None = None) -> Path:
    """The folder of npm package ``name`` in ``<repo>/node_modules``; a clear error if missing."""
    folder = Path(root or REPO) / "node_modules" / name
    if not (folder / "package.json").is_file():
        raise FileNotFoundError(
            f"{folder} is missing: the offline front-end assets come from npm. "
            f"Run `make setup` (or `npm ci` in {Path(root or REPO)}) first."
        )
    return folder


def _package_version(folder: Path) -> str:
    """The version in an npm package's package.json."""
    return json.loads((folder / "package.json").read_text(encoding="utf-8")).get("version", "?")


def vendor_copy(src: Path, dest: Path, parts: Iterable[str]) -> Path:
    """Copy ``parts`` (files or folders, relative to ``src``) into ``dest``, once.

    A stamp file records the package version and the parts; when it matches, nothing is
    copied again. The copy goes to a temporary sibling first and is renamed into place,
    so parallel exports never see a half-copied folder. Returns ``dest``.
    """
    src, dest = Path(src), Path(dest)
    parts = list(parts)
    stamp = {"source": src.name, "version": _package_version(src), "parts": parts}
    if (dest / _STAMP).is_file():
        try:
            if json.loads((dest / _STAMP).read_text(encoding="utf-8")) == stamp:
                return dest
        except ValueError:
            pass
    missing = [p for p in parts if not (src / p).exists()]
    if missing:
        raise FileNotFoundError(f"{src} lacks {', '.join(missing)}: reinstall it with `npm ci`")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    for part in parts:
        source, target = src / part, tmp / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    (tmp / _STAMP).write_text(json.dumps(stamp, indent=1), encoding="utf-8")
    if dest.exists():  # stale copy (other version or parts)
        shutil.rmtree(dest, ignore_errors=True)
    try:
        os.replace(tmp, dest)
    except OSError:  # another process put its copy in place first
        shutil.rmtree(tmp, ignore_errors=True)
        if not (dest / _STAMP).is_file():
            raise
    return dest


def vendor_mathjax(out_dir: Path, root: Path | None = None) -> Path:
    """Copy the MathJax files the exports need into ``out_dir/vendor/mathjax`` (once)."""
    return vendor_copy(node_package("mathjax", root), Path(out_dir) / "vendor" / "mathjax", MATHJAX_PARTS)


def mathjax_url(vendor_rel: str = "vendor/mathjax") -> str:
    """The relative MathJax script URL for a page next to ``vendor_rel``."""
    return f"{vendor_rel}/MathJax.js?config={MATHJAX_CONFIG}"


# --------------------------------------------------------------------------- checks

_REMOTE = r"(?:https?:)?//"
_CSS_PATTERNS = (
    re.compile(r"url\(\s*[\"']?(" + _REMOTE + r"[^\"')\s]+)", re.I),
    re.compile(r"@import\s+[\"'](" + _REMOTE + r"[^\"']+)", re.I),
)
_JS_PATTERNS = (
    re.compile(r"\bimport\s*\(\s*[\"'`](" + _REMOTE + r"[^\"'`]+)"),  # import("https://...")
    re.compile(r"\bimport\s+(?:[\w*{}\s,$]+?\s+from\s+)?[\"'](" + _REMOTE + r"[^\"']+)"),  # import x from "..."
    re.compile(r"\bexport\s+[\w*{}\s,$]+?\s+from\s+[\"'](" + _REMOTE + r"[^\"']+)"),
    re.compile(r"\.(?:src|href)\s*=\s*[\"'`](" + _REMOTE + r"[^\"'`]+)"),  # el.src = "https://..."
    re.compile(r"[\"'`]((?:https?:)?//[^\"'`\s]+\.(?:m?js|css)(?:\?[^\"'`\s]*)?)[\"'`]"),  # "https://cdn/x.js"
)
_URL_ATTRS = ("src", "href", "data", "poster", "srcset", "xlink:href", "background", "action", "formaction")
_LINK_TAGS = {"a", "area"}  # followed by the reader, never loaded by the page


def _is_remote(url: str) -> bool:
    """True for http(s):// and protocol-relative //host URLs."""
    return bool(re.match(_REMOTE, url.strip(), re.I))


def external_resources(html: str, *, images_embedded: bool = True) -> list[str]:
    """Every reference in ``html`` that would load something from the network.

    Looks at URL attributes of all elements except ``<a>``/``<area>`` links (``src``,
    ``href``, ``srcset``...), ``url()``/``@import`` in styles, and ``import``/``.src =``/
    ``"...js"`` URLs in scripts (JSON script blocks are data, not code). Protocol-relative
    ``//host`` counts as remote. With ``images_embedded``, an ``<img>`` whose source is
    not a ``data:`` URI is reported too. Returns human-readable findings (empty: offline).
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    found: list[str] = []
    for tag in soup.find_all(True):
        name = tag.name.lower()
        for attr in _URL_ATTRS:
            value = tag.get(attr)
            if not value or (name in _LINK_TAGS and attr == "href"):
                continue
            urls = [u.strip().split(" ")[0] for u in value.split(",")] if attr == "srcset" else [value]
            found += [f"<{name} {attr}={u!r}>" for u in urls if _is_remote(u)]
        if tag.get("style"):
            found += [f"<{name} style> {m}" for p in _CSS_PATTERNS for m in p.findall(tag["style"])]
        if name == "img" and images_embedded:
            src = (tag.get("src") or "").strip()
            if not src.startswith("data:") and not _is_remote(src):
                found.append(f"<img src={src[:120]!r}> is not embedded (file not found?)")
        if name == "style":
            found += [f"<style> {m}" for p in _CSS_PATTERNS for m in p.findall(tag.get_text())]
        if name == "script":
            kind = (tag.get("type") or "text/javascript").lower()
            if "json" in kind:
                continue
            code = tag.get_text()
            found += [f"<script> {m}" for p in _JS_PATTERNS for m in p.findall(code)]
    return list(dict.fromkeys(found))  # unique, in order


# --------------------------------------------------------------------------- notebook


def _widget_kind(output: dict) -> str:
    """'slider', 'dropdown', 'toggle buttons' or 'ipywidgets', from a widget view's text/plain."""
    text = output.get("data", {}).get("text/plain", "")
    if isinstance(text, list):
        text = "".join(text)
    for key, word in (("Slider", "slider"), ("Dropdown", "dropdown"), ("ToggleButtons", "toggle buttons")):
        if key in text:
            return word
    return "ipywidgets"


def offline_notebook(nb):
    """A copy of ``nb`` ready for static export.

    Widget views become :data:`WIDGET_NOTE` (there is no kernel behind a static page and
    the widget manager would come from a CDN), the saved widget state is dropped, and the
    page title comes from the ``course`` metadata record when there is one.
    """
    import nbformat

    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            if _WIDGET_VIEW in out.get("data", {}):
                note = WIDGET_NOTE.format(what=html_lib.escape(_widget_kind(out)))
                out = nbformat.v4.new_output("display_data", data={"text/html": note, "text/plain": ""})
            outputs.append(out)
        cell.outputs = outputs
    rec = nb.metadata.get("course")
    if isinstance(rec, dict) and {"number", "year", "title"} <= rec.keys() and "title" not in nb.metadata:
        nb.metadata["title"] = f"{rec['number']} · {rec['year']} · {rec['title']}"
    return nb


def read_executed(path: Path):
    """Read an executed notebook (nbformat 4), with clear errors for a wrong path."""
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no executed notebook at {path} (run `make run` first)")
    if path.suffix != ".ipynb":
        raise ValueError(f"{path} is not a .ipynb notebook")
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if code and not any(c.get("execution_count") for c in code):
        warnings.warn(f"{path.name} looks unexecuted (no execution counts): it will have no outputs", stacklevel=3)
    elif _plots_without_figures(code):
        warnings.warn(
            f"{path.name} plots (plt./widgets.explore) but has no image output: was it executed with a "
            "non-inline matplotlib backend (e.g. MPLBACKEND=agg in the kernel's environment)? "
            "The export will have no figures.", stacklevel=3)
    return nb


def _plots_without_figures(code_cells) -> bool:
    """True when executed code plots but not a single image output was saved."""
    plots = any(re.search(r"\bplt\.|\bexplore\(|\.show_card\(", "".join(c.source)) for c in code_cells)
    images = any(
        any(m.startswith("image/") for m in (o.get("data") or {})) for c in code_cells for o in c.get("outputs", [])
    )
    return plots and not images


def image_dir(nb, executed_ipynb: Path) -> Path:
    """Where relative markdown images are found: the source notebook's folder when papermill
    recorded it (the executed copy in ``build/`` sits elsewhere), else the notebook's own."""
    src = (nb.metadata.get("papermill") or {}).get("input_path")
    if src:
        folder = (REPO / src).parent if not Path(src).is_absolute() else Path(src).parent
        if folder.is_dir():
            return folder
    return Path(executed_ipynb).resolve().parent


def check_offline(body: str, where: str, *, images_embedded: bool = True) -> None:
    """Raise :class:`OfflineExportError` listing what in ``body`` would need the network.

    ``images_embedded=False`` accepts local image files (a built site keeps them beside its pages)."""
    problems = external_resources(body, images_embedded=images_embedded)
    if problems:
        listing = "\n  ".join(problems[:20])
        raise OfflineExportError(
            f"{where} would not render offline ({len(problems)} problem(s)):\n  {listing}\n"
            "Put images in the notebook (attachments or files next to the lesson) and load "
            "no scripts or styles from the web."
        )


def to_html(executed_ipynb: Path, out_dir: Path) -> Path:
    """Convert an executed notebook to ``out_dir/<name>.html`` that renders offline.

    Uses nbconvert's ``HTMLExporter`` with the ``lab`` template, MathJax from
    ``out_dir/vendor/mathjax`` (copied once from ``node_modules``) and embedded images.
    Raises ``FileNotFoundError`` for a missing notebook or MathJax package, and
    :class:`OfflineExportError` when the result would still load something from the
    network or an image could not be embedded. Returns the HTML file's path.
    """
    from nbconvert import HTMLExporter

    executed_ipynb, out_dir = Path(executed_ipynb), Path(out_dir)
    nb = read_executed(executed_ipynb)
    exporter = HTMLExporter(
        template_name="lab",
        embed_images=True,
        mathjax_url=mathjax_url(),
        require_js_url="",
        mermaid_js_url="",
        mermaid_layout_elk_js_url="",
        jupyter_widgets_base_url="",
    )
    exporter.raw_template = _LAB_TEMPLATE
    images = image_dir(nb, executed_ipynb)
    resources = {"metadata": {"name": executed_ipynb.stem, "path": str(images)}}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not able to be represented.*")
        body, _ = exporter.from_notebook_node(offline_notebook(nb), resources=resources)
    check_offline(body, f"{executed_ipynb.name} (markdown images looked up in {images})")
    out_dir.mkdir(parents=True, exist_ok=True)
    vendor_mathjax(out_dir)
    target = out_dir / f"{executed_ipynb.stem}.html"
    target.write_text(body, encoding="utf-8")
    return target
