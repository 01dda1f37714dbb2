"""Reading plotly figure JSON as Streamlit ships it (plain lists or base64 typed arrays)."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import plotly.graph_objects as go
from streamlit.testing.v1 import AppTest


def arr(v) -> np.ndarray:
    """A plotly JSON array (plain list, None = gap, or base64 typed array) as float numpy."""
    if isinstance(v, dict) and "bdata" in v:
        out = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        shape = v.get("shape")
        return out.reshape([int(n) for n in str(shape).split(",")]) if shape else out  # "40, 40"
    return np.array([np.nan if e is None else e for e in v], dtype=float)


def all_finite(node) -> bool:
    """No NaN or infinity anywhere in the figure JSON (gaps are null, which is allowed)."""
    if isinstance(node, dict):
        if "bdata" in node and "dtype" in node:
            return bool(np.isfinite(arr(node)).all())
        return all(all_finite(v) for v in node.values())
    if isinstance(node, list):
        return all(all_finite(v) for v in node)
    return not (isinstance(node, float) and not math.isfinite(node))


def figure(at: AppTest, key: str) -> dict:
    """The figure JSON of the one plotly chart whose widget key is ``key``."""
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert len(charts) == 1, f"no chart {key}"
    return json.loads(charts[0].proto.spec)


def validated(spec: dict) -> go.Figure:
    """``spec`` rebuilt through plotly's validation, frames included (raises ValueError on any invalid
    property). kdviz builds its figures unvalidated for speed: what a page ships must still pass."""
    fig = go.Figure(spec)
    assert len(fig.data) == len(spec["data"]) and len(fig.frames) == len(spec.get("frames", []))
    return fig


def shipped(at: AppTest) -> dict[str, dict]:
    """Every plotly chart of the page as ``{widget key: figure JSON}``."""
    return {c.proto.id.rsplit("-", 1)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
