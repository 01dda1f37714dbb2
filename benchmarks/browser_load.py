"""Classroom load in real browsers: N concurrent Chromium sessions per page on one server.

A cross-check of benchmarks/classroom_load.py (which simulates 40 students at the protocol level)
with what a browser sees. One ``streamlit run benchmarks/load_app.py`` server (app.py plus the
one-slider floor page /bench_minimal) serves every phase, one page per phase. In a phase, N
sessions (one thread each; Playwright's sync API is per thread, so one Chromium per session) open
the page at the same moment, then each moves the page's first slider ``--moves`` times, one arrow
key per move (turning round at either end), with a short random pause, all at once. All sessions
of a phase make the same moves, so they ask for the same configurations (as classroom_load.py
without --spread).

Measured per page: the cold open (navigation -> script finished, every chart drawn), and per
move the latency slider change -> the script re-ran, finished and a chart's data changed
(benchmarks/page_latency.py's detection, polled every 20 ms, with a changed chart also taken as
proof of a rerun; a change that alters no chart counts from 5 s, "unch"); median / p95 / max over
all sessions' moves, the ratio of each lesson's p95 to the floor page's p95 ("xfloor"),
stException elements seen after the open or a move ("exc"), moves or opens that timed out (120 s
per move, 300 s per open: "t/o"), sessions that ended early for another reason ("drop"), and the
1-min load average before and after each phase. Exit code 1 if any exception element, timeout or
dropped session.

What it is not: the browsers (N Chromiums and their Playwright drivers) run on the same 2 cores
as the server and slow it, so the absolute times and the ratios here are a cross-check of
classroom_load.py's, not the measurement of the issue's target (protocol-level p95 <= 2x floor).

    python benchmarks/browser_load.py [--pages bench_minimal,mode_seeking,head_tail,optimal_transport]
                                      [--sessions 5] [--moves 10] [--pause 0.5]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _browser as B  # noqa: E402
from benchmarks import page_latency as PL  # noqa: E402  (slider lookup, "page updated" settings)

DEFAULT_PAGES = "bench_minimal,mode_seeking,head_tail,optimal_transport"
MINIMAL = "bench_minimal"
OPEN_TIMEOUT = 300.0  # s for a cold page under load
START_TIMEOUT = 180.0  # s for every session's browser to be up


@dataclass
class SessionLog:
    open_s: float | None = None
    moves_s: list[float] = field(default_factory=list)
    unchanged: int = 0            # moves after which no chart's data changed
    exception_states: int = 0     # open/move states that showed an stException element
    timeouts: int = 0
    dropped: str = ""             # why the session ended early, other than a timeout
    slider: str = ""
    notes: set[str] = field(default_factory=set)


def check_page(page, log: SessionLog) -> None:
    """Count an stException on the page; keep other problems (st.error, JS errors, NaN) as notes."""
    found = B.problems(page)
    log.exception_states += any(p.startswith("exception:") for p in found)
    log.notes.update(p[:160] for p in found)


def drive(page, url: str, args, rng: random.Random, log: SessionLog) -> None:
    """Open the page, then move its first slider ``args.moves`` times, timing each update."""
    log.open_s = B.open_page(page, url, timeout=OPEN_TIMEOUT)
    check_page(page, log)
    keys = PL.slider_keys(page, limit=1)
    if not keys:
        log.dropped = "no slider on the page"
        return
    log.slider, arrow = keys[0], "ArrowRight"
    for _ in range(args.moves):
        page.wait_for_timeout(1000 * args.pause * rng.uniform(0.5, 1.5))
        thumb = PL.thumb_of(page, log.slider)
        left, right = B.slider_room(thumb)
        if (arrow == "ArrowRight" and right < 1) or (arrow == "ArrowLeft" and left < 1):
            arrow = "ArrowLeft" if arrow == "ArrowRight" else "ArrowRight"
        thumb.focus()
        runs, prints = B.script_state(page)["runs"], B.fingerprints(page)
        t0 = time.perf_counter()
        page.keyboard.press(arrow)
        seconds, changed = PL.wait_updated(page, runs, prints, t0)
        log.moves_s.append(seconds)
        log.unchanged += not changed
        check_page(page, log)


def session(url: str, args, chromium: str, barrier: threading.Barrier, seed: int) -> SessionLog:
    """One student: its own Playwright and Chromium; starts driving when every session is up."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    log, rng = SessionLog(), random.Random(seed)
    with sync_playwright() as pw:
        browser = None
        try:
            browser = B.launch_browser(pw, chromium)
            page = B.new_page(browser)
            barrier.wait(timeout=START_TIMEOUT)
            drive(page, url, args, rng, log)
        except threading.BrokenBarrierError:
            log.dropped = "another session's browser did not start"
        except TimeoutError as exc:  # ours (B.poll, PL.wait_updated); Playwright's is a PlaywrightError
            log.timeouts += 1
            log.notes.add(str(exc)[:300])
        except Exception as exc:  # noqa: BLE001 (report the session, keep the others running)
            if isinstance(exc, PlaywrightError) and "Timeout" in type(exc).__name__:
                log.timeouts += 1
                log.notes.add(str(exc)[:300])
            else:
                barrier.abort()  # a browser that cannot start must not leave the others waiting
                log.dropped = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            if browser is not None:
                browser.close()
    return log


