"""pages/mode_seeking.py under AppTest: defaults, presets, controls -> figure JSON, URL, extremes."""

from pathlib import Path

import numpy as np
import pytest
from figjson import arr, figure, shipped, validated
from streamlit.testing.v1 import AppTest

from kdviz.divergences import get_spec
from kdviz.experiments import mode_seeking as ms
from kdviz.families import GaussianMixture
from kdviz.plots.common import MAX_FRAMES

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "mode_seeking.py")
TIMEOUT = 300  # s: a cold fit on a loaded 2-core machine
CHARTS = ["ms_anim", "ms_loss", "ms_params", "ms_landscape"]


def page(**query) -> AppTest:
    """The page with 100 steps (enough to converge at lr 0.1) unless the query says otherwise.
    Query values are what the URL holds (labels of format_func widgets, e.g. ``ms_opt="SGD"``)."""
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({"ms_steps": "100", **query})
    return at.run()


def trace(spec: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    (t,) = [t for t in spec["data"] if t.get("name") == name]
    return arr(t["x"]), arr(t["y"])


def peaks(x, y) -> list[float]:
    """x of the local maxima of a curve higher than a tenth of its maximum (not rounding noise)."""
    inner = (y[1:-1] > y[:-2]) & (y[1:-1] >= y[2:]) & (y[1:-1] > 0.1 * y.max())
    return list(x[1:-1][inner])


def test_defaults_render_every_chart_with_forward_kl_spreading_and_reverse_kl_on_the_right_mode():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception and not at.error and not at.warning
    assert [c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")] == CHARTS
    final = figure(at, "ms_anim")
    x, fkl = trace(final, "Forward KL")
    _, rkl = trace(final, "Reverse KL")
    assert abs(x[np.argmax(fkl)]) < 0.2 and abs(x[np.argmax(rkl)] - 3) < 0.2
    assert fkl.max() < 0.5 * rkl.max()  # spread vs locked
    assert "**Reverse KL** locks onto the mode at 3" in at.info[0].value
    assert "**Forward KL** spreads over the teacher" in at.info[0].value
    table = at.dataframe[0].value
    assert list(table[""]) == ["Forward KL", "Reverse KL", "JSD", "TVD", "teacher"]


def test_animation_ships_at_most_50_frames_with_fixed_axes_and_shows_the_last_step_until_played():
    at = page()  # 100 steps: 101 snapshots kept, more than the figure ships
    spec = figure(at, "ms_anim")
    names = [f["name"] for f in spec["frames"]]
    assert len(names) == MAX_FRAMES and names[0] == "0" and names[-1] == "100"
    gaps = np.diff([int(n) for n in names])
    assert gaps.min() >= 1 and gaps.max() <= 2 * np.median(gaps)  # spread evenly over the kept steps
    assert [s["label"] for s in spec["layout"]["sliders"][0]["steps"]] == names  # the slider says the step
    assert spec["layout"]["yaxis"]["range"][0] == 0 and spec["layout"]["xaxis"]["range"] == [-10, 10]
    # Forward KL, the lesson's main character, drawn last (on top); the others dashed, each its own dash
    assert [t["name"] for t in spec["data"]] == ["teacher p", "Reverse KL", "JSD", "TVD", "Forward KL"]
    assert [t["line"]["color"] for t in spec["data"][1:]] == [get_spec(n).color for n in ("rkl", "jsd", "tvd",
                                                                                          "fkl")]
    dashes = [t["line"].get("dash", "solid") for t in spec["data"][1:]]
    assert dashes[-1] == "solid" and len(set(dashes)) == len(dashes)
    assert all(len(arr(t["y"])) <= 256 for f in spec["frames"] for t in f["data"])
    first, last = arr(spec["frames"][0]["data"][1]["y"]), arr(spec["frames"][-1]["data"][1]["y"])
    assert np.abs(first - last).max() > 0.05  # the student moves between the first and the last frame
    # until played, the figure shows the last step, and the slider stands on it
    shown = [arr(t["y"]) for t in spec["data"][1:]]
    np.testing.assert_array_equal(np.stack([arr(t["y"]) for t in spec["frames"][-1]["data"]]),
                                  np.stack(shown))
    assert spec["layout"]["sliders"][0]["active"] == len(names) - 1


def test_every_chart_as_shipped_passes_plotlys_validation():
    """The figures are built without plotly's validation: what the page ships must still pass it."""
    charts = shipped(page())
    assert len(charts) == len(CHARTS)
    for spec in charts.values():
        validated(spec)


@pytest.mark.parametrize("preset", list(ms.PRESETS))
def test_every_preset_fills_the_teacher_controls_and_the_figure_draws_that_teacher(preset):
    at = page()
    at.selectbox(key="ms_preset").set_value(preset).run()
    assert not at.exception
    weights, means, stds = ms.PRESETS[preset]
    assert at.slider(key="ms_k").value == len(weights)
    assert [at.number_input(key=f"ms_m{i + 1}").value for i in range(len(means))] == list(means)
    x, p = trace(figure(at, "ms_anim"), "teacher p")
    want = GaussianMixture(weights, means, stds).prob(ms.GRID).numpy() / ms.GRID.step
    np.testing.assert_allclose(p, np.interp(x, ms.GRID.points().numpy(), want), atol=1e-4)


def test_moving_a_teacher_mean_moves_that_peak_of_the_teacher_curve():
    at = page()
    before = peaks(*trace(figure(at, "ms_anim"), "teacher p"))
    at.number_input(key="ms_m2").set_value(5.0).run()
    after = peaks(*trace(figure(at, "ms_anim"), "teacher p"))
    assert [round(v) for v in before] == [-3, 3] and [round(v) for v in after] == [-3, 5]


def test_choosing_divergences_changes_the_students_drawn_and_their_colours():
    at = page()
    at.multiselect(key="ms_divs").set_value(["fkl", "skl", "wasserstein"]).run()
    assert not at.exception
    spec = figure(at, "ms_anim")
    # Forward KL last: drawn on top
    assert [t["name"] for t in spec["data"]] == ["teacher p", "Skew KL", "Wasserstein", "Forward KL"]
    assert ([t["line"]["color"] for t in spec["data"][1:]]
            == [get_spec(n).color for n in ("skl", "wasserstein", "fkl")])


def test_landscape_selector_redraws_the_landscape_of_that_divergence_with_its_minimum():
    at = page()
    at.selectbox(key="ms_land").set_value("fkl").run()
    spec = figure(at, "ms_landscape")
    (star,) = [t for t in spec["data"] if t.get("name") == "global minimum"]
    (mu,), (sigma,) = arr(star["x"]), arr(star["y"])
    assert abs(mu) < 0.2 and 2.7 < sigma < 3.6  # FKL: moment matching (0, ~3.16)
    assert any(t.get("name") == "Forward KL path" for t in spec["data"])


def test_loss_axis_toggle_switches_to_the_normalised_gap():
    at = page()
    assert figure(at, "ms_loss")["layout"]["yaxis"]["title"]["text"] == "D(p, q_t)"
    at.radio(key="ms_loss_scale").set_value("normalised").run()
    spec = figure(at, "ms_loss")
    assert spec["layout"]["yaxis"]["title"]["text"].startswith("(D_t")
    y = arr(spec["data"][0]["y"])
    assert y[0] == pytest.approx(1.0)


def test_query_params_restore_the_controls_and_the_figures():
    at = page(ms_m1="-4.5", ms_mu0="-2.0", ms_divs=["Forward KL", "TVD"], ms_opt="SGD", ms_land="TVD",
              ms_fixed="true")
    assert not at.exception
    assert at.number_input(key="ms_m1").value == -4.5 and at.slider(key="ms_mu0").value == -2.0
    assert at.multiselect(key="ms_divs").value == ["fkl", "tvd"] and at.radio(key="ms_opt").value == "sgd"
    assert at.checkbox(key="ms_fixed").value is True and at.selectbox(key="ms_land").value == "tvd"
    assert [round(v, 1) for v in peaks(*trace(figure(at, "ms_anim"), "teacher p"))] == [-4.5, 3.0]
    sigma = [t for t in figure(at, "ms_params")["data"] if t.get("xaxis") == "x2"]
    assert all(np.allclose(arr(t["y"]), 1.0) for t in sigma)  # fixed variance: σ stays at σ₀


def test_a_url_naming_only_a_preset_gets_that_presets_teacher():
    at = page(ms_preset="three modes")
    assert at.slider(key="ms_k").value == 3 and at.number_input(key="ms_m1").value == -5.0
    assert [round(v) for v in peaks(*trace(figure(at, "ms_anim"), "teacher p"))] == [-5, 0, 5]


def test_a_huge_learning_rate_warns_that_fits_diverged_and_draws_no_infinite_values():
    at = page(ms_opt="SGD", ms_lr="3.0")
    assert not at.exception
    text = " ".join(w.value for w in at.warning)
    assert "large for SGD" in text and "Diverged" in text and "Forward KL" in text
    for t in figure(at, "ms_params")["data"]:
        y = arr(t["y"])
        assert np.isfinite(y[~np.isnan(y)]).all() and np.nanmax(np.abs(y)) < 1e3


def test_teacher_mass_off_the_grid_and_minimum_stds_give_warnings():
    at = page(ms_m2="8.0", ms_s2="3.0", ms_s1=str(0.25), ms_sigma0="0.2")
    assert not at.exception
    text = " ".join(w.value for w in at.warning)
    assert "outside the grid" in text and "at the minimum (0.25)" in text and "σ₀ = 0.2" in text


def test_all_weights_zero_is_an_error_not_a_traceback():
    at = page(ms_w1="0.0", ms_w2="0.0")
    assert not at.exception and "positive weight" in at.error[0].value


def test_no_divergence_picked_is_a_warning_not_a_traceback():
    at = page()
    at.multiselect(key="ms_divs").set_value([]).run()
    assert not at.exception and "Pick at least one" in at.warning[0].value


def test_tied_reverse_kl_minima_are_both_stars_and_the_many_starts_counts_match_the_plotted_ends():
    """The symmetric default teacher: RKL's two mode minima tie, so both are drawn as global minima
    (not one chosen by floating-point tie-breaking); the stated counts of where the 64 random starts
    end are those of the ends drawn on the landscape."""
    at = page()
    spec = figure(at, "ms_landscape")
    (stars,) = [t for t in spec["data"] if t.get("name", "").startswith("global minimum")]
    mus = np.sort(arr(stars["x"]))
    assert len(mus) == 2 and mus[0] == pytest.approx(-mus[1]) and abs(mus[1] - 3) < 0.2
    (ends,) = [t for t in spec["data"] if t.get("name") == "where each ends"]
    (starts,) = [t for t in spec["data"] if t.get("name", "").endswith("random starts")]
    assert len(arr(ends["x"])) == len(arr(starts["x"])) == ms.N_STARTS
    text = at.info[0].value  # the takeaway ends with where the random starts end
    (crosses,) = [t for t in spec["data"] if t.get("name") == "local minimum"]
    minima = np.concatenate([np.stack([arr(t["x"]), arr(t["y"])], -1) for t in (stars, crosses)])
    ends_xy = np.stack([arr(ends["x"]), arr(ends["y"])], -1)
    near = ms.nearest_minimum(ends_xy, minima)  # the ends drawn, each to its nearest drawn minimum
    for i, (m, s) in enumerate(minima):
        n = int((near == i).sum())
        if n:
            assert f"{n} at μ = {ms._n(m)}, σ = {ms._n(s)}" in text
    assert "tie" in text


@pytest.mark.parametrize("how", ["link", "picker"])
def test_the_formulas_in_the_header_are_those_of_the_divergences_picked_by_a_link_or_the_picker(how):
    picked = ["skl", "wasserstein"]
    if how == "link":
        at = page(ms_divs=picked)
    else:
        at = page()
        at.multiselect(key="ms_divs").set_value(picked).run()
    assert not at.exception
    assert [e.value.strip("$\n") for e in at.latex] == [get_spec(n).latex.strip() for n in picked]
