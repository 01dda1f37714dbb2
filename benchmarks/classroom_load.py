"""Classroom load: N simulated students on one ``streamlit run`` server, at the protocol level.

Each student is a websocket client of ``/_stcore/stream`` (benchmarks/st_client.py) that opens a
page, then sets the page's slider with the most positions (mode seeking: the start mean) to a
random position ``--moves`` times with a short pause, waiting for each rerun's ``script_finished``.
So most moves ask for a configuration nobody has asked for yet (free exploration, not a class
moving in step). All students of a phase start at once. One server
(``streamlit run benchmarks/load_app.py``: app.py plus the minimal page) serves every phase, one
page per phase, so the lessons and the floor are measured in the same run on the same process.

Reported per page: students, reruns, median / p95 / max latency of the slider reruns (and of the
first page loads), exception elements, st.error boxes, dropped sessions (closed websocket or no
script_finished within --timeout), payload bytes per rerun, server CPU seconds per rerun (robust
to other load on the machine), and the server's peak RSS (process tree, sampled every 50 ms, plus
the kernel's VmHWM). Target (issue 8): each lesson's p95 <= 1.5x the minimal page's p95 in the same
run, 0 errors, RSS < 2 GiB.

    python benchmarks/classroom_load.py                      # 40 students, 10 moves, default pages
    python benchmarks/classroom_load.py --students 10 --moves 3 --pages bench_minimal,mode_seeking
    python benchmarks/classroom_load.py --mixed              # plus one phase: all lessons at once
    python benchmarks/classroom_load.py --warm               # each lesson opened once before the class
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "e2e")]
from server_process import ROOT, GiB, RssMonitor, cpu_seconds, start_server, status_kib  # noqa: E402
from st_client import Page, RunResult, SessionDropped, StreamlitClient, fetch_pages  # noqa: E402

from _browser import free_port  # noqa: E402  (the browser tests' helper)

DEFAULT_PAGES = "bench_minimal,mode_seeking,head_tail,optimal_transport"
MINIMAL = "bench_minimal"
TARGET_RATIO = 1.5  # a lesson's p95 over the minimal page's p95


def summarize_profile(path: Path, top: int = 18) -> list[str]:
    """Inclusive share of the script threads' samples per frame, from a ``py-spy --format raw`` file.

    Frames are ``function (file:line of the call)``; Streamlit's and runpy's plumbing frames (present
    in every sample) are dropped, so the list reads as "where a rerun spends its time".
    """
    plumbing = {"Thread._bootstrap", "Thread._bootstrap_inner", "Thread.run",
                "ScriptRunner._run_script_thread", "ScriptRunner._run_script",
                "exec_func_with_error_handling", "run_path", "_run_module_code", "_run_code",
                "ScriptRunner._run_script.<locals>.code_to_exec", "Page.run"}
    incl: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if "_run_script_thread" not in stack or not n.isdigit():
            continue
        total += int(n)
        seen = set()
        for frame in stack.split(";"):
            name, _, loc = frame.partition(" (")
            key = f"{name} ({loc.rsplit('/', 1)[-1]}" if loc else name
            in_app_py = name == "<module>" and loc.rsplit("/", 1)[-1].startswith("app.py:")
            if name in plumbing or "load_app.py" in loc or in_app_py:
                continue
            if key not in seen:
                seen.add(key)
                incl[key] += int(n)
    if not total:
        return ["(no script-thread samples)"]
    rows = [(c / total, k) for k, c in incl.most_common()]
    return [f"{share * 100:5.1f}%  {k}" for share, k in rows[:top]] + [f"({total} samples)"]


# ---------------------------------------------------------------- one student, one phase
@dataclass
class StudentLog:
    page: str
    open: RunResult | None = None
    moves: list[RunResult] = field(default_factory=list)
    dropped: str = ""          # why the session was lost ("" = it was not)
    no_slider: bool = False
    in_fragment: bool = False
    slider: str = ""           # label and number of positions of the slider moved


async def student(base_url: str, page: Page, args, rng: random.Random) -> StudentLog:
    log = StudentLog(page.url_pathname)
    try:
        async with StreamlitClient(base_url, timeout=args.timeout) as tab:
            log.open = await tab.open_page(page)
            if not log.open.sliders:
                log.no_slider = True
                return log
            slider = max(log.open.sliders, key=lambda s: len(s.positions()))  # first one on a tie
            log.in_fragment = bool(slider.fragment_id)
            log.slider = f"{slider.label} ({len(slider.positions())} positions)"
            for _ in range(args.moves):
                await asyncio.sleep(args.pause * rng.uniform(0.5, 1.5))
                slider = tab.sliders.get(slider.id, slider)
                value = rng.choice([v for v in slider.positions() if v != slider.value])
                log.moves.append(await tab.move_slider(slider, value))
    except SessionDropped as exc:
        log.dropped = str(exc)
    return log


async def warm_up(base_url: str, pages: list[Page], server_pid: int, timeout: float,
                  idle_s: float = 3.0) -> float:
    """The instructor opens each lesson once before the class; returns the seconds until the server's
    CPU has then been idle (under 5% of a core) for ``idle_s`` (the pages' background prefetching
    finished)."""
    t0 = time.perf_counter()
    for page in pages:
        async with StreamlitClient(base_url, timeout=timeout) as tab:
            await tab.open_page(page)
    idle_since, cpu = time.perf_counter(), cpu_seconds(server_pid)
    while time.perf_counter() - idle_since < idle_s and time.perf_counter() - t0 < timeout:
        await asyncio.sleep(0.5)
        now = cpu_seconds(server_pid)
        if now - cpu > 0.025:
            idle_since = time.perf_counter()
        cpu = now
    return time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class PhaseResult:
    page: str
    students: int
    logs: list[StudentLog]
    wall: float
    server_cpu: float
    client_cpu: float
    peak_rss: int
    profile: str = ""  # py-spy samples of this phase (--profile)

    def summary(self) -> dict:
        moves = [m for lg in self.logs for m in lg.moves]
        opens = [lg.open for lg in self.logs if lg.open is not None]
        runs = opens + moves
        lat = [m.latency for m in moves]
        exc = Counter(e for r in runs for e in r.exceptions)
        err = Counter(e for r in runs for e in r.errors)
        kinds = Counter()
        for m in moves:
            kinds.update(m.bytes_by_kind)
        n_moves = max(len(moves), 1)
        return {
            "page": self.page, "students": self.students, "reruns": len(moves), "opens": len(opens),
            "median_s": statistics.median(lat) if lat else float("nan"),
            "p95_s": pct(lat, 0.95), "max_s": max(lat) if lat else float("nan"),
            "open_median_s": statistics.median([o.latency for o in opens]) if opens else float("nan"),
            "open_p95_s": pct([o.latency for o in opens], 0.95),
            "exceptions": sum(exc.values()), "exception_kinds": dict(exc.most_common(5)),
            "st_errors": sum(err.values()), "error_kinds": dict(err.most_common(5)),
            "dropped": sum(1 for lg in self.logs if lg.dropped),
            "drop_reasons": dict(Counter(lg.dropped for lg in self.logs if lg.dropped).most_common(3)),
            "no_slider": sum(lg.no_slider for lg in self.logs),
            "slider_in_fragment": any(lg.in_fragment for lg in self.logs),
            "slider": next((lg.slider for lg in self.logs if lg.slider), ""),
            "move_kib_median": statistics.median([m.n_bytes for m in moves] or [math.nan]) / 1024,
            "open_kib_median": statistics.median([o.n_bytes for o in opens] or [math.nan]) / 1024,
            "move_kib_by_kind": {k: round(v / n_moves / 1024, 1) for k, v in kinds.most_common(6)},
            "ref_hash_per_move": sum(m.n_ref_hash for m in moves) / n_moves,
            "server_cpu_s_per_run": self.server_cpu / max(len(runs), 1),
            "server_cpu_s": self.server_cpu, "client_cpu_s": self.client_cpu, "wall_s": self.wall,
            "peak_rss_gib": self.peak_rss / GiB, "profile": self.profile,
        }


def _client_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def run_phase(base_url: str, name: str, pages: list[Page], args, server_pid: int,
                    monitor: RssMonitor) -> PhaseResult:
    spy, out = None, ""
    if args.profile:
        out = Path(args.profile) / f"{name}.txt"
        for i in range(2, 100):  # a page measured in several phases keeps each phase's profile
            if not out.exists():
                break
            out = out.with_name(f"{name}.{i}.txt")
        out.parent.mkdir(parents=True, exist_ok=True)
        spy = subprocess.Popen(["py-spy", "record", "-p", str(server_pid), "-r", "50", "--gil",
                                "--format", "raw", "--nonblocking", "-o", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await asyncio.sleep(1.0)
    monitor.reset_window()
    cpu0, ccpu0, t0 = cpu_seconds(server_pid), _client_cpu(), time.perf_counter()
    rngs = [random.Random(args.seed * 1000 + i) for i in range(args.students)]
    logs = await asyncio.gather(*(student(base_url, pages[i % len(pages)], args, rngs[i])
                                  for i in range(args.students)))
    if spy is not None:
        spy.send_signal(2)
        spy.wait(timeout=60)
    return PhaseResult(name, args.students, list(logs), time.perf_counter() - t0,
                       cpu_seconds(server_pid) - cpu0, _client_cpu() - ccpu0, monitor.window_peak, str(out))


def find_page(pages: list[Page], want: str) -> Page | None:
    norm = want.strip().lower().replace("-", "_").removesuffix(".py").rsplit("/", 1)[-1]
    for p in pages:
        if norm in (p.url_pathname.lower(), p.name.lower().replace(" ", "_")):
            return p
    for p in pages:  # loose match: "head_tail" finds "head_and_tail" or "Head / tail lesson"
        if all(part in p.url_pathname.lower() for part in norm.split("_")):
            return p
    return None


# ---------------------------------------------------------------- report
def print_table(rows: list[dict], out=sys.stdout) -> None:
    floor = next((r["p95_s"] for r in rows if r["page"] == MINIMAL), None)
    head = (f"{'page':<22}{'stud':>5}{'reruns':>7}{'med s':>7}{'p95 s':>7}{'max s':>7}{'xfloor':>7}"
            f"{'open p95':>9}{'exc':>5}{'err':>5}{'drop':>5}{'KiB/rr':>8}{'cpu/rr':>7}{'RSS GiB':>8}  frag")
    print(head, file=out)
    print("-" * len(head), file=out)
    for r in rows:
        ratio = r["p95_s"] / floor if floor else float("nan")
        print(f"{r['page']:<22}{r['students']:>5}{r['reruns']:>7}{r['median_s']:>7.2f}{r['p95_s']:>7.2f}"
              f"{r['max_s']:>7.2f}{ratio:>7.2f}{r['open_p95_s']:>9.2f}{r['exceptions']:>5}{r['st_errors']:>5}"
              f"{r['dropped']:>5}{r['move_kib_median']:>8.1f}{r['server_cpu_s_per_run']:>7.2f}"
              f"{r['peak_rss_gib']:>8.2f}  {'yes' if r['slider_in_fragment'] else 'no'}", file=out)


def verdict(rows: list[dict], overall_peak: int, hwm: int) -> list[str]:
    lines, floor = [], next((r for r in rows if r["page"] == MINIMAL), None)
    for r in rows:
        problems = []
        if r["exceptions"]:
            problems.append(f"{r['exceptions']} exception elements {r['exception_kinds']}")
        if r["dropped"]:
            problems.append(f"{r['dropped']} dropped sessions {r['drop_reasons']}")
        if r["no_slider"]:
            problems.append(f"{r['no_slider']} students found no slider")
        if r["st_errors"]:
            problems.append(f"{r['st_errors']} st.error boxes {r['error_kinds']}")
        if floor and r is not floor and r["p95_s"] > TARGET_RATIO * floor["p95_s"]:
            problems.append(f"p95 {r['p95_s']:.2f} s > {TARGET_RATIO:g}x floor "
                            f"({TARGET_RATIO * floor['p95_s']:.2f} s)")
        lines.append(f"{r['page']}: " + ("OK" if not problems else "FAIL: " + "; ".join(problems)))
    peak = max(overall_peak, hwm)
    ok = "OK (< 2 GiB)" if peak < 2 * GiB else "FAIL (>= 2 GiB)"
    lines.append(f"server peak RSS {peak / GiB:.2f} GiB: {ok}")
    return lines


async def main_async(args) -> int:
    port = args.port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = Path(args.server_log)
    extra = tuple(part for opt in args.st_opt for part in ("--" + opt.split("=", 1)[0], opt.split("=", 1)[1]))
    proc = start_server(ROOT / args.entry, port, log_path, extra)
    monitor = RssMonitor(proc.pid)
    monitor.start()
    rows, phases = [], []
    try:
        pages = await fetch_pages(base_url, timeout=args.timeout)
        print(f"server pid {proc.pid} on {base_url} ({args.entry} {' '.join(extra)}); pages: "
              + ", ".join(p.url_pathname or "(default)" for p in pages))
        wanted = [w for w in args.pages.split(",") if w.strip()]
        chosen: list[tuple[str, Page]] = []
        for w in wanted:
            page = find_page(pages, w)
            if page is None:
                print(f"  skipped {w!r}: not in the app's navigation")
            else:
                chosen.append((w if w == MINIMAL else page.url_pathname, page))
        if args.warm:
            took = await warm_up(base_url, [p for n, p in chosen if n != MINIMAL], proc.pid, args.timeout)
            print(f"warm-up: each lesson opened once, then the server idle after {took:.1f} s")
        print(f"load: {os.getloadavg()[0]:.1f} (1-min load average before the run; 2 cores)")
        for name, page in chosen:
            res = await run_phase(base_url, name, [page], args, proc.pid, monitor)
            phases.append(res)
            rows.append(res.summary())
            print(f"  {name}: {res.wall:.1f} s, p95 {rows[-1]['p95_s']:.2f} s", flush=True)
            await asyncio.sleep(args.settle)
        lessons = [p for n, p in chosen if n != MINIMAL]
        if args.mixed and lessons:
            res = await run_phase(base_url, "mixed(lessons)", lessons, args, proc.pid, monitor)
            phases.append(res)
            rows.append(res.summary())
    finally:
        hwm = status_kib(proc.pid, "VmHWM") * 1024
        monitor.stop()
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
    print(f"\n{args.students} students x {args.moves} moves to random positions, pause {args.pause} s; "
          f"load average now {os.getloadavg()[0]:.1f}\n")
    print_table(rows)
    print("\nxfloor = p95 / minimal page's p95; cpu/rr = server CPU seconds per rerun (opens included);"
          " frag = the moved slider is inside st.fragment")
    for r in rows:
        print(f"  {r['page']}: slider {r['slider']!r}, "
              f"payload per move by kind (KiB) {r['move_kib_by_kind']}, "
              f"ref_hash/move {r['ref_hash_per_move']:.1f}, open {r['open_kib_median']:.0f} KiB, "
              f"open median {r['open_median_s']:.2f} s")
    if args.profile:
        for r in rows:
            path = Path(r["profile"])
            if path.is_file():
                print(f"\nwhere {r['page']}'s script threads spend their time (py-spy, inclusive):")
                print("\n".join("  " + line for line in summarize_profile(path)))
    print()
    for line in verdict(rows, monitor.peak, hwm):
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows, "peak_rss": monitor.peak,
                                                "vm_hwm": hwm}, indent=1))
    bad = any(r["exceptions"] or r["st_errors"] or r["dropped"] for r in rows)
    return 1 if bad else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=40)
    ap.add_argument("--moves", type=int, default=10)
    ap.add_argument("--pause", type=float, default=0.5, help="mean think time between moves, s (x0.5-1.5)")
    ap.add_argument("--pages", default=DEFAULT_PAGES, help="comma-separated url paths, in phase order")
    ap.add_argument("--entry", default="benchmarks/load_app.py", help="script given to streamlit run")
    ap.add_argument("--mixed", action="store_true", help="add a phase with students spread over the lessons")
    ap.add_argument("--warm", action="store_true",
                    help="open each lesson once and wait for the server to go idle before the phases "
                         "(an instructor who opened the lesson before class: its prefetching is done)")
    ap.add_argument("--timeout", type=float, default=180.0, help="s to wait for one script_finished")
    ap.add_argument("--settle", type=float, default=2.0, help="s of idle time between phases")
    ap.add_argument("--st-opt", action="append", default=[], metavar="SECTION.OPTION=VALUE",
                    help="extra streamlit config for this run, e.g. runner.postScriptGC=false (repeatable)")
    ap.add_argument("--profile", default="", metavar="DIR",
                    help="sample the server with py-spy (pip install py-spy) into DIR/<page>.txt "
                         "and summarise")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="", help="write the rows to this file")
    ap.add_argument("--server-log", default="/tmp/classroom_load_server.log")
    args = ap.parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
