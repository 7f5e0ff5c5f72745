"""``make bench``: measured run times and the multi-seed evidence behind every milestone.

    python -m course_utils.tools.batch bench                       # run times (default parameters)
    python -m course_utils.tools.batch bench --seeds 5             # ... and every lesson with SEED 0..4
    python -m course_utils.tools.batch bench --lessons 01 --seeds 5 --jobs 2   # seeds 1..4 two at a time

The run with SEED 0 is the default-parameter run of ``make run`` (its time and memory go in
the table); seeds 1..N-1 run into ``build/seeds/``. Results still current (same lesson and
course code) are reused. For every milestone the evidence records each seed's value, the
mean, the standard deviation, the worst value and the worst margin to the threshold.
It is committed in ``runtimes.json``, shown in the README lesson map, and a test fails when
a milestone has no evidence for the lesson's current code, or its worst-seed margin is
smaller than its seed-to-seed standard deviation (the rule in CONTRIBUTING.md).
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path

from . import batch, report
from ..lessons import README_FILE, RUNTIMES_FILE, catalogue, course_map, runtimes

__all__ = ["TABLE_START", "TABLE_END", "code_fingerprint", "seed_stats", "headroom", "cmd_bench", "lesson_map",
           "update_readme"]

TABLE_START = "<!-- runtime-table:start (written by make bench) -->"
TABLE_END = "<!-- runtime-table:end -->"
MIN_SEEDS = 5  #: the evidence a milestone needs (CONTRIBUTING.md, "Milestones that hold on every machine")


def code_fingerprint(notebook: Path | str) -> str:
    """Hash of a lesson's code cells: evidence stays valid while the lesson's code is unchanged."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    h = hashlib.sha256()
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            h.update(("".join(src) if isinstance(src, list) else src).encode() + b"\0")
    return h.hexdigest()[:16]


def seed_stats(values: list[float], op: str, target: float) -> dict:
    """Spread of one milestone over seeds: mean, sample standard deviation, worst value and its margin.

    The worst value is the lowest for ``>=``/``>`` milestones and the highest for ``<=``/``<``;
    its margin is positive when even the worst seed meets the target.
    """
    if not values:
        raise ValueError("seed_stats needs at least one value")
    lower_is_worse = op in (">=", ">")
    worst = min(values) if lower_is_worse else max(values)
    r = lambda x: float(f"{x:.6g}")  # noqa: E731  (six significant digits: 2e-7 must not round to 0)
    return {
        "values": [r(v) for v in values],
        "op": op,
        "target": target,
        "mean": r(statistics.fmean(values)),
        "std": r(statistics.stdev(values)) if len(values) > 1 else 0.0,
        "worst": r(worst),
        "worst_margin": r(worst - target if lower_is_worse else target - worst),
    }


def _seed_runs(rec: dict, seeds: int, force: bool, jobs: int = 1, scheduler: str | None = None) -> dict[int, dict]:
    """Run (or reuse) lesson ``rec`` with SEED 1..seeds-1, ``jobs`` at a time (or on Dask); the entries by seed."""
    cache_file = batch.BUILD / "seeds.json"
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    mine = cache.setdefault(rec["number"], {})
    fingerprint = batch._sources_fingerprint(Path(rec["path"]))
    todo = [s for s in range(1, seeds)
            if force or not mine.get(str(s)) or mine[str(s)].get("fingerprint") != fingerprint]
    items = [(f"[seed {s}/{seeds - 1}] {rec['slug']} SEED={s}", rec, {"SEED": s},
              batch.BUILD / "seeds" / rec["slug"] / f"SEED={s}.ipynb") for s in todo]

    def done(i: int, label: str, e: dict) -> None:  # runs in this thread: the cache is written by one writer
        print(f"    SEED={todo[i]}: {e['status']} in {e['seconds']:.1f} s; {report.describe(e)}", flush=True)
        mine[str(todo[i])] = e
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cache, indent=1) + "\n")

    batch.run_many(items, False, jobs, scheduler, done)
    return {s: mine[str(s)] for s in range(1, seeds)}


