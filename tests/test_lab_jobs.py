"""The server-wide lab queue: one run at a time in submission order, positions for the waiting, every
run stored; cancelling a waiting job drops it, cancelling a running one stores it as interrupted."""

import time
from dataclasses import replace

import pytest

from kdviz.lab import jobs
from kdviz.lab.store import RunStore
from kdviz.lab.train import LabConfig

TINY = LabConfig(students=("fkl",), steps=3, batch_size=2, eval_every=3, eval_windows=2, n_samples=1,
                 sample_len=4)


def test_jobs_run_one_at_a_time_in_order_and_are_stored(tmp_path):
    q = jobs.LabQueue(tmp_path / "db.sqlite3")
    a, b, c = (q.submit(replace(TINY, seed=s)) for s in range(3))
    assert q.position(c) == 2 and q.position(b) == 1  # a is running or about to
    assert q.wait(c, timeout=600)
    assert [j.status for j in (a, b, c)] == ["done"] * 3 and a.run_id < b.run_id < c.run_id
    with RunStore(tmp_path / "db.sqlite3") as st:
        assert [r["config"]["seed"] for r in st.list_runs("done")] == [2, 1, 0]


def test_cancelled_jobs_waiting_are_dropped_and_running_are_stored_interrupted(tmp_path):
    q = jobs.LabQueue(tmp_path / "db.sqlite3")
    running = q.submit(replace(TINY, steps=10_000, eval_every=10_000))
    waiting = q.submit(TINY)
    q.cancel(waiting)
    assert waiting.status == "interrupted" and waiting.run_id is None
    deadline = time.time() + 300
    while running.progress.get("step", 0) < 1 and time.time() < deadline:
        time.sleep(0.1)
    q.cancel(running)
    assert q.wait(running, timeout=300) and running.status == "interrupted"
    with RunStore(tmp_path / "db.sqlite3") as st:
        assert [(r["id"], r["status"]) for r in st.list_runs()] == [(running.run_id, "interrupted")]


def test_a_full_queue_refuses_more_jobs(tmp_path):
    q = jobs.LabQueue(tmp_path / "db.sqlite3", max_waiting=0)
    with pytest.raises(jobs.QueueFull, match="already waiting"):
        q.submit(TINY)
