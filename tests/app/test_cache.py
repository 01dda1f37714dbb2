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


def test_the_budget_counts_bytes_so_a_flood_of_configurations_evicts_the_oldest_instead_of_growing():
    calls = []

    @cache.cached(entry_mb=1, budget_mb=3.5)  # room for 3 entries of 1 MB
    def run(n):
        calls.append(n)
        return np.zeros(cache.MB // 8), {}

    for n in range(10):
        run(n)
    run(9), run(8), run(7)  # the 3 newest are still there
    assert calls == list(range(10))
    run(0)  # evicted long ago: computed again
    assert calls[-1] == 0 and len(calls) == 11


def test_small_entries_are_kept_by_the_hundred_where_the_stated_largest_entry_would_allow_three():
    calls = []

    @cache.cached(entry_mb=1, budget_mb=3)
    def run(n):
        calls.append(n)
        return np.zeros(1000), {}

    for _ in range(2):
        for n in range(200):
            run(n)
    assert calls == list(range(200))


def test_an_entry_larger_than_the_whole_budget_is_served_but_not_kept():
    calls = []

    @cache.cached(entry_mb=1, budget_mb=1)
    def run(n):
        calls.append(n)
        return np.zeros(cache.MB // 4), {}

    assert run(1)[0].nbytes == 2 * cache.MB and run(1)[0].nbytes == 2 * cache.MB
    assert calls == [1, 1]


def test_sessions_asking_for_a_configuration_being_computed_wait_for_it_instead_of_computing_it_again():
    import threading
    import time

    calls, barrier = [], threading.Barrier(8)

    @cache.cached(entry_mb=1, budget_mb=4)
    def run(n):
        calls.append(n)
        time.sleep(0.3)
        return np.arange(n), {}

    results = []

    def session():
        barrier.wait()
        results.append(run(5))

    threads = [threading.Thread(target=session) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [5] and len(results) == 8 and all(r is results[0] for r in results)


def test_a_failed_computation_is_not_kept_and_the_next_caller_computes_it_again():
    calls = []

    @cache.cached(entry_mb=1, budget_mb=4)
    def run(n):
        calls.append(n)
        if len(calls) == 1:
            raise ValueError("first call fails")
        return None, {}

    with pytest.raises(ValueError, match="first call fails"):
        run(1)
    run(1), run(1)
    assert calls == [1, 1]


def test_a_page_defining_its_function_anew_on_every_rerun_shares_one_cache():
    calls = []

    def define():
        @cache.cached(entry_mb=1, budget_mb=4)
        def rerun_shared(n):
            calls.append(n)
            return None, {}
        return rerun_shared

    define()(4), define()(4)
    assert calls == [4]


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


def _wait_for(condition, timeout=20.0):
    import time

    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_prefetched_configurations_are_computed_in_the_background_in_the_viewers_display_and_then_served(
        monkeypatch):
    import threading

    from kdviz.i18n import Display, displayed
    from kdviz.i18n import display as current

    monkeypatch.setenv("KDVIZ_PREFETCH", "1")
    calls, seen = [], []

    @cache.cached(entry_mb=1, budget_mb=4)
    def run(n):
        calls.append(n)
        seen.append((current().lang, threading.current_thread().name))
        return np.arange(n), {}

    with displayed(Display(lang="zh")):
        run.prefetch({"n": 0}, "n", (3, 1, 2))
        assert _wait_for(lambda: len(calls) == 3)
        assert calls == [3, 1, 2] and all(s == ("zh", "kdviz-prefetch") for s in seen)
        assert list(run(n=1)[0]) == [0] and len(calls) == 3  # served from the cache
    run(n=1)  # the English display was not prefetched
    assert calls == [3, 1, 2, 1]


def test_a_new_prefetch_replaces_what_is_left_of_the_older_one(monkeypatch):
    import threading

    monkeypatch.setenv("KDVIZ_PREFETCH", "1")
    gate, calls = threading.Event(), []

    @cache.cached(entry_mb=1, budget_mb=4)
    def run(n, m):
        calls.append(n)
        gate.wait(10)
        return None, {}

    run.prefetch({"n": 0, "m": 1}, "n", range(100, 110))
    assert _wait_for(lambda: calls == [100])  # the first is running, the rest wait
    run.prefetch({"n": 0, "m": 1}, "n", range(100, 110))  # the same again: nothing changes
    run.prefetch({"n": 0, "m": 2}, "n", (200, 201))
    gate.set()
    assert _wait_for(lambda: len(calls) == 3)
    assert calls == [100, 200, 201] and not _wait_for(lambda: len(calls) > 3, timeout=0.3)


def test_prefetching_is_off_when_the_environment_says_so(monkeypatch):
    monkeypatch.setenv("KDVIZ_PREFETCH", "0")
    calls = []

    @cache.cached(entry_mb=1, budget_mb=4)
    def run(n):
        calls.append(n)
        return None, {}

    run.prefetch({"n": 0}, "n", [1])
    assert not _wait_for(lambda: calls, timeout=0.3)


def test_a_prefetched_configuration_shows_no_spinner_even_through_a_nested_cached_run(monkeypatch):
    monkeypatch.setenv("KDVIZ_PREFETCH", "1")
    monkeypatch.setattr(cache.st, "spinner", lambda *a, **kw: (_ for _ in ()).throw(RuntimeError("spinner")))
    done = []

    @cache.cached(entry_mb=1, budget_mb=4, spinner="Fitting the students...")
    def inner(n):
        return np.arange(n), {}

    @cache.cached(entry_mb=1, budget_mb=4)
    def outer(n):
        done.append(inner(n)[0].sum())
        return None, {}

    outer.prefetch({"n": 0}, "n", [3, 4])
    assert _wait_for(lambda: len(done) == 2) and done == [3, 6]
    with pytest.raises(RuntimeError, match="spinner"):  # a session's miss does show it
        inner(9)


def test_the_prefetcher_waits_while_a_session_computes_its_own_configuration(monkeypatch):
    import threading

    monkeypatch.setenv("KDVIZ_PREFETCH", "1")
    gate, calls = threading.Event(), []

    @cache.cached(entry_mb=1, budget_mb=4)
    def run(n):
        calls.append(n)
        if n == 0:
            gate.wait(10)
        return None, {}

    session = threading.Thread(target=run, args=(0,))
    session.start()
    assert _wait_for(lambda: calls == [0])
    run.prefetch({"n": 0}, "n", [1, 2])
    assert not _wait_for(lambda: len(calls) > 1, timeout=0.5)  # the session still computes
    gate.set()
    session.join()
    assert _wait_for(lambda: calls == [0, 1, 2])
