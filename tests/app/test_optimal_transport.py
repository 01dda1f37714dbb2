"""pages/optimal_transport.py under AppTest: defaults, epsilon/order/preset -> figure JSON, URL restore,
tiny epsilon (finite figures, non-convergence warning); the Chinese takeaway's numbers."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from figjson import all_finite, arr, validated
from streamlit.testing.v1 import AppTest

from kdviz.experiments import optimal_transport as otl
from kdviz.i18n import Display, displayed
from kdviz.plots.common import MAX_FRAMES

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "optimal_transport.py")
TIMEOUT = 300  # s: a cold epsilon sweep on a loaded 2-core machine
CHARTS = ["ot_sinkhorn", "ot_exact", "ot_iters", "ot_eps_fig", "ot_div_fig"]


def page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def spec(at: AppTest, key: str) -> dict:
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert len(charts) == 1, f"no chart {key}"
    return json.loads(charts[0].proto.spec)


def heatmap(at: AppTest, key: str) -> np.ndarray:
    return arr(spec(at, key)["data"][0]["z"])


def test_defaults_render_every_chart_with_the_takeaway_of_the_default_setting():
    at = page()
    assert not at.exception and not at.error
    assert [c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")] == CHARTS
    res = otl.transport_lesson()
    assert at.info[0].value.endswith(otl.takeaway(res))
    np.testing.assert_allclose(heatmap(at, "ot_exact"), res.exact_plan)
    np.testing.assert_allclose(heatmap(at, "ot_sinkhorn"), res.plan)
    assert not at.warning  # the default epsilon converges
    assert any(r"K=e^{-\lambda C}" in lx.value for lx in at.latex)  # the seed's iteration is shown


def test_the_default_takeaway_states_the_numbers_on_screen_and_they_support_it():
    """Each number of the takeaway is one of the metrics shown, and each comparison it makes holds."""
    at = page()
    text = at.info[0].value
    metrics = {m.label: m.value for m in at.metric}
    res = otl.transport_lesson()
    shown = f"distance is {metrics['Sinkhorn W_ε(p, q)']} against the exact W = {metrics['Exact W(p, q)']}"
    assert shown in text
    assert res.sinkhorn > res.wasserstein and "over by" in text  # the blurred plan costs more
    assert res.linear[1] > 0 and "above 0" in text
    bias = res.sweep_linear[res.sweep_converged, 1]
    assert np.all(np.diff(bias) >= 0) and "grows with ε" in text
    assert abs(res.div_linear - res.wasserstein) < res.sinkhorn - res.wasserstein and "closer to W" in text


def test_the_default_iteration_animation_keeps_moving_for_more_than_a_hundred_iterations():
    """At the default ε Sinkhorn needs > 100 iterations, and the plan changes between most frames."""
    at = page()
    fig = spec(at, "ot_iters")
    assert otl.transport_lesson().n_iter > 100
    plans = [arr(f["data"][0]["z"]) for f in fig["frames"]]
    moved = [np.abs(b - a).max() for a, b in zip(plans, plans[1:])]
    assert len(plans) >= 30 and sum(m > 1e-4 * plans[-1].max() for m in moved) >= 25


def test_the_three_curves_against_epsilon_have_distinct_colours_dashes_and_legend_entries():
    fig = spec(page(), "ot_eps_fig")
    curves = [t for t in fig["data"] if t["name"].startswith("W<sub>ε</sub>")]
    assert len(curves) == 3 and fig["layout"]["showlegend"]
    assert len({t["line"]["color"] for t in curves}) == 3 and len({t["line"]["dash"] for t in curves}) == 3


def test_changing_epsilon_changes_the_sinkhorn_heatmap_and_not_the_exact_one():
    at = page()
    exact, sink = heatmap(at, "ot_exact"), heatmap(at, "ot_sinkhorn")
    at.select_slider(key="ot_eps").set_value(0.2).run()
    assert not at.exception
    np.testing.assert_array_equal(heatmap(at, "ot_exact"), exact)
    new = heatmap(at, "ot_sinkhorn")
    np.testing.assert_allclose(new, otl.transport_lesson(epsilon=0.2).plan)
    assert new.max() < sink.max()  # more entropy: a flatter plan
    star = [t for t in spec(at, "ot_eps_fig")["data"] if t["name"].startswith("ε =")]
    assert star[0]["x"] == [0.2]


def test_changing_the_cost_order_changes_the_exact_plan_and_w():
    at = page()
    at.radio(key="ot_order").set_value(1).run()
    assert not at.exception
    res = otl.transport_lesson(order=1)
    np.testing.assert_allclose(heatmap(at, "ot_exact"), res.exact_plan)
    assert f"W = {res.wasserstein:.4g}" in spec(at, "ot_exact")["layout"]["title"]["text"]


def test_p_equal_q_preset_shows_zero_debiased_divergences_but_positive_sinkhorn_distance():
    at = page()
    at.selectbox(key="ot_preset").set_value("same").run()
    assert not at.exception
    metrics = {m.label: float(m.value) for m in at.metric}
    assert metrics["Exact W(p, q)"] == 0.0
    assert metrics["Sinkhorn W_ε(p, q)"] > 0
    assert abs(metrics["Seed's debiased"]) < 1e-9 and abs(metrics["Feydy's debiased"]) < 1e-9


def test_query_params_restore_every_control():
    at = page(ot_preset=otl.PRESETS["zipf"][0], ot_n="30", ot_eps="0.1", ot_order="1")
    assert not at.exception
    assert at.selectbox(key="ot_preset").value == "zipf"
    assert at.slider(key="ot_n").value == 30
    assert at.select_slider(key="ot_eps").value == 0.1
    assert at.radio(key="ot_order").value == 1
    assert heatmap(at, "ot_sinkhorn").shape == (30, 30)


def test_tiny_epsilon_warns_about_convergence_and_every_figure_stays_finite():
    at = page(ot_preset=otl.PRESETS["zipf"][0], ot_eps="0.001", ot_order="2")
    assert not at.exception
    assert any("has not converged" in w.value for w in at.warning)
    for key in CHARTS:
        assert all_finite(spec(at, key)), key
    anim = spec(at, "ot_iters")
    assert "NOT converged" in anim["layout"]["title"]["text"]
    names = [f["name"] for f in anim["frames"]]  # "<iteration> · error <l1 error>"
    res = otl.transport_lesson("zipf", epsilon=0.001, order=2)
    # geometric frames over 1000 iterations
    assert len(names) == min(MAX_FRAMES, len(res.history_iters)) >= 40
    assert names[0].startswith(f"{res.history_iters[0]} ·") and names[-1].startswith(f"{res.n_iter} ·")
    assert [s["label"] for s in anim["layout"]["sliders"][0]["steps"]] == names
    for key in CHARTS:  # built without plotly's validation: what ships must still pass it
        validated(spec(at, key))


NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?")


# each case takes other branches of the takeaway: under W and neither debiased version closer; seed's
# version closer; both closer; p = q
@pytest.mark.parametrize("preset, epsilon, order", [("bimodal", 0.001, 1), ("gaussians", 0.001, 1),
                                                     ("bimodal", 0.1, 2), ("same", 0.1, 2)])
def test_the_chinese_takeaway_states_the_same_numbers_as_the_english_one(preset, epsilon, order):
    res = otl.transport_lesson(preset, 30, epsilon, order)
    english = otl.takeaway(res)
    with displayed(Display(lang="zh")):
        chinese = otl.takeaway(res)
    assert chinese != english and re.search(r"[\u4e00-\u9fff]", chinese)
    assert sorted(NUMBER.findall(chinese)) == sorted(NUMBER.findall(english))
