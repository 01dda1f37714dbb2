"""The lab page in Chromium: Run puts a run through the server queue, the progress bar appears and
advances, Stop stops it and the page says so (runs go to a throw-away KDVIZ_DATA folder; the AppTest
covers a run that finishes); the main pair of curves sits side by side on a laptop and a projector
(entirely on the first screen in presentation mode) and stacks, each at full width, on a phone."""

from __future__ import annotations

import re

import pytest

import _browser as B

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def data_folder(tmp_path_factory):
    """The server started by ``app_server`` inherits this KDVIZ_DATA: no run lands in ~/.kdviz."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KDVIZ_DATA", str(tmp_path_factory.mktemp("kdviz-data")))
        yield


def progress_value(page) -> int | None:
    bar = page.locator("[data-testid='stProgress'] [role='progressbar']")
    return int(bar.first.get_attribute("aria-valuenow")) if bar.count() else None


def test_run_shows_a_progress_bar_that_advances_and_stop_stops_the_run(page, app_server):
    B.open_page(page, f"{app_server.url}/lab?lab_steps=50", timeout=180)
    assert not B.problems(page), B.problems(page)
    assert page.get_by_text("shipped default run").count() > 0  # results before any training
    page.get_by_role("button", name="Run", exact=True).click()
    first = B.poll(page, lambda: progress_value(page) is not None and progress_value(page) + 1, 180,
                   "the progress bar to appear") - 1
    later = B.poll(page, lambda: (v := progress_value(page)) is not None and v > first and v, 300,
                   "the progress bar to advance")
    assert later > first
    page.get_by_role("button", name="Stop", exact=True).click()
    B.poll(page, lambda: page.get_by_text(re.compile("Your run was stopped")).count() > 0, 300,
           "the stopped run to be reported")
    B.wait_until_idle(page, timeout=120)
    assert progress_value(page) is None


PAIR = """() => [...document.querySelectorAll('.st-key-lab_kl_0, .st-key-lab_kl_1')].map((el) => {
  const r = el.getBoundingClientRect();
  return {left: r.left, top: r.top + window.scrollY, bottom: r.bottom + window.scrollY, width: r.width};
})"""


@pytest.mark.parametrize("view", [((390, 844), ""), ((1024, 768), "present=1"), ((1400, 900), "")],
                         ids=lambda v: f"{v[0][0]}x{v[0][1]}{'_present' if v[1] else ''}")
def test_the_main_pair_of_curves_stacks_on_a_phone_and_sits_side_by_side_on_wider_screens(view, browser,
                                                                                          app_server):
    (width, height), query = view
    page = B.new_page(browser, viewport={"width": width, "height": height})
    try:
        B.open_page(page, f"{app_server.url}/lab" + (f"?{query}" if query else ""), timeout=180)
        assert not B.problems(page), B.problems(page)
        first, second = page.evaluate(PAIR)
    finally:
        page.context.close()
    if width < 640:  # Streamlit stacks columns below 640 px
        assert second["top"] >= first["bottom"] and min(first["width"], second["width"]) > 0.85 * width
    else:
        assert second["left"] > first["left"] + first["width"] - 1 and abs(second["top"] - first["top"]) < 1
    if query:
        assert first["bottom"] <= height, f"the main chart ends at y = {first['bottom']:.0f}, below {height}"
