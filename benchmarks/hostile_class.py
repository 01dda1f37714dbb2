"""A hostile class: 10 well-behaved students on the lessons while scripted sessions try to pin the server.

One ``streamlit run benchmarks/load_app.py`` server; two phases on it, each with the same number of
protocol-level students (benchmarks/classroom_load.py's ``student``: open a lesson, move its busiest
slider ``--moves`` times), with a fresh seed each so no phase reuses the other's cached runs:

1. calm: the students alone;
2. hostile: the students while scripted sessions, all at once,
   - open the 20 most expensive configurations the UI's URLs reach (entropic OT at the largest grid
     and 2000 steps, every divergence on the largest supports, the OT lesson at its smallest ε), each
     in its own tab, and keep them open;
   - click every button of every page (the Playground's Stop and Run included), page after page;
   - walk 200 distinct Playground URLs in one tab, a new URL every ``--walk-pause`` seconds;
   - upload the pathological teacher (4.5 MB: 2,250,000 lines of ``1``) to Head vs tail.
   The hostile sessions leave when the students are done.

Reported: the students' p95 rerun latency in each phase and their ratio, the server's peak RSS
(process tree, sampled every 50 ms, and the kernel's VmHWM), and the server's CPU in the 5 s after
the hostile sessions left and in the second after that. Targets (issue 13): p95 ratio <= 2, peak
RSS < 2 GiB, CPU idle (< 0.1 core) within 5 s of the hostile sessions leaving.

    python benchmarks/hostile_class.py                 # 10 students x 10 moves
    python benchmarks/hostile_class.py --students 4 --moves 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
from classroom_load import find_page, free_port, pct, student  # noqa: E402
from server_process import CLK_TCK, ROOT, GiB, RssMonitor, cpu_seconds, start_server, status_kib  # noqa: E402
from st_client import SessionDropped, StreamlitClient, fetch_pages  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

from kdviz.experiments import FIT_CHOICES  # noqa: E402

LESSONS = ("mode_seeking", "head_tail", "optimal_transport", "outliers")
TARGET_RATIO, TARGET_RSS, IDLE_CORES = 2.0, 2 * GiB, 0.1
ENTROPIC = ("sinkhorn", "sinkhorn_div")


def expensive_urls() -> list[tuple[str, dict]]:
    """The 20 most expensive configurations reachable from the UI: (page, query parameters)."""
    ot = [dict(pg_divs=list(ENTROPIC), pg_grid=128, pg_steps=2000, pg_sinkhorn_epsilon=eps,
               pg_sinkhorn_div_epsilon=eps, pg_lr=lr) for eps in (0.001, 0.01, 0.1) for lr in (0.01, 1.0)]
    ot += [dict(pg_divs=list(ENTROPIC), pg_grid=128, pg_steps=2000, pg_student="softmax", pg_lr=0.1)]
    every = list(FIT_CHOICES)
    big = [dict(pg_divs=every, pg_grid=512, pg_steps=steps) for steps in (2000, 1990)]
    big += [dict(pg_teacher="preset", pg_preset="zipf", pg_classes=1000, pg_student="softmax", pg_divs=every,
                 pg_steps=steps, pg_init=init) for steps in (2000, 1990) for init in ("random", "uniform")]
    lessons = [("mode_seeking", dict(ms_divs=every, ms_steps=1000, ms_lr=lr)) for lr in (0.01, 1.0)]
    lessons += [("outliers", dict(ol_divs=every, ol_steps=1000)),
                ("head_tail", dict(ht_preset="zipf", ht_classes=500, ht_divs=every, ht_steps=1000)),
                ("optimal_transport", dict(ot_n=60, ot_eps=0.001)),
                ("gradients", dict(gr_divs=every, gr_preset="zipf", gr_classes=200))]
    out = [("playground", q) for q in ot + big] + lessons
    return out[:20]


def walk_urls(n: int = 200) -> list[dict]:
    """``n`` distinct Playground URLs, each an entropic-OT fit at the largest grid."""
    return [dict(pg_divs=list(ENTROPIC), pg_grid=128, pg_steps=2000 - 10 * i,
                 pg_sinkhorn_epsilon=(0.001, 0.01)[i % 2]) for i in range(n)]


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of the server, by thread name (``comm``) and id."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        out[f"{name}:{tid}"] = (int(rest[11]) + int(rest[12])) / CLK_TCK
    return out


def query(params: dict) -> str:
    return urlencode(params, doseq=True)


async def hold_open(base_url, page, params, stop: asyncio.Event, log: list):
    """One tab on an expensive URL, kept open until ``stop``."""
    try:
        async with StreamlitClient(base_url, timeout=600) as tab:
            run = asyncio.ensure_future(tab.open_page(page, query(params)))
            done, _ = await asyncio.wait({run, asyncio.ensure_future(stop.wait())},
                                         return_when=asyncio.FIRST_COMPLETED)
            log.append(("expensive", page.url_pathname, run.done()))
            if not run.done():
                run.cancel()
            await stop.wait()
    except SessionDropped as exc:
        log.append(("expensive-dropped", page.url_pathname, str(exc)))


class Clicker(StreamlitClient):
    """A tab that notes every button as it arrives, so it can press Stop while a run still waits."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buttons: dict[str, str] = {}  # id -> label

    def _on_delta(self, fwd, res, seen_ids, raw_len):
        super()._on_delta(fwd, res, seen_ids, raw_len)
        el = fwd.delta.new_element
        if fwd.delta.WhichOneof("type") == "new_element" and el.WhichOneof("type") == "button":
            self.buttons[el.button.id] = el.button.label


