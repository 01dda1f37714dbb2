"""pages/outliers.py under AppTest: defaults, controls -> figure JSON, URL, extremes."""

import re
from pathlib import Path

import numpy as np
from figjson import arr, figure, shipped, validated
from streamlit.testing.v1 import AppTest

from kdviz.divergences import get_spec
from kdviz.experiments import outliers as ol

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "outliers.py")
TIMEOUT = 300  # s: a cold sweep on a loaded 2-core machine
CHARTS = ["ol_fits", "ol_sweep"]


def page(**query) -> AppTest:
    """The page, run once with the given URL query (labels of format_func widgets)."""
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def trace(spec: dict, name: str, axis: str = "x") -> tuple[np.ndarray, np.ndarray]:
    (t,) = [t for t in spec["data"] if t.get("name") == name and t.get("xaxis", "x") == axis]
    return arr(t["x"]), arr(t["y"])


def mean_of(x, density) -> float:
    return float((x * density).sum() / density.sum())


def bump_mass(x, density, start: float) -> float:
    """Share of a curve's mass right of ``start``."""
    return float(density[x > start].sum() / density.sum())


def test_defaults_render_both_charts_forward_kl_pulled_and_tvd_not():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception and not at.error and not at.warning
    assert [c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")] == CHARTS
    fits = figure(at, "ol_fits")
    drawn = [t["name"] for t in fits["data"]]
    assert sorted(drawn) == sorted(["teacher p"] + [get_spec(n).label for n in ol.DEFAULT_NAMES])
    assert drawn[-2:] == ["TVD", "Forward KL"]  # the lesson's main characters on top
    assert abs(mean_of(*trace(fits, "Forward KL")) - 0.6) < 0.05  # w * d = 0.1 * 6
    assert abs(mean_of(*trace(fits, "TVD"))) < 0.1
    sweep = figure(at, "ol_sweep")
    w, fkl_mu = trace(sweep, "Forward KL")
    _, tvd_mu = trace(sweep, "TVD")
    assert len(w) == ol.SWEEP_N and fkl_mu[-1] > 1.5 and tvd_mu[-1] < 0.25 * fkl_mu[-1]
    assert "move less than a quarter as far as forward KL" in at.info[0].value
    assert any("coincide" in c.value for c in at.caption)  # RKL, skew KL and JSD lie on top of each other


def test_the_default_takeaway_states_the_means_the_figures_show():
    """Every fitted mean the takeaway names is the mean of the plotted final student, and its "at 30%"
    means are the last points of the robustness curves."""
    at = page()
    text = at.info[0].value
    fits, sweep = figure(at, "ol_fits"), figure(at, "ol_sweep")
    for name in ol.DEFAULT_NAMES:
        lab = get_spec(name).label
        said = float(re.search(re.escape(lab) + r" ([+-]\d+\.\d\d) \(", text).group(1))
        assert abs(said - mean_of(*trace(fits, lab))) < 0.011, lab
        at_top = float(re.search(re.escape(lab) + r" μ = (-?\d+\.\d\d)", text).group(1))
        assert abs(at_top - trace(sweep, lab)[1][-1]) < 0.006, lab
    _, fkl_mu = trace(sweep, "Forward KL")
    calm = re.search(r"\. ([^.]*) move less than a quarter", text).group(1).split(", ")
    for lab in calm:
        assert abs(trace(sweep, lab)[1][-1]) < 0.25 * fkl_mu[-1], lab


def test_the_fit_is_animated_step_by_step_forward_kl_dragged_to_the_outlier_tvd_staying():
    at = page()
    fits = figure(at, "ol_fits")
    frames, x = fits["frames"], arr(fits["data"][0]["x"])
    assert len(frames) == ol.N_FRAMES and frames[0]["name"] == "0" and frames[-1]["name"] == "200"
    names = [t["name"] for t in fits["data"][1:]]
    mean = lambda f, lab: mean_of(x, arr(f["data"][names.index(lab)]["y"]))  # noqa: E731
    fkl = [mean(f, "Forward KL") for f in frames]
    tvd = [mean(f, "TVD") for f in frames]
    assert abs(fkl[0]) < 0.01 and abs(tvd[0]) < 0.01  # every student starts on the main mass
    assert abs(fkl[-1] - 0.6) < 0.02 and max(abs(m) for m in tvd) < 0.15 * 0.6  # w d = 0.6; TVD stays
    assert fkl[len(fkl) // 4] > 0.2  # it is dragged during the fit, not only at the end
    (menu,) = fits["layout"]["updatemenus"]
    (slider,) = fits["layout"]["sliders"]
    assert menu["buttons"][0]["args"][1]["fromcurrent"] is False  # ▶ replays from step 0
    # ▶, the step slider and the legend under the picture: Plotly's toolbar covers most of its top on a phone
    assert menu["y"] == slider["y"] == 0 and fits["layout"]["legend"]["yref"] == "container"
    dashes = [t["line"]["dash"] for t in fits["data"][1:]]
    assert len(set(dashes)) == len(dashes)  # overlapping students stay apart


def test_every_chart_as_shipped_passes_plotlys_validation():
    """The figures are built without plotly's validation: what the page ships must still pass it."""
    charts = shipped(page())
    assert len(charts) == len(CHARTS)
    for spec in charts.values():
        validated(spec)


def test_raising_the_outlier_weight_grows_the_bump_and_pulls_forward_kl_further():
    at = page()
    before = figure(at, "ol_fits")
    at.slider(key="ol_w").set_value(0.25).run()
    after = figure(at, "ol_fits")
    assert abs(bump_mass(*trace(before, "teacher p"), 3.0) - 0.1) < 0.01
    assert abs(bump_mass(*trace(after, "teacher p"), 3.0) - 0.25) < 0.01
    assert abs(mean_of(*trace(after, "Forward KL")) - 1.5) < 0.05
    assert [s["x0"] for s in figure(at, "ol_sweep")["layout"]["shapes"]] == [0.25, 0.25]


def test_moving_the_outlier_moves_the_bump_and_forward_kls_sweep():
    at = page()
    at.slider(key="ol_d").set_value(4.0).run()
    spec = figure(at, "ol_fits")
    x, p = trace(spec, "teacher p")
    right = x > 2
    assert abs(x[right][np.argmax(p[right])] - 4.0) < 0.1
    _, fkl_mu = trace(figure(at, "ol_sweep"), "Forward KL")
    np.testing.assert_allclose(fkl_mu, 4.0 * np.linspace(0, ol.SWEEP_MAX, ol.SWEEP_N), atol=0.05)


def test_choosing_divergences_changes_the_curves_of_both_figures():
    at = page()
    at.multiselect(key="ol_divs").set_value(["fkl", "srkl"]).run()
    assert not at.exception
    names = ["Forward KL", "Skew reverse KL"]
    on_top = names[::-1]  # forward KL, a main character, is drawn last
    assert [t["name"] for t in figure(at, "ol_fits")["data"]] == ["teacher p", *on_top]
    sweep = [t for t in figure(at, "ol_sweep")["data"] if t.get("xaxis", "x") == "x"]
    assert [t["name"] for t in sweep] == ["teacher's moments (FKL optimum)", *on_top]
    assert [t["line"]["color"] for t in sweep[1:]] == [get_spec("srkl").color, get_spec("fkl").color]


def test_query_params_restore_the_controls_and_the_figures():
    at = page(ol_w="0.2", ol_d="4.5", ol_s="0.8", ol_divs=["Forward KL", "TVD"], ol_steps="150")
    assert not at.exception
    assert at.slider(key="ol_w").value == 0.2 and at.slider(key="ol_d").value == 4.5
    assert at.slider(key="ol_s").value == 0.8 and at.slider(key="ol_steps").value == 150
    assert at.multiselect(key="ol_divs").value == ["fkl", "tvd"]
    assert abs(mean_of(*trace(figure(at, "ol_fits"), "Forward KL")) - 0.9) < 0.05  # 0.2 * 4.5


def test_outlier_past_the_grid_end_and_minimum_std_warn():
    at = page(ol_d="9.0", ol_s="2.0")
    assert not at.exception and "beyond the grid's end" in at.warning[0].value
    at = page(ol_s=str(0.2))
    assert not at.exception and "at the minimum" in at.warning[0].value


def test_an_outlier_overlapping_the_main_mass_warns_and_no_outlier_says_so():
    at = page(ol_d="2.0")
    assert not at.exception and "overlaps the main mass" in at.warning[0].value
    at = page(ol_w="0.0")
    assert not at.exception and "No outlier" in at.info[0].value
    for t in figure(at, "ol_fits")["data"][1:]:
        assert abs(mean_of(*trace(figure(at, "ol_fits"), t["name"]))) < 0.02


def test_no_divergence_picked_is_a_warning_not_a_traceback():
    at = page()
    at.multiselect(key="ol_divs").set_value([]).run()
    assert not at.exception and "Pick at least one" in at.warning[0].value
