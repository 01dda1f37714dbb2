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

from kdviz.i18n import LANGUAGES, Display, _, display, displayed, set_display
from ui import url

# Presentation mode: no sidebar (nor its open button), the top bar (language, way out) in the empty left
# of Streamlit's header instead of above the title (in the page on a phone), larger type; the guide's
# slide buttons keep their Page Up/Down shortcuts without showing them (see their help).
PRESENT_CSS = """<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"] {display: none;}
.stMainBlockContainer {padding-top: 3.9rem; padding-bottom: 2rem; max-width: 100%;}
@media (min-width: 640px) {
  .st-key-present_bar {position: fixed; top: 0.6rem; left: 1rem; width: auto; z-index: 999991;}
}
.stMainBlockContainer p, .stMainBlockContainer li, .stMainBlockContainer label {font-size: 1.15rem;}
.stMainBlockContainer h1 {font-size: 1.9rem; padding-top: 0; padding-bottom: 0.2rem;}
.st-key-guide_slides kbd {display: none;}
.st-key-guide_slides > div:has(> .st-key-guide_step_row) {flex: 1 1 26rem; min-width: min(100%, 26rem);}
</style>"""


def _from_url(key: str, allowed: tuple[str, ...], default: str) -> str:
    """The URL's value of ``key`` if allowed, else ``default`` (with a note for the page)."""
    value = st.query_params.get(key, default)
    if value not in allowed:
        url.add_note(_("`{key}={value}` is not one of {allowed}; {default} is used.").format(
            key=key, value=value, allowed=", ".join(allowed), default=default))
        return default
    return value


def _to_url(key: str, value: str, default: str) -> None:
    """Keep ``key=value`` in the address bar (left out at its default), on every page."""
    if value == default:
        if key in st.query_params:
            del st.query_params[key]
    elif st.query_params.get(key) != value:
        st.query_params[key] = value


def setup() -> Display:
    """Read the viewer's language (``lang=zh``), presentation mode (``present=1``) and theme, make
    them the current display and return it. The two switches sit in the sidebar (and in
    presentation mode's top bar); their values live in the URL as those short keys."""
    if "lang" not in st.session_state:
        st.session_state["lang"] = _from_url("lang", tuple(LANGUAGES), "en")
    if "present" not in st.session_state:
        st.session_state["present"] = _from_url("present", ("0", "1"), "0") == "1"
    with st.sidebar:
        lang = st.radio("Language / 语言", list(LANGUAGES), key="lang", horizontal=True,
                        format_func=LANGUAGES.get)
    with displayed(Display(lang=lang)):
        with st.sidebar:
            present = st.checkbox(_("Presentation mode"), key="present",
                                  help=_("For a projector: no sidebar, large type, one chart per screen."))
    _to_url("lang", lang, "en")
    _to_url("present", "1" if present else "0", "0")
    theme = st.context.theme.type if st.context.theme.type in ("light", "dark") else "light"
    value = Display(lang=lang, theme=theme, present=present)
    set_display(value)
    if present:
        st.html(PRESENT_CSS)
        _present_bar()
    return value


def _leave() -> None:
    st.session_state["present"] = False


def _switch_language() -> None:
    st.session_state["lang"] = st.session_state.get("lang_bar") or st.session_state["lang"]


def _present_bar() -> None:
    """Presentation mode's slim top bar: the language switch and the way out."""
    st.session_state["lang_bar"] = display().lang  # follows the sidebar's switch too
    with st.container(horizontal=True, vertical_alignment="center", key="present_bar"):
        st.segmented_control("lang", list(LANGUAGES), format_func=LANGUAGES.get, key="lang_bar",
                             label_visibility="collapsed", on_change=_switch_language)
        st.button(_("Exit presentation"), key="present_exit", on_click=_leave, icon=":material/close:")


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
