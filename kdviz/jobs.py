"""Compute budgets and one queue for heavy runs (no Streamlit here: the widget is ``ui/jobs.py``).

- :class:`Token`: a cancel flag, optionally tied to a heartbeat (a run nobody has asked about for
  ``heartbeat_s`` seconds counts as cancelled: its session reran elsewhere or left).
- :class:`Budget`: a ``should_stop(steps_taken)`` for :func:`kdviz.fitting.fit` (or any loop that
  counts its steps). It stops a run when its thread's CPU time passes the budget, when the first
  second of the real configuration projects past it, or when its token is cancelled.
- :class:`JobQueue`: runs submitted jobs one at a time in a worker thread, in order; a waiting job
  knows its position; a cancelled waiting job is skipped, a running one is told through its token.
  A running job may :meth:`Token.report` its progress; a queue with ``max_waiting`` refuses more.

Generic on purpose: a job is any ``fn(token) -> value`` whose long loops check the token.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import threading
import time
from collections import deque
from typing import Any, Callable

OVER_BUDGET, PROJECTED, CANCELLED = "over budget", "projected over budget", "cancelled"


class QueueFull(ValueError):
    """Raised by :meth:`JobQueue.submit` when ``max_waiting`` live jobs already wait."""


class Token:
    """A cancel flag. With ``heartbeat_s``, it also counts as cancelled once :meth:`touch` has not
    been called for that long (whoever wanted the result stopped asking). The job's side may
    :meth:`report` its progress (any value; the latest is kept in :attr:`progress`)."""

    def __init__(self, heartbeat_s: float | None = None):
        self._event = threading.Event()
        self.heartbeat_s = heartbeat_s
        self.last_seen = time.monotonic()
        self.progress: Any = None

    def report(self, progress: Any) -> None:
        self.progress = progress

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        if self._event.is_set():
            return True
        if self.heartbeat_s is not None and time.monotonic() - self.last_seen > self.heartbeat_s:
            self._event.set()  # a missed heartbeat is final
            return True
        return False


class Budget:
    """``should_stop(steps_taken) -> reason | None`` for a loop of ``steps`` steps in this thread.

    Stops when the calling thread's CPU time passes ``seconds`` (or its wall time passes
    ``wall_factor * seconds``, for a loaded machine), or, once ``probe_s`` CPU seconds are spent,
    when the rate so far projects the whole run past ``seconds``; and whenever ``token`` is
    cancelled. :attr:`per_step` (CPU seconds a step, measured) sizes a cheaper suggestion.
    """

    def __init__(self, seconds: float, steps: int, *, token: Token | None = None, probe_s: float = 1.0,
                 wall_factor: float = 6.0):
        if not seconds > 0:
            raise ValueError(f"a budget needs a positive number of seconds, got {seconds!r}")
        self.seconds, self.steps, self.token = float(seconds), int(steps), token
        self.probe_s, self.wall_factor = min(probe_s, seconds), wall_factor
        self.cpu0, self.wall0 = time.thread_time(), time.monotonic()
        self.per_step = 0.0
        self.reason: str | None = None

    def __call__(self, t: int) -> str | None:
        cpu = time.thread_time() - self.cpu0
        if t > 0:
            self.per_step = cpu / t
        if self.token is not None and self.token.cancelled:
            self.reason = CANCELLED
        elif cpu > self.seconds or time.monotonic() - self.wall0 > self.wall_factor * self.seconds:
            self.reason = OVER_BUDGET
        elif t > 0 and cpu >= self.probe_s and self.per_step * self.steps > self.seconds:
            self.reason = PROJECTED
        return self.reason

    def affordable_steps(self) -> int:
        """Steps that fit in the budget at the measured rate (0 when nothing was measured)."""
        return int(self.seconds / self.per_step) if self.per_step > 0 else 0


class Job:
    """One submitted ``fn(token)``; :attr:`status` is waiting, running, done, failed or cancelled."""

    def __init__(self, job_id: int, fn: Callable[[Token], Any], token: Token):
        self.id, self.fn, self.token = job_id, fn, token
        self.context = contextvars.copy_context()  # the submitter's display (kdviz.i18n) and the like
        self.status = "waiting"
        self.result: Any = None
        self.error: BaseException | None = None
        self.finished = threading.Event()

    @property
    def progress(self) -> Any:
        """The latest value the job reported through its token (None before any)."""
        return self.token.progress

    def touch(self) -> None:
        self.token.touch()

    def cancel(self) -> None:
        self.token.cancel()


class JobQueue:
    """Heavy runs, one at a time, first come first served, in one daemon worker thread.

    ``heartbeat_s``: a job whose submitter stops calling :meth:`Job.touch` for this long is
    cancelled (skipped while waiting; its token reports it while running). ``nice``: the worker
    thread's niceness on Linux (per thread), so that light requests served by other threads of the
    process go first when the cores are busy. ``max_waiting``: with this many live jobs waiting,
    :meth:`submit` raises :class:`QueueFull`.
    """

    def __init__(self, heartbeat_s: float | None = 2.0, nice: int = 10, max_waiting: int | None = None):
        self.heartbeat_s, self.nice, self.max_waiting = heartbeat_s, nice, max_waiting
        self._waiting: deque[Job] = deque()
        self._running: Job | None = None
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._worker: threading.Thread | None = None

    def submit(self, fn: Callable[[Token], Any]) -> Job:
        with self._cond:
            waiting = sum(not j.token.cancelled for j in self._waiting)
            if self.max_waiting is not None and waiting >= self.max_waiting:
                raise QueueFull(f"{waiting} heavy runs are already waiting on this server; "
                                "try again in a minute")
            job = Job(next(self._ids), fn, Token(self.heartbeat_s))
            self._waiting.append(job)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="kdviz-jobs", daemon=True)
                self._worker.start()
            self._cond.notify()
        return job

    def position(self, job: Job) -> int:
        """0 while ``job`` runs; n >= 1 while it waits behind n live jobs (the running one included);
        -1 once it has ended."""
        with self._cond:
            if job is self._running:
                return 0
            ahead = 0
            for other in self._waiting:
                if other is job:
                    return ahead + (self._running is not None)
                ahead += not other.token.cancelled
        return -1

    def __len__(self) -> int:
        """Live jobs: the running one and those waiting."""
        with self._cond:
            return (self._running is not None) + sum(not j.token.cancelled for j in self._waiting)

    def _next(self) -> Job:
        with self._cond:
            while True:
                while self._waiting:
                    job = self._waiting.popleft()
                    if job.token.cancelled:
                        job.status = "cancelled"
                        job.finished.set()
                        continue
                    self._running = job
                    return job
                self._cond.wait()

    def _work(self) -> None:
        try:
            tid = threading.get_native_id()  # never below the process's own niceness
            os.setpriority(os.PRIO_PROCESS, tid, max(self.nice, os.getpriority(os.PRIO_PROCESS, tid)))
        except (AttributeError, OSError):  # not Linux, or not permitted: run at the process's priority
            pass
        while True:
            job = self._next()
            job.status = "running"
            try:
                job.result = job.context.run(job.fn, job.token)
                job.status = "cancelled" if job.token.cancelled and job.result is None else "done"
            except BaseException as err:  # handed to the submitter, who decides what to show
                job.error, job.status = err, "cancelled" if job.token.cancelled else "failed"
            finally:
                with self._cond:
                    self._running = None
                job.finished.set()
