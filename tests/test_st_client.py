"""The protocol-level client of the classroom benchmark speaks Streamlit's protocol correctly.

One real ``streamlit run benchmarks/load_app.py`` server wraps a tiny multipage app made here
(``BENCH_APP``), so the test checks the client and the benchmark's wrapper together: navigation,
page opening by hash, slider moves, the tab's message cache, fragments, exceptions and timeouts.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from classroom_load import free_port  # noqa: E402
from st_client import SessionDropped, StreamlitClient, fetch_pages  # noqa: E402

TINY_APP = """
import streamlit as st
pg = st.navigation([st.Page("pages/home.py", title="Home"), st.Page("pages/boom.py", title="Boom"),
                    st.Page("pages/frag.py", title="Frag"), st.Page("pages/slow.py", title="Slow"), st.Page("pages/pick.py", title="Pick")])
pg.run()
"""
PAGES = {
    "home.py": "import streamlit as st\nst.write('home')\n",
    "boom.py": """
        import streamlit as st
        v = st.slider("v", 0, 10, 1, key="bo_v")
        if v == 7:
            raise ValueError("seven is not allowed")
        st.write(v)
        """,
    "frag.py": """
        import streamlit as st
        @st.fragment
        def part():
            st.write(st.slider("f", 1, 5, 2, key="fr_f") * 10)
        part()
        """,
    "pick.py": """
        import streamlit as st
        st.markdown("picked " + st.select_slider("p", ["low", "mid", "high"], value="mid", key="pk_p"))
        """,
    "slow.py": "import time, streamlit as st\ntime.sleep(4)\nst.write('late')\n",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app_dir = tmp_path_factory.mktemp("tinyapp")
    (app_dir / "pages").mkdir()
    (app_dir / "app.py").write_text(TINY_APP)
    for name, src in PAGES.items():
        (app_dir / "pages" / name).write_text(textwrap.dedent(src))
    port = free_port()
    # Elements over 1 kB go through the tab's message cache (the default threshold, 10 kB, is
    # above the minimal page's chart).
    env = {**os.environ, "BENCH_APP": str(app_dir / "app.py"), "STREAMLIT_GLOBAL_MIN_CACHED_MESSAGE_SIZE": "1000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "benchmarks/load_app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _pages(url):
    return {p.url_pathname: p for p in asyncio.run(fetch_pages(url, timeout=60))}


def test_navigation_lists_app_pages_plus_minimal_page(server):
    pages = _pages(server)
    assert set(pages) == {"", "boom", "frag", "slow", "pick", "bench_minimal"}
    assert pages[""].is_default and len({p.script_hash for p in pages.values()}) == 6


def test_slider_move_reruns_minimal_page_with_new_value_and_cache_refs_repeats(server):
    page = _pages(server)["bench_minimal"]

    async def go():
        async with StreamlitClient(server, timeout=60, keep_elements=True) as tab:
            opened = await tab.open_page(page)
            slider = opened.sliders[0]
            moved = await tab.move_slider(slider, (7.0,))
            await tab.move_slider(tab.sliders[slider.id], (8.0,))
            again = await tab.move_slider(tab.sliders[slider.id], (7.0,))
            return opened, slider, moved, again

    opened, slider, moved, again = asyncio.run(go())
    assert (slider.min, slider.max, slider.step, slider.value, slider.data_type) == (1, 12, 1, (3.0,), 0)
    assert opened.status == moved.status == "FINISHED_SUCCESSFULLY" and not moved.exceptions
    spec = json.loads(next(e for e in moved.new_elements if e.WhichOneof("type") == "plotly_chart").plotly_chart.spec)
    assert "7" in spec["layout"]["yaxis"]["title"]["text"]          # the figure follows the slider
    assert again.n_ref_hash >= 1 and again.n_bytes < moved.n_bytes / 2  # the chart came from the tab cache


def test_exception_element_and_fragment_rerun_are_reported(server):
    pages = _pages(server)

    async def go():
        async with StreamlitClient(server, timeout=60) as tab:
            slider = (await tab.open_page(pages["boom"])).sliders[0]
            boom = await tab.move_slider(slider, (7.0,))
            fine = await tab.move_slider(tab.sliders[slider.id], (3.0,))
            fslider = (await tab.open_page(pages["frag"])).sliders[0]
            frag = await tab.move_slider(fslider, (4.0,))
            return boom, fine, fslider, frag

    boom, fine, fslider, frag = asyncio.run(go())
    assert boom.exceptions == ["ValueError: seven is not allowed"] and fine.exceptions == []
    assert fslider.fragment_id and frag.status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"
    assert frag.elements == ["slider", "markdown"]  # only the fragment was rerun


def test_select_slider_move_sends_the_chosen_option(server):
    page = _pages(server)["pick"]

    async def go():
        async with StreamlitClient(server, timeout=60, keep_elements=True) as tab:
            slider = (await tab.open_page(page)).sliders[0]
            moved = await tab.move_slider(slider, slider.values_for_moves(1)[0])
            return slider, moved

    slider, moved = asyncio.run(go())
    assert slider.select and slider.options == ("low", "mid", "high") and slider.value == (1.0,)
    shown = [e.markdown.body for e in moved.new_elements if e.WhichOneof("type") == "markdown"]
    assert moved.exceptions == [] and shown == ["picked low"]


def test_run_slower_than_timeout_counts_as_dropped_session(server):
    page = _pages(server)["slow"]

    async def go():
        async with StreamlitClient(server, timeout=1.0) as tab:
            await tab.open_page(page)

    with pytest.raises(SessionDropped, match="no script_finished"):
        asyncio.run(go())
