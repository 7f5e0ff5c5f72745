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


def test_show_card_colours_tracks_shows_the_plan_and_marks_this_lesson(tiny_lesson, monkeypatch, tmp_path):
    import matplotlib

    matplotlib.use("agg")
    from matplotlib.colors import to_hex

    from course_utils.plot import TRACK_COLORS

    monkeypatch.setattr(lessons, "RUNTIMES_FILE", tmp_path / "runtimes.json")
    (tiny_lesson.parent / "plan.toml").write_text(
        '[[lesson]]\nnumber = "97"\nyear = "2013"\ntrack = "vision"\ntitle = "A planned lesson"\n', encoding="utf-8")
    fig = lessons.show_card("98", tiny_lesson.parent)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["97  A planned lesson  (planned)", "98  A tiny test lesson"]
    planned, mine = ax.lines
    assert to_hex(planned.get_color()) == TRACK_COLORS["vision"].lower()  # the map's colours, not a highlight colour
    assert to_hex(mine.get_color()) == TRACK_COLORS["foundations"].lower()
    assert mine.get_linewidth() > planned.get_linewidth() and planned.get_alpha() < 1
    assert ax.get_yticklabels()[1].get_fontweight() == "bold"
    fig.canvas.draw()  # nothing drawn outside the figure (labels, legend, title)
    box = fig.bbox
    for artist in [ax.title, ax.xaxis.label, *ax.get_yticklabels(), *fig.legends]:
        ext = artist.get_window_extent()
        assert ext.x0 >= box.x0 - 1 and ext.x1 <= box.x1 + 1 and ext.y0 >= box.y0 - 1 and ext.y1 <= box.y1 + 1, artist
