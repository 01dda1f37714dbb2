"""The optimal-transport page's numbers (st.metric) in Chromium: in presentation mode on a 1024×768
projector they are much larger than the text around them, and on every screen each keeps its whole
label (none is cut to "Sinkhorn W_ε(p…")."""

from __future__ import annotations

import pytest

import _browser as B

pytestmark = pytest.mark.e2e

METRICS = """() => [...document.querySelectorAll('[data-testid="stMetric"]')].map((m) => {
  const value = m.querySelector('[data-testid="stMetricValue"] p');
  const label = m.querySelector('[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"]');
  return {value: parseFloat(getComputedStyle(value).fontSize), text: value.textContent,
          label: parseFloat(getComputedStyle(label.querySelector('p')).fontSize),
          labelText: label.textContent, cut: label.scrollWidth > label.clientWidth + 1};
})"""


@pytest.mark.parametrize("view", [((1024, 768), "present=1"), ((1024, 768), "present=1&lang=zh"),
                                  ((390, 844), ""), ((1400, 900), "")], ids=lambda v: v[1] or f"{v[0][0]}px")
def test_the_numbers_keep_their_whole_labels_and_are_large_in_presentation_mode(view, browser, app_server):
    (width, height), query = view
    page = B.new_page(browser, viewport={"width": width, "height": height})
    try:
        B.open_page(page, f"{app_server.url}/optimal_transport" + (f"?{query}" if query else ""), timeout=240)
        assert not B.problems(page), B.problems(page)
        metrics = page.evaluate(METRICS)
    finally:
        page.context.close()
    assert len(metrics) == 5, metrics
    assert not [m["labelText"] for m in metrics if m["cut"]], "labels cut short"
    if "present=1" in query:
        small = [(m["text"], m["value"]) for m in metrics if m["value"] < 2 * m["label"] or m["value"] < 36]
        assert not small, f"numbers not at least 36 px and twice their labels' size: {small}"
