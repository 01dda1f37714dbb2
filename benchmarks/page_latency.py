"""Page latency in a real browser: slider change -> page fully updated, and the cold first visit.

For each page (default: mode seeking, head/tail, optimal transport) this script starts its own
`streamlit run app.py`, opens the page in Debian's Chromium (Playwright) and measures

* cold: the first visit after the server started (empty st.cache_data, plotly.js not yet loaded
  in this browser context): navigation -> script finished and every chart drawn;
* revisit: the same page again in a new session of the same browser (server cache and the
  browser's HTTP cache warm);
* slider changes: N times, one arrow-key press on a slider thumb -> the script re-ran, finished
  and a chart's data changed (detected by polling every 20 ms; the end time is the first poll at
  which the page was complete and stayed so for 0.5 s). Medians of two parts are shown too:
  "script s", the server-side run (Streamlit's running -> notRunning), and "MB/change", what the
  websocket delivered to the browser; the rest is the browser parsing and drawing.

Every change goes to a configuration not seen before (a walk over the page's first sliders),
so no change is served from st.cache_data. Targets: median <= 1 s, p95 <= 2 s.

    python benchmarks/page_latency.py [--pages mode_seeking,head_tail,optimal_transport] [--changes 20]

Other processes on the machine slow the browser and the server alike: the load average is
printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

import _browser as B  # noqa: E402  (the browser tests' helper: server, Chromium, page state)

DEFAULT_PAGES = ("mode_seeking", "head_tail", "optimal_transport")
TARGET_MEDIAN, TARGET_P95 = 1.0, 2.0
STABLE_S = 0.5      # the page must stay complete this long to count as done
CHANGE_TIMEOUT = 120.0


@dataclass
class Result:
    page: str
    cold_s: float | None = None
    revisit_s: float | None = None
    changes_s: list[float] = field(default_factory=list)
    script_s: list[float] = field(default_factory=list)   # server: script running -> notRunning
    received_mb: list[float] = field(default_factory=list)  # websocket bytes to the browser
    sliders: list[str] = field(default_factory=list)
    unchanged: int = 0          # changes after which no chart's data changed
    note: str = ""

    @property
    def median(self) -> float | None:
        return float(np.median(self.changes_s)) if self.changes_s else None

    @property
    def script_median(self) -> float | None:
        return float(np.median(self.script_s)) if self.script_s else None

    @property
    def mb_median(self) -> float | None:
        return float(np.median(self.received_mb)) if self.received_mb else None

    @property
    def p95(self) -> float | None:
        return float(np.percentile(self.changes_s, 95)) if self.changes_s else None

    @property
    def met(self) -> bool | None:
        if not self.changes_s:
            return None
        return self.median <= TARGET_MEDIAN and self.p95 <= TARGET_P95


def slider_keys(page, limit: int = 3) -> list[str]:
    """Widget keys of the first ``limit`` visible sliders (sidebar first, then the main area)."""
    keys = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stSlider"]')]
        .filter((s) => s.offsetParent !== null)
        .map((s) => { const c = s.closest('[class*="st-key-"]');
                      const m = c && c.className.match(/st-key-(\\S+)/); return m ? m[1] : null; })
        .filter((k) => k)""")
    return keys[:limit]


def thumb_of(page, key: str):
    return page.locator(f".st-key-{key} [data-testid='stSlider'] input[type='range']")


def slider_position(page, key: str) -> tuple[int, int] | None:
    """(step index, number of steps) of slider ``key``, None if it is gone."""
    thumb = thumb_of(page, key)
    if thumb.count() == 0:
        return None
    value, lo, hi, step = thumb.evaluate(
        "(e) => [Number(e.value), Number(e.min), Number(e.max), Number(e.step) || 1]")
    return round((value - lo) / step), round((hi - lo) / step)


def next_move(page, keys: list[str], seen: set) -> tuple[str, str, tuple] | None:
    """The first (slider, arrow key) that leads to a configuration not visited yet."""
    pos = {k: slider_position(page, k) for k in keys}
    current = tuple(p[0] if p else None for p in pos.values())
    for i, key in enumerate(keys):
        if pos[key] is None:
            continue
        index, n = pos[key]
        for arrow, delta in (("ArrowRight", 1), ("ArrowLeft", -1)):
            if 0 <= index + delta <= n:
                config = current[:i] + (index + delta,) + current[i + 1:]
                if config not in seen:
                    return key, arrow, config
    return None


def wait_updated(page, runs_before: int, prints_before: list, t0: float) -> tuple[float, bool]:
    """Seconds from ``t0`` until the page re-ran, finished, and (if it does) redrew a chart.

    A changed chart counts as proof of a rerun by itself: a quick (cached) rerun can go running ->
    notRunning within one React render, so the script-state attribute never shows "running" and
    B.script_state's run counter misses it (seen for a few % of moves with 5 browsers on 2 cores).
    """
    done_at, deadline = None, t0 + CHANGE_TIMEOUT
    while True:
        s, now = B.script_state(page), time.perf_counter()
        idle = s["state"] == "notRunning" and not s["skeletons"]
        charts = [c for c in B.charts(page) if c["visible"]] if idle else []  # light polling while running
        idle = idle and all(c["loaded"] for c in charts)
        changed = idle and [c["fingerprint"] for c in charts] != prints_before
        # no chart change: the run's end counts after 5 s
        if idle and (changed or (s["runs"] > runs_before and now - t0 > 5.0)):
            done_at = done_at or now
            if now - done_at >= STABLE_S and s["since"] >= STABLE_S * 1000:
                return done_at - t0, changed
        else:
            done_at = None
        if now > deadline:
            raise TimeoutError(f"page not updated {CHANGE_TIMEOUT:.0f} s after a slider change; state {s}, "
                               f"charts loaded {[c['loaded'] for c in B.charts(page) if c['visible']]}, "
                               f"problems {B.problems(page)}")
        page.wait_for_timeout(20)


