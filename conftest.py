"""Repository-wide pytest hooks: print how long each lesson took under nbval.

``make test`` runs the lessons once each with nbval; this summary makes the growth of
CI time visible as lessons are added. (Timing is reported, never asserted: the
benchmark, ``make bench``, is where run time is measured.)
"""

from collections import defaultdict
from pathlib import Path

_durations: dict[str, float] = defaultdict(float)
_failed: set[str] = set()


def pytest_runtest_logreport(report):
    path = Path(str(report.location[0]))
    if path.suffix == ".ipynb":
        _durations[path.name] += report.duration
        if report.failed:
            _failed.add(path.name)


def pytest_terminal_summary(terminalreporter):
    if not _durations:
        return
    tr = terminalreporter
    tr.section("lesson durations under nbval")
    total = 0.0
    for name, seconds in sorted(_durations.items()):
        total += seconds
        tr.write_line(f"{seconds:8.1f} s  {name}{'  FAILED' if name in _failed else ''}")
    tr.write_line(f"{total:8.1f} s  all {len(_durations)} lesson(s)")
