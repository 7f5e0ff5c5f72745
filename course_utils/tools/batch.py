"""The batch runner behind ``make run`` and ``make bench``.

Executes lessons with papermill into ``build/`` (executed notebooks plus offline HTML),
prints progress, and writes ``build/report.md`` and ``build/report.json``: per lesson the
wall time, the kernel's peak memory, the milestone metrics (met or missed, by how much)
and the status. Exits non-zero if any lesson fails.

    python -m course_utils.tools.batch run                               # every lesson
    python -m course_utils.tools.batch run --lessons 01 --params "SEED=1 EPOCHS=3"
    python -m course_utils.tools.batch run --lessons 01 -p SEED 1 -p SMOKE True
    python -m course_utils.tools.batch run --lessons 01 --sweep "SEED=0,1,2" --metric cnn_test_acc
    python -m course_utils.tools.batch bench --seeds 5                   # run times + 5-seed evidence (bench.py)
    python -m course_utils.tools.batch run --jobs 2                      # two kernels at once (one per core)
    python -m course_utils.tools.batch run --dask-scheduler tcp://host:8786   # on an existing Dask cluster

Parameter names a lesson does not declare are refused before anything runs
(papermill itself would only warn).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .. import record
from . import pool, report
from ..lessons import LESSONS_DIR, REPO, catalogue
from .batch_params import BatchError, check_parameters, declared_parameters, parse_params, parse_sweep, parse_value

__all__ = [
    "BatchError",
    "parse_value",
    "parse_params",
    "parse_sweep",
    "declared_parameters",
    "check_parameters",
    "select_lessons",
    "run_lesson",
    "open_exercises",
    "cmd_run",
    "cmd_student",
    "lost_entry",
    "run_many",
    "main",
]

BUILD = REPO / "build"


def select_lessons(wanted: list[str] | None, lessons_dir: Path = LESSONS_DIR) -> list[dict]:
    """Catalogue records for ``wanted`` lesson numbers (``"1"`` and ``"01"`` both work), or all."""
    cat = catalogue(lessons_dir)
    if not wanted:
        return cat
    by_number = {r["number"]: r for r in cat}
    out = []
    for w in wanted:
        for token in str(w).replace(",", " ").split():
            key = token.zfill(2) if token.isdigit() else token
            rec = by_number.get(key) or next((r for r in cat if r["slug"] == token), None)
            if rec is None:
                raise BatchError(f"no lesson {token!r}; lessons are {', '.join(by_number)}")
            if rec not in out:
                out.append(rec)
    return out


# --------------------------------------------------------------------------- running


def _rel(path: Path) -> str:
    path = Path(path)
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _sources_fingerprint(notebook: Path) -> str:
    """Hash of the lesson and of course_utils: a bench result is current while this is unchanged."""
    h = hashlib.sha256(Path(notebook).read_bytes())
    package = REPO / "course_utils"
    for f in sorted(package.rglob("*.py")):  # every module a lesson can import, data/ included
        if package / "tools" not in f.parents:  # the tooling behind make; lessons never import it
            h.update(f.relative_to(package).as_posix().encode())
            h.update(f.read_bytes())
    h.update((REPO / "datasets" / "manifest.toml").read_bytes())
    return h.hexdigest()


class _MemoryWatch(threading.Thread):
    """Samples the resident memory of a process's descendants (the Jupyter kernel)."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            parent = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop_event.is_set():
            try:
                total = 0
                for child in parent.children(recursive=True):
                    try:
                        total += child.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=2)


def _first_error(nb: dict) -> str:
    """The first error of an executed notebook, skipping the checks of open exercises."""
    for i, cell in enumerate(nb.get("cells", [])):
        if "check" in cell.get("metadata", {}).get("tags", []):
            continue
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "error":
                value = re.sub(r"\x1b\[[0-9;]*m", "", str(out.get("evalue", "")))
                return f"cell {i}: {out.get('ename')}: {value[:300]}"
    return ""


def open_exercises(nb: dict) -> list[str]:
    """Exercises whose check cell failed in an executed notebook: ``"exercise 2: <the check's message>"``."""
    found, k = [], 0
    for cell in nb.get("cells", []):
        if "check" not in cell.get("metadata", {}).get("tags", []):
            continue
        k += 1
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "error":
                first = re.sub(r"\x1b\[[0-9;]*m", "", str(out.get("evalue", ""))).strip().splitlines() or [""]
                found.append(f"exercise {k}: {first[0][:200]}")
                break
    return found


