"""Student copies of the real lessons: no solution leaks, and each runs end to end.

Each copy runs in SMOKE mode (every code path in seconds; the full run is nbval's job).
An unsolved exercise's check must fail with a helpful ``NotYet``, never a crash.
"""

import json
import subprocess
import sys

import nbformat
import pytest

from course_utils import lessons
from course_utils.tools import student

LESSONS = sorted(lessons.LESSONS_DIR.glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    res = student.make_student_copies(lessons.LESSONS_DIR, out)
    assert len(res["written"]) == len(LESSONS)
    return out


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_no_solution_reaches_a_student_copy(path, copies):
    original = nbformat.read(path, as_version=4)
    copy = nbformat.read(copies / path.name, as_version=4)
    solutions = [c.source.strip() for c in original.cells if "solution" in c.metadata.get("tags", [])]
    assert len(solutions) >= 2
    text = "\n".join(c.source for c in copy.cells)
    for sol in solutions:
        assert sol not in text, "a solution leaked into the student copy"
    assert not any("solution" in c.metadata.get("tags", []) for c in copy.cells)


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_student_copy_executes_end_to_end(path, copies, tmp_path):
    executed = tmp_path / path.name
    proc = subprocess.run(
        [sys.executable, "-m", "papermill", str(copies / path.name), str(executed), "-k", "python3",
         "--cwd", str(lessons.LESSONS_DIR), "--no-progress-bar", "-p", "SMOKE", "True"],
        capture_output=True, text=True, timeout=600,
    )
    nb = json.loads(executed.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code), "not every cell ran:\n" + proc.stderr[-3000:]
    for c in code:
        for o in c["outputs"]:
            if o["output_type"] == "error":
                assert "check" in c["metadata"].get("tags", []), \
                    f"a non-check cell failed in the student copy: {o['ename']}: {o['evalue'][:300]}"
                assert o["ename"] == "NotYet", \
                    f"an unsolved exercise should give a helpful NotYet, not {o['ename']}: {o['evalue'][:300]}"
