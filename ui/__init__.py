"""Streamlit helpers shared by the pages (the only UI code outside pages/; kdviz/ never imports this).

Every widget made here has a key and is bound to the URL (``bind="query-params"``), so copying the
address bar reproduces the page's configuration.
"""

from __future__ import annotations

import io
import json
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from kdviz.divergences import DIVERGENCES

CACHE_ENTRIES = 64  # max_entries of every st.cache_data in the pages

# Streamlit starts every server in the legacy "pages/ directory" mode and leaves it only when a
# script calls st.navigation. So on a fresh server, a first visitor arriving by a shared link to a
# lesson (/mode_seeking?...) gets that page run alone: no app.py, hence no navigation, page config
# or thread setting. Every page imports this module, so switch the mode off here and rerun: the
# rerun goes through app.py's st.navigation to the same page. (Happens at most once per process.)
try:
    from streamlit.runtime.pages_manager import PagesManager
except ImportError:  # a Streamlit without this internal: nothing to fix
    PagesManager = None
if PagesManager is not None and PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()


class _Shipped(go.Figure):
    """A finished figure whose plain-dict form is made once. ``st.plotly_chart`` calls ``to_dict()``
    on every rerun, a deep copy of every trace and animation frame: a fifth of a cached lesson
    rerun's server time. The dict is shared and must not be modified (Streamlit only reads it)."""

    def __init__(self, fig: go.Figure):
        super().__init__()
        self._spec = fig.to_dict()

    def to_dict(self) -> dict:
        return self._spec


def ship(figs: Mapping[str, go.Figure]) -> dict[str, go.Figure]:
    """The figures of a cached run, each turned into a shared read-only figure for st.plotly_chart."""
    return {name: _Shipped(fig) for name, fig in figs.items()}


@st.cache_resource(max_entries=4 * CACHE_ENTRIES, show_spinner=False)
def _shared_figure(key: tuple, _build):
    return _Shipped(_build())


def shared_figure(key: tuple, build):
    """``build()`` once per ``key`` for every session, the result shared read-only (never modify it).

    For figures that depend on a cached run *and* on a secondary control (``key`` must hold the
    page, the figure's name, the run's arguments and the control's value): a classroom moving
    that control to the same values builds each figure once."""
    return _shared_figure(key, build)


def lesson_header(title: str, intro: str, formulas: Sequence[str] = ()) -> None:
    """Title, two or three sentences on what to look at, and the registry formulas of ``formulas``."""
    st.title(title)
    st.markdown(intro)
    if formulas:
        with st.expander("Formulas", expanded=False):
            for name in formulas:
                spec = DIVERGENCES[name]
                st.markdown(f"**{spec.label}** (`{name}`): {spec.behaviour}. *{spec.source}*")
                st.latex(spec.latex)


def divergence_picker(key: str, options: Sequence[str], default: Sequence[str], label: str = "Divergences"):
    """Multiselect of registry names, shown with their labels, bound to the URL."""
    return st.multiselect(label, list(options), default=list(default), key=key, bind="query-params",
                          format_func=lambda n: DIVERGENCES[n].label)


def takeaway(text: str) -> None:
    """The "what you should see" box under the figures."""
    st.info(f"**What you should see.** {text}")


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def to_json(data: Mapping) -> str:
    """JSON text of nested dicts/lists/arrays; NaN and inf become null."""
    return json.dumps(_jsonable(data), indent=1)


def to_csv(columns: Mapping[str, Sequence]) -> str:
    """CSV text of equal-length columns."""
    names = list(columns)
    arrays = [np.asarray(columns[n]) for n in names]
    buf = io.StringIO()
    buf.write(",".join(names) + "\n")
    for row in zip(*arrays):
        buf.write(",".join(f"{v:.10g}" if isinstance(v, (float, np.floating)) else str(v) for v in row) + "\n")
    return buf.getvalue()


def downloads(stem: str, *, key: str, csv: Mapping[str, Sequence] | None = None,
              data: Mapping | None = None) -> None:
    """Download buttons for what is on screen: a CSV table and the full JSON.

    The files are generated only when clicked (callables). Figures download as PNG from the
    camera icon of each chart's toolbar.
    """
    cols = st.columns(2)
    if csv is not None:
        cols[0].download_button("Download data (CSV)", lambda: to_csv(csv), f"{stem}.csv", "text/csv",
                                key=f"{key}_csv")
    if data is not None:
        cols[1].download_button("Download data (JSON)", lambda: to_json(data), f"{stem}.json",
                                "application/json", key=f"{key}_json")