def run_lesson(rec: dict, params: dict[str, Any], out_path: Path, html: bool = True, timeout: int = 1800) -> dict:
    """Execute one lesson with papermill into ``out_path``; return its report entry."""
    nb_path = Path(rec["path"])
    check_parameters(nb_path, params)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "papermill", str(nb_path), str(out_path), "-k", "python3",
           "--cwd", str(nb_path.parent), "--no-progress-bar", "--log-level", "WARNING"]
    for name, value in params.items():
        cmd += ["-y", json.dumps({name: value})]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MPLBACKEND", None)  # the kernel must keep its inline backend, or figures are lost
    fingerprint = _sources_fingerprint(nb_path)  # before the run: an edit during the run makes the result stale
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    watch = _MemoryWatch(proc.pid)
    watch.start()
    try:
        log, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        proc.kill()
        log, _ = proc.communicate()
        timed_out = True
    seconds = time.perf_counter() - start
    watch.stop()

    entry: dict[str, Any] = {
        "number": rec["number"],
        "slug": rec["slug"],
        "title": rec["title"],
        "params": params,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(watch.peak / 2**20, 1),
        "output": _rel(out_path),
        "fingerprint": fingerprint,
    }
    metrics: dict[str, dict] = {}
    error, still_open = "", []
    if out_path.exists():
        nb = json.loads(out_path.read_text(encoding="utf-8"))
        metrics = record.read_metrics(nb)
        error = _first_error(nb)
        still_open = open_exercises(nb)
    if timed_out:
        error = f"timed out after {timeout} s"
    # A student copy runs every cell past an open exercise (its checks raise, tagged raises-exception);
    # papermill then exits 1. That is not a broken lesson: report the open exercises instead.
    ok = (proc.returncode == 0 or (still_open and not error)) and not timed_out
    entry["open_exercises"] = still_open
    if not ok and not error:
        lines = (log or "").strip().splitlines()
        error = lines[-1][:300] if lines else f"papermill exited with status {proc.returncode}"
    entry["status"] = ("passed" if not still_open else "open exercises") if ok else "failed"
    entry["error"] = error
    entry["metrics"] = {k: v for k, v in metrics.items() if not v.get("milestone")}
    entry["milestones"] = {k: v for k, v in metrics.items() if v.get("milestone")}
    if html and out_path.exists():
        try:
            from .export import to_html

            entry["html"] = _rel(to_html(out_path, out_path.parent))
        except Exception as exc:  # the report must still be written
            entry["html_error"] = f"{type(exc).__name__}: {exc}"
    return entry


def lost_entry(rec: dict, params: dict[str, Any], out_path: Path, exc: BaseException) -> dict:
    """The report entry of a run that never reported back (its Dask worker died, or the runner raised)."""
    return {"number": rec["number"], "slug": rec["slug"], "title": rec["title"], "params": params,
            "seconds": 0.0, "peak_rss_mb": 0.0, "output": _rel(out_path),
            "fingerprint": _sources_fingerprint(Path(rec["path"])), "open_exercises": [], "status": "failed",
            "error": f"the run was lost: {type(exc).__name__}: {exc}"[:300], "metrics": {}, "milestones": {}}


def run_many(jobs_list: list[tuple[str, dict, dict, Path]], html: bool, jobs: int = 1, scheduler: str | None = None,
             on_done=None) -> list[dict]:
    """Run ``(label, rec, params, out_path)`` items, ``jobs`` kernels at once or on a Dask cluster.

    A run that never reports back (a worker that died) becomes a failed entry; none is dropped.
    """
    tasks = [(label, lambda rec=rec, params=params, out=out: run_lesson(rec, params, out, html=html))
             for label, rec, params, out in jobs_list]
    lost = lambda i, label, exc: lost_entry(*jobs_list[i][1:], exc)  # noqa: E731
    return pool.run_all(tasks, jobs, on_done, scheduler=scheduler, on_error=lost)


def _sweep(rec: dict, base: dict, name: str, values: list, metric: str | None, html: bool,
           jobs: int = 1, scheduler: str | None = None) -> tuple[list[dict], str]:
    folder = BUILD / "sweeps" / rec["slug"]
    items = [(f"[sweep {i}/{len(values)}] {rec['slug']} {name}={v!r}", rec, {**base, name: v}, folder / f"{name}={v}.ipynb")
             for i, v in enumerate(values, 1)]
    entries = run_many(items, html, jobs, scheduler,
                       lambda i, label, e: print(f"    {label}: {e['status']} in {e['seconds']:.1f} s", flush=True))
    try:
        md = report.sweep_table(rec, name, values, entries, metric, BUILD)
    except ValueError as exc:
        raise BatchError(str(exc)) from None
    return entries, md


def cmd_student(copies_dir: Path, wanted: list[str] | None = None) -> list[dict]:
    """Run the student copies in ``copies_dir`` (from ``make student``) into ``build/student/``.

    Each copy runs to the end; the result says which exercises are still open (a check that
    raised) instead of ending in a bare failure. The main report is left alone.
    """
    if not copies_dir.is_dir():
        raise BatchError(f"no student copies in {copies_dir}: run `make student` first")
    entries = []
    for rec in select_lessons(wanted, copies_dir):
        print(f"{rec['slug']} (student copy) ...", flush=True)
        e = run_lesson(rec, {}, BUILD / "student" / f"{rec['slug']}.ipynb", html=False)
        if e["status"] == "open exercises":
            print(f"    ran to the end in {e['seconds']:.0f} s; {len(e['open_exercises'])} exercise(s) still open:"
                  + "".join(f"\n      {x}" for x in e["open_exercises"]), flush=True)
        else:
            print(f"    {e['status']} in {e['seconds']:.0f} s" + (f"; error: {e['error']}" if e["error"] else
                                                                  "; every exercise solved"), flush=True)
        entries.append(e)
    return entries


