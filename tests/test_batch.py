import json

import pytest

from course_utils.tools import batch, bench
from course_utils.tools.batch import BatchError


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
    entries = batch.cmd_run([rec], {}, ("STEPS", [2, 5, 3]), "total", html=False, jobs=2)  # two kernels at once
    assert [e["metrics"]["total"]["value"] for e in entries] == [1, 10, 3], "results keep the sweep's order"
    sweep = json.loads((tmp_path / "build" / "sweep_98_STEPS.json").read_text())
    assert [r["total"] for r in sweep["runs"]] == [1, 10, 3]
    assert (tmp_path / "build" / "sweep_98_STEPS.png").stat().st_size > 1000
    assert "Sweep of STEPS" in (tmp_path / "build" / "report.md").read_text()
    with pytest.raises(BatchError, match="does not declare"):
        batch.cmd_run([rec], {"STEPZ": 1}, None, None, html=False)


def test_main_refuses_misspelt_parameter_before_running(capsys):
    code = batch.main(["run", "--lessons", "01", "--params", "EPOCHZ=3"])
    assert code == 2 and "does not declare a parameter 'EPOCHZ'" in capsys.readouterr().err


def test_update_readme_between_markers(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{bench.TABLE_START}\nSTALE-ROW\n{bench.TABLE_END}\nend\n")
    assert bench.update_readme(readme)
    text = readme.read_text()
    assert "STALE-ROW" not in text and "| # | year | lesson |" in text and text.endswith("end\n")
    assert "*(planned)*" in text, "planned lessons of plan.toml appear, marked as planned"
    assert not bench.update_readme(readme)
    readme.write_text("no markers")
    with pytest.raises(BatchError):
        bench.update_readme(readme)


def test_seed_stats_worst_and_margin():
    s = bench.seed_stats([0.96, 0.97, 0.98], ">=", 0.95)
    assert s["worst"] == 0.96 and abs(s["worst_margin"] - 0.01) < 1e-9 and abs(s["mean"] - 0.97) < 1e-9
    assert abs(s["std"] - 0.01) < 1e-9  # sample standard deviation
    low = bench.seed_stats([2.0, 3.0], "<=", 4.0)
    assert low["worst"] == 3.0 and low["worst_margin"] == 1.0
    assert bench.seed_stats([1.0], ">", 0.0)["std"] == 0.0
    tiny = bench.seed_stats([2.0e-7, 2.4e-7], "<=", 1e-6)
    assert tiny["worst"] == 2.4e-7 and tiny["values"] == [2.0e-7, 2.4e-7], "small values keep their digits"
    with pytest.raises(ValueError):
        bench.seed_stats([], ">=", 0)


def test_headroom_names_the_tightest_milestone():
    ev = {"seeds": [0, 1, 2, 3, 4], "milestones": {
        "a": bench.seed_stats([0.96, 0.97, 0.98, 0.97, 0.97], ">=", 0.95),
        "b": bench.seed_stats([1.0] * 5, ">=", 0.5)}}
    text = bench.headroom(ev)
    assert "tightest: a" in text and "5 seeds" in text
    assert bench.headroom(None) == "no multi-seed evidence"


def test_bench_with_seeds_records_evidence(rec, tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "BUILD", tmp_path / "build")
    monkeypatch.setattr(bench, "RUNTIMES_FILE", tmp_path / "runtimes.json")
    monkeypatch.setattr(bench, "update_readme", lambda: False)
    out = bench.cmd_bench([rec], seeds=2)
    ev = out["lessons"]["98"]["evidence"]
    assert ev["seeds"] == [0, 1] and ev["code"] == bench.code_fingerprint(rec["path"])
    assert ev["milestones"]["steps_ok"]["values"] == [3.0, 3.0] and ev["milestones"]["steps_ok"]["worst_margin"] == 1.0
    saved = json.loads((tmp_path / "runtimes.json").read_text())
    assert saved["lessons"]["98"]["evidence"] == ev
    assert (tmp_path / "build" / "seeds" / "98_2014_tiny" / "SEED=1.ipynb").exists()
    again = bench.cmd_bench([rec], seeds=2)  # everything current: nothing re-runs, same evidence
    assert again["lessons"]["98"]["evidence"] == ev


def test_student_copy_in_batch_lists_open_exercises(tiny_lesson, tmp_path, monkeypatch, capsys):
    from course_utils.tools import student

    monkeypatch.setattr(batch, "BUILD", tmp_path / "build")
    copies = tmp_path / "student"
    student.make_student_copies(tiny_lesson.parent, copies)
    entries = batch.cmd_student(copies)
    e = entries[0]
    assert e["status"] == "open exercises" and e["error"] == ""
    assert [x.split(":")[0] for x in e["open_exercises"]] == ["exercise 1", "exercise 2"]
    assert "the TODO has not been filled in yet" in e["open_exercises"][0]
    assert e["milestones"]["steps_ok"]["met"], "the copy still ran to the end"
    out = capsys.readouterr().out
    assert "2 exercise(s) still open" in out and "exercise 2: answer should be 42" in out
    assert batch.main(["run", "--student", str(copies)]) == 0
    with pytest.raises(BatchError, match="make student"):
        batch.cmd_student(tmp_path / "nowhere")


def test_sources_fingerprint_covers_subpackages_but_not_tools(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    for rel in ("course_utils/checks.py", "course_utils/data/vision.py", "course_utils/tools/bench.py",
                "datasets/manifest.toml", "lessons/01_x.ipynb"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text("v1\n")
    monkeypatch.setattr(batch, "REPO", repo)
    nb = repo / "lessons/01_x.ipynb"
    before = batch._sources_fingerprint(nb)
    (repo / "course_utils/tools/bench.py").write_text("v2\n")
    assert batch._sources_fingerprint(nb) == before  # tooling is not what a lesson runs
    (repo / "course_utils/data/vision.py").write_text("v2\n")
    assert batch._sources_fingerprint(nb) != before  # a data module is
