"""Milestones that hold on every machine, and a repository that stands alone.

Every milestone a lesson asserts needs committed evidence from ``make bench SEEDS=5`` (in
``runtimes.json``) measured on the lesson's current code, and its worst seed must clear the
threshold by at least the seed-to-seed standard deviation: another CPU rounds differently and
training amplifies that like a change of seed (CONTRIBUTING.md, "Milestones that hold on
every machine").
"""

import ast
import json
import re
import subprocess

import pytest

from course_utils import lessons
from course_utils.tools import bench

LESSONS = sorted(lessons.LESSONS_DIR.glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in LESSONS]


def expected_milestones(py_source: str) -> list[str]:
    """The names in the lesson's ``checks.assert_milestones(..., expected=[...])`` call."""
    m = re.search(r"assert_milestones\((?:[^()]|\([^()]*\))*?expected\s*=\s*(\[[^\]]*\])", py_source, re.S)
    if not m:
        raise AssertionError("the last cell must call checks.assert_milestones(smoke=SMOKE, expected=[...])")
    return ast.literal_eval(m.group(1))


def test_expected_milestones_parser():
    src = 'checks.assert_milestones(smoke=SMOKE, expected=["a", "b",\n    "c"])'
    assert expected_milestones(src) == ["a", "b", "c"]
    with pytest.raises(AssertionError):
        expected_milestones("checks.assert_milestones(smoke=SMOKE)")


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_every_milestone_has_current_five_seed_evidence_with_headroom(path):
    names = expected_milestones(path.with_suffix(".py").read_text(encoding="utf-8"))
    assert names, f"{path.name} asserts no milestone"
    entry = lessons.runtimes().get(path.name[:2], {})
    evidence = entry.get("evidence")
    fix = f"run `make bench SEEDS={bench.MIN_SEEDS} LESSONS={path.name[:2]}` and commit runtimes.json"
    assert evidence, f"{path.name}: no multi-seed evidence in runtimes.json; {fix}"
    assert len(evidence["seeds"]) >= bench.MIN_SEEDS, f"{path.name}: evidence from {len(evidence['seeds'])} seeds; {fix}"
    assert evidence["code"] == bench.code_fingerprint(path), \
        f"{path.name}: its code changed since the evidence was measured; {fix}"
    problems = []
    for name in names:
        s = evidence["milestones"].get(name)
        if s is None:
            problems.append(f"{name}: no evidence")
        elif s["worst_margin"] < 0:
            problems.append(f"{name}: the worst seed misses ({s['worst']:.4g} vs {s['op']} {s['target']:.4g})")
        elif s["worst_margin"] < s["std"]:
            problems.append(f"{name}: worst-seed margin {s['worst_margin']:.4g} < seed-to-seed sd {s['std']:.4g}; "
                            "make the effect more robust (or, with the numbers, move the threshold)")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_the_repository_refers_to_nothing_outside_it():
    """Students get the repository only: no file may send them to the planners' folder."""
    tracked = subprocess.run(["git", "ls-files"], cwd=lessons.REPO, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    # written in pieces, so that this file does not match itself
    outside = re.compile("|".join([r"\.\./" + "shared", "COURSE_" + "DESIGN", "LESSON_" + r"REVIEW\.md"]))
    bad = []
    for rel in tracked:
        path = lessons.REPO / rel
        if path.suffix in (".png", ".jpg", ".ico") or not path.is_file() or rel == "package-lock.json":
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        for i, line in enumerate(text.splitlines(), 1):
            if outside.search(line):
                bad.append(f"{rel}:{i}: {line.strip()[:100]}")
    assert not bad, "files refer to something outside the repository:\n" + "\n".join(bad)


def test_plan_agrees_with_the_written_lessons():
    plan = {r["number"]: r for r in lessons.plan()}
    assert sorted(plan) == [f"{i:02d}" for i in range(len(plan))], "plan.toml numbers lessons 00, 01, ... without gaps"
    for r in plan.values():
        assert {"number", "year", "track", "title", "idea", "data", "milestone", "papers"} <= set(r), r["number"]
        lessons.year_span(r["year"])
        for p in r["papers"]:
            assert {"title", "authors", "year"} <= set(p) and (p.get("arxiv") or p.get("url")), p
    for rec in lessons.catalogue():
        planned = plan.get(rec["number"])
        assert planned, f"lesson {rec['number']} is not in lessons/plan.toml"
        assert (planned["year"], planned["track"]) == (rec["year"], rec["track"]), \
            f"lesson {rec['number']}: plan.toml says {planned['year']}/{planned['track']}, the notebook {rec['year']}/{rec['track']}"


def test_readme_map_is_current():
    text = lessons.README_FILE.read_text(encoding="utf-8")
    table = text.split(bench.TABLE_START, 1)[1].split(bench.TABLE_END, 1)[0].strip()
    assert table == bench.lesson_map(), "the README lesson map is stale: run `make bench` (or `python -m course_utils.tools.batch readme`)"
    json.loads(lessons.RUNTIMES_FILE.read_text())
