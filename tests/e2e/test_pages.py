"""The app in a real browser: every page the navigation offers renders its charts without errors,
a slider moved with the keyboard re-runs the page and redraws a chart, and an animation plays.

Pages are discovered from the running app's navigation (nothing hard-coded), and compared with
what app.py declares. Screenshots go to artifacts/screenshots/<page>.png.
"""

from __future__ import annotations

import pytest

import _browser as B

pytestmark = pytest.mark.e2e


def _report(failures: dict[str, list[str]]) -> str:
    return "\n".join(f"{name}: " + "; ".join(items) for name, items in failures.items())


def test_navigation_shows_every_page_app_py_declares(survey):
    declared = B.declared_pages()
    shown = {v.nav.name for v in survey.visits.values()}
    missing = [d.path for d in declared if d.url_path not in shown]
    assert len(survey.nav) >= max(len(declared), 1), (
        f"app.py declares {len(declared)} pages, the navigation shows {len(survey.nav)}: "
        f"{[n.title for n in survey.nav]}")
    assert not missing, f"declared in app.py but not in the navigation: {missing}"


def test_every_page_renders_without_exception_or_error_text(survey):
    failures = {name: v.problems for name, v in survey.visits.items() if v.problems}
    assert not failures, "pages with errors:\n" + _report(failures)


def test_every_lesson_page_draws_its_plotly_charts(survey):
    """Every visible chart has drawn marks (lines, bars, heatmap images); every page but the
    default (home) page has at least one chart."""
    default = next((d.url_path for d in B.declared_pages() if d.default), None)
    failures = {}
    for name, v in survey.visits.items():
        if v.problems:  # reported by the test above; charts of a broken page say nothing more
            continue
        charts = v.visible_charts
        empty = [f"chart {i} ({c['title'] or 'untitled'})" for i, c in enumerate(charts)
                 if not c["loaded"] or c["marks"] == 0]
        if empty:
            failures[name] = [f"nothing drawn in {empty}"]
        if not charts and name != default and len(survey.visits) > 1:
            failures.setdefault(name, []).append("no plotly chart on a lesson page")
    assert not failures, "pages with missing charts:\n" + _report(failures)


def test_slider_arrow_key_reruns_page_redraws_a_chart_and_updates_the_url(survey, page, app_server):
    visit = survey.pick(lambda v: v.n_sliders > 0 and v.visible_charts)
    assert visit is not None, "no page without errors has both a slider and a chart"
    B.open_page(page, visit.nav.url, timeout=180)
    tried = []
    for index in range(min(B.sliders(page).count(), 4)):
        thumb = B.sliders(page).nth(index)
        left, right = B.slider_room(thumb)
        key = "ArrowRight" if right >= 1 else "ArrowLeft"
        before, runs, url = B.fingerprints(page), B.script_state(page)["runs"], page.url
        value = thumb.input_value()
        B.press_slider(page, thumb, key)
        assert thumb.input_value() != value, f"{visit.nav.name}: {key} on slider {index} did not move it"
        B.poll(page, lambda: B.script_state(page)["runs"] > runs, 30,
               f"{visit.nav.name} to re-run after slider {index} moved")
        B.wait_until_idle(page, timeout=120)
        assert not B.problems(page), f"{visit.nav.name} after moving slider {index}: {B.problems(page)}"
        after = B.fingerprints(page)
        tried.append(f"slider {index} {value}->{thumb.input_value()}")
        if after != before:
            assert page.url != url, f"{visit.nav.name}: the URL did not change with slider {index} ({url})"
            return
    pytest.fail(f"{visit.nav.name}: the page re-ran but no chart changed after {tried}")


def test_play_button_advances_the_animation_frame_slider(survey, page):
    visit = survey.pick(lambda v: v.animated)
    assert visit is not None, "no page without errors shows an animated chart (▶ Play)"
    B.open_page(page, visit.nav.url, timeout=180)
    index = next(i for i, c in enumerate(B.charts(page)) if c["visible"] and c["play"])
    chart = page.locator("[data-testid='stPlotlyChart']").nth(index)
    chart.scroll_into_view_if_needed()
    before = B.charts(page)[index]
    chart.locator(".updatemenu-button", has_text="Play").click()
    def frame_moved():
        c = B.charts(page)[index]
        moved = (c["sliderActive"], c["sliderText"]) != (before["sliderActive"], before["sliderText"])
        return c if moved else None

    moved = B.poll(page, frame_moved, 15, f"the frame slider of chart {index} on {visit.nav.name} to move",
                   interval_ms=200)
    chart.locator(".updatemenu-button", has_text="Pause").click()
    assert moved["fingerprint"] != before["fingerprint"], (
        f"{visit.nav.name}: the frame slider moved ({before['sliderText']} -> {moved['sliderText']}) "
        "but the plotted data did not change")
    assert moved["marks"] > 0 and not moved["nanTraces"]
