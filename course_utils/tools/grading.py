"""``make nbgrader``: an nbgrader source course from the lessons, for autograded assignments.

Each lesson becomes one assignment, ``source/NN_YYYY_slug/NN_YYYY_slug.ipynb``:

* every exercise (the three tagged cells ``exercise``, ``solution``, ``check``) becomes two
  nbgrader cells: an **autograded answer** cell holding the exercise code followed by the
  reference answer between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader strips
  the answer from the release; the stub that remains runs without error, as in the lesson),
  and a read-only **autograder test** cell (the lesson's check) worth ``points`` points;
* every other cell is left as it is, so students can still change parameters and play.

Then, in the course folder (``classroom/`` by default, git-ignored and outside ``build/`` so
``make clean`` never touches a gradebook), the usual nbgrader commands work (nbgrader calls
``alembic`` by name, so activate the course's environment first: ``. .venv/bin/activate``):

    nbgrader generate_assignment 01_2012_alexnet     # release/: no solutions
    nbgrader autograde 01_2012_alexnet               # grades submitted/<student>/01_2012_alexnet/

Autograding runs each submission from top to bottom, so it takes the lesson's run time;
``--smoke`` sets ``SMOKE = True`` in the assignments so it takes seconds instead.
Each call rewrites ``source/``; a source notebook that changed since (a teacher's edit) is
first copied to ``source-backup/<time>/``. ``nbgrader_config.py`` and nbgrader's own folders
(release/, submitted/, autograded/, feedback/ and the gradebook) are never touched.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import time
from pathlib import Path

import nbformat

from ..lessons import LESSONS_DIR, REPO

__all__ = ["nbgrader_notebook", "make_course", "BEGIN", "END"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "# YOUR CODE HERE: complete the TODO above"
CONFIG = f'''# nbgrader configuration for the course's assignments (written by `make nbgrader`; edit freely).
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "dl-2012-2020"
# The answer cells keep the lesson's runnable stub, so the release needs no `raise NotImplementedError`.
c.ClearSolutions.code_stub = {{"python": "{STUB}"}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
'''


def _tags(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


def _grade_meta(grade_id: str, *, solution: bool, grade: bool, points: float = 0) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": grade and not solution, "schema_version": 3,
            "solution": solution}
    if grade:
        meta["points"] = points
    return meta


def nbgrader_notebook(nb: nbformat.NotebookNode, points: float = 1, smoke: bool = False,
                      name: str = "lesson") -> nbformat.NotebookNode:
    """The nbgrader source version of lesson ``nb``: answer cells and test cells with ``points`` each."""
    out = copy.deepcopy(nb)
    cells, k, i = [], 0, 0
    src = out.cells
    while i < len(src):
        cell = src[i]
        tags = _tags(cell)
        if "exercise" in tags:
            j = i + 1
            solutions = []
            while j < len(src) and "solution" in _tags(src[j]):
                solutions.append(src[j].source)
                j += 1
            if not solutions or j >= len(src) or "check" not in _tags(src[j]):
                raise ValueError(f"{name}: the exercise cell {cell.source.splitlines()[0][:60]!r} must be followed "
                                 "by its solution cell(s) and then its check cell")
            k += 1
            answer = nbformat.v4.new_code_cell(
                f"{cell.source.rstrip()}\n{BEGIN}\n" + "\n".join(s.rstrip() for s in solutions) + f"\n{END}")
            answer.id = f"exercise-{k}-answer"  # fixed ids: the same lesson always gives the same file
            answer.metadata["tags"] = [t for t in tags if t != "exercise"] + ["exercise"]
            answer.metadata["nbgrader"] = _grade_meta(f"exercise_{k}_answer", solution=True, grade=False)
            check = copy.deepcopy(src[j])
            check.metadata["tags"] = [t for t in _tags(check) if t != "raises-exception"]
            check.metadata["nbgrader"] = _grade_meta(f"exercise_{k}_check", solution=False, grade=True, points=points)
            cells += [answer, check]
            i = j + 1
            continue
        if "solution" in tags or "check" in tags:
            raise ValueError(f"{name}: a {'solution' if 'solution' in tags else 'check'} cell without its exercise cell")
        if smoke and "parameters" in tags:
            cell.source, n = re.subn(r"(?m)^SMOKE\s*=\s*\w+", "SMOKE = True", cell.source)
            if n != 1:
                raise ValueError(f"{name}: the parameters cell has no 'SMOKE = ...' line")
        cells.append(cell)
        i += 1
    if k == 0:
        raise ValueError(f"{name}: no exercises to grade")
    out.cells = cells
    out.metadata.pop("jupytext", None)  # the assignment is not paired with the lesson source
    return out


def make_course(lessons_dir: Path = LESSONS_DIR, course_dir: Path = REPO / "classroom",
                points: float = 1, smoke: bool = False, wanted: list[str] | None = None) -> list[Path]:
    """Write ``course_dir/source/<lesson>/<lesson>.ipynb`` for every lesson with exercises; return them."""
    course_dir.mkdir(parents=True, exist_ok=True)
    config = course_dir / "nbgrader_config.py"
    if not config.exists():
        config.write_text(CONFIG)
    written = []
    for path in sorted(lessons_dir.glob("[0-9][0-9]_*.ipynb")):
        if wanted and path.stem[:2] not in wanted and path.stem not in wanted:
            continue
        nb = nbformat.read(path, as_version=4)
        if not any("exercise" in _tags(c) for c in nb.cells):
            continue  # the tour has no graded exercises
        dest = course_dir / "source" / path.stem / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = nbformat.writes(nbgrader_notebook(nb, points, smoke, path.stem)) + "\n"
        if dest.exists() and dest.read_text(encoding="utf-8") != text:
            backup = course_dir / "source-backup" / time.strftime("%Y%m%d-%H%M%S") / path.stem / path.name
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(dest, backup)
            print(f"kept the previous {dest.relative_to(course_dir)} in {backup.relative_to(course_dir)}")
        dest.write_text(text, encoding="utf-8")
        written.append(dest)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.grading", description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", nargs="*", help="lesson numbers (default: every lesson with exercises)")
    parser.add_argument("--out", type=Path, default=REPO / "classroom", help="the nbgrader course folder (default classroom/)")
    parser.add_argument("--points", type=float, default=1, help="points per exercise (default 1)")
    parser.add_argument("--smoke", action="store_true", help="set SMOKE = True so autograding takes seconds")
    args = parser.parse_args(argv)
    written = make_course(course_dir=args.out, points=args.points, smoke=args.smoke, wanted=args.lessons)
    for p in written:
        print(f"wrote {p.relative_to(args.out)}")
    print(f"nbgrader course in {args.out}: cd there, then `nbgrader generate_assignment <lesson>` "
          "and `nbgrader autograde <lesson>`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
