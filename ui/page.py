"""The parts every lesson page has: the header, the takeaway box, the downloads."""

from __future__ import annotations

import io
import json
from typing import Mapping, Sequence

import numpy as np
import streamlit as st

from kdviz.divergences import DIVERGENCES
from kdviz.i18n import _, display
from kdviz.losses import call_example
from ui import url


def lesson_header(title: str, intro: str, formulas: Sequence[str] = ()) -> None:
    """Title, notes about the link's values (if any were changed), two or three sentences on what
    to look at, and the registry formulas of ``formulas`` (``title`` and ``intro`` translated by the
    page). In presentation mode the header is one row: the title, and the intro and the formulas
    folded into a popover at its end, so that the main chart starts high on the screen."""
    if display().present:
        with st.container(horizontal=True, vertical_alignment="center", key="lesson_title"):
            st.title(title)
            with st.popover(_("About this lesson"), icon=":material/info:"):
                st.markdown(intro)
                if formulas:
                    st.markdown(f"**{_('Formulas')}**")
                    _formulas(formulas)
        url.show_notes()
        return
    st.title(title)
    url.show_notes()
    st.markdown(intro)
    if formulas:
        with st.expander(_("Formulas"), expanded=False):
            _formulas(formulas)


def _formulas(names: Sequence[str]) -> None:
    """Each divergence's label, behaviour, source, definition and call on real LLM logits."""
    for name in names:
        spec = DIVERGENCES[name]
        st.markdown(_("**{label}** (`{name}`): {behaviour}. *{source}*").format(
            label=spec.display_label, name=name, behaviour=spec.display_behaviour,
            source=spec.display_source))
        st.latex(spec.latex)
        st.caption(_("The same loss on real LLM logits:"))
        st.code(call_example(name), language="python")


def takeaway(text: str) -> None:
    """The "what you should see" box under the figures (``text`` translated by the caller)."""
    st.info(_("**What you should see.** {text}").format(text=text))


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
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
    buf = io.StringIO()
    buf.write(",".join(names) + "\n")
    for row in zip(*(np.asarray(columns[n]) for n in names)):
        buf.write(",".join(f"{v:.10g}" if isinstance(v, (float,
                                                         np.floating)) else str(v) for v in row) + "\n")
    return buf.getvalue()


def downloads(stem: str, *, key: str, csv: Mapping[str, Sequence] | None = None, data: Mapping | None = None,
              config: Mapping | None = None) -> None:
    """Download buttons for what is on screen: a CSV table and the full JSON (``config`` first).

    Both come from the result's ``export()``; the files are made only when clicked. Figures download
    as PNG from the camera icon of each chart's toolbar."""
    cols = st.columns(2)
    if csv is not None:
        cols[0].download_button(_("Download data (CSV)"), lambda: to_csv(csv), f"{stem}.csv", "text/csv",
                                key=f"{key}_csv")
    if data is not None:
        full = {"config": dict(config), **data} if config is not None else data
        cols[1].download_button(_("Download data (JSON)"), lambda: to_json(full), f"{stem}.json",
                                "application/json", key=f"{key}_json")