async def click_everything(base_url, pages, stop: asyncio.Event, log: list, wait: float):
    """Every page (the Playground on an expensive URL), every button on it, over and over."""
    while not stop.is_set():
        for page in pages:
            qs = query(expensive_urls()[0][1]) if page.url_pathname == "playground" else ""
            try:
                async with Clicker(base_url, timeout=wait) as tab:
                    try:
                        await tab.open_page(page, qs)
                    except SessionDropped:  # still running: its buttons (Stop) are on the page already
                        pass
                    for bid, label in list(tab.buttons.items()):
                        tab._widget_states[bid] = WidgetState(id=bid, trigger_value=True)
                        try:
                            await tab.rerun()
                        except SessionDropped:
                            pass
                        log.append(("click " + label, page.url_pathname))
            except SessionDropped:
                pass
            if stop.is_set():
                return


async def walk(base_url, page, stop: asyncio.Event, log: list, pause: float):
    """200 distinct URLs, each its own short-lived tab (a script does not wait for the result)."""
    for params in walk_urls():
        if stop.is_set():
            return
        try:
            async with StreamlitClient(base_url, timeout=pause) as tab:
                await tab.open_page(page, query(params))
                log.append(("walk-finished", params["pg_steps"]))
        except SessionDropped:
            log.append(("walk-left", params["pg_steps"]))


