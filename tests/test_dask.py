"""``--dask-scheduler``: the same runs on a Dask cluster (here a LocalCluster), none silently dropped."""

import functools
import json
import operator
import os

import pytest

distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

from course_utils.tools import batch, bench, pool  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    # allowed-failures 0: a task whose worker dies is reported at once instead of retried on the next worker
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as c:
            yield c


def test_run_all_on_dask_keeps_task_order_and_reports_each(cluster, capsys):
    tasks = [(f"task {i}", functools.partial(operator.mul, i, 10)) for i in range(5)]
    seen = []
    out = pool.run_all(tasks, on_done=lambda i, label, r: seen.append((i, r)), scheduler=cluster.scheduler_address)
    assert out == [0, 10, 20, 30, 40]
    assert sorted(seen) == [(i, 10 * i) for i in range(5)]
    assert "2 worker(s), 2 thread(s)" in capsys.readouterr().out


def test_a_dead_worker_is_reported_not_dropped(cluster):
    tasks = [("fine", functools.partial(operator.add, 1, 1)), ("kills its worker", functools.partial(os._exit, 1))]
    out = pool.run_all(tasks, scheduler=cluster.scheduler_address,
                       on_error=lambda i, label, exc: f"{label}: {type(exc).__name__}")
    assert out[0] == 2
    assert out[1] == "kills its worker: KilledWorker"
    with pytest.raises(distributed.scheduler.KilledWorker):  # without on_error the failure is raised
        pool.run_all(tasks[1:], scheduler=cluster.scheduler_address)


def test_batch_sweep_and_failures_on_dask(tiny_lesson, cluster, tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "BUILD", tmp_path / "build")
    rec = batch.select_lessons(["98"], tiny_lesson.parent)[0]
    entries = batch.cmd_run([rec], {}, ("STEPS", [2, 5, 1]), "total", html=False, scheduler=cluster.scheduler_address)
    assert [e["metrics"]["total"]["value"] for e in entries] == [1, 10, 0], "results keep the sweep's order"
    assert [e["status"] for e in entries] == ["passed", "passed", "failed"], "a missed milestone is still a failure"
    sweep = json.loads((tmp_path / "build" / "sweep_98_STEPS.json").read_text())
    assert [r["total"] for r in sweep["runs"]] == [1, 10, 0]


def test_lost_run_becomes_a_failed_entry_the_bench_refuses(tiny_lesson, tmp_path):
    rec = batch.select_lessons(["98"], tiny_lesson.parent)[0]
    e = batch.lost_entry(rec, {"SEED": 3}, tmp_path / "x.ipynb", RuntimeError("worker tcp://w:1 died"))
    assert e["status"] == "failed" and "worker tcp://w:1 died" in e["error"] and e["milestones"] == {}
    with pytest.raises(batch.BatchError, match="recorded no milestone with SEED"):
        bench._evidence(rec, {0: e})
