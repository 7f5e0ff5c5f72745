"""The lesson catalogue, read from each notebook's ``course`` metadata record.

One record per lesson (number, year, track, title, papers...) lives in the notebook
metadata; the README lesson map, lesson 00's timeline, the slides and the tests all
read it from here, so nothing repeats it by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["REPO", "LESSONS_DIR", "RUNTIMES_FILE", "README_FILE", "PLAN_FILE", "REQUIRED_KEYS", "catalogue", "lesson", "plan",
           "course_map", "runtimes", "show_card", "year_span"]

REPO = Path(__file__).resolve().parent.parent
LESSONS_DIR = REPO / "lessons"
#: Measured run times, written by ``make bench`` and committed.
RUNTIMES_FILE = REPO / "runtimes.json"
README_FILE = REPO / "README.md"
#: The plan of every lesson, written or not: number, year, track, title, idea, data, milestone, papers.
PLAN_FILE = LESSONS_DIR / "plan.toml"
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


def plan(plan_file: Path | str | None = None) -> list[dict]:
    """The course plan (``lessons/plan.toml``): one record per lesson number, written or not, sorted."""
    import tomllib

    with open(Path(plan_file) if plan_file else PLAN_FILE, "rb") as f:
        records = tomllib.load(f)["lesson"]
    numbers = [r["number"] for r in records]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"plan.toml lists a lesson number twice: {sorted(n for n in numbers if numbers.count(n) > 1)}")
    return sorted(records, key=lambda r: r["number"])


def course_map(lessons_dir: Path | str | None = None, plan_file: Path | str | None = None) -> list[dict]:
    """Every lesson of the course: a written lesson's own record (``status="written"``), else its plan
    entry (``status="planned"``), sorted by number. The plan's milestone text is kept on both."""
    rows = {r["number"]: {**r, "status": "planned"} for r in plan(plan_file)}
    for rec in catalogue(lessons_dir):
        rows[rec["number"]] = {**rows.get(rec["number"], {}), **rec, "status": "written"}
    return [rows[k] for k in sorted(rows)]


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

    Every lesson of the course is a bar over its year span, coloured by its track with
    ``plot.TRACK_COLORS`` (the colours of lesson 00's map): written lessons solid, planned
    ones (from ``plan.toml`` in the lessons folder, when there is one) faint with a grey
    label. This lesson has a thicker bar and a bold label. The title comes from the
    metadata record and ``runtimes.json``. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from .plot import TRACK_COLORS

    folder = Path(lessons_dir) if lessons_dir else LESSONS_DIR
    plan_file = folder / PLAN_FILE.name
    rows = (course_map(folder, plan_file) if plan_file.exists()
            else [{**r, "status": "written"} for r in catalogue(folder)])
    me = next((r for r in rows if r["number"] == number), None)
    if me is None:
        raise KeyError(f"no lesson numbered {number!r}")
    fig, ax = plt.subplots(figsize=(9, 2.0 + 0.17 * len(rows)))
    for i, rec in enumerate(rows):
        lo, hi = year_span(rec["year"])
        mine = rec["number"] == number
        written = rec["status"] == "written"
        ax.plot([lo - 0.3, hi + 0.3], [i, i], lw=9 if mine else 4.5, solid_capstyle="butt",
                color=TRACK_COLORS.get(rec["track"], "#999999"), alpha=1.0 if (mine or written) else 0.35)
    labels = [f"{r['number']}  {r['title']}" + ("" if r["status"] == "written" else "  (planned)") for r in rows]
    ax.set_yticks(range(len(rows)), labels=labels, fontsize=7.5)
    for tick, rec in zip(ax.get_yticklabels(), rows):
        if rec["number"] == number:
            tick.set_fontweight("bold")
        elif rec["status"] != "written":
            tick.set_color("#777777")
    ax.tick_params(axis="y", length=0)
    ax.set_xlim(2011.4, 2020.6)
    ax.set_ylim(len(rows) - 0.4, -0.6)  # first lesson on top, no clipped bar at either end
    ax.set_xticks(range(2012, 2021), labels=[str(y) for y in range(2012, 2021)], fontsize=8)
    ax.grid(axis="y", visible=False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    run = runtimes().get(number)
    when = (f"measured run time {run['seconds']:.0f} s on a 2-core CPU (make bench)" if run and "seconds" in run
            else "run time not measured yet (make bench)")
    ax.set_title(f"Lesson {number} · {me['year']} · {me['track']}\n{when}", fontsize=10)
    ax.set_xlabel("year (a bar covers the years of the lesson's papers)", fontsize=8)
    tracks = list(dict.fromkeys([t for t in TRACK_COLORS if any(r["track"] == t for r in rows)]
                                + [r["track"] for r in rows]))
    handles = [Line2D([], [], color=TRACK_COLORS.get(t, "#999999"), lw=4.5, label=t) for t in tracks]
    handles.append(Line2D([], [], color="#999999", lw=4.5, alpha=0.35, label="planned"))
    handles.append(Line2D([], [], color=TRACK_COLORS.get(me["track"], "#999999"), lw=9, label="this lesson (bold)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7.5, frameon=False,
               handlelength=1.6, handletextpad=0.7, columnspacing=1.4)
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))
    return fig
