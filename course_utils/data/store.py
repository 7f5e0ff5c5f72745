"""Where data lives: the data directory, the manifest, and verified optional downloads."""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent.parent


def data_dir() -> Path:
    """The course's data directory (created if missing)."""
    env = os.environ.get("COURSE_DATA_DIR")
    path = Path(env).expanduser() if env else _REPO / "datasets"
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
    for candidate in (data_dir() / "manifest.toml", _REPO / "datasets" / "manifest.toml"):
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
