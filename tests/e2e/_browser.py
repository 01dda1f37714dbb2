"""Shared helpers for driving the kdviz app in a real browser.

Used by the browser tests (tests/e2e/) and by benchmarks/page_latency.py and classroom_load.py: start
``streamlit run app.py`` on a free port, launch Debian's Chromium through Playwright (never a
downloaded browser), wait until Streamlit's script has finished and the plotly charts are drawn,
and read what the page shows (navigation links, charts, errors, sliders, animations).

All waiting is done by polling from Python (``page.evaluate`` + ``page.wait_for_timeout``):
Playwright's in-page ``wait_for_function`` polling stalled while Streamlit lazily loaded plotly.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--headless", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}

# Records every change of Streamlit's script state with a timestamp (performance.now(), ms),
# installed before any page script runs so no transition is missed. The attribute alone misses quick
# reruns: when a run's new_session and script_finished messages are handled before React renders,
# the two state updates are batched and data-test-script-state never leaves notRunning. So the
# server's own messages are counted too: every WebSocket frame's top-level protobuf fields are read
# (ForwardMsg field 4 = new_session, sent when a run starts; 6 = script_finished, when it ends).
STATE_OBSERVER = """
(() => {
  window.__kdStates = [];
  window.__kdRuns = 0;
  window.__kdStarted = 0;
  window.__kdFinished = 0;
  window.__kdFinishedAt = null;
  const ATTR = 'data-test-script-state';
  let last = null;
  const push = (s) => {
    if (s && s !== last) {
      last = s;
      window.__kdStates.push([s, performance.now()]);
      if (s === 'running') window.__kdRuns += 1;
    }
  };
  // oldValue of every record: a running -> notRunning pair delivered in one batch is not lost.
  const onAttr = (records) => {
    for (const r of records) push(r.oldValue);
    push(records[records.length - 1].target.getAttribute(ATTR));
  };
  const finder = new MutationObserver(() => {
    const el = document.querySelector('[' + ATTR + ']');
    if (!el) return;
    finder.disconnect();
    push(el.getAttribute(ATTR));
    new MutationObserver(onAttr).observe(
      el, {attributes: true, attributeOldValue: true, attributeFilter: [ATTR]});
  });
  finder.observe(document, {subtree: true, childList: true});

  const countFrame = (buf) => {
    const b = new Uint8Array(buf);
    let i = 0;
    const varint = () => {
      let v = 0, m = 1;
      while (i < b.length) {
        const x = b[i++];
        v += (x & 127) * m;
        m *= 128;
        if (x < 128) break;
      }
      return v;
    };
    while (i < b.length) {
      const tag = varint(), field = Math.floor(tag / 8), wire = tag % 8;
      if (wire === 0) varint();
      else if (wire === 1) i += 8;
      else if (wire === 2) { const n = varint(); i += n; }  // not i += varint(): i is read first
      else if (wire === 5) i += 4;
      else return;  // not a protobuf message we can read
      if (field === 4 && wire === 2) window.__kdStarted += 1;
      if (field === 6 && wire === 0) { window.__kdFinished += 1; window.__kdFinishedAt = performance.now(); }
    }
  };
  const Native = window.WebSocket;
  // Added in the constructor, this listener runs before the app's own onmessage handler.
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        if (e.data instanceof ArrayBuffer) countFrame(e.data);
      });
    }
  };
})();
"""

# Which drawn SVG/canvas marks count as "the chart shows data" (plotly.js class names).
_MARKS = ("svg.main-svg g.trace path, svg.main-svg .contourlayer path, svg.main-svg g.hm image, "
          "svg.main-svg .imagelayer image, svg.main-svg .pielayer path, .gl-container canvas")

# Per visible chart: whether plotly drew marks, its traces whose y/z are all non-finite (a NaN
# plot; one-point legend stubs excepted), a cheap fingerprint of the data, and its animation controls.
CHART_STATE = """
(marks) => {
  const finiteCount = (a) => {
    if (a == null || typeof a === 'string' || typeof a.length !== 'number') return null;
    let n = 0, total = 0;
    const walk = (v) => {
      if (v != null && typeof v === 'object' && typeof v.length === 'number') {
        for (const w of v) walk(w);
        return;
      }
      if (typeof v === 'string') return;  // categories (a heatmap's row labels) are not values
      total += 1;
      if (typeof v === 'number' && Number.isFinite(v)) n += 1;
    };
    walk(a);
    return total === 0 ? null : n;
  };
  const fingerprint = (el) => {
    let h = 0;
    for (const t of (el._fullData || [])) {
      for (const k of ['x', 'y', 'z']) {
        const walk = (v) => {
          if (v != null && typeof v === 'object' && typeof v.length === 'number') {
            for (const w of v) walk(w);
            return;
          }
          const f = typeof v === 'number' ? v : String(v).length;
          h = (h * 31 + (Number.isFinite(f) ? Math.round(f * 1e6) : 7)) % 2147483647;
        };
        walk(t[k]);
      }
    }
    return String(h) + ':' + (el._fullData || []).length;
  };
  const charts = [];
  for (const box of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    const visible = box.offsetParent !== null && box.getBoundingClientRect().width > 0;
    const el = box.querySelector('.js-plotly-plot');
    const info = {visible, loaded: !!(el && el._fullLayout && el.querySelector('svg.main-svg')),
                  marks: 0, nanTraces: [], fingerprint: null, title: '', play: false, sliderActive: null,
                  sliderText: null};
    if (info.loaded) {
      info.marks = [...el.querySelectorAll(marks)].filter(
        (m) => m.tagName !== 'path' || ((m.getAttribute('d') || '').length > 4)).length;
      for (const t of el._fullData) {
        // x=[None], y=[None] traces are legend entries, not plots
        const stub = ['x', 'y', 'z'].every(
          (k) => t[k] == null || typeof t[k].length !== 'number' || t[k].length <= 1);
        if (t.visible === false || stub) continue;
        for (const k of ['y', 'z']) {
          const n = finiteCount(t[k]);
          if (n === 0) info.nanTraces.push((t.name || t.type) + '.' + k);
        }
      }
      info.fingerprint = fingerprint(el);
      const title = el.layout && el.layout.title;  // _fullLayout has plotly's placeholder text
      info.title = ((typeof title === 'string' ? title : title && title.text) || '').replace(/<[^>]*>/g, '');
      info.play = [...el.querySelectorAll('.updatemenu-button')].some((b) => /Play/.test(b.textContent));
      const sl = el._fullLayout.sliders || [];
      if (sl.length) info.sliderActive = sl[0].active;
      const cv = el.querySelector('.slider-currentvalue');
      info.sliderText = cv ? cv.textContent : null;
    }
    charts.push(info);
  }
  return charts;
}
"""

PAGE_PROBLEMS = r"""
() => {
  const out = [];
  const text = (e) => (e.innerText || '').trim().replace(/\s+/g, ' ').slice(0, 300);
  for (const e of document.querySelectorAll('[data-testid="stException"]')) out.push('exception: ' + text(e));
  for (const e of document.querySelectorAll('[data-testid="stAlertContentError"]')) {
    out.push('st.error: ' + text(e));
  }
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const body = main.innerText || '';
  const m = body.match(/Traceback \(most recent call last\)|\b[A-Z]\w*(Error|Exception): .{0,120}/);
  if (m && out.length === 0) out.push('error text: ' + m[0]);
  return out;
}
"""


# --------------------------------------------------------------------------- environment

def find_chromium() -> str | None:
    """Path of the system Chromium (Debian's /usr/bin/chromium), or None when not installed."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


def ci_is_set(environ=os.environ) -> bool:
    """True when the CI environment variable is set to something other than empty/0/false/no."""
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_browser_outcome(chromium: str | None, environ=os.environ) -> str | None:
    """What the browser tests do: None (run) when Chromium is installed, else "fail" under CI
    and "skip" on a developer machine without a browser."""
    if chromium:
        return None
    return "fail" if ci_is_set(environ) else "skip"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- server

class StreamlitServer:
    """``streamlit run app.py`` in its own process group; use as a context manager."""

    def __init__(self, app: str = "app.py", *, port: int | None = None, log: Path | None = None,
                 startup_timeout: float = 120.0):
        self.app, self.port = app, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log or ARTIFACTS / f"streamlit-{self.port}.log"
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None

    def start(self) -> "StreamlitServer":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        cmd = [sys.executable, "-m", "streamlit", "run", self.app, "--server.headless", "true",
               "--server.port", str(self.port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"streamlit not healthy after {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
            except ProcessLookupError:
                pass
        self._log.close()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def launch_browser(playwright, executable: str | None = None):
    """Chromium from the system (``executable_path``); Playwright never downloads a browser."""
    return playwright.chromium.launch(executable_path=executable or find_chromium() or CHROMIUM,
                                      args=CHROMIUM_ARGS, headless=True)


def new_page(browser, viewport: dict = VIEWPORT, color_scheme: str = "light"):
    """A page in a fresh context (``viewport``; ``color_scheme`` "light" or "dark": what the OS
    asks for) with the script-state observer installed; page errors collected in ``page.kd_errors``."""
    context = browser.new_context(viewport=viewport, color_scheme=color_scheme)
    context.add_init_script(STATE_OBSERVER)
    page = context.new_page()
    page.kd_errors = []
    page.on("pageerror", lambda exc: page.kd_errors.append(str(exc)))
    return page


# --------------------------------------------------------------------------- waiting

def poll(page, predicate, timeout: float, what: str, interval_ms: int = 50):
    """Call ``predicate()`` until it returns a truthy value; TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        page.wait_for_timeout(interval_ms)


def script_state(page) -> dict:
    """The script's state: ``runs`` finished since the page loaded (counted from the server's
    script_finished messages; from the attribute's running transitions when none were seen),
    ``pending`` when a run has started and not finished, ``since`` ms since the last change."""
    return page.evaluate("""() => {
      const el = document.querySelector('[data-test-script-state]');
      const log = window.__kdStates || [];
      const now = performance.now();
      let since = log.length ? now - log[log.length - 1][1] : 0;
      if (window.__kdFinishedAt !== null && window.__kdFinishedAt !== undefined) {
        since = Math.min(since, now - window.__kdFinishedAt);
      }
      const fromServer = (window.__kdFinished || 0) > 0;
      return {state: el ? el.getAttribute('data-test-script-state') : null,
              connection: el ? el.getAttribute('data-test-connection-state') : null,
              runs: fromServer ? window.__kdFinished : (window.__kdRuns || 0),
              pending: (window.__kdStarted || 0) > (window.__kdFinished || 0), since,
              skeletons: document.querySelectorAll('[data-testid="stSkeleton"]').length};
    }""")


def charts(page) -> list[dict]:
    return page.evaluate(CHART_STATE, _MARKS)


def wait_until_idle(page, timeout: float = 90.0, settle_ms: float = 300, min_runs: int = 0) -> None:
    """Wait until the script has run (at least ``min_runs`` times since the page loaded), is
    ``notRunning`` for ``settle_ms``, nothing is loading and every visible chart is drawn."""
    def done():
        s = script_state(page)
        if s["state"] != "notRunning" or s["connection"] != "CONNECTED" or s["pending"]:
            return False
        if s["runs"] < min_runs:
            return False
        if s["since"] < settle_ms or s["skeletons"]:
            return False
        return all(c["loaded"] for c in charts(page) if c["visible"])
    poll(page, done, timeout, "the script to finish and the charts to be drawn")


def open_page(page, url: str, timeout: float = 120.0) -> float:
    """Load ``url`` and wait until it is fully rendered; returns the seconds it took."""
    t0 = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
    wait_until_idle(page, timeout=timeout, min_runs=1)
    return time.perf_counter() - t0


def problems(page) -> list[str]:
    """Exceptions, st.error boxes, error text, uncaught JS errors and NaN plots on the page."""
    found = page.evaluate(PAGE_PROBLEMS)
    found += [f"JavaScript error: {e[:300]}" for e in getattr(page, "kd_errors", [])]
    for i, c in enumerate(charts(page)):
        if c["nanTraces"]:
            found.append(f"chart {i} ({c['title'] or 'untitled'}): all values non-finite in {c['nanTraces']}")
    return found


# --------------------------------------------------------------------------- pages

@dataclass(frozen=True)
class NavPage:
    title: str
    url: str
    name: str  # url path, or the default page's file stem for "/"


@dataclass(frozen=True)
class DeclaredPage:
    path: str            # e.g. "pages/mode_seeking.py"
    url_path: str        # what Streamlit puts in the URL
    default: bool


def _url_path_of(path: str) -> str:
    """Streamlit's inferred url path for a page file: the stem without a leading number prefix."""
    return re.sub(r"^[0-9]+[_ -]*", "", Path(path).stem)


def declared_pages(app: Path = REPO / "app.py") -> list[DeclaredPage]:
    """The ``st.Page("pages/x.py", ...)`` entries of app.py (found by parsing it, not running it).

    A page file given as a string literal anywhere in app.py (e.g. in a list that a loop turns
    into ``st.Page`` objects) also counts as declared. A page whose file does not exist is not
    counted (app.py may list lessons still being written).
    The default page is the one with ``default=True`` (or ``default=path == "pages/x.py"``),
    else the first one, as in ``st.navigation``.
    """
    tree = ast.parse(app.read_text())
    nodes = sorted(ast.walk(tree), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
    found: dict[str, DeclaredPage] = {}
    default_path = None
    for node in nodes:
        is_call = isinstance(node, ast.Call)
        if is_call and getattr(node.func, "attr", getattr(node.func, "id", None)) == "Page":
            kw = {k.arg: k.value for k in node.keywords}
            target, default = node.args[0] if node.args else kw.get("page"), kw.get("default")
            if isinstance(default, ast.Compare) and isinstance(default.comparators[0], ast.Constant):
                default_path = default.comparators[0].value
            if not (isinstance(target, ast.Constant) and isinstance(target.value, str)):
                continue
            url = kw.get("url_path")
            given = isinstance(url, ast.Constant) and url.value
            url_path = url.value if given else _url_path_of(target.value)
            if isinstance(default, ast.Constant) and default.value is True:
                default_path = target.value
            found.setdefault(target.value, DeclaredPage(target.value, url_path, False))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(".py")
              and node.value not in found):
            found[node.value] = DeclaredPage(node.value, _url_path_of(node.value), False)
    pages = [p for p in found.values() if (app.parent / p.path).is_file()]
    if pages:
        default_path = default_path if default_path in {p.path for p in pages} else pages[0].path
        pages = [DeclaredPage(p.path, p.url_path, p.path == default_path) for p in pages]
    return pages


def nav_pages(page, base_url: str) -> list[NavPage]:
    """The pages the running app offers in its navigation (sidebar or top), in order.

    ``page`` must already show the app. An app without navigation (a single page) gives [].
    """
    for button in page.locator("[data-testid='stSidebarNav'] button").all():
        if re.search(r"View \d+ more", button.inner_text()):
            button.click()
            page.wait_for_timeout(300)
    links = page.evaluate("""() => [...document.querySelectorAll('a[data-testid$="NavLink"]')]
        .map((a) => { const s = a.querySelector('span[label]');  // the text without the icon's name
                      return [s ? s.getAttribute('label') : (a.innerText || '').trim(), a.href]; })""")
    default = next((d.url_path for d in declared_pages() if d.default), "home")
    out, seen = [], set()
    for title, href in links:
        path = urlsplit(href).path.strip("/")
        if href in seen:
            continue
        seen.add(href)
        out.append(NavPage(title, base_url.rstrip("/") + "/" + path, path or default))
    return out


def discover_pages(page, base_url: str, timeout: float = 120.0) -> list[NavPage]:
    """Open the app and list its pages; the app's single page when it has no navigation."""
    open_page(page, base_url, timeout)
    return nav_pages(page, base_url) or [NavPage("(main)", base_url, "main")]


# --------------------------------------------------------------------------- interactions

def sliders(page):
    """Locators of the Streamlit sliders' keyboard-focusable thumbs (react-aria range inputs)."""
    return page.locator("[data-testid='stSlider'] input[type='range']")


def slider_room(thumb) -> tuple[float, float]:
    """How many steps the thumb can move (left, right) from its current value."""
    v = thumb.evaluate("(e) => [Number(e.value), Number(e.min), Number(e.max), Number(e.step) || 1]")
    value, lo, hi, step = v
    return (value - lo) / step, (hi - value) / step


def press_slider(page, thumb, key: str = "ArrowRight") -> None:
    """Move a slider one step with the keyboard on its thumb."""
    thumb.focus()
    page.keyboard.press(key)


def fingerprints(page) -> list:
    return [c["fingerprint"] for c in charts(page) if c["visible"]]


def full_screenshot(page, path: Path) -> None:
    """Screenshot of the whole page: the viewport is grown to the height of Streamlit's scrolling
    main area (full_page=True alone would capture only the first screen)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("""() => { const m = document.querySelector('[data-testid="stMain"]');
        return Math.max(m ? m.scrollHeight : 0, document.body.scrollHeight); }""")
    height = int(min(max(height, VIEWPORT["height"]), 12000))
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    try:
        page.wait_for_timeout(400)
        wait_until_idle(page, timeout=60)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(VIEWPORT)
