"""What a batch run may ask of a lesson: parameter values from the command line, checked against
the names the lesson declares in its ``parameters`` cell. Plumbing for :mod:`course_utils.tools.batch`.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

__all__ = ["BatchError", "parse_value", "parse_params", "parse_sweep", "declared_parameters", "check_parameters"]


class BatchError(ValueError):
    """A batch request the runner refuses (unknown lesson or parameter, bad syntax)."""


# --------------------------------------------------------------------------- parameters


def parse_value(text: str) -> Any:
    """Turn a command-line value into Python the way papermill's ``-p`` does.

    ``"3"`` -> 3, ``"0.1"`` -> 0.1, ``"True"``/``"False"`` -> bool, ``"None"`` -> None,
    anything else stays a string (so ``SEED=abc`` reaches the lesson, which refuses it).
    """
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_params(spec: str | None, pairs: list[list[str]] | None = None) -> dict[str, Any]:
    """Parameters from ``"A=1 B=x"`` and from ``-p NAME VALUE`` pairs (the latter win)."""
    out: dict[str, Any] = {}
    for item in shlex.split(spec or ""):
        if "=" not in item:
            raise BatchError(f"parameter {item!r} must look like NAME=VALUE")
        name, value = item.split("=", 1)
        out[name.strip()] = parse_value(value.strip())
    for name, value in pairs or []:
        out[name] = parse_value(value)
    for name in out:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise BatchError(f"{name!r} is not a valid parameter name")
    return out


def parse_sweep(spec: str | None) -> tuple[str, list[Any]] | None:
    """``"SEED=0,1,2"`` -> ``("SEED", [0, 1, 2])``."""
    if not spec:
        return None
    if "=" not in spec:
        raise BatchError(f"sweep {spec!r} must look like NAME=V1,V2,...")
    name, values = spec.split("=", 1)
    vals = [parse_value(v.strip()) for v in values.split(",") if v.strip()]
    if len(vals) < 2:
        raise BatchError(f"a sweep needs at least two values, got {spec!r}")
    return name.strip(), vals


def declared_parameters(notebook: Path) -> dict[str, dict]:
    """The parameters a lesson declares in its ``parameters`` cell (papermill's view)."""
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    if not declared:
        raise BatchError(f"{notebook.name} has no cell tagged 'parameters'")
    return declared


def check_parameters(notebook: Path, params: dict[str, Any]) -> None:
    """Refuse parameter names the lesson does not declare, with the close matches and the list."""
    import difflib

    declared = declared_parameters(notebook)
    for name in params:
        if name not in declared:
            close = difflib.get_close_matches(name, declared, n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise BatchError(
                f"{notebook.stem} does not declare a parameter {name!r}.{hint} "
                f"Declared: {', '.join(declared)}."
            )
