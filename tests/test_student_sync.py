import json
import os
import subprocess
import sys
import time

import nbformat

from course_utils.tools import student, sync


def _tags(nb):
    return [c.metadata.get("tags", []) for c in nb.cells]


def test_student_copy_has_no_solutions(tiny_lesson, tmp_path):
    nb = nbformat.read(tiny_lesson, as_version=4)
    copy = student.student_notebook(nb)
    assert not any("solution" in t for t in _tags(copy))
    checks_ = [t for t in _tags(copy) if "check" in t]
    assert len(checks_) == 2 and all("raises-exception" in t for t in checks_)
    assert sum("exercise" in t for t in _tags(copy)) == 2
    assert "solution" in json.dumps(nbformat.read(tiny_lesson, as_version=4).dict())  # original untouched


def test_student_copies_never_overwrite(tiny_lesson, tmp_path):
    out = tmp_path / "student"
    res = student.make_student_copies(tiny_lesson.parent, out)
    assert [p.name for p in res["written"]] == [tiny_lesson.name]
    mine = out / tiny_lesson.name
    mine.write_text(mine.read_text().replace("TODO", "MY WORK"))
    res = student.make_student_copies(tiny_lesson.parent, out)
    assert res["written"] == [] and res["kept"] == [mine]
    assert "MY WORK" in mine.read_text()


def test_student_copy_runs_past_unsolved_exercises(tiny_lesson, tmp_path):
    out = tmp_path / "student"
    student.make_student_copies(tiny_lesson.parent, out)
    executed = tmp_path / "run.ipynb"
    proc = subprocess.run([sys.executable, "-m", "papermill", str(out / tiny_lesson.name), str(executed),
                           "-k", "python3", "--no-progress-bar"], capture_output=True, text=True)
    nb = json.loads(executed.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code), "every cell ran: " + proc.stderr[-2000:]
    errors = [(c["metadata"]["tags"], o["ename"]) for c in code for o in c["outputs"] if o["output_type"] == "error"]
    # both checks explain what is missing; the run goes on to the end (papermill still exits 1)
    assert errors == [(["check", "raises-exception"], "NotYet")] * 2


def test_sync_pairs_backs_up_and_clears_outputs(tiny_lesson, tmp_path):
    folder = tiny_lesson.parent
    nb = nbformat.read(tiny_lesson, as_version=4)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="hi")]
    nb.cells[2].execution_count = 3
    nbformat.write(nb, tiny_lesson)
    py = tiny_lesson.with_suffix(".py")
    time.sleep(0.01)
    py.write_text(py.read_text().replace("STEPS = 3", "STEPS = 4"))
    os.utime(py, (time.time() + 5, time.time() + 5))
    backups = tmp_path / "backup"
    sync.sync(folder, backups)
    after = nbformat.read(tiny_lesson, as_version=4)
    assert "STEPS = 4" in "".join(c.source for c in after.cells)
    assert all(not getattr(c, "outputs", []) for c in after.cells)
    saved = list(backups.glob("*/98_2014_tiny.ipynb"))
    assert saved and "STEPS = 3" in saved[0].read_text()


def test_sync_creates_missing_py(tmp_path, tiny_lesson):
    tiny_lesson.with_suffix(".py").unlink()
    sync.sync(tiny_lesson.parent, tmp_path / "b")
    assert tiny_lesson.with_suffix(".py").exists()
