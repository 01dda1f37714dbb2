"""The one private Streamlit internal the app relies on (plotly's are in kdviz/plots/_internals.py).

``PagesManager.uses_pages_directory``: Streamlit starts every server in the legacy "pages/
directory" mode and leaves it only when a script calls ``st.navigation``. On a fresh server, a
first visitor arriving by a shared link to a lesson (``/mode_seeking?...``) would get that page run
alone: no app.py, hence no navigation, page config or thread setting. Every page imports ``ui``,
which calls :func:`leave_pages_directory_mode`: it switches the mode off and reruns, through
app.py's ``st.navigation``, to the same page (at most once per process).
``tests/test_internals.py`` fails if the attribute goes away.
"""

from __future__ import annotations

import streamlit as st

try:
    from streamlit.runtime.pages_manager import PagesManager
except ImportError:  # a Streamlit without this internal: nothing to fix
    PagesManager = None


def leave_pages_directory_mode() -> None:
    if PagesManager is not None and PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
