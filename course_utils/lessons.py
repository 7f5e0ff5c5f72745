"""The lesson catalogue, read from each notebook's ``course`` metadata record.

One record per lesson (number, year, track, title, papers...) lives in the notebook
metadata; the README lesson map, lesson 00's timeline, the slides and the tests all
read it from here, so nothing repeats it by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["REPO", "LESSONS_DIR", "RUNTIMES_FILE", "REQUIRED_KEYS", "catalogue", "lesson", "runtimes", "show_card", "year_span"]

REPO = Path(__file__).resolve().parent.parent
LESSONS_DIR = REPO / "lessons"
#: Measured run times, written by ``make bench`` and committed.
RUNTIMES_FILE = REPO / "runtimes.json"
REQUIRED_KEYS = ("number", "year", "track", "title", "idea", "papers")
_NAME = re.compile(r"^(\d\d)_(\d{4})_([a-z0-9_]+)\.ipynb$")


def catalogue(lessons_dir: Path | str | None = None) -> list[dict]:
    """Every lesson's metadata record, sorted by number, with ``path`` and ``slug`` added.

    Raises ``ValueError`` naming the notebook when a record is missing or incomplete.
    """
    folder = Path(lessons_dir) if lessons_dir else LESSONS_DIR
    out = []
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):  # stray notebooks (Untitled.ipynb) are not lessons
        m = _NAME.match(path.name)
        if not m:
            raise ValueError(f"{path.name}: lesson notebooks are named NN_YYYY_slug.ipynb")
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        rec = meta.get("course")
        if not isinstance(rec, dict):
            raise ValueError(f"{path.name}: notebook metadata has no 'course' record")
        missing = [k for k in REQUIRED_KEYS if k not in rec]
        if missing:
            raise ValueError(f"{path.name}: 'course' record lacks {', '.join(missing)}")
        if rec["number"] != m.group(1):
            raise ValueError(f"{path.name}: record number {rec['number']!r} does not match the file name")
        out.append({**rec, "path": str(path), "slug": path.stem})
    return sorted(out, key=lambda r: r["number"])


def lesson(number: str, lessons_dir: Path | str | None = None) -> dict:
    """The metadata record of one lesson, e.g. ``lesson("01")``."""
    for rec in catalogue(lessons_dir):
        if rec["number"] == number:
            return rec
    raise KeyError(f"no lesson numbered {number!r}")


def year_span(year: str) -> tuple[int, int]:
    """``"2014-18"`` -> (2014, 2018); ``"2012"`` -> (2012, 2012); ``"2012–2020"`` -> (2012, 2020)."""
    parts = re.split(r"[-–]", str(year))
    first = int(parts[0])
    if len(parts) == 1:
        return first, first
    last = parts[1]
    last_year = int(last) if len(last) == 4 else int(str(first)[: 4 - len(last)] + last)
    return first, last_year


def runtimes() -> dict:
    """Measured run times by lesson number (``{}`` before the first ``make bench``)."""
    if not RUNTIMES_FILE.exists():
        return {}
    return json.loads(RUNTIMES_FILE.read_text(encoding="utf-8")).get("lessons", {})


def show_card(number: str, lessons_dir: Path | str | None = None):
    """Draw where lesson ``number`` sits on the 2012–2020 timeline, with its measured run time.

    Every lesson is a bar over its year span, this one highlighted; the caption comes
    from the metadata record and ``runtimes.json``. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    cat = catalogue(lessons_dir)
    me = next((r for r in cat if r["number"] == number), None)
    if me is None:
        raise KeyError(f"no lesson numbered {number!r}")
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.16 * len(cat)))
    for i, rec in enumerate(cat):
        lo, hi = year_span(rec["year"])
        mine = rec["number"] == number
        ax.plot([lo - 0.3, hi + 0.3], [i, i], lw=6 if mine else 3, solid_capstyle="round",
                color="#D55E00" if mine else "#0072B2", alpha=1.0 if mine else 0.35)
        ax.text(hi + 0.5, i, f"{rec['number']} {rec['title']}", va="center", fontsize=8,
                fontweight="bold" if mine else "normal")
    ax.set_xlim(2011.3, 2024.5)
    ax.set_xticks(range(2012, 2021))
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.spines["left"].set_visible(False)
    run = runtimes().get(number)
    when = f"measured run time {run['seconds']:.0f} s on a 2-core CPU (make bench)" if run else "run time not measured yet (make bench)"
    ax.set_title(f"Lesson {number} · {me['year']} · {me['track']} · {when}", fontsize=10)
    ax.set_xlabel("year")
    fig.tight_layout()
    return fig
