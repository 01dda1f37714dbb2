"""The one caching pattern (ui.cached): one computation per configuration for every session,
results frozen and figures shared read-only, memory bounded in bytes."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from ui import cache


def test_a_cached_run_is_computed_once_and_every_caller_gets_the_same_frozen_objects():
    calls = []

    @cache.cached(entry_mb=1, budget_mb=4)
    def run(n):
        calls.append(n)
        return {"a": np.arange(n), "nested": [np.zeros(2)]}, {"fig": go.Figure(go.Scatter(y=[0, n]))}

    first, second = run(3), run(3)
    assert calls == [3] and first[0] is second[0] and first[1]["fig"] is second[1]["fig"]
    res, figs = first
    with pytest.raises(ValueError, match="read-only"):
        res["a"][0] = 7
    with pytest.raises(ValueError, match="read-only"):
        res["nested"][0][:] = 1
    with pytest.raises(TypeError, match="read-only"):
        figs["fig"].update_layout(title="changed")
    assert list(figs["fig"].to_dict()["data"][0]["y"]) == [0, 3]


def test_max_entries_follows_the_byte_budget_so_a_flood_of_configurations_evicts_instead_of_growing():
    calls = []

    @cache.cached(entry_mb=1, budget_mb=3)  # room for 3 entries
    def run(n):
        calls.append(n)
        return None, {}

    for n in range(10):
        run(n)
    run(9), run(8), run(7)  # the 3 newest are still there
    assert calls == list(range(10))
    run(0)  # evicted long ago: computed again
    assert calls[-1] == 0 and len(calls) == 11


def test_nbytes_counts_array_buffers_and_strings_inside_containers_and_dataclasses():
    from dataclasses import dataclass

    @dataclass
    class R:
        a: np.ndarray
        b: dict

    assert cache.nbytes(R(np.zeros(1000), {"s": "x" * 500})) >= 8000 + 500


def test_each_display_gets_its_own_entry_and_every_language_shares_one_cache():
    from kdviz.i18n import Display, _, displayed

    calls = []

    @cache.cached(entry_mb=1, budget_mb=4, spinner="Fitting the students...")
    def run(n):
        calls.append(n)
        return None, {"fig": go.Figure(go.Scatter(y=[0, n], name=_("Presentation mode")))}

    english = run(2)
    with displayed(Display(lang="zh")):
        chinese, again = run(2), run(2)
    with displayed(Display(theme="dark")):
        run(2)
    assert calls == [2, 2, 2] and chinese is again and chinese is not english
    assert english[1]["fig"].to_dict()["data"][0]["name"] == "Presentation mode"
    assert chinese[1]["fig"].to_dict()["data"][0]["name"] != "Presentation mode"
    run.clear()  # one cache for both languages: clearing it clears the Chinese entry too
    with displayed(Display(lang="zh")):
        run(2)
    assert calls == [2, 2, 2, 2]