def upload(base_url: str, session_id: str, widget_id: str, data: bytes) -> tuple[str, str]:
    """PUT ``data`` to the session's upload endpoint, as the browser's file_uploader does."""
    file_id = uuid.uuid4().hex
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ones.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    url = f"{base_url}/_stcore/upload_file/{session_id}/{file_id}"
    req = urllib.request.Request(url, data=body, method="PUT",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    urllib.request.urlopen(req, timeout=60).read()
    return file_id, url


async def upload_pathological(base_url, page, stop: asyncio.Event, log: list):
    """The 4.5 MB file of 2,250,000 lines of ``1``, uploaded to Head vs tail, again and again."""
    data = b"1\n" * 2_250_000
    from streamlit.proto.Common_pb2 import UploadedFileInfo
    while not stop.is_set():
        try:
            async with StreamlitClient(base_url, timeout=120, keep_elements=True) as tab:
                res = await tab.open_page(page)
                ups = [el.file_uploader.id for el in res.new_elements
                       if el.WhichOneof("type") == "file_uploader"]
                if not ups or not tab.session_id:
                    log.append(("upload", "no uploader or session id"))
                    return
                file_id, url = await asyncio.to_thread(upload, base_url, tab.session_id, ups[0], data)
                state = WidgetState(id=ups[0])
                info = UploadedFileInfo(file_id=file_id, name="ones.txt", size=len(data))
                info.file_urls.upload_url = url
                info.file_urls.delete_url = url
                state.file_uploader_state_value.uploaded_file_info.append(info)
                tab._widget_states[ups[0]] = state
                res = await tab.rerun()
                log.append(("upload", f"{res.latency:.2f} s", (res.errors or ["no error box"])[0][:80]))
        except SessionDropped as exc:
            log.append(("upload-dropped", str(exc)))
        await asyncio.sleep(1.0)


async def students(base_url, pages, args, seed) -> list:
    rngs = [random.Random(seed * 1000 + i) for i in range(args.students)]
    return await asyncio.gather(*(student(base_url, pages[i % len(pages)], args, rngs[i])
                                  for i in range(args.students)))


def latencies(logs) -> tuple[list[float], int]:
    return [m.latency for lg in logs for m in lg.moves], sum(1 for lg in logs if lg.dropped)


async def main_async(args) -> int:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # XSRF protects browsers' cookies; a script uploads without them (the upload endpoint needs either)
    proc = start_server(ROOT / "benchmarks" / "load_app.py", port, Path(args.server_log),
                        ("--server.enableXsrfProtection", "false"))
    monitor = RssMonitor(proc.pid)
    monitor.start()
    hostile_log: list = []
    try:
        pages = await fetch_pages(base_url, timeout=120)
        by_name = {p.url_pathname: p for p in pages}
        lesson_pages = [find_page(pages, n) for n in LESSONS]
        print(f"server pid {proc.pid} on {base_url}; load average {os.getloadavg()[0]:.1f} "
              f"on 2 cores shared with other helpers", flush=True)

        for page in lesson_pages:  # a warm process: the calm phase pays no first-call costs
            async with StreamlitClient(base_url, timeout=args.timeout) as tab:
                await tab.open_page(page)
        t0 = time.perf_counter()
        calm = await students(base_url, lesson_pages, args, seed=1)
        calm_lat, calm_drop = latencies(calm)
        print(f"calm: {time.perf_counter() - t0:.1f} s, p95 {pct(calm_lat, 0.95):.2f} s", flush=True)
        await asyncio.sleep(args.settle)

        stop = asyncio.Event()
        hostile = [asyncio.ensure_future(hold_open(base_url, find_page(pages, name), q, stop, hostile_log))
                   for name, q in expensive_urls()]
        hostile += [asyncio.ensure_future(click_everything(base_url, pages, stop, hostile_log,
                                                           args.click_wait)),
                    walker := asyncio.ensure_future(walk(base_url, by_name["playground"], stop, hostile_log,
                                                         args.walk_pause)),
                    asyncio.ensure_future(upload_pathological(base_url, find_page(pages, "head_tail"), stop,
                                                              hostile_log))]
        await asyncio.sleep(args.head_start)
        t0 = time.perf_counter()
        rough = await students(base_url, lesson_pages, args, seed=2)
        rough_lat, rough_drop = latencies(rough)
        print(f"hostile: {time.perf_counter() - t0:.1f} s, p95 {pct(rough_lat, 0.95):.2f} s", flush=True)
        await asyncio.wait([walker], timeout=args.walk_timeout)  # the 200 URLs, whatever the students did
        stop.set()
        await asyncio.wait(hostile, timeout=30)
        left, cpu_left = time.perf_counter(), cpu_seconds(proc.pid)
        await asyncio.sleep(5.0)
        cpu_5 = cpu_seconds(proc.pid)
        threads_5 = thread_cpu(proc.pid)
        await asyncio.sleep(1.0)
        cpu_6 = cpu_seconds(proc.pid)
        threads_6 = thread_cpu(proc.pid)
        after = time.perf_counter() - left
    finally:
        hwm = status_kib(proc.pid, "VmHWM") * 1024
        monitor.stop()
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)

    kinds: dict = {}
    for entry in hostile_log:
        kinds[entry[0]] = kinds.get(entry[0], 0) + 1
    uploads = [e for e in hostile_log if e[0] == "upload"]
    ratio = pct(rough_lat, 0.95) / pct(calm_lat, 0.95)
    idle = (cpu_6 - cpu_5) / max(after - 5.0, 1e-9)
    print(f"\n{args.students} students x {args.moves} moves on {', '.join(LESSONS)}")
    print(f"  calm    p95 {pct(calm_lat, 0.95):.2f} s, median {pct(calm_lat, 0.5):.2f} s, "
          f"{len(calm_lat)} reruns, {calm_drop} dropped")
    print(f"  hostile p95 {pct(rough_lat, 0.95):.2f} s, median {pct(rough_lat, 0.5):.2f} s, "
          f"{len(rough_lat)} reruns, {rough_drop} dropped")
    print(f"  hostile sessions: {kinds}; uploads: {uploads[:2]}")
    print(f"  p95 ratio {ratio:.2f} (target <= {TARGET_RATIO:g}): "
          f"{'ok' if ratio <= TARGET_RATIO else 'MISSED'}")
    peak = max(monitor.peak, hwm)
    print(f"  peak RSS {peak / GiB:.2f} GiB (sampled {monitor.peak / GiB:.2f}, VmHWM {hwm / GiB:.2f}; "
          f"target < 2): {'ok' if peak < TARGET_RSS else 'MISSED'}")
    busy = sorted(((threads_6[t] - threads_5.get(t, 0.0), t) for t in threads_6), reverse=True)[:3]
    print("  busiest server threads over 5-6 s: " + ", ".join(f"{t} {s:.2f} s" for s, t in busy if s > 0))
    print(f"  server CPU after the hostile sessions left: {(cpu_5 - cpu_left) / 5:.2f} cores over 0-5 s, "
          f"{idle:.2f} cores over 5-6 s (target < {IDLE_CORES}): {'ok' if idle < IDLE_CORES else 'MISSED'}")
    return 0 if ratio <= TARGET_RATIO and peak < TARGET_RSS and idle < IDLE_CORES else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=10)
    ap.add_argument("--moves", type=int, default=10)
    ap.add_argument("--pause", type=float, default=0.5, help="students' mean think time between moves, s")
    ap.add_argument("--timeout", type=float, default=180.0, help="s a student waits for one rerun")
    ap.add_argument("--settle", type=float, default=3.0, help="s of idle time between the phases")
    ap.add_argument("--head-start", type=float, default=3.0, help="s hostile sessions run before students")
    ap.add_argument("--walk-pause", type=float, default=0.2, help="s the URL walker stays on each URL")
    ap.add_argument("--click-wait", type=float, default=5.0, help="s the clicker waits for a page")
    ap.add_argument("--walk-timeout", type=float, default=300.0, help="s the 200-URL walk may take")
    ap.add_argument("--server-log", default="/tmp/kdviz_hostile_server.log")
    args = ap.parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
