"""pages/overlap.py under AppTest: defaults, controls -> figure JSON, URL restore, extreme values."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
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


def spec(at: AppTest, key: str = "ov_fig") -> dict:
    """The curves figure (``ov_fig``) or the animation (``ov_anim``)."""
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def student(fig: dict) -> np.ndarray:
    return arr(fig["data"][1]["y"])


def markers(fig: dict) -> list[dict]:
    """The big markers at the page's shift (value, then |gradient|), in the order of the divergence rows."""
    return [t for t in fig["data"] if t.get("mode") == "markers" and t.get("hoverinfo") == "skip"]


def curve(fig: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    (trace,) = [t for t in fig["data"] if t.get("name") == name]
    return arr(trace["x"]), arr(trace["y"])


def test_defaults_run_without_a_warning_and_show_the_log2_plateau_with_the_takeaway_of_the_default_sweep():
    at = page()
    assert not at.exception and not at.error and not at.warning
    fig = spec(at)
    assert all_finite(fig)
    res = ov.overlap_sweep()
    assert res.names == ("jsd", "wasserstein")
    assert at.info[0].value.endswith(ov.takeaway(res))
    log2 = [s for s in fig["layout"]["shapes"] if s["yref"] == "y" and s["line"]["dash"] == "dash"]
    assert len(log2) == 1 and log2[0]["y0"] == math.log(2)


def test_the_default_takeaway_states_the_numbers_the_curves_show():
    """The takeaway says: JSD climbs at log 2 / w while the boxes overlap, is log 2 with a zero gradient
    after, and Wasserstein grows with slope 1. Each is read off the plotted curves here."""
    at = page()
    text = at.info[0].value
    fig = spec(at)
    s, jsd = curve(fig, "JSD")
    _, djsd = curve(fig, "|dJSD/ds|")
    inside, beyond = (s > 0) & (s + s[1] < 1.0), s > 1.0 + 1e-9  # width w = 1
    assert "|dJSD/ds| = 0.693 = log 2 / w" in text and np.allclose(djsd[inside], math.log(2))
    assert "the JSD is log 2 and its gradient 0" in text
    assert np.allclose(jsd[beyond], math.log(2), atol=1e-12) and np.allclose(djsd[beyond], 0, atol=1e-12)
    _, w1 = curve(fig, "Wasserstein")
    half = s >= s[-1] / 2
    assert "slope 1.00" in text and np.polyfit(s[half], w1[half], 1)[0] == pytest.approx(1.0, abs=0.005)


@pytest.mark.parametrize("shape", list(ov.SHAPES))
def test_every_plotted_derivative_is_the_slope_of_its_own_plotted_value(shape):
    """For every divergence the page can draw, |dD/ds| against finite differences of the plotted D."""
    at = page(ov_shape=shape, ov_divs=list(ov.DIVERGENCE_OPTIONS))
    assert not at.exception
    fig = spec(at)
    for nm in ov.DIVERGENCE_OPTIONS:
        lab = get_spec(nm).label
        s, d = curve(fig, lab)
        _, g = curve(fig, f"|d{lab}/ds|")
        with np.errstate(invalid="ignore"):
            slope = np.abs(np.gradient(d, s))
        ok = np.isfinite(slope)
        if nm in ("fkl", "rkl", "fkl_rkl", "akl") and shape == "box":
            assert not ok.any() and np.isnan(g).all()  # infinite: no slope, and none drawn
            continue
        assert ok.sum() > 20, nm
        np.testing.assert_allclose(g[ok], slope[ok], rtol=1e-9, atol=1e-12, err_msg=nm)


def test_play_sits_on_a_compact_animation_that_writes_the_values_at_each_shift():
    at = page()
    anim = spec(at, "ov_anim")
    assert anim["layout"]["height"] <= 400
    (menu,) = anim["layout"]["updatemenus"]
    # ▶ and the legend under the picture: Plotly's toolbar covers most of its top on a phone
    assert menu["buttons"][0]["label"].endswith("Play") and menu["y"] == 0 and menu["yanchor"] == "top"
    assert anim["layout"]["legend"]["yref"] == "container" and anim["layout"]["legend"]["y"] == 0
    assert "sliders" not in anim["layout"]  # one control sets the shift: the page's slider
    assert "JSD 0.693" in anim["data"][2]["text"][0] and "Wasserstein 3" in anim["data"][2]["text"][0]


def test_choosing_forward_kl_explains_its_infinity_in_one_line_without_a_warning():
    at = page()
    at.multiselect(key="ov_divs").set_value(["jsd", "fkl", "wasserstein"]).run()
    assert not at.exception and not at.warning
    assert any("Forward KL = ∞" in c.value for c in at.caption)
    fig = spec(at)
    res = ov.overlap_sweep(names=("jsd", "fkl", "wasserstein"))
    fkl = [t for t in fig["data"] if t.get("name") == f"{get_spec('fkl').label} = ∞"]
    assert len(fkl) == 1 and set(arr(fkl[0]["y"])) == {res.ceiling(res.index("fkl"))}


def test_every_chart_as_shipped_passes_plotlys_validation():
    """The figures are built without plotly's validation: what the page ships must still pass it."""
    charts = shipped(page())
    assert sorted(charts) == ["ov_anim", "ov_fig"]
    for spec in charts.values():
        validated(spec)


def test_moving_the_shift_slides_the_student_the_markers_and_the_table():
    at = page()
    before = spec(at, "ov_anim")
    at.slider(key="ov_shift").set_value(5.0).run()
    after = spec(at, "ov_anim")
    x = arr(after["data"][0]["x"])
    centre = lambda q: float((x * q).sum() / q.sum())  # noqa: E731
    assert abs(centre(student(before)) - 3.0) < 0.05 and abs(centre(student(after)) - 5.0) < 0.05
    assert all(m["x"] == [5.0] for m in markers(spec(at)))
    w_row = ov.DEFAULT_DIVERGENCES.index("wasserstein")
    assert abs(markers(spec(at))[2 * w_row]["y"][0] - 5.0) < 1e-9  # W1 = shift, exact on the aligned grid
    table = at.dataframe[0].value
    assert table["D(p, q_s)"].tolist() == ["0.6931", "5"] and table["dD/ds"].tolist() == ["0", "1"]


def test_switching_to_gaussians_makes_jsd_approach_but_not_reach_log2_and_fkl_finite():
    at = page()
    at.radio(key="ov_shape").set_value("gaussian").run()
    assert not at.exception
    fig = spec(at)
    _, jsd = curve(fig, "JSD")
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


def centre_of(anim: dict) -> float:
    x, q = arr(anim["data"][0]["x"]), student(anim)
    return float((x * q).sum() / q.sum())


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
    assert abs(centre_of(spec(at, "ov_anim")) - 4.2) < 0.05


def test_huge_shift_with_a_narrow_box_warns_and_draws_only_finite_numbers():
    at = page(ov_shift="40.0", ov_range="2", ov_width="0.2",
              ov_divs=["JSD", "Forward KL", "Wasserstein", "AKL"])
    assert not at.exception
    assert "beyond the sweep range" in " ".join(w.value for w in at.warning)
    fig = spec(at)
    assert all_finite(fig)
    assert arr(spec(at, "ov_anim")["data"][0]["x"])[-1] > 40.0  # the sweep was extended to the shift
    assert ov.box_cells(ov.overlap_sweep("box", 0.2, 40.0, 2.0)) >= ov.MIN_BOX_CELLS  # aligned grid


def test_a_narrow_box_with_sinkhorn_on_a_long_sweep_warns_that_the_boxes_are_spikes():
    """Sinkhorn solves a V x V problem per shift, so its grid is capped: few cells per box."""
    at = page(ov_range="40", ov_width="0.2", ov_divs=["JSD", "Sinkhorn"])
    assert not at.exception
    assert "grid cells" in " ".join(w.value for w in at.warning)
    assert all_finite(spec(at))


def test_no_divergence_selected_gives_a_warning_instead_of_a_figure():
    at = page()
    at.multiselect(key="ov_divs").set_value([]).run()
    assert not at.exception
    assert any("at least one divergence" in w.value for w in at.warning)
    assert not at.get("plotly_chart")
