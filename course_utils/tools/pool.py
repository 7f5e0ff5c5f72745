"""Run several lesson executions at once: N local kernels (``make run JOBS=2``) or a Dask cluster.

Lessons run on one CPU thread by default (``repro.setup``), so on a machine with N cores
N kernels can run side by side at nearly full speed. Every execution is a separate
papermill process; the threads here only wait for them.

With a Dask scheduler address (``make run DASK_SCHEDULER=tcp://host:8786``) the same tasks
go to the workers of an existing ``dask.distributed`` cluster instead, as many at once as
the cluster has worker threads. Each worker runs papermill itself, so every worker needs
the course installed and the repository at the same path (a shared file system, as on
most clusters, or one machine's ``LocalCluster``).
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, Callable, Sequence

__all__ = ["run_all"]


def _call(fn: Callable[[], Any]) -> Any:
    return fn()


def _settle(i: int, label: str, get: Callable[[], Any], on_done, on_error) -> Any:
    """The result of task ``i`` from ``get()``; a failure becomes ``on_error(...)`` when given; then ``on_done``."""
    try:
        result = get()
    except Exception as exc:  # the task raised, or (on Dask) its worker died: reported, never dropped
        if on_error is None:
            raise
        result = on_error(i, label, exc)
    if on_done:
        on_done(i, label, result)
    return result


def _run_on_dask(tasks, scheduler: str, on_done, on_error) -> list[Any]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RuntimeError("--dask-scheduler needs dask.distributed: pip install distributed") from None
    results: list[Any] = [None] * len(tasks)
    with Client(scheduler, timeout="30s") as client:
        workers = client.scheduler_info().get("workers", {})
        slots = sum(w.get("nthreads", 1) for w in workers.values())
        print(f"Dask scheduler {scheduler}: {len(workers)} worker(s), {slots} thread(s)", flush=True)
        futures = {}
        for i, (label, fn) in enumerate(tasks):
            print(f"{label} ... (sent to Dask)", flush=True)
            futures[client.submit(_call, fn, pure=False, key=f"lesson-task-{i}-{id(fn)}")] = i
        for fut in as_completed(list(futures)):
            i = futures[fut]
            results[i] = _settle(i, tasks[i][0], fut.result, on_done, on_error)
    return results


def run_all(tasks: Sequence[tuple[str, Callable[[], Any]]], jobs: int = 1,
            on_done: Callable[[int, str, Any], None] | None = None, scheduler: str | None = None,
            on_error: Callable[[int, str, BaseException], Any] | None = None) -> list[Any]:
    """Call every ``(label, fn)`` of ``tasks`` with at most ``jobs`` running at once.

    Prints ``label ...`` as each starts; calls ``on_done(index, label, result)`` in the
    calling thread as each finishes (in finishing order). Returns the results in task
    order. With ``scheduler`` (a Dask scheduler address) the tasks run on that cluster and
    ``jobs`` is ignored. A task that raises (or, on Dask, whose worker dies) becomes
    ``on_error(index, label, exception)`` when ``on_error`` is given; otherwise the
    exception is raised after the running tasks have finished and the rest are cancelled.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if scheduler:
        return _run_on_dask(tasks, scheduler, on_done, on_error)
    results: list[Any] = [None] * len(tasks)

    def start(i: int):
        label, fn = tasks[i]
        print(f"{label} ...", flush=True)
        return fn()

    if jobs == 1:
        for i in range(len(tasks)):
            results[i] = _settle(i, tasks[i][0], lambda i=i: start(i), on_done, on_error)
        return results
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        pending = {pool.submit(start, i): i for i in range(len(tasks))}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                try:
                    results[i] = _settle(i, tasks[i][0], fut.result, on_done, on_error)
                except BaseException:
                    for other in pending:
                        other.cancel()
                    raise
    return results
