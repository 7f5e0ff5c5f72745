"""The bilingual glossary (GLOSSARY.md) stays true to the lessons, and every 中文导读 links it."""

import re

import jupytext
import pytest

from course_utils import lessons

GLOSSARY = lessons.LESSONS_DIR.parent / "GLOSSARY.md"
SOURCES = sorted(lessons.LESSONS_DIR.glob("[0-9][0-9]_*.py"))


def glossary_rows(text):
    """(english, chinese, lesson) for every row of the glossary's table."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"\d\d", cells[2]):
            rows.append(tuple(cells))
    return rows


def head_term(english):
    """The word a lesson must use: the English cell before any parenthesis or comma."""
    return re.split(r"\s*[(,]", english, maxsplit=1)[0].strip()


def guide_text(path):
    """The markdown of a lesson's 中文导读 cell."""
    nb = jupytext.read(path)
    guides = [c.source for c in nb.cells if c.cell_type == "markdown" and "## 中文导读" in c.source]
    assert len(guides) == 1, f"{path.name}: expected one 中文导读 cell, found {len(guides)}"
    return guides[0]


def test_glossary_parses_into_terms():
    rows = glossary_rows(GLOSSARY.read_text(encoding="utf-8"))
    assert len(rows) >= 20, f"GLOSSARY.md: only {len(rows)} rows parsed"
    english = [head_term(r[0]).lower() for r in rows]
    assert len(english) == len(set(english)), "GLOSSARY.md lists an English term twice"


def test_helpers_on_a_small_table():
    table = "| English | 中文 | first lesson |\n|---|---|---|\n| learning rate (lr) | 学习率 | 02 |\n| not a row |\n"
    assert glossary_rows(table) == [("learning rate (lr)", "学习率", "02")]
    assert head_term("learning rate (lr)") == "learning rate"
    assert head_term("fully connected network, MLP") == "fully connected network"


def test_every_term_is_used_by_the_lessons():
    rows = glossary_rows(GLOSSARY.read_text(encoding="utf-8"))
    texts = {p.stem[:2]: p.read_text(encoding="utf-8") for p in SOURCES}
    guides = " ".join(guide_text(p) for p in SOURCES)
    everything = " ".join(texts.values()).lower()
    unused = [r[0] for r in rows if head_term(r[0]).lower() not in everything]
    assert not unused, f"GLOSSARY.md lists English terms no lesson uses: {unused}"
    missing_zh = [r[1] for r in rows if r[1] not in guides]
    assert not missing_zh, f"GLOSSARY.md lists Chinese terms no 中文导读 uses: {missing_zh}"
    unknown = [r for r in rows if r[2] not in texts]
    assert not unknown, f"GLOSSARY.md names lessons that do not exist: {unknown}"
    late = [r[0] for r in rows if head_term(r[0]).lower() not in texts[r[2]].lower()]
    assert not late, f"these terms do not appear in the lesson the glossary names as their first: {late}"


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_every_chinese_guide_links_the_glossary(path):
    assert "](../GLOSSARY.md)" in guide_text(path), (
        f"{path.name}: its 中文导读 must link the glossary: 术语表（英中对照）：[GLOSSARY.md](../GLOSSARY.md)")
