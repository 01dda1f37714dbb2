"""The one caching pattern: a cached run returns ``(result, figures)``, shared read-only by every session.

A page decorates one function of plain arguments (its configuration) with :func:`cached`; the
function calls the lesson's experiment and builds the figures. One process-wide cache per function
keys it by those arguments and by the viewer's display (language, theme, presentation mode: the
figures' words, colours and type depend on it), so forty students asking for the same configuration
compute it once (the others wait for that one computation) and get the same objects. Nothing may
change them, so on the way into the cache

- every numpy array of the result is made non-writeable (in-place changes raise ValueError);
- every figure becomes a :class:`~kdviz.plots._internals.SharedFigure` (its dict is made once and
  its mutating methods raise TypeError).

Memory is bounded in bytes, entry by entry: each cache is a ``cachetools.LRUCache`` whose size is
the bytes its entries hold (:func:`nbytes`), within its share of :data:`BUDGET_BYTES`. A default
configuration is a fraction of the largest one a URL can ask for, so a class exploring the defaults
keeps hundreds of configurations where a count of worst-case entries kept tens. Each cached function
also states the bytes of its largest entry, which ``tests/app/test_cache_memory.py`` measures and
holds within the budget (an entry larger than its whole budget would be served but not kept).
"""

from __future__ import annotations

import atexit
import contextvars
import dataclasses
import functools
import hashlib
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable, Iterable

import cachetools
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from kdviz.i18n import _
from kdviz.i18n import display as current_display
from kdviz.plots._internals import SharedFigure

MB = 2**20
# All caches together: the server idles at about 0.65 GB and must stay under 2 GiB with a class on it.
BUDGET_BYTES = 1024 * MB
# name -> (stated bytes of the largest entry, bytes allotted), and the largest entry seen in this
# process: what tests/app/test_cache_memory.py reads back.
BUDGETS: dict[str, tuple[int, int]] = {}
LARGEST: dict[str, int] = {}


def freeze(value):
    """``value`` with its numpy arrays made read-only, in place, through dataclasses, dicts, lists
    and tuples (returned for chaining)."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            freeze(getattr(value, f.name))
    elif isinstance(value, dict):
        for v in value.values():
            freeze(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            freeze(v)
    return value


def share(figures: dict[str, go.Figure]) -> dict[str, SharedFigure]:
    """Each figure as a read-only figure whose dict every session's ``st.plotly_chart`` reuses."""
    return {name: fig if isinstance(fig, SharedFigure) else SharedFigure(fig) for name,
            fig in figures.items()}


