"""Heavy runs through the one server-wide queue (:class:`kdviz.jobs.JobQueue`), as a widget.

:func:`run` submits ``fn(_token=token, **config)`` (a ``@ui.cached`` function: its result lands in
the shared cache) and waits for it in the script thread, showing the run's place in line and a
Stop button. The wait polls every :data:`POLL_S` seconds and updates an element each time, so a
rerun or a closed tab interrupts it at once; the job's heartbeat then stops and the worker drops it
within :data:`HEARTBEAT_S` seconds. A rerun with another configuration cancels the old job first.
Pages whose runs outlast a wait in the script thread (the Lab) submit to :func:`server_queue`
themselves and poll from a fragment; :func:`waiting_text` words a place in line the same everywhere.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Callable

import streamlit as st

from kdviz.i18n import _
from kdviz.jobs import JobQueue, QueueFull

POLL_S = 0.25
HEARTBEAT_S = 1.5  # a job unpolled this long is cancelled (a session that left: within 2 s)
MAX_WAITING = 12  # live jobs waiting behind the running one; more are refused with a message
_REMEMBERED = 4096  # configurations whose result the cache holds, answered without queueing
_done: OrderedDict[str, None] = OrderedDict()


@st.cache_resource
def server_queue() -> JobQueue:
    """The one queue of this server process (every session, every page)."""
    return JobQueue(heartbeat_s=HEARTBEAT_S, max_waiting=MAX_WAITING)


def waiting_text(place: int) -> str:
    """What a session waiting ``place`` jobs behind (Playground and Lab runs alike) is told."""
    return _("Waiting: heavy runs (Playground and Lab) go one at a time on this server, {place} ahead of "
             "yours.").format(place=place)


def run(fn: Callable, *, key: str, **config):
    """``fn(**config)`` run through the server's queue (``fn`` gets ``_token``, a
    :class:`kdviz.jobs.Token` its loops check); its value, or None after showing that the run was
    stopped (the caller then stops the page). A configuration computed before skips the queue.
    Exceptions of ``fn`` are raised here, in the script thread."""
    ident = hashlib.sha1(repr(sorted(config.items())).encode()).hexdigest()
    if ident in _done:  # the shared cache holds it (or recomputes it, bounded by fn's own budget)
        _done.move_to_end(ident)
        return fn(**config)
    queue, mine = server_queue(), st.session_state.get(key)  # mine: (configuration, job or None)
    if mine is not None and mine[1] is not None and (st.session_state.get(f"{key}_stop") or mine[0] != ident):
        mine[1].cancel()  # Stop pressed, or the session asks for another configuration
        mine = st.session_state[key] = (mine[0], None) if mine[0] == ident else None
    if mine is not None and mine[1] is None and mine[0] == ident:
        st.info(_("Stopped. Press Run to start this configuration again, or change a setting."))
        if not st.button(_("Run"), key=f"{key}_again"):
            return None
        mine = None
    if mine is None or mine[0] != ident or mine[1] is None or mine[1].status in ("cancelled", "failed"):
        try:
            job = queue.submit(lambda token: fn(_token=token, **config))
        except QueueFull:
            st.warning(_("{n} heavy runs are already waiting on this server; try again in a minute.").format(
                n=queue.max_waiting))
            return None
        st.session_state[key] = (ident, job)
    else:
        job = mine[1]
    stop, box = st.empty(), st.empty()
    stop.button(_("Stop"), key=f"{key}_stop")
    while not job.finished.wait(POLL_S):
        job.touch()
        place = queue.position(job)
        box.info(_("Running now (at most a few seconds of CPU).") if place == 0 else waiting_text(place))
    stop.empty()
    box.empty()
    if job.status == "cancelled":
        st.session_state[key] = (ident, None)
        st.info(_("Stopped. Change a setting to run again."))
        return None
    if job.error is not None:
        raise job.error
    _done[ident] = None
    while len(_done) > _REMEMBERED:
        _done.popitem(last=False)
    return job.result
