import json

import pytest

from course_utils import lessons
from conftest import write_lesson


def test_catalogue_reads_the_record(tiny_lesson):
    cat = lessons.catalogue(tiny_lesson.parent)
    assert len(cat) == 1 and cat[0]["number"] == "98" and cat[0]["slug"] == "98_2014_tiny"
    assert lessons.lesson("98", tiny_lesson.parent)["track"] == "foundations"
    with pytest.raises(KeyError):
        lessons.lesson("97", tiny_lesson.parent)


def test_catalogue_refuses_bad_records(tmp_path):
    p = write_lesson(tmp_path / "a")
    nb = json.loads(p.read_text())
    del nb["metadata"]["course"]["papers"]
    p.write_text(json.dumps(nb))
    with pytest.raises(ValueError, match="lacks papers"):
        lessons.catalogue(p.parent)
    q = write_lesson(tmp_path / "b", name="97_2014_tiny")
    with pytest.raises(ValueError, match="does not match"):
        lessons.catalogue(q.parent)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "Untitled.ipynb").write_text("{}")  # a stray notebook is not a lesson
    assert lessons.catalogue(tmp_path / "c") == []
    (tmp_path / "c" / "05_x.ipynb").write_text("{}")
    with pytest.raises(ValueError, match="NN_YYYY_slug"):
        lessons.catalogue(tmp_path / "c")


@pytest.mark.parametrize("text, span", [("2012", (2012, 2012)), ("2014-18", (2014, 2018)),
                                        ("2012–2020", (2012, 2020)), ("2013-15", (2013, 2015))])
def test_year_span(text, span):
    assert lessons.year_span(text) == span


def test_show_card(tiny_lesson, monkeypatch, tmp_path):
    import matplotlib

    matplotlib.use("agg")
    monkeypatch.setattr(lessons, "RUNTIMES_FILE", tmp_path / "runtimes.json")
    fig = lessons.show_card("98", tiny_lesson.parent)
    assert "not measured" in fig.axes[0].get_title()
    (tmp_path / "runtimes.json").write_text(json.dumps({"lessons": {"98": {"seconds": 42.0}}}))
    fig = lessons.show_card("98", tiny_lesson.parent)
    assert "42 s" in fig.axes[0].get_title()
    with pytest.raises(KeyError):
        lessons.show_card("97", tiny_lesson.parent)
