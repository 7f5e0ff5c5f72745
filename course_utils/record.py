"""Record metrics inside the executed notebook, where a batch run reads them back.

A metric is displayed as an output with its own MIME type, so it travels inside the
``.ipynb`` that papermill or nbval executed (no side files that parallel runs could
overwrite). :func:`read_metrics` collects them from an executed notebook.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

__all__ = ["MIME", "metric", "read_metrics"]

#: MIME type of a metric output.
MIME = "application/vnd.dlcourse.metric+json"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def metric(name: str, value: Any, **info: Any) -> None:
    """Record one metric (a number, bool or short string) and show it in the notebook.

    ``info`` holds extra JSON-able fields (e.g. ``unit="s"``). Returns nothing, so a
    call on a cell's last line prints nothing twice; :func:`read_metrics` reads it back.
    """
    _record(name, value, **info)


def _record(name: str, value: Any, **info: Any) -> dict:
    if not isinstance(name, str) or not name:
        raise ValueError("metric name must be a non-empty string")
    record = {"name": name, "value": _jsonable(value), **{k: _jsonable(v) for k, v in info.items()}}
    json.dumps(record)  # fail here, not in the batch runner, if something is not JSON-able
    from IPython.display import display

    text = f"[metric] {name} = {record['value']}"
    display({MIME: record, "text/plain": text}, raw=True)
    return record


def read_metrics(notebook: str | Path | dict) -> dict[str, dict]:
    """Metrics recorded in an executed notebook (a path or an nbformat dict), by name.

    A metric recorded twice keeps its last value, as re-running a cell would.
    """
    if not isinstance(notebook, dict):
        notebook = json.loads(Path(notebook).read_text(encoding="utf-8"))
    found: dict[str, dict] = {}
    for cell in notebook.get("cells", []):
        for out in cell.get("outputs", []) or []:
            data = out.get("data") or {}
            if MIME in data:
                rec = data[MIME]
                if isinstance(rec, str):
                    rec = json.loads(rec)
                found[rec["name"]] = rec
    return found
