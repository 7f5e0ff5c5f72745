"""Run several lesson executions at once, each in its own kernel (``make run JOBS=2``).

Lessons run on one CPU thread by default (``repro.setup``), so on a machine with N cores
N kernels can run side by side at nearly full speed. Every execution is a separate
papermill process; the threads here only wait for them.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, Callable, Sequence

__all__ = ["run_all"]


def run_all(tasks: Sequence[tuple[str, Callable[[], Any]]], jobs: int = 1,
            on_done: Callable[[int, str, Any], None] | None = None) -> list[Any]:
    """Call every ``(label, fn)`` of ``tasks`` with at most ``jobs`` running at once.

    Prints ``label ...`` as each starts; calls ``on_done(index, label, result)`` in the
    calling thread as each finishes (in finishing order). Returns the results in task
    order. An exception in one task is raised after the running ones have finished;
    tasks not yet started are cancelled.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    results: list[Any] = [None] * len(tasks)

    def start(i: int):
        label, fn = tasks[i]
        print(f"{label} ...", flush=True)
        return fn()

    if jobs == 1:
        for i, (label, _) in enumerate(tasks):
            results[i] = start(i)
            if on_done:
                on_done(i, label, results[i])
        return results
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        pending = {pool.submit(start, i): i for i in range(len(tasks))}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                try:
                    results[i] = fut.result()
                except BaseException:
                    for other in pending:
                        other.cancel()
                    raise
                if on_done:
                    on_done(i, tasks[i][0], results[i])
    return results