def script_seconds(page, since_ms: float) -> float | None:
    """Duration of the script runs that started after ``since_ms`` (page clock), in s."""
    log = page.evaluate("window.__kdStates")
    total, start = 0.0, None
    for state, t in log:
        if t < since_ms:
            continue
        if state == "running" and start is None:
            start = t
        elif state != "running" and start is not None:
            total, start = total + (t - start) / 1000, None
    return total or None


def measure_page(browser, url: str, name: str, n_changes: int) -> Result:
    result = Result(name)
    page = B.new_page(browser)
    received = [0]

    def on_ws(ws):
        ws.on("framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload)))

    page.on("websocket", on_ws)
    try:
        result.cold_s = B.open_page(page, url, timeout=300)
        if problems := B.problems(page):
            result.note = "; ".join(problems)[:200]
            return result
        keys = slider_keys(page)
        if not keys:
            result.note = "no slider on the page"
            return result
        seen = {tuple(p[0] if p else None for p in (slider_position(page, k) for k in keys))}
        _change_loop(page, keys, seen, result, n_changes, received)
        if problems := B.problems(page):
            result.note = (result.note + " after the changes: " + "; ".join(problems))[:800]
        page.close()
        # A new session in the same browser context: data cached on the server, JS in the
        # browser's cache, as for a reader coming back to the page.
        page = page.context.new_page()
        result.revisit_s = B.open_page(page, url, timeout=300)
    finally:
        page.context.close()
    return result


def _change_loop(page, keys, seen, result: Result, n_changes: int, received: list) -> None:
    """Up to ``n_changes`` measured slider moves; a failure ends the loop with a note."""
    for _ in range(n_changes):
        move = next_move(page, keys, seen)
        if move is None:
            result.note = f"only {len(result.changes_s)} distinct configurations reachable"
            return
        key, arrow, config = move
        seen.add(config)
        try:
            thumb = thumb_of(page, key)
            thumb.focus()
            runs, prints = B.script_state(page)["runs"], B.fingerprints(page)
            t_page, received[0] = page.evaluate("performance.now()"), 0
            t0 = time.perf_counter()
            page.keyboard.press(arrow)
            seconds, changed = wait_updated(page, runs, prints, t0)
        except Exception as exc:  # keep what was measured; say what went wrong
            result.note = (f"change {len(result.changes_s) + 1} ({key} {arrow}): "
                           f"{type(exc).__name__}: {exc}")[:600]
            return
        result.changes_s.append(seconds)
        result.script_s.append(script_seconds(page, t_page) or float("nan"))
        result.received_mb.append(received[0] / 1e6)
        result.unchanged += not changed
        if key not in result.sliders:
            result.sliders.append(key)


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def print_table(results: list[Result], n_changes: int) -> None:
    print(f"\nslider change -> page updated, {n_changes} changes per page; targets: median <= "
          f"{TARGET_MEDIAN:g} s, p95 <= {TARGET_P95:g} s. load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    head = (f"{'page':<18} {'cold s':>7} {'revisit s':>9} {'median s':>8} {'p95 s':>7} {'max s':>7}  "
            f"{'target met?':<11}  {'script s':>8} {'MB/change':>9}  sliders moved")
    print(head)
    print("-" * len(head))
    for r in results:
        met = {None: "n/a", True: "yes", False: "NO"}[r.met]
        mx = max(r.changes_s) if r.changes_s else None
        print(f"{r.page:<18} {fmt(r.cold_s):>7} {fmt(r.revisit_s):>9} {fmt(r.median):>8} {fmt(r.p95):>7} "
              f"{fmt(mx):>7}  {met:<11}  {fmt(r.script_median):>8} {fmt(r.mb_median):>9}  "
              f"{', '.join(r.sliders)}")
        if r.unchanged:
            print(f"{'':<18} {r.unchanged} change(s) re-ran the page without changing a chart")
        if r.note:
            print(f"{'':<18} note: {r.note}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", default=",".join(DEFAULT_PAGES),
                    help="url paths of the pages, comma-separated")
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--json", type=Path, help="also write the raw timings here")
    args = ap.parse_args(argv)
    chromium = B.find_chromium()
    if chromium is None:
        print(f"no Chromium at {B.CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    wanted = [p.strip() for p in args.pages.split(",") if p.strip()]
    load_before = os.getloadavg()[0]
    with B.StreamlitServer(log=B.ARTIFACTS / "page-latency-streamlit.log") as server, sync_playwright() as pw:
        browser = B.launch_browser(pw, chromium)
        # Discover the pages from the app without visiting any of the measured ones first.
        page = B.new_page(browser)
        try:
            B.open_page(page, server.url, timeout=300)
            nav = {p.name: p for p in B.nav_pages(page, server.url)}
        finally:
            page.context.close()
        results = []
        for name in wanted:
            if name not in nav:
                results.append(Result(name, note="not in the app's navigation (page not written yet?)"))
                continue
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            try:
                results.append(measure_page(browser, nav[name].url, name, args.changes))
            except Exception as exc:  # report the page, keep measuring the others
                results.append(Result(name, note=f"{type(exc).__name__}: {exc}"[:600]))
        browser.close()
    print(f"(load average {load_before:.1f} before the run)")
    print_table(results, args.changes)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"median_s": r.median, "p95_s": r.p95} for r in results],
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
