"""``make student``: student copies of the lessons, without the solutions.

Each lesson's ``solution``-tagged cells are removed; ``exercise`` and ``check`` cells stay.
Check cells get the ``raises-exception`` tag, so running a whole student copy (Run All,
papermill, nbval) continues past an exercise the student has not solved yet.

Copies go to ``student/`` (or ``--out``). A copy that already exists is **never**
overwritten: it may hold a student's work. It is left alone and reported; delete or
rename it yourself to get a fresh copy. ``lessons/`` is only read.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import nbformat

from ..lessons import LESSONS_DIR, REPO

__all__ = ["student_notebook", "make_student_copies"]

NOTE = (
    "> **Student copy.** The solutions were removed. Fill in each `TODO`, then run the "
    "`check` cell below it. A check that fails explains why; the rest of the notebook "
    "runs whether or not you solved an exercise.\n>\n"
    "> **Running it in batch.** Papermill runs every cell of this copy, then exits with status 1 "
    "while an exercise is still open: that is expected, and the failed check cells say which. "
    "`make run STUDENT=1` (or `python -m course_utils.tools.batch run --student`) runs the copies in "
    "`student/` and lists the open exercises of each."
)


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return a copy of ``nb`` without ``solution`` cells and with check cells tagged ``raises-exception``."""
    out = copy.deepcopy(nb)
    cells = []
    for cell in out.cells:
        tags = list(cell.metadata.get("tags", []))
        if "solution" in tags:
            continue
        if "check" in tags and "raises-exception" not in tags:
            cell.metadata["tags"] = tags + ["raises-exception"]
        cells.append(cell)
    if cells and cells[0].cell_type == "markdown":
        cells.insert(1, nbformat.v4.new_markdown_cell(NOTE))
    out.cells = cells
    out.metadata["course_copy"] = "student"
    out.metadata.pop("jupytext", None)  # the copy is not paired with the lesson source
    return out


def make_student_copies(lessons_dir: Path = LESSONS_DIR, out_dir: Path = REPO / "student") -> dict[str, list[Path]]:
    """Write student copies of every lesson; return ``{"written": [...], "kept": [...]}``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, list[Path]] = {"written": [], "kept": []}
    for src in sorted(lessons_dir.glob("[0-9][0-9]_*.ipynb")):
        dest = out_dir / src.name
        if dest.exists():
            result["kept"].append(dest)
            continue
        nb = student_notebook(nbformat.read(src, as_version=4))
        tmp = dest.with_suffix(".ipynb.tmp")
        nbformat.write(nb, tmp)
        tmp.replace(dest)
        result["written"].append(dest)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.student", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "student"), help="folder for the copies (default: student/)")
    args = parser.parse_args(argv)
    res = make_student_copies(out_dir=Path(args.out))
    for p in res["written"]:
        print(f"wrote  {p}")
    for p in res["kept"]:
        print(f"kept   {p} (exists; it may hold your work; delete or rename it for a fresh copy)")
    print(f"{len(res['written'])} written, {len(res['kept'])} left alone.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
