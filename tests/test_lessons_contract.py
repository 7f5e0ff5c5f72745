"""Every lesson meets the structural part of the contract (CONTRIBUTING.md, "The lesson contract").

Execution itself is checked by nbval (``make test`` runs ``pytest ... lessons --nbval-lax``).
"""

import json
import re
import subprocess
import sys

import jupytext
import pytest

from course_utils import lessons

LESSONS = sorted(lessons.LESSONS_DIR.glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in LESSONS]


def _nb(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _src(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def test_there_are_lessons_and_every_file_has_its_pair():
    assert LESSONS, "no lessons found"
    pys = {p.stem for p in lessons.LESSONS_DIR.glob("[0-9][0-9]_*.py")}
    nbs = {p.stem for p in LESSONS}
    assert pys == nbs, f"unpaired: .py only {sorted(pys - nbs)}, .ipynb only {sorted(nbs - pys)}"


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_pair_in_sync(path):
    from_py = jupytext.read(path.with_suffix(".py"))
    nb = _nb(path)
    a = [(c.cell_type, c.source.strip(), c.metadata.get("tags", [])) for c in from_py.cells]
    b = [(c["cell_type"], _src(c).strip(), _tags(c)) for c in nb["cells"]]
    assert a == b, f"{path.name} and its .py differ: run `make sync`"
    assert from_py.metadata.get("course") == nb["metadata"].get("course"), "metadata record differs: run `make sync`"


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_committed_without_outputs(path):
    for i, cell in enumerate(_nb(path)["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, \
                f"{path.name} cell {i} has outputs: run `make sync` (it clears them)"


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_metadata_record(path):
    rec = lessons.lesson(path.name[:2])
    assert rec["track"] in ("tour", "foundations", "vision", "language", "generative", "reinforcement", "beyond")
    lessons.year_span(rec["year"])
    assert rec["papers"], "a lesson cites its sources"
    for p in rec["papers"]:
        assert {"title", "authors", "year"} <= set(p), f"paper record incomplete: {p}"
        assert p.get("arxiv") or p.get("url") or p.get("note"), f"paper needs arxiv, url or note: {p['title']}"
    assert _nb(path)["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_story_and_structure(path):
    cells = _nb(path)["cells"]
    md = "\n".join(_src(c) for c in cells if c["cell_type"] == "markdown")
    assert "中文导读" in md, "a short Chinese summary cell (中文导读)"
    assert re.search(r"arxiv\.org|doi\.org|papers\.nips\.cc|https?://", md), "link the paper(s)"
    assert "## Going further" in md
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "ImportError" in _src(code[0]) and "pip install" in _src(code[0]), \
        "the first code cell says exactly what to install when course_utils is missing"
    assert "assert_milestones(" in _src(code[-1]), "the last code cell asserts the milestones"


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_parameters_cell_then_validation(path):
    code = [c for c in _nb(path)["cells"] if c["cell_type"] == "code"]
    idx = [i for i, c in enumerate(code) if "parameters" in _tags(c)]
    assert len(idx) == 1, "exactly one cell tagged 'parameters'"
    params_src = _src(code[idx[0]])
    for name in ("SEED", "DEVICE", "SMOKE"):
        assert re.search(rf"^{name}\s*=", params_src, re.M), f"parameters cell lacks {name}"
    assert re.search(r"params\.validate\(\s*globals\(\)", _src(code[idx[0] + 1])), "the cell after the parameters validates them"
    # papermill silently skips some lines (e.g. a comment holding a second '='): every
    # parameter the cell assigns must be one papermill (and so the batch runner) can see.
    from course_utils.tools.batch import declared_parameters

    assigned = re.findall(r"^([A-Z_][A-Z0-9_]*)\s*=", params_src, re.M)
    assert sorted(declared_parameters(path)) == sorted(assigned), \
        "papermill does not see every parameter: avoid '=' inside the comments of the parameters cell"


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_exercises_come_in_triplets(path):
    seq = [t for c in _nb(path)["cells"] for t in _tags(c) if t in ("exercise", "solution", "check")]
    assert len(seq) >= 6 and len(seq) % 3 == 0, f"≥ 2 exercises of three cells each, got tags {seq}"
    for k in range(0, len(seq), 3):
        assert seq[k:k + 3] == ["exercise", "solution", "check"], f"exercise {k // 3 + 1}: tags {seq[k:k + 3]}"
    for c in _nb(path)["cells"]:
        if "exercise" in _tags(c):
            assert "TODO" in _src(c), "an exercise cell says what to do with a TODO"
        if "check" in _tags(c):
            assert "checks." in _src(c), "a check cell uses course_utils.checks for a helpful message"


def _run_bad(path, tmp_path, name, value):
    out = tmp_path / f"{path.stem}_{name}.ipynb"
    proc = subprocess.run([sys.executable, "-m", "papermill", str(path), str(out), "-k", "python3",
                           "--no-progress-bar", "-p", name, value], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0, f"{path.name} accepted {name}={value}"
    cells = _nb(out)["cells"]
    injected = next(i for i, c in enumerate(cells) if "injected-parameters" in _tags(c))
    errors = [i for i, c in enumerate(cells) for o in c.get("outputs", []) if o["output_type"] == "error"]
    validation = next(i for i in range(injected + 1, len(cells)) if cells[i]["cell_type"] == "code")
    assert errors == [validation], f"{path.name}: the error must come from the cell right after the parameters"
    err = next(o for o in cells[errors[0]]["outputs"] if o["output_type"] == "error")
    assert err["ename"] == "ParameterError" and name in err["evalue"]


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_bad_seed_stops_in_the_validation_cell(path, tmp_path):
    _run_bad(path, tmp_path, "SEED", "abc")


@pytest.mark.parametrize("name, value", [("DEVICE", "tpu"), ("EPOCHS", "-1"), ("SMOKE", "maybe")])
def test_lesson_01_bad_values(name, value, tmp_path):
    path = next((p for p in LESSONS if p.name.startswith("01_")), None)
    if path is None:
        pytest.fail("lesson 01 is missing")
    _run_bad(path, tmp_path, name, value)
