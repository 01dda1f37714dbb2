"""Fixtures for the browser tests: one `streamlit run app.py` server and one Debian Chromium
(driven by Playwright, never a downloaded browser) per test module, and a survey that visits
every page the running app offers once, cold, and records what it shows.

Module scope, not session scope: Playwright's sync API keeps an asyncio loop running in the
main thread while it is started, which breaks later tests that call ``asyncio.run()``; it is
stopped as soon as the browser tests are done.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import _browser as B  # noqa: E402

SCREENSHOTS = B.ARTIFACTS / "screenshots"
PAGE_TIMEOUT = 180.0  # s for a cold page (fits run, plotly loads) on a loaded 2-core machine


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the system Chromium; skip without one, unless CI is set: then fail."""
    path = B.find_chromium()
    outcome = B.missing_browser_outcome(path)
    message = (f"no Chromium at {B.CHROMIUM} or on PATH: install Debian's browser with "
               "`apt-get install chromium` (.ci/run does); Playwright must not download one")
    if outcome == "fail":
        pytest.fail(f"CI is set but {message}", pytrace=False)
    if outcome == "skip":
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def app_server(chromium):
    """`streamlit run app.py --server.headless true --server.port <free port>`; the process group
    is killed at the end."""
    server = B.StreamlitServer(log=B.ARTIFACTS / "e2e-streamlit.log")
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = B.launch_browser(pw, chromium)
        yield browser
        browser.close()
    finally:
        pw.stop()


@pytest.fixture
def page(browser):
    page = B.new_page(browser)
    yield page
    page.context.close()


@dataclass
class Visit:
    """What one cold visit of a page showed."""
    nav: B.NavPage
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    charts: list[dict] = field(default_factory=list)
    n_sliders: int = 0
    screenshot: Path | None = None

    @property
    def visible_charts(self) -> list[dict]:
        return [c for c in self.charts if c["visible"]]

    @property
    def animated(self) -> bool:
        return any(c["play"] for c in self.visible_charts)


@dataclass
class Survey:
    nav: list[B.NavPage]
    visits: dict[str, Visit]
    seconds: float

    def pick(self, want, prefer: tuple[str, ...] = ("mode_seeking",)) -> Visit | None:
        """The first visit satisfying ``want``, the preferred pages first."""
        ordered = sorted(self.visits.values(), key=lambda v: v.nav.name not in prefer)
        return next((v for v in ordered if not v.problems and want(v)), None)


@pytest.fixture(scope="module")
def survey(browser, app_server) -> Survey:
    """Visit every page the app's navigation offers (a fresh session each), wait until the
    script is done and the charts are drawn, record problems/charts/sliders, save a screenshot."""
    t0 = time.perf_counter()
    page = B.new_page(browser)
    try:
        nav = B.discover_pages(page, app_server.url, timeout=PAGE_TIMEOUT)
    finally:
        page.context.close()
    visits = {}
    for item in nav:
        visit = Visit(item)
        page = B.new_page(browser)
        try:
            visit.seconds = B.open_page(page, item.url, timeout=PAGE_TIMEOUT)
            visit.problems = B.problems(page)
            visit.charts = B.charts(page)
            visit.n_sliders = B.sliders(page).count()
            visit.screenshot = SCREENSHOTS / f"{item.name}.png"
            B.full_screenshot(page, visit.screenshot)
        except Exception as exc:  # a page that never finishes is a finding, not a crash of the survey
            visit.problems.append(f"{type(exc).__name__}: {exc}"[:500])
            try:
                visit.problems += B.problems(page)
            except Exception:  # the page may be unusable; the first problem says why
                pass
        finally:
            page.context.close()
        visits[item.name] = visit
    result = Survey(nav, visits, time.perf_counter() - t0)
    B.ARTIFACTS.mkdir(exist_ok=True)
    (B.ARTIFACTS / "e2e-pages.json").write_text(json.dumps(
        {"survey_s": round(result.seconds, 1),
         "pages": {n: {"title": v.nav.title, "cold_s": round(v.seconds, 2), "charts": len(v.visible_charts),
                       "sliders": v.n_sliders, "animated": v.animated, "problems": v.problems}
                   for n, v in visits.items()}}, indent=1, ensure_ascii=False))
    return result