def _evidence(rec: dict, by_seed: dict[int, dict]) -> dict:
    """Per-milestone statistics over the seeds; a seed that recorded no milestone is an error."""
    names = sorted({n for e in by_seed.values() for n in e["milestones"]})
    broken = [s for s, e in by_seed.items() if not e["milestones"]]
    if broken:
        raise batch.BatchError(f"lesson {rec['number']} recorded no milestone with SEED {broken}: "
                               + "; ".join(by_seed[s]["error"] for s in broken))
    milestones = {}
    for name in names:
        recs = [by_seed[s]["milestones"].get(name) for s in sorted(by_seed)]
        if any(r is None for r in recs):
            raise batch.BatchError(f"lesson {rec['number']}: milestone {name!r} is missing from some seeds")
        milestones[name] = seed_stats([r["value"] for r in recs], recs[0]["op"], recs[0]["target"])
    return {"seeds": sorted(by_seed), "code": code_fingerprint(rec["path"]), "milestones": milestones}


def cmd_bench(lessons: list[dict], force: bool = False, seeds: int = 1, jobs: int = 1, scheduler: str | None = None) -> dict:
    """The run-time table and, with ``seeds`` >= 2, the milestone evidence over SEED 0..seeds-1.

    Reuses current default-parameter results of ``make run``; writes ``build/bench.json``,
    ``build/bench.md``, the committed ``runtimes.json`` and the README's lesson map.
    """
    if seeds < 1:
        raise batch.BatchError(f"--seeds must be at least 1, got {seeds}")
    previous = {}
    if (batch.BUILD / "report.json").exists():
        previous = {e["number"]: e for e in json.loads((batch.BUILD / "report.json").read_text())["lessons"]}
    current = lambda e, r: bool(e and e["status"] == "passed" and not e["params"]  # noqa: E731
                                and e.get("fingerprint") == batch._sources_fingerprint(Path(r["path"])))
    stale = [r for r in lessons if force or not current(previous.get(r["number"]), r)]
    fresh = sorted({r["number"] for r in lessons} - {r["number"] for r in stale})
    if fresh:
        print("Reusing current results of build/report.json for lesson(s) " + ", ".join(fresh))
    if stale:
        batch.cmd_run(stale, {}, None, None, html=True)
    latest = json.loads((batch.BUILD / "report.json").read_text())
    by_number = {e["number"]: e for e in latest["lessons"]}
    saved = json.loads(RUNTIMES_FILE.read_text()) if RUNTIMES_FILE.exists() else {"lessons": {}}
    bench = {"measured": latest["generated"], "machine": latest["machine"], "lessons": {}}
    for rec in lessons:
        e = by_number.get(rec["number"])
        if e is None:
            continue
        row = {"title": e["title"], "status": e["status"], "seconds": e["seconds"], "peak_rss_mb": e["peak_rss_mb"],
               "milestones": {k: {"value": m["value"], "op": m["op"], "target": m["target"], "met": m["met"]}
                              for k, m in e["milestones"].items()}}
        old = saved["lessons"].get(rec["number"], {})
        evidence = old.get("evidence")
        if seeds > 1:
            evidence = _evidence(rec, {0: e, **_seed_runs(rec, seeds, force, jobs, scheduler)})
            row["evidence"] = evidence
        bench["lessons"][rec["number"]] = row
        if e["status"] == "passed":
            saved["lessons"][rec["number"]] = {"title": e["title"], "seconds": e["seconds"],
                                               "peak_rss_mb": e["peak_rss_mb"], "measured": bench["measured"][:10],
                                               **({"evidence": evidence} if evidence else {})}
    (batch.BUILD / "bench.json").write_text(json.dumps(bench, indent=2, ensure_ascii=False) + "\n")
    table = _bench_table(bench)
    (batch.BUILD / "bench.md").write_text("# Run-time table\n\n" + table + "\n")
    saved["machine"] = f"{bench['machine']['cpus']} CPU cores, no GPU" if not bench["machine"]["cuda"] else "GPU"
    saved["lessons"] = dict(sorted(saved["lessons"].items()))
    RUNTIMES_FILE.write_text(json.dumps(saved, indent=2, ensure_ascii=False) + "\n")
    update_readme()
    print(table)
    print("Wrote build/bench.md, build/bench.json, runtimes.json and the README table.")
    failed = [n for n, e in bench["lessons"].items() if e["status"] != "passed"]
    if failed:
        raise SystemExit(f"bench: lesson(s) {', '.join(failed)} failed; see build/report.md")
    return bench


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _bench_table(bench: dict) -> str:
    lines = ["| lesson | status | seconds | peak memory (MB) | milestones (SEED 0) | worst of N seeds: margin / sd |",
             "|---|---|---:|---:|---|---|"]
    total = 0.0
    for num, e in bench["lessons"].items():
        ms = "; ".join(f"{k} {_fmt(m['value'])} ({'met' if m['met'] else 'MISSED'}: {m['op']} {_fmt(m['target'])})"
                       for k, m in e["milestones"].items()) or "-"
        ev = e.get("evidence")
        spread = "; ".join(f"{k}: worst {_fmt(s['worst'])}, margin {_fmt(s['worst_margin'])}, sd {_fmt(s['std'])}"
                           for k, s in ev["milestones"].items()) + f" ({len(ev['seeds'])} seeds)" if ev else "-"
        lines.append(f"| {num} {e['title']} | {e['status']} | {e['seconds']:.0f} | {e['peak_rss_mb']:.0f} | {ms} | {spread} |")
        total += e["seconds"]
    n = len(bench["lessons"])
    if n:
        lines.append(f"| **all {n}** | | **{total:.0f}** (mean {total / n:.0f}) | | | |")
    return "\n".join(lines)


