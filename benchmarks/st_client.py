"""A small client of Streamlit's own websocket protocol, to load a server the way browsers do.

One :class:`StreamlitClient` is one browser tab: it opens ``/_stcore/stream``, sends ``BackMsg``
protobufs and reads ``ForwardMsg`` protobufs (``streamlit.proto``), as the frontend of Streamlit 1.67
does (read from its bundled ``index.*.js``, ``sendRerunBackMsg`` and ``ForwardMessageCache``):

* the websocket offers the subprotocols ``["streamlit", <xsrf token or placeholder>, <last session
  id>]``; only the first is selected, the second is checked only to read auth cookies;
* a rerun is ``BackMsg(rerun_script=ClientState(query_string, widget_states, page_script_hash,
  page_name, fragment_id, cached_message_hashes))``; the first rerun of a tab names the page by its
  URL path (``page_name``) with an empty hash, later ones by ``page_script_hash``;
* the widget states are *all* widget values the tab knows (each widget reports its value when it
  mounts), so the slider being moved is sent together with the others; ``st.slider`` sends
  ``double_array_value`` (its numbers), ``st.select_slider`` ``string_array_value`` (its formatted
  options);
* a widget inside ``st.fragment`` reruns only its fragment: the rerun carries that ``fragment_id``
  (the ``delta.fragment_id`` of the widget's element) and ends with
  ``FINISHED_FRAGMENT_RUN_SUCCESSFULLY``;
* large ``new_element`` messages are cached by hash; the tab lists the hashes it holds in
  ``cached_message_hashes`` and the server then sends a ``ref_hash`` in place of the element. An
  entry is dropped after ``max_cached_message_age`` runs without use (``new_session.config``).

A run ends with ``script_finished``; ``FINISHED_EARLY_FOR_RERUN`` is not the end of the run asked for.
Only what a load test needs is modelled: sliders are the only widgets whose state is tracked
(other widgets keep their server-side values, as Streamlit does for widgets absent from a rerun).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

_STATUS = ForwardMsg.ScriptFinishedStatus
END_STATUSES = frozenset({
    _STATUS.FINISHED_SUCCESSFULLY,
    _STATUS.FINISHED_WITH_COMPILE_ERROR,
    _STATUS.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
})
STATUS_NAMES = {v: k for k, v in _STATUS.items()}
_ALERT_ERROR = 1  # Alert.Format.ERROR (st.error)
_SELECT_SLIDER = 2  # Slider.Type.SELECT_SLIDER


class SessionDropped(Exception):
    """The websocket closed, or no ``script_finished`` came within the timeout."""


@dataclass(frozen=True)
class Page:
    """One entry of the ``navigation`` message."""

    script_hash: str
    name: str
    url_pathname: str
    is_default: bool


@dataclass(frozen=True)
class SliderInfo:
    """A slider as its ``new_element`` delta describes it."""

    id: str
    label: str
    min: float
    max: float
    step: float
    value: tuple[float, ...]    # current value(s); two for a range slider
    data_type: int              # Slider.DataType: INT 0, FLOAT 1, DATETIME 2, DATE 3, TIME 4
    options: tuple[str, ...]    # select_slider options, formatted (value is then an index into them)
    fragment_id: str            # "" unless the slider lives in an st.fragment
    query_param_key: str
    select: bool = False        # st.select_slider (Slider.Type.SELECT_SLIDER)

    def positions(self) -> list[tuple[float, ...]]:
        """Every value the slider can be set to, on its step grid (a range slider moves its upper end)."""
        step = self.step if self.step > 0 else (self.max - self.min) / 100.0
        grid = [self.min + i * step for i in range(int(round((self.max - self.min) / step)) + 1)]
        if self.data_type == 0:  # INT
            grid = [float(int(round(g))) for g in grid]
        if len(self.value) == 2:
            return [(min(self.value[0], g), g) for g in grid]
        return [(g,) for g in grid]


@dataclass
class RunResult:
    """What one rerun cost and showed."""

    latency: float                      # s, from sending rerun_script to script_finished
    first_delta: float | None           # s, to the first delta (None: no delta)
    status: str                         # ScriptFinishedStatus name
    n_messages: int = 0
    n_bytes: int = 0                    # ForwardMsg bytes as received (ref_hash messages are small)
    bytes_by_kind: Counter = field(default_factory=Counter)   # element type or message type -> bytes
    n_ref_hash: int = 0                 # elements the server did not resend (tab cache hits)
    exceptions: list[str] = field(default_factory=list)       # exception elements: "Type: message"
    errors: list[str] = field(default_factory=list)           # st.error bodies
    elements: list[str] = field(default_factory=list)         # element types in arrival order
    sliders: list[SliderInfo] = field(default_factory=list)   # sliders in arrival order
    new_elements: list = field(default_factory=list)          # Element protos (keep_elements=True)


class StreamlitClient:
    """One simulated browser tab. Use as ``async with StreamlitClient(url) as tab: ...``."""

    def __init__(self, base_url: str = "http://127.0.0.1:8501", *, timeout: float = 180.0,
                 keep_elements: bool = False):
        parts = urlsplit(base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        self.ws_url = f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/_stcore/stream"
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.timeout = timeout
        self.keep_elements = keep_elements
        self.pages: list[Page] = []
        self.page_script_hash = ""
        self.session_id = ""  # the server's id of this session (upload URLs name it)
        self.query_string = ""
        self.sliders: dict[str, SliderInfo] = {}
        self._ws = None
        self._widget_states: dict[str, WidgetState] = {}
        self._cache: dict[str, list] = {}   # hash -> [raw bytes, last run used, fragment id]
        self._run_count = 0
        self._max_cache_age = 2

    async def __aenter__(self) -> "StreamlitClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def connect(self) -> None:
        try:
            self._ws = await websockets.connect(
                self.ws_url, subprotocols=["streamlit", "PLACEHOLDER_AUTH_TOKEN"],
                origin=self.origin, max_size=None, compression=None, open_timeout=self.timeout,
                ping_interval=None)
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
            raise SessionDropped(f"connect failed: {exc!r}") from exc

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def open_page(self, page: Page | None = None, query_string: str = "") -> RunResult:
        """First load of a page, as when a tab opens ``/<url_pathname>?<query_string>``."""
        self.query_string = query_string
        if page is None:
            return await self.rerun(page_script_hash="", page_name="")
        return await self.rerun(page_script_hash=page.script_hash, page_name=page.url_pathname)

    async def move_slider(self, slider: SliderInfo, value: tuple[float, ...]) -> RunResult:
        """Set a slider (as a drag released at ``value``) and wait for the rerun it triggers."""
        self._set_slider_state(slider, value)
        self.sliders[slider.id] = SliderInfo(**{**slider.__dict__, "value": tuple(value)})
        return await self.rerun(fragment_id=slider.fragment_id)

    async def rerun(self, *, page_script_hash: str | None = None, page_name: str = "",
                    fragment_id: str = "") -> RunResult:
        """Send ``rerun_script`` with every known widget state; read until the run is finished."""
        if self._ws is None:
            raise SessionDropped("not connected")
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query_string
        cs.page_script_hash = self.page_script_hash if page_script_hash is None else page_script_hash
        cs.page_name = page_name
        cs.fragment_id = fragment_id
        cs.widget_states.widgets.extend(self._widget_states.values())
        cs.cached_message_hashes.extend(self._cache)
        cs.context_info.timezone = "UTC"
        cs.context_info.locale = "en-US"
        t0 = time.perf_counter()
        try:
            await self._ws.send(msg.SerializeToString())
        except websockets.ConnectionClosed as exc:
            raise SessionDropped(f"closed while sending: {exc!r}") from exc
        return await self._read_run(t0, fragment_id)

    def _set_slider_state(self, slider: SliderInfo, value) -> None:
        """st.slider sends its numbers; st.select_slider sends its formatted option strings."""
        state = WidgetState(id=slider.id)
        if slider.select:
            state.string_array_value.data.extend(slider.options[int(round(v))] for v in value)
        else:
            state.double_array_value.data.extend(float(v) for v in value)
        self._widget_states[slider.id] = state

    async def _recv(self, deadline: float) -> bytes:
        try:
            return await asyncio.wait_for(self._ws.recv(), max(deadline - time.perf_counter(), 0.001))
        except asyncio.TimeoutError as exc:
            raise SessionDropped(f"no script_finished within {self.timeout:.0f} s") from exc
        except websockets.ConnectionClosed as exc:
            raise SessionDropped(f"websocket closed: {exc!r}") from exc

    async def _read_run(self, t0: float, fragment_id: str) -> RunResult:
        deadline = t0 + self.timeout
        res = RunResult(latency=float("nan"), first_delta=None, status="")
        seen_ids: set[str] = set()
        while True:
            raw = await self._recv(deadline)
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            res.n_messages += 1
            res.n_bytes += len(raw)
            kind = fwd.WhichOneof("type")
            if kind == "ref_hash":
                entry = self._cache.get(fwd.ref_hash)
                if entry is None:  # the browser raises "Cached ForwardMsg MISS" here
                    res.exceptions.append(f"ClientCacheMiss: {fwd.ref_hash}")
                    continue
                entry[1] = self._run_count
                res.n_ref_hash += 1
                cached = ForwardMsg()
                cached.ParseFromString(entry[0])
                cached.metadata.CopyFrom(fwd.metadata)
                fwd, kind = cached, "delta"
            elif fwd.metadata.cacheable and fwd.hash and fwd.hash not in self._cache:
                self._cache[fwd.hash] = [raw, self._run_count, fwd.delta.fragment_id]
            if kind == "delta":
                if res.first_delta is None:
                    res.first_delta = time.perf_counter() - t0
                self._on_delta(fwd, res, seen_ids, raw_len=len(raw))
                continue
            res.bytes_by_kind[kind] += len(raw)
            if kind == "new_session":
                self.page_script_hash = fwd.new_session.page_script_hash
                self.session_id = fwd.new_session.initialize.session_id or self.session_id
                self._max_cache_age = fwd.new_session.config.max_cached_message_age or self._max_cache_age
            elif kind == "navigation":
                self.pages = [Page(p.page_script_hash, p.page_name, p.url_pathname, p.is_default)
                              for p in fwd.navigation.app_pages]
            elif kind == "page_info_changed":
                self.query_string = fwd.page_info_changed.query_string
            elif kind == "page_not_found":
                res.errors.append(f"page not found: {fwd.page_not_found.page_name!r}")
            elif kind == "script_finished":
                status = fwd.script_finished
                if status not in END_STATUSES:
                    continue  # FINISHED_EARLY_FOR_RERUN: the run we asked for follows
                res.latency = time.perf_counter() - t0
                res.status = STATUS_NAMES.get(status, str(status))
                full = status != _STATUS.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
                self._after_run(fragment_id, seen_ids, full=full)
                return res

    def _on_delta(self, fwd: ForwardMsg, res: RunResult, seen_ids: set[str], raw_len: int) -> None:
        delta = fwd.delta
        which = delta.WhichOneof("type")
        if which != "new_element":
            res.bytes_by_kind[which or "delta"] += raw_len
            return
        el = delta.new_element
        etype = el.WhichOneof("type") or "element"
        res.bytes_by_kind[etype] += raw_len
        res.elements.append(etype)
        if self.keep_elements:
            res.new_elements.append(el)
        if etype == "exception":
            res.exceptions.append(f"{el.exception.type}: {el.exception.message}")
        elif etype == "alert" and el.alert.format == _ALERT_ERROR:
            res.errors.append(el.alert.body)
        elif etype == "slider":
            s = el.slider
            select = s.type == _SELECT_SLIDER
            value = tuple(s.default)
            if s.set_value and select and len(s.raw_value):
                value = tuple(float(list(s.options).index(v)) for v in s.raw_value if v in s.options) or value
            elif s.set_value and len(s.value):
                value = tuple(s.value)
            known = self.sliders.get(s.id)
            if known is not None and s.id in self._widget_states and not s.set_value:
                value = known.value  # the tab keeps the value it sent, as the browser does
            info = SliderInfo(s.id, s.label, s.min, s.max, s.step, value, s.data_type, tuple(s.options),
                              delta.fragment_id, s.query_param_key if s.HasField("query_param_key") else "",
                              select)
            self.sliders[s.id] = info
            res.sliders.append(info)
            seen_ids.add(s.id)
            self._set_slider_state(info, value)  # a mounted widget reports its value

    def _after_run(self, fragment_id: str, seen_ids: set[str], full: bool) -> None:
        """Forget widgets no longer on the page and age the message cache (as the browser does)."""
        if full:
            for wid in [w for w in self._widget_states if w not in seen_ids]:
                del self._widget_states[wid]
                self.sliders.pop(wid, None)
        self._run_count += 1
        for h in list(self._cache):
            _, last, frag = self._cache[h]
            if fragment_id and frag != fragment_id:
                continue
            if self._run_count - last > self._max_cache_age:
                del self._cache[h]


async def fetch_pages(base_url: str, timeout: float = 120.0) -> list[Page]:
    """The app's pages, from the ``navigation`` message of one default-page run."""
    async with StreamlitClient(base_url, timeout=timeout) as tab:
        await tab.open_page()
        return tab.pages
