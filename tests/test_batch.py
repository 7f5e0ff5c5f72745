import json

import pytest

from course_utils import batch
from course_utils.batch import BatchError


def test_parse_value_like_papermill():
    assert batch.parse_value("3") == 3 and batch.parse_value("-1") == -1
    assert batch.parse_value("0.5") == 0.5
    assert batch.parse_value("True") is True and batch.parse_value("False") is False
    assert batch.parse_value("None") is None and batch.parse_value("abc") == "abc"


def test_parse_params_and_sweep():
    assert batch.parse_params('SEED=1 NAME="a b"', [["SEED", "2"]]) == {"SEED": 2, "NAME": "a b"}
    with pytest.raises(BatchError, match="NAME=VALUE"):
        batch.parse_params("SEED")
    with pytest.raises(BatchError, match="valid parameter name"):
        batch.parse_params("1X=3")
    assert batch.parse_sweep("SEED=0,1, 2") == ("SEED", [0, 1, 2])
    assert batch.parse_sweep(None) is None
    with pytest.raises(BatchError):
        batch.parse_sweep("SEED=1")
    with pytest.raises(BatchError):
        batch.parse_sweep("SEED")


def test_misspelt_parameter_is_refused_with_a_suggestion(tiny_lesson):
    assert set(batch.declared_parameters(tiny_lesson)) == {"SEED", "DEVICE", "SMOKE", "STEPS"}
    batch.check_parameters(tiny_lesson, {"STEPS": 2})
    with pytest.raises(BatchError, match="does not declare a parameter 'STEP'. Did you mean STEPS"):
        batch.check_parameters(tiny_lesson, {"STEP": 2})


def test_select_lessons(tiny_lesson):
    assert [r["number"] for r in batch.select_lessons(["98"], tiny_lesson.parent)] == ["98"]
    assert len(batch.select_lessons(None, tiny_lesson.parent)) == 1
    with pytest.raises(BatchError, match="no lesson '5'"):
        batch.select_lessons(["5"], tiny_lesson.parent)


@pytest.fixture()
def rec(tiny_lesson):
    return batch.select_lessons(["98"], tiny_lesson.parent)[0]


def test_run_lesson_records_metrics_memory_and_time(rec, tmp_path):
    e = batch.run_lesson(rec, {"STEPS": 4}, tmp_path / "out" / "run.ipynb", html=False)
    assert e["status"] == "passed", e
    assert e["metrics"]["total"]["value"] == 6
    assert e["milestones"]["steps_ok"]["met"] and e["milestones"]["steps_ok"]["margin"] == 2
    assert e["seconds"] > 0 and e["peak_rss_mb"] > 20  # a real kernel was watched


def test_run_lesson_missed_milestone_fails_but_keeps_metrics(rec, tmp_path):
    e = batch.run_lesson(rec, {"STEPS": 1}, tmp_path / "run.ipynb", html=False)
    assert e["status"] == "failed" and "Milestones missed: steps_ok" in e["error"]
    assert e["milestones"]["steps_ok"]["value"] == 1 and e["metrics"]["total"]["value"] == 0


def test_run_lesson_bad_value_stops_in_validation_cell(rec, tmp_path):
    e = batch.run_lesson(rec, {"STEPS": 0}, tmp_path / "run.ipynb", html=False)
    assert e["status"] == "failed" and "STEPS = 0" in e["error"] and "ParameterError" in e["error"]
    assert e["metrics"] == {}  # nothing half-ran


def test_cmd_run_report_and_sweep(rec, tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "BUILD", tmp_path / "build")
    entries = batch.cmd_run([rec], {}, None, None, html=False)
    assert entries[0]["status"] == "passed"
    report = json.loads((tmp_path / "build" / "report.json").read_text())
    assert report["lessons"][0]["number"] == "98" and report["machine"]["cpus"] >= 1
    md = (tmp_path / "build" / "report.md").read_text()
    assert "| 98 A tiny test lesson | passed |" in md and "steps_ok 3 (met by 1)" in md
    entries = batch.cmd_run([rec], {}, ("STEPS", [2, 5]), "total", html=False)
    assert [e["metrics"]["total"]["value"] for e in entries] == [1, 10]
    sweep = json.loads((tmp_path / "build" / "sweep_98_STEPS.json").read_text())
    assert [r["total"] for r in sweep["runs"]] == [1, 10]
    assert (tmp_path / "build" / "sweep_98_STEPS.png").stat().st_size > 1000
    assert "Sweep of STEPS" in (tmp_path / "build" / "report.md").read_text()
    with pytest.raises(BatchError, match="does not declare"):
        batch.cmd_run([rec], {"STEPZ": 1}, None, None, html=False)


def test_main_refuses_misspelt_parameter_before_running(capsys):
    code = batch.main(["run", "--lessons", "01", "--params", "EPOCHZ=3"])
    assert code == 2 and "does not declare a parameter 'EPOCHZ'" in capsys.readouterr().err


def test_update_readme_between_markers(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{batch.TABLE_START}\nSTALE-ROW\n{batch.TABLE_END}\nend\n")
    assert batch.update_readme(readme)
    text = readme.read_text()
    assert "STALE-ROW" not in text and "| # | year | lesson |" in text and text.endswith("end\n")
    assert not batch.update_readme(readme)
    readme.write_text("no markers")
    with pytest.raises(BatchError):
        batch.update_readme(readme)
