"""The lesson pages compute their fit and build their figures once per configuration for every
session: in a classroom, forty students moving the same slider to the same values hit one cache
entry. Each case uses a configuration no other test uses, so the first session is a cache miss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kdviz.experiments import head_tail as ht
from kdviz.experiments import mode_seeking as ms
from kdviz.experiments import optimal_transport as otl
from kdviz.plots import head_tail as ht_plots
from kdviz.plots import mode_seeking as ms_plots
from kdviz.plots import optimal_transport as ot_plots

PAGES = Path(__file__).resolve().parents[2] / "pages"
TIMEOUT = 300  # s: an uncached fit on a loaded 2-core machine
# page: (experiment module, its entry point, its biggest figure, a configuration no other test uses)
CASES = {
    "mode_seeking": (ms, "mode_seeking", (ms_plots, "fit_animation"), {"ms_mu0": "-2.3", "ms_steps": "150"}),
    "head_tail": (ht, "head_tail", (ht_plots, "animation_figure"), {"ht_seed": "17", "ht_steps": "130"}),
    "optimal_transport": (otl, "transport_lesson", (ot_plots, "iterations_figure"),
                          {"ot_n": "35", "ot_eps": "0.05"}),
}


def count_calls(monkeypatch, module, name: str) -> list:
    calls = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **kw: calls.append(1) or real(*a, **kw))
    return calls


def session(page: str, query: dict) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def specs(at: AppTest) -> list[str]:
    return [c.proto.spec for c in at.get("plotly_chart")]


@pytest.mark.parametrize("page", list(CASES))
def test_a_second_session_with_the_same_configuration_reuses_the_first_sessions_fit_and_figures(
        page, monkeypatch):
    module, entry, (plots, figure), query = CASES[page]
    fits, builds = count_calls(monkeypatch, module, entry), count_calls(monkeypatch, plots, figure)
    first = session(page, query)
    second = session(page, query)
    assert not first.exception and not second.exception
    assert (len(fits), len(builds)) == (1, 1), (f"{page}: {fits} fits, {builds} figure builds "
                                                f"for one configuration")
    assert specs(first) == specs(second) and len(specs(first)) >= 4


def test_another_configuration_is_computed_anew_and_leaves_the_cached_figures_unchanged(monkeypatch):
    module, entry, _, query = CASES["optimal_transport"]
    before = specs(session("optimal_transport", query))
    calls = count_calls(monkeypatch, module, entry)
    other = session("optimal_transport", {**query, "ot_order": "1"})
    again = session("optimal_transport", query)
    assert len(calls) == 1  # the new configuration only
    assert specs(again) == before and specs(other) != before
    assert json.loads(before[0])["data"]  # real figures, not empty placeholders


def test_shipped_figures_send_the_browser_exactly_the_json_of_the_figure_they_were_made_from():
    import plotly.io as pio

    _, _, _, query = CASES["optimal_transport"]
    at = session("optimal_transport", query)
    res = otl.transport_lesson(n=35, epsilon=0.05)
    want = [ot_plots.plan_figure(res, "sinkhorn"), ot_plots.plan_figure(res, "exact"),
            ot_plots.iterations_figure(res)]  # in the page's order
    got = specs(at)[:3]
    assert [json.loads(g) for g in got] == [json.loads(pio.to_json(f, validate=False)) for f in want]


PREFETCHED = {  # page: (a configuration no other test uses, the main slider moved, what a miss would call)
    "mode_seeking": ({"ms_mu0": "-2.3", "ms_steps": "100"}, {"ms_mu0": "-2.2"}, (ms, "mode_seeking")),
    "head_tail": ({"ht_seed": "23", "ht_steps": "120", "ht_compare": "60"}, {"ht_compare": "59"},
                  (ht_plots, "bars_figure")),
    "optimal_transport": ({"ot_n": "45", "ot_eps": "0.05"}, {"ot_eps": "0.1"}, (otl, "transport_lesson")),
}


@pytest.mark.parametrize("page", list(PREFETCHED))
def test_a_page_prefetches_its_main_sliders_positions_so_the_next_move_is_served_from_the_cache(
        page, monkeypatch):
    import threading
    import time

    monkeypatch.setenv("KDVIZ_PREFETCH", "1")
    query, moved, (module, entry) = PREFETCHED[page]
    first = session(page, query)
    calls = count_calls(monkeypatch, module, entry)
    deadline = time.monotonic() + TIMEOUT  # the prefetcher takes the positions nearest the slider's first
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    calls.clear()
    real, misses = getattr(module, entry), []

    def session_miss(*a, **kw):  # a computation in a session's script thread (not the prefetcher's)
        if threading.current_thread().name != "kdviz-prefetch":
            misses.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(module, entry, session_miss)
    after = session(page, {**query, **moved})
    assert not first.exception and not after.exception
    assert misses == [] and specs(after) != specs(first)
