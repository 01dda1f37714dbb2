"""pages/overlap.py under AppTest: defaults, controls -> figure JSON, URL restore, extreme values."""

import json
import math
from pathlib import Path

import numpy as np
from figjson import all_finite, arr, shipped, validated
from streamlit.testing.v1 import AppTest

from kdviz.divergences import get_spec
from kdviz.experiments import overlap as ov

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "overlap.py")
TIMEOUT = 300  # s: a cold run on a loaded 2-core machine


def page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def spec(at: AppTest) -> dict:
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith("-ov_fig")]
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def student(fig: dict) -> np.ndarray:
    return arr(fig["data"][1]["y"])


def markers(fig: dict) -> list[dict]:
    """The big moving markers (one per panel), in the order of the divergence rows."""
    return [t for t in fig["data"] if t.get("mode") == "markers" and t.get("hoverinfo") == "skip"]


def test_defaults_run_and_show_log2_plateau_for_jsd_with_the_takeaway_of_the_default_sweep():
    at = page()
    assert not at.exception and not at.error
    fig = spec(at)
    assert all_finite(fig)
    res = ov.overlap_sweep()
    assert at.info[0].value.endswith(ov.takeaway(res))
    jsd_row = res.index("jsd")
    value_axis = f"y{2 + 2 * jsd_row}"
    log2 = [s for s in fig["layout"]["shapes"] if s["yref"] == value_axis and s["line"]["dash"] == "dash"]
    assert len(log2) == 1 and log2[0]["y0"] == math.log(2)
    # forward KL is infinite for boxes: a warning, no NaN, and the infinite points drawn at the ceiling
    assert any("Forward KL" in w.value for w in at.warning)
    fkl = [t for t in fig["data"] if t.get("name") == f"{get_spec('fkl').label} = ∞"]
    assert len(fkl) == 1 and set(arr(fkl[0]["y"])) == {res.ceiling(res.index("fkl"))}


def test_every_chart_as_shipped_passes_plotlys_validation():
    """The figures are built without plotly's validation: what the page ships must still pass it."""
    charts = shipped(page())
    assert len(charts) == 1
    for spec in charts.values():
        validated(spec)


def test_moving_the_shift_slides_the_student_and_the_markers():
    at = page()
    before = spec(at)
    at.slider(key="ov_shift").set_value(5.0).run()
    after = spec(at)
    x = arr(after["data"][0]["x"])
    centre = lambda q: float((x * q).sum() / q.sum())  # noqa: E731
    assert abs(centre(student(before)) - 3.0) < 0.05 and abs(centre(student(after)) - 5.0) < 0.05
    assert all(m["x"] == [5.0] for m in markers(after))
    w_row = ov.DEFAULT_DIVERGENCES.index("wasserstein")
    assert abs(markers(after)[2 * w_row]["y"][0] - 5.0) < 0.05  # W1 = shift
    assert abs(markers(before)[2 * w_row]["y"][0] - 3.0) < 0.05


def test_switching_to_gaussians_makes_jsd_approach_but_not_reach_log2_and_fkl_finite():
    at = page()
    at.radio(key="ov_shape").set_value("gaussian").run()
    assert not at.exception
    fig = spec(at)
    jsd = arr(fig["data"][2]["y"])  # first row: JSD values
    assert (jsd < math.log(2)).all() and jsd[-1] > math.log(2) - 1e-3
    assert not [t for t in fig["data"] if str(t.get("name", "")).endswith("= ∞")]
    assert not any("Infinite" in w.value for w in at.warning)
    assert any("never have disjoint supports" in m.value for m in at.markdown)


def test_picking_sinkhorn_shows_the_epsilon_control_and_its_curve():
    at = page()
    assert "ov_eps" not in [s.key for s in at.select_slider]  # only shown for the Sinkhorn divergences
    at.multiselect(key="ov_divs").set_value(["jsd", "sinkhorn"]).run()
    assert not at.exception
    assert at.select_slider(key="ov_eps").value == 1.0
    fig = spec(at)
    sink = [t for t in fig["data"] if t.get("name") == get_spec("sinkhorn").label]
    assert len(sink) == 1 and len(arr(sink[0]["x"])) == len(range(0, ov.N_SHIFTS, ov.SINKHORN_EVERY))
    at.select_slider(key="ov_eps").set_value(3.0).run()
    sink3 = [t for t in spec(at)["data"] if t.get("name") == get_spec("sinkhorn").label][0]
    assert arr(sink3["y"])[0] > arr(sink[0]["y"])[0]  # more entropy, more bias at s = 0


def test_query_params_restore_every_control():
    at = page(ov_shape=ov.SHAPES["gaussian"], ov_width="1.5", ov_shift="4.2", ov_range="12",
              ov_divs=["JSD", "Sinkhorn"], ov_order="2", ov_eps="0.5")
    assert not at.exception
    assert at.radio(key="ov_shape").value == "gaussian"
    assert at.slider(key="ov_width").value == 1.5
    assert at.slider(key="ov_shift").value == 4.2
    assert at.slider(key="ov_range").value == 12.0
    assert at.multiselect(key="ov_divs").value == ["jsd", "sinkhorn"]
    assert at.radio(key="ov_order").value == 2
    assert at.select_slider(key="ov_eps").value == 0.5
    assert all(m["x"] == [4.2] for m in markers(spec(at)))


def test_huge_shift_with_a_narrow_box_warns_and_draws_only_finite_numbers():
    at = page(ov_shift="40.0", ov_range="2", ov_width="0.2", ov_divs=["JSD", "Forward KL", "Wasserstein", "AKL"])
    assert not at.exception
    texts = " ".join(w.value for w in at.warning)
    assert "beyond the sweep range" in texts and "grid cells" in texts
    fig = spec(at)
    assert all_finite(fig)
    x = arr(fig["data"][0]["x"])
    assert x[-1] > 40.0  # the sweep was extended to the shift


def test_no_divergence_selected_gives_a_warning_instead_of_a_figure():
    at = page()
    at.multiselect(key="ov_divs").set_value([]).run()
    assert not at.exception
    assert any("at least one divergence" in w.value for w in at.warning)
    assert not at.get("plotly_chart")
