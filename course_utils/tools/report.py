"""The batch runner's reports: ``build/report.md`` and ``report.json``, and sweep tables.

Plumbing for :mod:`course_utils.tools.batch`; lessons never import it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path

__all__ = ["describe", "machine_info", "write_report", "sweep_table"]


def describe(entry: dict) -> str:
    ms = entry.get("milestones", {})
    parts = [f"{n} {m['value']:.4g} ({'met' if m['met'] else 'MISSED'} by {abs(m['margin']):.3g})" for n, m in ms.items()]
    return "; ".join(parts) if parts else "-"


# --------------------------------------------------------------------------- reports


def machine_info() -> dict:
    import torch

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "platform": platform.platform(),
    }


def write_report(entries: list[dict], build: Path, extra_md: str = "") -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``build``; merge with earlier entries of other lessons.

    An earlier report's entries are kept for lessons that were not run this time, so
    ``make run LESSONS=01`` does not forget lesson 00.
    """
    build.mkdir(parents=True, exist_ok=True)
    jpath, mpath = build / "report.json", build / "report.md"
    previous: dict[str, dict] = {}
    if jpath.exists():
        try:
            previous = {e["number"]: e for e in json.loads(jpath.read_text())["lessons"]}
        except (ValueError, KeyError, TypeError):
            previous = {}
    for e in entries:
        previous[e["number"]] = e
    merged = [previous[k] for k in sorted(previous)]
    report = {"generated": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine_info(), "lessons": merged}
    jpath.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    lines = [
        "# Course run report",
        "",
        f"Generated {report['generated']} on {report['machine']['cpus']} CPU(s), Python {report['machine']['python']}, "
        f"torch {report['machine']['torch']}, CUDA {'yes' if report['machine']['cuda'] else 'no'}.",
        "",
        "| lesson | status | wall time (s) | peak memory (MB) | parameters | milestones | other metrics |",
        "|---|---|---:|---:|---|---|---|",
    ]
    for e in merged:
        params = ", ".join(f"{k}={v!r}" for k, v in e["params"].items()) or "defaults"
        other = ", ".join(f"{k}={v['value']:.4g}" if isinstance(v["value"], (int, float)) else f"{k}={v['value']}"
                          for k, v in e.get("metrics", {}).items()) or "-"
        status = e["status"] + (f" ({e['error']})" if e.get("error") else "")
        lines.append(f"| {e['number']} {e['title']} | {status} | {e['seconds']:.1f} | {e['peak_rss_mb']:.0f} | "
                     f"{params} | {describe(e)} | {other} |")
    mpath.write_text("\n".join(lines) + "\n" + extra_md, encoding="utf-8")
    return jpath, mpath


def sweep_table(rec: dict, name: str, values: list, entries: list[dict], metric: str | None, build: Path) -> str:
    """The Markdown table of a sweep of ``name`` over ``values``; also ``build/sweep_NN_NAME.json`` and ``.png``.

    ``metric`` defaults to the first milestone; an unrecorded metric raises ``ValueError``.
    """
    names = sorted({k for e in entries for k in list(e["milestones"]) + list(e["metrics"])})
    metric = metric or next(iter(entries[0]["milestones"]), None) or (names[0] if names else None)
    if metric and metric not in names:
        raise ValueError(f"metric {metric!r} was not recorded; recorded: {', '.join(names)}")

    def value(e):
        m = e["milestones"].get(metric) or e["metrics"].get(metric)
        return m["value"] if m else None

    md = [f"\n## Sweep of {name} for lesson {rec['number']} ({rec['title']})", "",
          f"| {name} | status | {metric} | wall time (s) |", "|---|---|---:|---:|"]
    for v, e in zip(values, entries):
        val = value(e)
        md.append(f"| {v!r} | {e['status']} | {'-' if val is None else f'{val:.4g}'} | {e['seconds']:.1f} |")
    if metric:
        import matplotlib

        matplotlib.use("agg")
        import matplotlib.pyplot as plt

        from ..plot import use_style

        use_style()
        fig, ax = plt.subplots()
        xs = [str(v) for v in values]
        ys = [value(e) for e in entries]
        ax.plot(xs, [float("nan") if y is None else y for y in ys], marker="o")
        ax.set(title=f"Lesson {rec['number']}: {metric} vs {name}", xlabel=name, ylabel=metric)
        png = build / f"sweep_{rec['number']}_{name}.png"
        fig.savefig(png, bbox_inches="tight")
        plt.close(fig)
        md += ["", f"![{metric} vs {name}]({png.name})"]
        table = {"lesson": rec["number"], "parameter": name, "metric": metric,
                 "runs": [{"value": v, "status": e["status"], metric: value(e), "seconds": e["seconds"]} for v, e in zip(values, entries)]}
        (build / f"sweep_{rec['number']}_{name}.json").write_text(json.dumps(table, indent=2) + "\n")
        print(f"Sweep table and plot: build/report.md, {png.name}")
    return "\n".join(md) + "\n"


