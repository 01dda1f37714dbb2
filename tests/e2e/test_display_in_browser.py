"""Every page as a class sees it, in Chromium: presentation mode on a 1024×768 projector, a
390×844 phone, and a 1400×900 laptop in light and dark, each in English and in Chinese.

For every page and each of these eight views: a screenshot of the first screen is saved
(artifacts/screenshots/display/<view>/<page>.png), no exception or error shows, and

- presentation mode: the main chart's top lies inside the first screen and the sidebar is hidden;
- phone: the page does not scroll sideways and the sidebar starts collapsed;
- dark: the page follows the browser's dark preference (the app's background is dark).
"""

from __future__ import annotations

import json

import pytest

import _browser as B

pytestmark = pytest.mark.e2e

SHOTS = B.ARTIFACTS / "screenshots" / "display"
# name -> (viewport, colour scheme, query)
VIEWS = {
    "present_1024x768_en": ((1024, 768), "light", "present=1"),
    "present_1024x768_zh": ((1024, 768), "light", "present=1&lang=zh"),
    "phone_390x844_en": ((390, 844), "light", ""),
    "phone_390x844_zh": ((390, 844), "light", "lang=zh"),
    "laptop_1400x900_light_en": ((1400, 900), "light", ""),
    "laptop_1400x900_light_zh": ((1400, 900), "light", "lang=zh"),
    "laptop_1400x900_dark_en": ((1400, 900), "dark", ""),
    "laptop_1400x900_dark_zh": ((1400, 900), "dark", "lang=zh"),
}

LAYOUT = """() => {
  const box = (sel) => {
    const el = document.querySelector(sel);
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return {top: r.top + window.scrollY, bottom: r.bottom + window.scrollY, width: r.width, height: r.height};
  };
  const sidebar = document.querySelector('section[data-testid="stSidebar"]');
  const app = document.querySelector('.stApp');
  const rgb = getComputedStyle(app).backgroundColor.match(/[0-9.]+/g).map(Number);
  return {chart: box('.st-key-main_chart'),
          sidebarShown: !!sidebar && sidebar.getBoundingClientRect().width > 0
                        && getComputedStyle(sidebar).display !== 'none'
                        && sidebar.getAttribute('aria-expanded') !== 'false',
          scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
          innerHeight: window.innerHeight,
          background: (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255};
}"""


def _url(base: str, url_path: str, query: str) -> str:
    return f"{base}/{url_path}" + (f"?{query}" if query else "")


@pytest.mark.parametrize("view", list(VIEWS))
def test_every_page_in_this_view_renders_without_error_and_lays_out_for_its_screen(view, browser, app_server):
    (width, height), scheme, query = VIEWS[view]
    pages = B.declared_pages()
    failures, record = {}, {}
    for declared in pages:
        url_path = "" if declared.default else declared.url_path
        page = B.new_page(browser, viewport={"width": width, "height": height}, color_scheme=scheme)
        name = declared.url_path
        try:
            B.open_page(page, _url(app_server.url, url_path, query), timeout=240)
            found = B.problems(page)
            layout = page.evaluate(LAYOUT)
            SHOTS.joinpath(view).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / view / f"{name}.png"))
        except Exception as exc:  # a page that never finishes is a finding for this page
            failures[name] = [f"{type(exc).__name__}: {exc}"[:300]]
            continue
        finally:
            page.context.close()
        record[name] = layout
        if view.startswith("present"):
            chart = layout["chart"]
            if chart is None:
                found.append("no main chart (ui.main_chart) on the page")
            elif not chart["top"] < height:
                found.append(f"the main chart starts at y = {chart['top']:.0f}, below the first screen "
                             f"({height})")
            if layout["sidebarShown"]:
                found.append("the sidebar shows in presentation mode")
        if view.startswith("phone"):
            if layout["scrollWidth"] > layout["innerWidth"] + 1:
                found.append(f"scrolls sideways: {layout['scrollWidth']} px wide in a {width} px screen")
            if layout["sidebarShown"]:
                found.append("the sidebar starts expanded over the content on a phone")
        if scheme == "dark" and layout["background"] > 0.3:
            found.append(f"not dark: the app's background has luminance {layout['background']:.2f}")
        if found:
            failures[name] = found
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / f"{view}.json").write_text(json.dumps(record, indent=1))
    assert not failures, f"{view}:\n" + "\n".join(f"  {n}: " + "; ".join(f) for n, f in failures.items())
