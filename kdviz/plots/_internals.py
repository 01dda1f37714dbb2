"""The private plotly internals kdviz relies on, all of them, each for a measured cost.

- :func:`encode_arrays`: ``_plotly_utils.utils.convert_to_base64``, plotly's own numpy -> typed
  array encoder. Run once when a figure is built; otherwise ``to_dict()`` (called by
  ``st.plotly_chart`` on every rerun) re-encodes every array: 40% of a cached mode-seeking rerun.
- :func:`unvalidated_figure`: ``go.Figure(..., _validate=False)`` and frames attached through
  ``fig._frame_objs`` / ``go.Frame._orphan_props``. plotly validates frames even with
  ``_validate=False``; validating them cost 0.2 s of mode seeking's 0.3 s of figure time.
- :class:`SharedFigure`: a ``go.Figure`` subclass whose ``to_dict`` returns one dict made once.
  ``st.plotly_chart`` calls ``to_dict()`` on every rerun, a deep copy of every trace and frame:
  a fifth of a cached lesson rerun's server time.

``tests/test_internals.py`` fails if any of these stops behaving as used here.
"""

from __future__ import annotations

import plotly.graph_objects as go
from _plotly_utils.utils import convert_to_base64


def encode_arrays(node) -> None:
    """Replace, in place, every numpy array inside the dicts and lists of ``node`` by its plotly.js
    typed-array form ``{"dtype": ..., "bdata": <base64>}``."""
    convert_to_base64(node)


def unvalidated_figure(data: list, layout: dict, frames: list) -> go.Figure:
    """A figure holding ``data``, ``layout`` and ``frames`` (dicts) as given, without validation."""
    fig = go.Figure(dict(data=data, layout=layout), _validate=False)
    fig._frame_objs = tuple(_raw_frame(f) for f in frames)
    return fig


def _raw_frame(props: dict) -> go.Frame:
    frame = go.Frame()
    frame._orphan_props.update(props)
    return frame


class SharedFigure(go.Figure):
    """A finished figure, read-only: its dict form is made once and returned by every ``to_dict()``.

    One instance is shared by every session (through the cache); plotly and Streamlit only read
    the dict. The methods that would change the figure raise instead."""

    def __init__(self, fig: go.Figure):
        super().__init__()
        self._spec = fig.to_dict()
        self._sealed = True

    def to_dict(self) -> dict:
        return self._spec

    def _read_only(self, *args, **kwargs):
        raise TypeError("a shared figure is read-only: build a new figure instead of changing this one")

    update = update_layout = update_traces = add_traces = plotly_update = __setitem__ = _read_only

    def __setattr__(self, name, value):
        if getattr(self, "_sealed", False) and not name.startswith("_"):
            self._read_only()
        super().__setattr__(name, value)
