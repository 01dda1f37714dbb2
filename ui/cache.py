"""The one caching pattern: a cached run returns ``(result, figures)``, shared read-only by every session.

A page decorates one function of plain arguments (its configuration) with :func:`cached`; the
function calls the lesson's experiment and builds the figures. Streamlit's ``st.cache_resource``
keys it by those arguments and by the viewer's display (language, theme, presentation mode: the
figures' words, colours and type depend on it), so forty students asking for the same configuration
compute it once and get the same objects. Nothing may change them, so on the way into the cache

- every numpy array of the result is made non-writeable (in-place changes raise ValueError);
- every figure becomes a :class:`~kdviz.plots._internals.SharedFigure` (its dict is made once and
  its mutating methods raise TypeError).

Memory is bounded in bytes: each cached function states the bytes of its largest entry (measured
by ``tests/app/test_cache_memory.py`` at the largest configuration a URL can ask for) and its share
of :data:`BUDGET_BYTES`; ``max_entries`` follows. A script walking distinct URLs therefore keeps
every cache at most full, not growing.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from kdviz.i18n import LANGUAGES, displayed, translations
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


def cached(*, entry_mb: float, budget_mb: float, spinner: str | bool = False) -> Callable:
    """Decorator: ``fn(*plain args) -> (result, {name: figure})`` computed once per configuration for
    all sessions, frozen and shared (see the module docstring).

    ``entry_mb``: the largest entry ``fn`` makes, measured; ``budget_mb``: this cache's share of
    :data:`BUDGET_BYTES`. ``max_entries = budget_mb // entry_mb`` (at least 1). ``spinner``: the
    English words shown while it computes (marked with ``N_``; shown in the viewer's language)."""
    max_entries = max(1, int(budget_mb // entry_mb))

    def decorate(fn: Callable) -> Callable:
        name = f"{Path(fn.__code__.co_filename).stem}.{fn.__qualname__}"
        BUDGETS[name] = (int(entry_mb * MB), int(budget_mb * MB))

        @functools.wraps(fn)  # Streamlit keys the cache by fn's module, name and source
        def run(*args, display_, **kwargs):
            with displayed(display_):
                result, figures = fn(*args, **kwargs)
            entry = freeze(result), share(figures)
            LARGEST[name] = max(LARGEST.get(name, 0), nbytes(entry))
            return entry

        # One Streamlit wrapper per language, for the spinner's words; all of them are the same
        # function to Streamlit, hence one cache (keyed by the display among the arguments).
        by_language = {lang: st.cache_resource(run, max_entries=max_entries, show_spinner=(
            translations(lang).gettext(spinner) if isinstance(spinner, str) else spinner))
            for lang in LANGUAGES}

        @functools.wraps(fn)
        def for_this_viewer(*args, **kwargs):
            display = current_display()
            return by_language[display.lang](*args, display_=display, **kwargs)

        for_this_viewer.clear = by_language["en"].clear
        return for_this_viewer

    return decorate
