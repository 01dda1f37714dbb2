"""Entry point of the classroom benchmark's server: app.py as it is, plus the minimal page.

``streamlit run benchmarks/load_app.py`` runs the repository's ``app.py`` unchanged, except that
its ``st.navigation`` list gets one more page, ``benchmarks/minimal_page.py`` (URL ``/bench_minimal``),
and that relative ``st.Page`` paths resolve against the repository root (as they would with
``streamlit run app.py``). So the lessons and the floor page are served by one server process,
with the same caches, threads and memory, in one run.
"""

import runpy
import sys
from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parents[1] / "app.py"
ROOT = APP.parent
MINIMAL = Path(__file__).resolve().with_name("minimal_page.py")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Patched once per server process (the originals are kept on the module, so reruns don't stack).
_page = getattr(st, "_bench_original_page", st.Page)
_navigation = getattr(st, "_bench_original_navigation", st.navigation)
st._bench_original_page, st._bench_original_navigation = _page, _navigation


def _root_page(page, *args, **kwargs):
    if isinstance(page, (str, Path)) and not Path(page).is_absolute():
        page = ROOT / page
    return _page(page, *args, **kwargs)


def _navigation_with_minimal(pages, *args, **kwargs):
    minimal = _page(MINIMAL, title="Minimal page (benchmark)", url_path="bench_minimal")
    if isinstance(pages, dict):
        pages = {**pages, "Benchmark": [minimal]}
    else:
        pages = [*pages, minimal]
    return _navigation(pages, *args, **kwargs)


st.Page = _root_page
st.navigation = _navigation_with_minimal

runpy.run_path(str(APP), run_name="__main__")
