import threading
import time

import pytest

from course_utils.tools import pool


def test_run_all_keeps_task_order_and_reports_each_result():
    seen = []
    tasks = [(f"task {i}", lambda i=i: (time.sleep(0.05 * (3 - i)), i * i)[1]) for i in range(4)]
    out = pool.run_all(tasks, jobs=2, on_done=lambda i, label, r: seen.append((i, label, r)))
    assert out == [0, 1, 4, 9]
    assert sorted(seen) == [(i, f"task {i}", i * i) for i in range(4)]


def test_run_all_runs_jobs_at_once_and_no_more():
    running, peak, lock = [0], [0], threading.Lock()

    def work():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.1)
        with lock:
            running[0] -= 1

    start = time.perf_counter()
    pool.run_all([(str(i), work) for i in range(4)], jobs=2)
    assert peak[0] == 2 and time.perf_counter() - start < 0.35  # two waves of 0.1 s, not four
    peak[0] = 0
    pool.run_all([(str(i), work) for i in range(3)], jobs=1)
    assert peak[0] == 1


def test_run_all_raises_a_failed_task_and_refuses_bad_jobs():
    def boom():
        raise RuntimeError("kernel died")

    with pytest.raises(RuntimeError, match="kernel died"):
        pool.run_all([("ok", lambda: 1), ("bad", boom)], jobs=2)
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        pool.run_all([("ok", lambda: 1)], jobs=0)
