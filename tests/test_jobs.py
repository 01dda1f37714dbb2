"""The compute budget and the heavy-run queue of kdviz.jobs (Playground and Lab runs alike), and the
loops that check it: the fit loop's should_stop and the lab's stored training job."""

import os
import threading
import time
from dataclasses import replace

import pytest
import torch

from kdviz.families import SoftmaxStudent
from kdviz.fitting import FitConfig, FitStopped, fit
from kdviz.jobs import CANCELLED, OVER_BUDGET, PROJECTED, Budget, JobQueue, QueueFull, Token
from kdviz.lab.store import RunStore
from kdviz.lab.train import LabConfig, run_and_store

TINY_LAB = LabConfig(students=("fkl",), steps=3, batch_size=2, eval_every=3, eval_windows=2, n_samples=1,
                     sample_len=4)


def _spin(token: Token, seconds: float = 30.0) -> str:
    """A long loop that checks its token, as every heavy job must."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if token.cancelled:
            return None
        time.sleep(0.01)
    return "finished"


def _wait_until(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def _teacher(v=8):
    p = torch.linspace(1, 2, v, dtype=torch.float64)
    return torch.log(p / p.sum())


def test_fit_stops_within_one_step_when_should_stop_says_so():
    student = SoftmaxStudent(8, "uniform")
    calls = []

    def should_stop(t):
        calls.append(t)
        return "deadline" if t == 7 else None

    with pytest.raises(FitStopped) as info:
        fit(_teacher(), student, student.init_params(), ["fkl"], FitConfig(steps=50), should_stop=should_stop)
    assert info.value.step == 7 and info.value.reason == "deadline"
    assert calls == list(range(8))


def test_fit_without_a_stop_reason_runs_every_step():
    student = SoftmaxStudent(8, "uniform")
    res = fit(_teacher(), student, student.init_params(), ["fkl"], FitConfig(steps=20),
              should_stop=lambda t: None)
    assert res.loss.shape == (1, 21)


def test_budget_stops_a_loop_that_passes_its_cpu_seconds():
    budget = Budget(0.05, steps=10**9, probe_s=10.0)
    t = 0
    while not budget(t):
        sum(range(2000))
        t += 1
    assert budget.reason == OVER_BUDGET
    assert budget.per_step > 0 and budget.affordable_steps() < 10**9


def test_budget_projects_from_the_first_steps_and_stops_long_before_the_deadline():
    budget = Budget(10.0, steps=10**6, probe_s=0.05)
    t0, t = time.thread_time(), 0
    while not budget(t):
        sum(range(20000))
        t += 1
    assert budget.reason == PROJECTED
    assert time.thread_time() - t0 < 1.0  # stopped at the probe, not after 10 s
    assert 0 < budget.affordable_steps() < 10**6


def test_budget_reports_a_cancelled_token_first():
    token = Token()
    budget = Budget(10.0, steps=100, token=token)
    assert budget(1) is None
    token.cancel()
    assert budget(2) == CANCELLED


def test_a_token_counts_as_cancelled_after_its_heartbeat_stops():
    token = Token(heartbeat_s=0.1)
    assert not token.cancelled
    time.sleep(0.05)
    token.touch()
    time.sleep(0.07)
    assert not token.cancelled  # touched 0.07 s ago
    time.sleep(0.1)
    assert token.cancelled


def test_queue_runs_jobs_one_at_a_time_in_submission_order():
    queue, order, running, overlap = JobQueue(heartbeat_s=None), [], [], []
    lock = threading.Lock()

    def job(name):
        def fn(token):
            with lock:
                running.append(name)
                overlap.append(len(running))
            time.sleep(0.02)
            with lock:
                running.remove(name)
                order.append(name)
            return name
        return fn

    jobs = [queue.submit(job(i)) for i in range(5)]
    for j in jobs:
        assert j.finished.wait(5)
    assert order == list(range(5)) and max(overlap) == 1
    assert [j.result for j in jobs] == list(range(5)) and {j.status for j in jobs} == {"done"}


def test_queue_positions_count_the_running_job_and_the_live_jobs_ahead():
    queue = JobQueue(heartbeat_s=None)
    first = queue.submit(_spin)
    _wait_until(lambda: queue.position(first) == 0)
    second, third, fourth = (queue.submit(_spin) for _ in range(3))
    assert [queue.position(j) for j in (second, third, fourth)] == [1, 2, 3]
    third.cancel()  # a cancelled job ahead no longer counts
    assert queue.position(fourth) == 2 and len(queue) == 3
    for j in (first, second, fourth):
        j.cancel()
    assert fourth.finished.wait(5)
    assert queue.position(first) == -1 and len(queue) == 0


def test_a_running_job_is_cancelled_within_two_seconds_of_its_stop():
    queue = JobQueue(heartbeat_s=None)
    job = queue.submit(_spin)
    _wait_until(lambda: job.status == "running")
    t0 = time.monotonic()
    job.cancel()
    assert job.finished.wait(2.0)
    assert time.monotonic() - t0 < 2.0 and job.status == "cancelled"


def test_a_job_whose_submitter_left_is_cancelled_within_two_seconds_and_the_next_one_runs():
    queue = JobQueue(heartbeat_s=0.5)
    left = queue.submit(_spin)  # nobody touches it: its session left
    waiting = queue.submit(lambda token: "next")
    t0 = time.monotonic()
    while not left.finished.is_set() and time.monotonic() - t0 < 2.0:
        waiting.touch()
        time.sleep(0.05)
    assert left.status == "cancelled" and time.monotonic() - t0 < 2.0
    assert waiting.finished.wait(1.0) and waiting.result == "next"


def test_a_failing_job_hands_its_error_to_the_submitter_and_the_queue_goes_on():
    queue = JobQueue(heartbeat_s=None)

    def boom(token):
        raise ValueError("bad configuration")

    bad, good = queue.submit(boom), queue.submit(lambda token: 42)
    assert good.finished.wait(5) and good.result == 42
    assert bad.status == "failed" and isinstance(bad.error, ValueError)


def test_the_worker_thread_runs_at_the_queues_niceness_on_linux():
    if not hasattr(os, "getpriority"):
        pytest.skip("per-thread niceness is a Linux feature")
    base = os.getpriority(os.PRIO_PROCESS, 0)
    queue = JobQueue(heartbeat_s=None, nice=5)
    job = queue.submit(lambda token: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    assert job.finished.wait(5) and job.result == max(base, 5)
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the caller's thread is untouched


def test_a_queue_with_a_cap_refuses_more_waiting_jobs_and_cancelled_ones_free_their_place():
    queue = JobQueue(heartbeat_s=None, max_waiting=1)
    running = queue.submit(_spin)
    _wait_until(lambda: running.status == "running")
    waiting = queue.submit(_spin)
    with pytest.raises(QueueFull, match="1 heavy runs are already waiting"):
        queue.submit(_spin)
    waiting.cancel()
    last = queue.submit(_spin)
    assert queue.position(last) == 1
    for j in (running, last):
        j.cancel()
    assert last.finished.wait(5)


def test_a_running_job_reports_its_progress_to_the_submitter():
    queue, release = JobQueue(heartbeat_s=None), threading.Event()

    def fn(token):
        token.report({"step": 1})
        release.wait(5)
        token.report({"step": 2})
        return "done"

    job = queue.submit(fn)
    assert job.progress is None or job.progress == {"step": 1}
    _wait_until(lambda: job.progress == {"step": 1})
    release.set()
    assert job.finished.wait(5) and job.progress == {"step": 2}


def test_lab_runs_through_the_queue_are_stored_one_at_a_time_in_order(tmp_path):
    queue, db = JobQueue(heartbeat_s=None), tmp_path / "db.sqlite3"
    jobs = [queue.submit(lambda token, s=s: run_and_store(replace(TINY_LAB, seed=s), token, store_path=db))
            for s in range(3)]
    assert queue.position(jobs[2]) == 2 and queue.position(jobs[1]) == 1  # jobs[0] runs or is about to
    assert jobs[2].finished.wait(600)
    assert [j.status for j in jobs] == ["done"] * 3 and jobs[0].result < jobs[1].result < jobs[2].result
    assert jobs[2].progress["step"] == jobs[2].progress["total"] == TINY_LAB.steps
    with RunStore(db) as store:
        assert [r["config"]["seed"] for r in store.list_runs("done")] == [2, 1, 0]


def test_a_lab_run_stopped_while_training_is_stored_interrupted_and_a_waiting_one_never_stored(tmp_path):
    queue, db = JobQueue(heartbeat_s=None), tmp_path / "db.sqlite3"
    long_run = replace(TINY_LAB, steps=10_000, eval_every=10_000)
    running = queue.submit(lambda token: run_and_store(long_run, token, store_path=db))
    waiting = queue.submit(lambda token: run_and_store(TINY_LAB, token, store_path=db))
    waiting.cancel()
    _wait_until(lambda: (running.progress or {}).get("step", 0) >= 1, timeout=300)
    running.cancel()
    assert running.finished.wait(60)  # the loop checks before each student's step (2 s: see _spin's tests)
    assert running.status == "cancelled" and running.result is None
    assert waiting.finished.wait(5) and waiting.status == "cancelled"  # dropped, never stored
    with RunStore(db) as store:
        assert [r["status"] for r in store.list_runs()] == ["interrupted"]
