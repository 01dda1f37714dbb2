"""The viewer's display, set once per rerun by app.py: language (``lang=zh``), presentation mode
(``present=1``) and the theme Streamlit reports (light or dark, from the OS or the ⋮ menu), and the
page parts that look different in presentation mode.

In presentation mode the sidebar is hidden, a slim bar at the top keeps the language and the way
out, each lesson's one or two main controls sit above its main chart (:func:`main_controls`,
:func:`main_chart`), secondary panels fold into expanders (:func:`secondary`) and the figures use
large type (:mod:`kdviz.plots.common` reads the display).
"""

from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from kdviz.i18n import LANGUAGES, Display, _, display, set_display
from ui import url

# Presentation mode: no sidebar (nor its open button), less empty space above the title, larger type.
PRESENT_CSS = """<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"] {display: none;}
.stMainBlockContainer {padding-top: 3.2rem; padding-bottom: 2rem; max-width: 100%;}
.stMainBlockContainer p, .stMainBlockContainer li, .stMainBlockContainer label {font-size: 1.15rem;}
.stMainBlockContainer h1 {font-size: 1.9rem; padding-top: 0; padding-bottom: 0.2rem;}
</style>"""


def setup() -> Display:
    """Read the viewer's language, presentation mode and theme (widgets in the sidebar, bound to the
    URL), make them the current display and return it."""
    with st.sidebar:
        lang = url.choice("Language / 语言", list(LANGUAGES), key="lang", horizontal=True,
                          format_func=LANGUAGES.get)
        present = url.checkbox(_("Presentation mode"), key="present",
                               help=_("For a projector: no sidebar, large type, one chart per screen."))
    theme = st.context.theme.type if st.context.theme.type in ("light", "dark") else "light"
    value = Display(lang=lang or "en", theme=theme, present=present)
    set_display(value)
    if present:
        st.html(PRESENT_CSS)
        _present_bar()
    return value


def _leave() -> None:
    st.session_state["present"] = False


def _present_bar() -> None:
    """Presentation mode's slim top bar: the language switch and the way out."""
    left, right = st.columns([4, 1], vertical_alignment="center")
    with left:
        st.segmented_control("lang", list(LANGUAGES), format_func=LANGUAGES.get, key="lang_bar",
                             default=display().lang, label_visibility="collapsed",
                             on_change=lambda: st.session_state.update(
                                 lang=st.session_state.get("lang_bar") or display().lang))
    right.button(_("Exit presentation"), key="present_exit", on_click=_leave, icon=":material/close:")


def main_controls(n: int = 1) -> list:
    """``n`` columns right above the lesson's main chart for its one or two main controls (on every
    screen: next to the chart on a phone, on the first screen of a projector)."""
    return st.container(key="main_controls").columns(n) if n > 1 else [st.container(key="main_controls")]


def main_chart(figure, *, key: str) -> None:
    """The lesson's main chart (its top is on the first screen in presentation mode)."""
    with st.container(key="main_chart"):
        st.plotly_chart(figure, key=key)


@contextmanager
def secondary(title: str):
    """A panel under the main chart: a subheader and its content, folded into an expander in
    presentation mode."""
    if display().present:
        with st.expander(title):
            yield
    else:
        st.subheader(title)
        yield
