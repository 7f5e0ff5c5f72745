"""``make nbgrader``: the lessons as an nbgrader course; releases without solutions; autograding that scores.

Offline, in temporary course folders. Skipped when nbgrader is not installed (``make test``
installs the ``classroom`` extra, so there it always runs).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader")

from course_utils import lessons  # noqa: E402
from course_utils.tools import grading  # noqa: E402

BIN = Path(sys.executable).parent  # nbgrader calls `alembic` by name: the venv's bin must be on PATH


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert "ERROR" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


def test_exercises_become_answer_and_test_cells(tiny_lesson):
    nb = nbformat.read(tiny_lesson, as_version=4)
    out = grading.nbgrader_notebook(nb, points=2)
    graded = [c.metadata["nbgrader"] for c in out.cells if "nbgrader" in c.metadata]
    assert [(g["grade_id"], g["solution"], g["grade"], g.get("points")) for g in graded] == [
        ("exercise_1_answer", True, False, None), ("exercise_1_check", False, True, 2),
        ("exercise_2_answer", True, False, None), ("exercise_2_check", False, True, 2)]
    assert not any("solution" in c.metadata.get("tags", []) for c in out.cells)
    answer = next(c for c in out.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "exercise_1_answer")
    assert answer.source.index("return None  # TODO") < answer.source.index(grading.BEGIN) < answer.source.index("return 2 * x")
    assert len(out.cells) == len(nb.cells) - 2  # each exercise's three cells became two


def test_smoke_option_and_broken_structure(tiny_lesson):
    nb = nbformat.read(tiny_lesson, as_version=4)
    params = next(c for c in grading.nbgrader_notebook(nb, smoke=True).cells if "parameters" in c.metadata.get("tags", []))
    assert "SMOKE = True" in params.source and "SMOKE = False" not in params.source
    broken = nbformat.read(tiny_lesson, as_version=4)
    broken.cells = [c for c in broken.cells if "check" not in c.metadata.get("tags", [])]
    with pytest.raises(ValueError, match="followed by its solution cell"):
        grading.nbgrader_notebook(broken, name="98")


def test_autograding_full_marks_for_reference_answers_zero_for_unanswered(tiny_lesson, tmp_path):
    course = tmp_path / "course"
    written = grading.make_course(tiny_lesson.parent, course)
    assert [p.name for p in written] == ["98_2014_tiny.ipynb"]
    nbgrader(course, "generate_assignment", "98_2014_tiny")
    release = course / "release" / "98_2014_tiny" / "98_2014_tiny.ipynb"
    text = release.read_text()
    assert "return 2 * x" not in text and "answer = 42" not in text, "the release still holds a solution"
    assert "return None  # TODO" in text and grading.STUB in text
    # alice hands in the reference answers (the source version); bob hands in the release untouched
    for student, nb_file in (("alice", written[0]), ("bob", release)):
        dest = course / "submitted" / student / "98_2014_tiny" / "98_2014_tiny.ipynb"
        dest.parent.mkdir(parents=True)
        shutil.copy(nb_file, dest)
    nbgrader(course, "autograde", "98_2014_tiny", "--create")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s: gb.find_submission("98_2014_tiny", s).score for s in ("alice", "bob")}
        maximum = gb.find_assignment("98_2014_tiny").max_score
    assert maximum == 2
    assert scores == {"alice": 2, "bob": 0}


@pytest.mark.parametrize("path", sorted(lessons.LESSONS_DIR.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_every_lesson_releases_without_its_solutions(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    if not any("exercise" in c.metadata.get("tags", []) for c in nb.cells):
        pytest.skip("no exercises")
    course = tmp_path / "course"
    grading.make_course(path.parent, course, wanted=[path.stem[:2]])
    nbgrader(course, "generate_assignment", path.stem)
    release = json.loads((course / "release" / path.stem / path.name).read_text())
    released = "\n".join("".join(c["source"]) for c in release["cells"])
    elsewhere = "\n".join(c.source for c in nb.cells if "solution" not in c.metadata.get("tags", []))
    leaked = [line.strip() for c in nb.cells if "solution" in c.metadata.get("tags", [])
              for line in c.source.splitlines()
              if len(line.strip()) > 12 and not line.strip().startswith("#") and line.strip() not in elsewhere
              and line.strip() in released]
    assert not leaked, f"{path.name}: solution lines in the release: {leaked[:3]}"
    n_checks = sum("check" in c.metadata.get("tags", []) for c in nb.cells)
    graded = [c for c in release["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    assert len(graded) == n_checks


def test_rewriting_the_source_backs_up_a_teachers_edit(tiny_lesson, tmp_path):
    course = tmp_path / "course"
    [src] = grading.make_course(tiny_lesson.parent, course)
    grading.make_course(tiny_lesson.parent, course)
    assert not (course / "source-backup").exists(), "an unchanged source needs no backup"
    src.write_text(src.read_text().replace("A tiny test lesson", "A tiny test lesson, edited by the teacher"))
    (course / "nbgrader_config.py").write_text("c = get_config()  # the teacher's own\n")
    grading.make_course(tiny_lesson.parent, course)
    [backup] = (course / "source-backup").rglob("*.ipynb")
    assert "edited by the teacher" in backup.read_text() and "edited by the teacher" not in src.read_text()
    assert (course / "nbgrader_config.py").read_text() == "c = get_config()  # the teacher's own\n"