def run_phase(url: str, name: str, args, chromium: str) -> dict:
    barrier = threading.Barrier(args.sessions)
    load0 = os.getloadavg()[0]
    with ThreadPoolExecutor(args.sessions) as pool:
        logs = list(pool.map(lambda i: session(url, args, chromium, barrier, args.seed * 1000 + i),
                             range(args.sessions)))
    moves = [s for lg in logs for s in lg.moves_s]
    opens = [lg.open_s for lg in logs if lg.open_s is not None]
    stat = (lambda f: float(f(moves)) if moves else float("nan"))
    return {"page": name, "sessions": args.sessions, "changes": len(moves),
            "median": stat(np.median), "p95": stat(lambda v: np.percentile(v, 95)), "max": stat(max),
            "open_median": float(np.median(opens)) if opens else float("nan"),
            "exc": sum(lg.exception_states for lg in logs), "timeouts": sum(lg.timeouts for lg in logs),
            "dropped": sum(bool(lg.dropped) for lg in logs), "unchanged": sum(lg.unchanged for lg in logs),
            "load": (load0, os.getloadavg()[0]), "slider": ",".join(sorted({lg.slider for lg in logs} - {""})),
            "notes": sorted({n for lg in logs for n in lg.notes} | {lg.dropped for lg in logs if lg.dropped})}


def print_table(rows: list[dict], args, load_before: float) -> None:
    floor = next((r["p95"] for r in rows if r["page"] == MINIMAL), None)
    print(f"\n{args.sessions} browser sessions per page x {args.moves} slider moves, pause {args.pause} s "
          f"(x0.5-1.5); load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
          f"{os.cpu_count()} cores")
    head = (f"{'page':<18}{'sess':>5}{'changes':>8}{'med s':>7}{'p95 s':>7}{'max s':>7}{'xfloor':>7}"
            f"{'open med':>9}{'exc':>5}{'t/o':>5}{'drop':>5}{'unch':>5}{'load':>11}  slider")
    print(head)
    print("-" * len(head))
    for r in rows:
        ratio = r["p95"] / floor if floor else float("nan")
        load = f"{r['load'][0]:.1f}->{r['load'][1]:.1f}"
        print(f"{r['page']:<18}{r['sessions']:>5}{r['changes']:>8}{r['median']:>7.2f}{r['p95']:>7.2f}"
              f"{r['max']:>7.2f}{ratio:>7.2f}{r['open_median']:>9.2f}{r['exc']:>5}{r['timeouts']:>5}"
              f"{r['dropped']:>5}{r['unchanged']:>5}{load:>11}  {r['slider']}")
    print("\nxfloor = p95 / bench_minimal's p95 (protocol-level target, classroom_load.py: <= 2); "
          "exc = states with an stException; unch = moves that changed no chart (timed from 5 s)")
    for r in rows:
        for note in r["notes"][:5]:
            print(f"  {r['page']}: {note}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", default=DEFAULT_PAGES, help="comma-separated url paths, in phase order")
    ap.add_argument("--sessions", type=int, default=5)
    ap.add_argument("--moves", type=int, default=10)
    ap.add_argument("--pause", type=float, default=0.5, help="mean pause before each move, s (x0.5-1.5)")
    ap.add_argument("--settle", type=float, default=2.0, help="s of idle time between phases")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    chromium = B.find_chromium()
    if chromium is None:
        print(f"no Chromium at {B.CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()[0]
    rows = []
    with B.StreamlitServer("benchmarks/load_app.py", log=B.ARTIFACTS / "browser-load-streamlit.log") as server:
        # Learn the page URLs from the running app (this also warms the server up, as a first
        # visitor to the home page would); the measured pages are not visited here.
        with sync_playwright() as pw:
            browser = B.launch_browser(pw, chromium)
            page = B.new_page(browser)
            B.open_page(page, server.url, timeout=OPEN_TIMEOUT)
            nav = {p.name: p for p in B.nav_pages(page, server.url)}
            browser.close()
        for name in [p.strip() for p in args.pages.split(",") if p.strip()]:
            if name not in nav:
                print(f"  skipped {name!r}: not in the app's navigation", file=sys.stderr)
                continue
            t0 = time.perf_counter()
            rows.append(run_phase(nav[name].url, name, args, chromium))
            print(f"  {name}: {time.perf_counter() - t0:.0f} s, p95 {rows[-1]['p95']:.2f} s", file=sys.stderr,
                  flush=True)
            time.sleep(args.settle)
    print_table(rows, args, load_before)
    return 1 if any(r["exc"] or r["timeouts"] or r["dropped"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