def cmd_run(lessons: list[dict], params: dict, sweep, metric, html: bool, jobs: int = 1,
            scheduler: str | None = None) -> list[dict]:
    """Run lessons (or a sweep of one lesson), ``jobs`` kernels at a time or on the Dask cluster at
    ``scheduler``; write the report; return the entries."""
    for rec in lessons:  # refuse bad names before anything runs
        check_parameters(Path(rec["path"]), params)
        if sweep:
            check_parameters(Path(rec["path"]), {sweep[0]: sweep[1][0]})
    if sweep:
        if len(lessons) != 1:
            raise BatchError("a sweep runs one lesson: give exactly one with --lessons")
        entries, md = _sweep(lessons[0], params, sweep[0], sweep[1], metric, html, jobs, scheduler)
        report.write_report([], BUILD, extra_md=md)  # the sweep's own table; build/sweep_*.json has every run
        return entries
    suffix = "".join(f"__{k}={v}" for k, v in params.items())
    items = [(f"[{i}/{len(lessons)}] {rec['slug']} {params or ''}", rec, params, BUILD / f"{rec['slug']}{suffix}.ipynb")
             for i, rec in enumerate(lessons, 1)]

    def done(i: int, label: str, e: dict) -> None:
        print(f"    {e['slug']}: {e['status']} in {e['seconds']:.1f} s, peak {e['peak_rss_mb']:.0f} MB; {report.describe(e)}"
              + (f"\n    error: {e['error']}" if e["error"] else "")
              + "".join(f"\n    still open: {x}" for x in e["open_exercises"]), flush=True)

    start = time.perf_counter()
    entries = run_many(items, html, jobs, scheduler, done)
    if jobs > 1 or scheduler:
        how = f"on Dask at {scheduler}" if scheduler else f"with {jobs} jobs"
        print(f"{len(entries)} run(s) {how} in {time.perf_counter() - start:.1f} s of wall time", flush=True)
    _, mpath = report.write_report(entries, BUILD)
    print(f"Report: {_rel(mpath)} and {_rel(mpath.with_suffix('.json'))}")
    return entries


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    from . import bench

    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.batch", description="Run the course's lessons in batch.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("run", "execute lessons and write build/report.md"),
                           ("bench", "run times and multi-seed milestone evidence -> runtimes.json, README table")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--lessons", nargs="*", help="lesson numbers, e.g. 00 01 (default: all)")
        if name == "run":
            p.add_argument("--params", default="", help='overrides as "NAME=VALUE NAME=VALUE"')
            p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), help="one override (repeatable)")
            p.add_argument("--sweep", help='one parameter over several values for one lesson, e.g. "SEED=0,1,2"')
            p.add_argument("--metric", help="metric to tabulate and plot in a sweep (default: the first milestone)")
            p.add_argument("--no-html", action="store_true", help="skip the HTML export")
            p.add_argument("--student", nargs="?", const=str(REPO / "student"), metavar="DIR",
                           help="run the student copies (default folder: student/) and list the exercises still open")
        else:
            p.add_argument("--seeds", type=int, default=1,
                           help="run each lesson with SEED 0..N-1 and record every milestone's spread (default 1)")
            p.add_argument("--force", action="store_true", help="re-run even lessons with current results")
        p.add_argument("--jobs", type=int, default=1,
                       help="kernels at once (default 1); bench times its default runs one at a time and runs the extra seeds in parallel")
        p.add_argument("--dask-scheduler", metavar="ADDRESS",
                       help="send the runs to an existing Dask cluster (e.g. tcp://host:8786) instead of local kernels; "
                            "its workers need the course at the same path")
    sub.add_parser("readme", help="refresh the README lesson map from metadata and runtimes.json")
    args = parser.parse_args(argv)
    try:
        if args.command == "readme":
            print("README updated" if bench.update_readme() else "README already current")
            return 0
        if args.command == "run" and args.student:
            entries = cmd_student(Path(args.student), args.lessons)
            broken = [e["slug"] for e in entries if e["status"] == "failed"]
            if broken:
                print(f"FAILED: {', '.join(broken)}", file=sys.stderr)
            return 1 if broken else 0
        lessons = select_lessons(args.lessons)
        if args.command == "bench":
            bench.cmd_bench(lessons, force=args.force, seeds=args.seeds, jobs=args.jobs, scheduler=args.dask_scheduler)
            return 0
        params = parse_params(args.params, args.param)
        sweep = parse_sweep(args.sweep)
        entries = cmd_run(lessons, params, sweep, args.metric, html=not args.no_html, jobs=args.jobs,
                          scheduler=args.dask_scheduler)
    except BatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = [e["slug"] for e in entries if e["status"] != "passed"]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"All {len(entries)} run(s) passed.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