def nbytes(value) -> int:
    """Bytes held by ``value``: numpy buffers (views counted in full), strings, and the containers,
    dataclasses and figures around them. Within 10% of what tracemalloc sees for a mode-seeking entry;
    above it where arrays share a buffer."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, SharedFigure):
        return nbytes(value.to_dict())
    if isinstance(value, go.Figure):
        return nbytes(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return sum(nbytes(k) + nbytes(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return 8 * len(value) + sum(nbytes(v) for v in value)
    return 8


def _key(value):
    """``value`` (plain arguments: numbers, strings, bytes, lists, tuples, dicts) as a hashable key."""
    if isinstance(value, (list, tuple)):
        return tuple(map(_key, value))
    if isinstance(value, dict):
        return tuple(sorted((k, _key(v)) for k, v in value.items()))
    return value


class _Counter:
    """How many sessions are computing a configuration right now."""

    def __init__(self):
        self.lock, self.n = threading.Lock(), 0

    def acquire(self) -> None:
        with self.lock:
            self.n += 1

    def release(self) -> None:
        with self.lock:
            self.n -= 1


_SESSIONS_COMPUTING = _Counter()


class _Store:
    """One function's entries: an LRU cache sized in bytes, safe for the server's many script
    threads; callers of a key being computed wait for it instead of computing it again."""

    def __init__(self, budget: int):
        self.entries = cachetools.LRUCache(maxsize=budget, getsizeof=nbytes)
        self.lock = threading.Lock()
        self.pending: dict = {}  # key -> Event set when its computation ends
        self.prefetched = None  # the last configuration whose neighbours were prefetched

    def get(self, key, compute: Callable, spinner: str | bool):
        while True:
            with self.lock:
                if key in self.entries:
                    return self.entries[key]
                done = self.pending.get(key)
                if done is None:
                    self.pending[key] = threading.Event()
                    break
            done.wait()  # then read it; if its computation failed, this caller computes it
        foreground = not _IN_BACKGROUND.get()
        try:
            if foreground:
                _SESSIONS_COMPUTING.acquire()
            if isinstance(spinner, str) and foreground:
                with st.spinner(_(spinner)):
                    entry = compute()
            else:
                entry = compute()
            with self.lock:
                try:
                    self.entries[key] = entry
                except ValueError:  # larger than the whole budget: served, not kept
                    pass
            return entry
        finally:
            if foreground:
                _SESSIONS_COMPUTING.release()
            with self.lock:
                self.pending.pop(key).set()

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_STORES: dict[str, tuple[bytes, _Store]] = {}  # name -> (hash of its code, its store)
_STORES_LOCK = threading.Lock()


def _store(fn: Callable, name: str, budget: int) -> _Store:
    """The process's store for ``fn``: a page script defines its function anew on every rerun, and
    every definition with the same code shares one store (an edited function gets a new one)."""
    code = fn.__code__
    digest = hashlib.sha1(code.co_code + repr(code.co_consts).encode()).digest()
    with _STORES_LOCK:
        if name not in _STORES or _STORES[name][0] != digest:
            _STORES[name] = digest, _Store(budget)
        return _STORES[name][1]


class _Prefetcher(threading.Thread):
    """The process's one background thread for configurations nobody has asked for yet: it computes
    them into their caches at the lowest OS priority (Linux sets it per thread) and only while no
    session is computing one (they share the interpreter's lock), so it takes the time the sessions
    leave idle. The newest request goes first and replaces its function's older,
    unfinished one (the class has moved on)."""

    def __init__(self):
        super().__init__(daemon=True, name="kdviz-prefetch")
        self.lock, self.wake = threading.Lock(), threading.Event()
        self.todo: dict[str, deque] = {}  # function name -> (context, store, key, compute), oldest first
        self.stopping = False

    def submit(self, name: str, tasks: list) -> None:
        with self.lock:
            self.todo.pop(name, None)
            self.todo[name] = deque(tasks)
            self.wake.set()

    def next_task(self):
        with self.lock:
            for name in reversed(self.todo):
                if self.todo[name]:
                    return self.todo[name].popleft()
            self.todo.clear()
            self.wake.clear()
            return None

    def stop(self) -> None:
        """Drop every configuration not yet started and end the thread once the one being computed
        is done."""
        with self.lock:
            self.todo.clear()
            self.stopping = True
            self.wake.set()

    def run(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):  # not Linux: the thread keeps the process's priority
            pass
        while self.wake.wait() and not self.stopping:
            if _SESSIONS_COMPUTING.n:  # a session waits for its own configuration: leave it the cores
                time.sleep(0.05)
                continue
            if (task := self.next_task()) is not None:
                context, store, key, compute = task
                try:
                    context.run(_in_background, store, key, compute)
                except Exception:  # a failing configuration is shown to whoever asks for it
                    pass


_PREFETCHER: _Prefetcher | None = None
_IN_BACKGROUND = contextvars.ContextVar("kdviz_prefetching", default=False)  # no spinner: no page to show it


def _in_background(store: _Store, key, compute: Callable):
    _IN_BACKGROUND.set(True)  # in the task's own copy of the context
    return store.get(key, compute, False)


def _prefetcher() -> _Prefetcher:
    global _PREFETCHER
    with _STORES_LOCK:
        if _PREFETCHER is None:
            _PREFETCHER = _Prefetcher()
            _PREFETCHER.start()
            atexit.register(_stop_at_exit, _PREFETCHER)
        return _PREFETCHER


def _stop_at_exit(prefetcher: _Prefetcher) -> None:
    """Let the configuration being computed finish: a thread stopped inside a torch op at the
    interpreter's exit aborts the process."""
    prefetcher.stop()
    prefetcher.join(timeout=60)


def cached(*, entry_mb: float, budget_mb: float, spinner: str | bool = False) -> Callable:
    """Decorator: ``fn(*plain args) -> (result, {name: figure})`` computed once per configuration and
    display for all sessions, frozen and shared (see the module docstring).

    ``entry_mb``: the largest entry ``fn`` makes, measured; ``budget_mb``: this cache's share of
    :data:`BUDGET_BYTES`, in bytes of entries. ``spinner``: the English words shown while it
    computes (marked with ``N_``; shown in the viewer's language)."""

    def decorate(fn: Callable) -> Callable:
        name = f"{Path(fn.__code__.co_filename).stem}.{fn.__qualname__}"
        BUDGETS[name] = (int(entry_mb * MB), int(budget_mb * MB))
        store = _store(fn, name, int(budget_mb * MB))

        @functools.wraps(fn)
        def for_this_viewer(*args, **kwargs):
            return store.get(*_entry(args, kwargs), spinner)

        def _entry(args, kwargs):
            def compute():
                result, figures = fn(*args, **kwargs)
                entry = freeze(result), share(figures)
                LARGEST[name] = max(LARGEST.get(name, 0), nbytes(entry))
                return entry

            return (_key(args), _key(kwargs), current_display()), compute

        def prefetch(config: dict, along: str, values: Iterable) -> None:
            """Compute ``fn(**config)`` with ``config[along]`` set to each of ``values``, in order, in
            the background for the viewer's display (see :class:`_Prefetcher`). A call for another
            configuration replaces what is left of the last one; a repeated call does nothing.
            ``KDVIZ_PREFETCH=0`` in the environment turns prefetching off."""
            family = _key({k: v for k, v in config.items() if k != along}), current_display()
            if os.environ.get("KDVIZ_PREFETCH", "1") == "0" or store.prefetched == family:
                return
            store.prefetched = family
            tasks = [(contextvars.copy_context(), store, *_entry((), {**config, along: v})) for v in values]
            _prefetcher().submit(name, tasks)

        for_this_viewer.clear = store.clear
        for_this_viewer.prefetch = prefetch
        return for_this_viewer

    return decorate
