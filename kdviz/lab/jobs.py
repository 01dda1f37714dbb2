"""One lab run at a time per server: a FIFO queue with one worker thread.

A class pressing Run together gets one training at a time on the server's cores; every waiting
job knows its position. Each job is stored in the run store when it starts (``running``) and
finished there in one transaction; a job cancelled, or cut by the server stopping, is marked
``interrupted`` (see :mod:`kdviz.lab.store`).
"""

from __future__ import annotations

import itertools
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from kdviz.lab.store import RunStore
from kdviz.lab.train import Interrupted, LabConfig, run_lab

MAX_WAITING = 12  # jobs waiting behind the running one; more are refused


class QueueFull(ValueError):
    """Raised by :meth:`LabQueue.submit` when :data:`MAX_WAITING` jobs already wait."""


@dataclass
class Job:
    id: int
    config: LabConfig
    label: str = ""
    status: str = "queued"  # queued -> running -> done | failed | interrupted
    progress: dict = field(default_factory=dict)  # the latest run_lab progress event
    run_id: int | None = None  # in the run store, once started
    error: str = ""
    cancelled: bool = False

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "interrupted")


class LabQueue:
    """Jobs run in submission order by one daemon thread, started on the first submit."""

    def __init__(self, store_path: str | Path | None = None, max_waiting: int = MAX_WAITING):
        self.store_path = store_path
        self.max_waiting = max_waiting
        self._ids = itertools.count(1)
        self._waiting: list[Job] = []
        self._running: Job | None = None
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, config: LabConfig, label: str = "") -> Job:
        with self._cond:
            if len(self._waiting) >= self.max_waiting:
                raise QueueFull(f"{len(self._waiting)} runs are already waiting; try again in a minute")
            job = Job(next(self._ids), config, label)
            self._waiting.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="kdviz-lab-queue", daemon=True)
                self._thread.start()
            self._cond.notify()
            return job

    def position(self, job: Job) -> int:
        """0 while running (or finished), k when k jobs run or wait before it."""
        with self._cond:
            if job in self._waiting:
                return self._waiting.index(job) + (self._running is not None)
            return 0

    def cancel(self, job: Job) -> None:
        """A waiting job leaves the queue; a running one stops at its next step (stored as interrupted)."""
        with self._cond:
            job.cancelled = True
            if job in self._waiting:
                self._waiting.remove(job)
                job.status = "interrupted"

    def wait(self, job: Job, timeout: float | None = None) -> bool:
        """Block until ``job`` finished (True) or ``timeout`` seconds passed (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: job.finished, timeout)

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._waiting)
                job = self._running = self._waiting.pop(0)
                job.status = "running"
            with RunStore(self.store_path) as store:  # opened per job: the data folder setting is read then
                self._run(store, job)
            with self._cond:
                self._running = None
                self._cond.notify_all()

    def _run(self, store: RunStore, job: Job) -> None:
        job.run_id = store.start(job.config.to_dict(), job.label)
        try:
            result = run_lab(job.config, on_progress=lambda ev: setattr(job, "progress", ev),
                             should_stop=lambda: job.cancelled)
            store.finish(job.run_id, result)
            job.status = "done"
        except Interrupted as exc:
            store.fail(job.run_id, "interrupted", str(exc))
            job.status, job.error = "interrupted", str(exc)
        except Exception as exc:  # a failed run is recorded and reported, never kills the worker
            store.fail(job.run_id, "failed", traceback.format_exc(limit=5))
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