def headroom(evidence: dict | None) -> str:
    """The README cell for one lesson: its tightest milestone over the seeds, in standard deviations."""
    if not evidence or not evidence.get("milestones"):
        return "no multi-seed evidence"
    def ratio(s):  # margin in standard deviations; a deterministic milestone (sd 0) has infinite room
        return s["worst_margin"] / s["std"] if s["std"] > 0 else (float("inf") if s["worst_margin"] >= 0 else -float("inf"))
    name, s = min(evidence["milestones"].items(), key=lambda kv: ratio(kv[1]))
    room = "sd 0" if s["std"] == 0 else f"{ratio(s):.1f} sd"
    return (f"{len(evidence['milestones'])} milestones, {len(evidence['seeds'])} seeds; tightest: {name} worst "
            f"{_fmt(s['worst'])} vs {s['op']} {_fmt(s['target'])} (margin {_fmt(s['worst_margin'])}, {room})")


def lesson_map(lessons_dir: Path | None = None, link: str = "lessons/{slug}.py") -> str:
    """The README lesson map: every lesson of the plan; written ones with run time and milestone headroom.

    ``link`` is where a written lesson's title points (``{slug}`` is filled in); the course
    website points at its own pages."""
    times = runtimes()
    rows = ["| # | year | lesson | the idea | papers | run time | peak memory | milestone headroom |",
            "|---|---|---|---|---|---:|---:|---|"]
    written = {r["number"] for r in catalogue(lessons_dir)}
    for rec in course_map(lessons_dir):
        papers = "; ".join(
            f"[{p['title']}]({'https://arxiv.org/abs/' + str(p['arxiv']) if p.get('arxiv') else p.get('url', '')})"
            if (p.get("arxiv") or p.get("url")) else p["title"]
            for p in rec["papers"]
        )
        if rec["number"] not in written:
            rows.append(f"| {rec['number']} | {rec['year']} | {rec['title']} *(planned)* | {rec['idea']} | {papers} | "
                        f"planned | - | target: {rec.get('milestone', '-')} |")
            continue
        t = times.get(rec["number"])
        run_time = f"{t['seconds']:.0f} s" if t else "not measured"
        memory = f"{t['peak_rss_mb'] / 1024:.1f} GB" if t else "-"
        rows.append(f"| {rec['number']} | {rec['year']} | [{rec['title']}]({link.format(slug=rec['slug'])}) | {rec['idea']} | "
                    f"{papers} | {run_time} | {memory} | {headroom(t.get('evidence') if t else None)} |")
    return "\n".join(rows)


def update_readme(readme: Path = README_FILE) -> bool:
    """Rewrite the README's lesson map between its markers; True if the file changed."""
    if not readme.exists():
        return False
    text = readme.read_text(encoding="utf-8")
    if TABLE_START not in text or TABLE_END not in text:
        raise batch.BatchError(f"README.md lacks the markers {TABLE_START!r} and {TABLE_END!r}")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    new = head + TABLE_START + "\n" + lesson_map() + "\n" + TABLE_END + tail
    if new != text:
        readme.write_text(new, encoding="utf-8")
        return True
    return False
