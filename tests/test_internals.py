"""The private plotly and Streamlit internals kdviz relies on (kdviz/plots/_internals.py and
ui/_internals.py) still behave as used: each test fails if its internal changes."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from kdviz.plots._internals import SharedFigure, encode_arrays, unvalidated_figure


def test_plotlys_array_encoder_turns_numpy_arrays_into_typed_arrays_in_place():
    node = {"x": np.arange(3, dtype=np.float32), "nested": [{"y": np.ones(2)}]}
    encode_arrays(node)
    assert node["x"]["dtype"] == "f4" and isinstance(node["x"]["bdata"], str)
    assert node["nested"][0]["y"]["dtype"] == "f8"


def test_an_unvalidated_figure_serialises_its_data_layout_and_raw_frames_as_given():
    frames = [{"name": "0", "data": [{"type": "scatter", "y": [1, 2]}]}]
    fig = unvalidated_figure([{"type": "scatter", "y": [0, 1]}], {"title": {"text": "t"}}, frames)
    spec = json.loads(pio.to_json(fig, validate=False))
    assert spec["data"][0]["y"] == [0, 1] and spec["layout"]["title"]["text"] == "t"
    assert spec["frames"] == frames
    assert len(go.Figure(spec).frames) == 1  # and plotly's validation accepts it


def test_a_shared_figure_returns_one_dict_made_once_and_refuses_changes():
    shared = SharedFigure(go.Figure(go.Scatter(y=[1, 2, 3])))
    assert shared.to_dict() is shared.to_dict()
    assert json.loads(pio.to_json(shared, validate=False))["data"][0]["y"] == [1, 2, 3]
    for change in (lambda f: f.update_layout(title="x"), lambda f: f.add_trace(go.Scatter(y=[0])),
                   lambda f: setattr(f, "layout", {})):
        with pytest.raises(TypeError, match="read-only"):
            change(shared)


def test_streamlit_still_has_the_pages_directory_flag_that_ui_switches_off():
    from streamlit.runtime.pages_manager import PagesManager

    assert isinstance(PagesManager.uses_pages_directory, (bool, type(None)))
