"""``make sync``: keep ``lessons/*.py`` and ``lessons/*.ipynb`` paired, without outputs.

Both files of every pair are first copied to ``build/sync-backup/<time>/``, so nothing
a student or author wrote is lost; then ``jupytext --sync`` updates the older file of
each pair from the newer one, and outputs are cleared from the notebooks.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from ..lessons import LESSONS_DIR, REPO

__all__ = ["clear_outputs", "sync"]


def clear_outputs(path: Path) -> bool:
    """Remove outputs and execution counts from a notebook in place; True if it changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            cell.outputs, cell.execution_count = [], None
            changed = True
        for key in ("execution", "papermill", "collapsed", "scrolled"):
            if key in cell.metadata:
                del cell.metadata[key]
                changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


def sync(lessons_dir: Path = LESSONS_DIR, backup_root: Path = REPO / "build" / "sync-backup") -> list[Path]:
    """Back up, sync and clean every lesson pair; return the ``.py`` files handled."""
    sources = sorted(lessons_dir.glob("[0-9][0-9]_*.py"))
    notebooks = sorted(lessons_dir.glob("[0-9][0-9]_*.ipynb"))
    if not sources and not notebooks:
        print(f"No lessons in {lessons_dir}")
        return []
    backup = backup_root / time.strftime("%Y%m%d-%H%M%S")
    backup.mkdir(parents=True, exist_ok=True)
    for f in sources + notebooks:
        shutil.copy2(f, backup / f.name)
    # a notebook without its .py (e.g. authored in JupyterLab) gets its pair too
    targets = sorted({*sources, *(nb.with_suffix(".py") for nb in notebooks)})
    for py in targets:
        src = py if py.exists() else py.with_suffix(".ipynb")
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(src)], check=True)
        if clear_outputs(py.with_suffix(".ipynb")):
            print(f"cleared outputs: {py.with_suffix('.ipynb').name}")
    print(f"Synced {len(targets)} lesson pair(s); backup of the previous files in {backup.relative_to(REPO) if backup.is_relative_to(REPO) else backup}")
    return targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    sync()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
