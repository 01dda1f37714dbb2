"""pages/gradients.py under AppTest (defaults, presets, controls -> figure JSON, URL, warnings) and the
lesson's library pieces (kdviz.experiments.gradients, kdviz.plots.gradients)."""

from pathlib import Path

import numpy as np
import pytest
from figjson import arr, figure, shipped, validated
from streamlit.testing.v1 import AppTest

from kdviz.analysis import gradient_coefficient
from kdviz.divergences import get_spec
from kdviz.experiments import gradients as gr
from kdviz.experiments.head_tail import teacher
from kdviz.families import DISCRETE_PRESETS
from kdviz.plots.gradients import symlog, symlog_ticks

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "gradients.py")
TIMEOUT = 300


def page(**query) -> AppTest:
    """The page run once; query values are what the URL holds (displayed labels)."""
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def trace(spec: dict, name: str) -> dict:
    return next(t for t in spec["data"] if t.get("name") == name)


# --------------------------------------------------------------------------- the page
def test_defaults_render_both_charts_formulas_seed_note_and_the_computed_takeaway():
    at = page()
    assert not at.exception and not at.error
    assert ([c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")]
            == ["gr_coef", "gr_link", "gr_logits"])
    latex = " ".join(el.value for el in at.latex)
    for name in gr.DEFAULT_NAMES:
        assert get_spec(name).grad_latex in latex
    infos = [i.value for i in at.info]
    assert gr.SEED_NOTE in infos
    assert infos[-1].endswith(gr.takeaway(gr.gradients()))


@pytest.mark.parametrize("preset", list(DISCRETE_PRESETS))
def test_every_preset_runs_and_the_top_panel_shows_its_teacher_sorted_by_probability(preset):
    at = page(gr_preset=DISCRETE_PRESETS[preset][0])
    assert not at.exception
    shown = arr(trace(figure(at, "gr_logits"), "teacher p")["y"])
    np.testing.assert_allclose(shown, np.sort(teacher(preset)[1])[::-1], rtol=1e-12)


def test_every_chart_as_shipped_passes_plotlys_validation():
    """The figures are built without plotly's validation: what the page ships must still pass it."""
    charts = shipped(page())
    assert len(charts) == 3
    for spec in charts.values():
        validated(spec)


def test_p_star_moves_the_marker_and_tvd_switches_off_exactly_at_q_equal_p():
    at = page()
    at.select_slider(key="gr_p").set_value(0.01).run()
    spec = figure(at, "gr_coef")
    assert spec["layout"]["shapes"][0]["x0"] == 0.01
    tvd = trace(spec, "TVD")
    q, c = arr(tvd["x"]), arr(tvd["customdata"])
    np.testing.assert_allclose(c, np.where(q < 0.01, -100.0, 0.0))
    np.testing.assert_allclose(arr(tvd["y"]), symlog(c))


def test_alpha_slider_reshapes_skew_kl_to_its_closed_form():
    at = page()
    at.slider(key="gr_alpha").set_value(0.5).run()
    skl = trace(figure(at, "gr_coef"), "Skew KL")
    q = arr(skl["x"])
    np.testing.assert_allclose(arr(skl["customdata"]), -0.5 / (0.5 * 0.1 + 0.5 * q))


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_alpha_at_either_end_warns_and_every_curve_and_bar_stays_finite(alpha):
    at = page(gr_alpha=str(alpha), gr_p="0.001")
    assert not at.exception
    assert any(f"α = {alpha:g}" in w.value for w in at.warning)
    for key in ("gr_coef", "gr_link", "gr_logits"):
        for t in figure(at, key)["data"]:
            values = t["z"] if t["type"] == "heatmap" else t["y"]
            assert np.isfinite(arr(values).astype(float)).all(), t["name"]


def test_divergences_without_a_single_token_formula_get_only_the_logit_chart_in_registry_colours():
    at = page()
    at.multiselect(key="gr_divs").set_value(["jsd", "akl"]).run()
    assert not at.exception
    assert [c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")] == ["gr_link", "gr_logits"]
    (heat,) = [t for t in figure(at, "gr_logits")["data"] if t["type"] == "heatmap"]
    assert list(heat["y"]) == ["JSD", "AKL"]
    assert [t["marker"]["color"] for t in figure(at, "gr_link")["data"]] == [get_spec("jsd").color] * 2
    assert any("pick one of them" in i.value for i in at.info)


def test_query_params_restore_a_fitted_student_and_the_figure_shows_that_student():
    at = page(gr_student="a step of a fit", gr_fit_div="Reverse KL", gr_fit_steps="7", gr_seed="3")
    assert not at.exception
    assert at.radio(key="gr_student").value == "fit" and at.selectbox(key="gr_fit_div").value == "rkl"
    assert at.slider(key="gr_fit_steps").value == 7 and at.number_input(key="gr_seed").value == 3
    want = gr.gradients(student="fit", fit_divergence="rkl", fit_steps=7, seed=3)
    shown = arr(trace(figure(at, "gr_logits"), "student q")["y"])
    np.testing.assert_allclose(shown, want.q_student[want.order], rtol=1e-10)
    assert "after 7 Adam steps of Reverse KL" in at.info[-1].value


def test_switching_the_student_to_a_fit_changes_the_gradient_bars():
    at = page()
    before = arr(trace(figure(at, "gr_link"), "∂D/∂z")["y"])
    at.radio(key="gr_student").set_value("fit").run()
    after = arr(trace(figure(at, "gr_link"), "∂D/∂z")["y"])
    assert np.abs(after).sum() < np.abs(before).sum()  # 20 FKL steps bring q closer to p


def test_a_very_large_learning_rate_for_the_fit_warns():
    at = page(gr_student="a step of a fit", gr_lr="10.0")
    assert not at.exception and any("very large" in w.value for w in at.warning)


# --------------------------------------------------------------------------- library pieces
def test_symlog_is_odd_monotone_and_its_ticks_label_the_true_values():
    v = np.array([-1e4, -10.0, -1.0, 0.0, 1.0, 10.0, 1e4])
    y = symlog(v)
    np.testing.assert_allclose(y, -symlog(-v))
    assert (np.diff(y) > 0).all()
    vals, text = symlog_ticks(1e4)
    assert dict(zip(text, vals))["−10⁴"] == pytest.approx(symlog(-1e4))
    assert dict(zip(text, vals))["10"] == pytest.approx(symlog(10.0))


def test_coefficient_curves_match_the_analysis_module_and_reject_bad_inputs():
    q, values = gr.coefficient_curves(["fkl", "tvd"], 0.2, 0.1)
    np.testing.assert_allclose(values[0], gradient_coefficient("fkl", q, 0.2))
    assert q[0] == pytest.approx(gr.Q_MIN) and q[-1] == 1.0
    with pytest.raises(ValueError, match="p\\(y\\*\\)"):
        gr.coefficient_curves(["fkl"], 0.0, 0.1)
    with pytest.raises(ValueError, match="alpha"):
        gr.coefficient_curves(["fkl"], 0.5, 1.5)


def test_takeaway_names_the_divergences_with_the_largest_and_smallest_head_share_of_the_push():
    res = gr.gradients(names=("fkl", "rkl", "tvd"))
    share = res.head_share_of_push()
    top, bottom = res.names[int(np.argmax(share))], res.names[int(np.argmin(share))]
    text = gr.takeaway(res)
    assert share.max() - share.min() > gr.MARGIN
    assert (f"{get_spec(top).label} puts the largest share of its push on the head, {get_spec(bottom).label} "
            "the smallest") in text
    assert f"Forward KL {gradient_coefficient('fkl', gr.Q_MIN, 0.1):,.0f}" in text


def test_head_share_of_push_on_zipf_is_larger_for_forward_than_reverse_kl_at_the_random_start():
    res = gr.gradients(names=("fkl", "rkl"), preset="zipf")
    fkl, rkl = res.head_share_of_push()
    assert fkl > rkl + 0.1


def test_plotted_logit_and_probability_gradients_are_finite_differences_of_the_plotted_divergence():
    """At the defaults: the linked chart's ∂D/∂z and ∂D/∂q are the finite differences of forward KL
    (scipy's rel_entr, an independent formula) at the teacher and student drawn on the page, and
    the value in its title is that divergence; the takeaway's identity ∂FKL/∂z = q − p holds."""
    from scipy.special import rel_entr, softmax

    at = page()
    probs = figure(at, "gr_logits")
    p, q = (arr(trace(probs, "teacher p")["y"]).astype(float),
            arr(trace(probs, "student q")["y"]).astype(float))
    link = figure(at, "gr_link")
    dz = arr(trace(link, "∂D/∂z")["y"]).astype(float)
    dq = arr(trace(link, "∂D/∂q")["customdata"]).reshape(len(p), 2)[:, 1].astype(float)

    def fkl_z(z):
        return rel_entr(p, softmax(z)).sum()

    z, h = np.log(q), 1e-6
    fd_z = np.array([(fkl_z(z + h * e) - fkl_z(z - h * e)) / (2 * h) for e in np.eye(len(z))])
    np.testing.assert_allclose(dz, fd_z, rtol=1e-4, atol=1e-7)
    fd_q = np.array([(rel_entr(p, q + h * q[i] * e).sum() - rel_entr(p, q - h * q[i] * e).sum())
                     / (2 * h * q[i]) for i, e in enumerate(np.eye(len(q)))])
    np.testing.assert_allclose(dq, fd_q, rtol=1e-4)
    np.testing.assert_allclose(dz, q - p, atol=1e-6)  # the softmax link the page states for forward KL
    assert f"D(p, q) = {fkl_z(z):.4f}" in link["layout"]["title"]["text"]
    assert "rare *under the student*" in at.info[0].value or any("rare" in i.value for i in at.info)
