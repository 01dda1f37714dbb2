"""Experiments of the "Overlap, JSD and Wasserstein" and "Optimal transport and Sinkhorn" lessons,
and their figures: saturation of JSD, linear Wasserstein, Sinkhorn -> W, bias, debiasing."""

import dataclasses
import json
import math

import numpy as np
import ot
import plotly.graph_objects as go
import pytest
import torch
from figjson import all_finite, arr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from kdviz import transport
from kdviz.experiments import optimal_transport as otl
from kdviz.experiments import overlap as ov
from kdviz.plots import optimal_transport as ot_plots
from kdviz.plots import overlap as ov_plots
from kdviz.plots.common import MAX_FRAMES

LOG2 = math.log(2)


def finite_json(fig: go.Figure) -> bool:
    """True if no number in the figure's JSON (plain or base64 typed arrays) is NaN or infinite."""
    return all_finite(json.loads(fig.to_json()))


def validated(fig: go.Figure) -> go.Figure:
    """The figure rebuilt *with* plotly's validation (the plots skip it for speed)."""
    return go.Figure(fig.to_plotly_json())


# =========================================================================== overlap
@settings(deadline=None, max_examples=15)
@given(width=st.floats(0.5, 2.0), gap=st.floats(0.2, 5.0))
def test_jsd_is_exactly_log2_with_zero_shift_gradient_once_boxes_are_disjoint(width, gap):
    shift = width + gap
    res = ov.overlap_sweep("box", width, shift, max_shift=8.0, names=("jsd",))
    assert float(np.minimum(res.p, res.q).sum()) == 0.0  # really disjoint on the grid
    assert abs(res.value[0] - LOG2) < 1e-12
    assert abs(res.grad[0]) < 1e-12
    far = res.shared_mass == 0
    assert far.sum() > 20
    np.testing.assert_allclose(res.values[0, far], LOG2, atol=1e-12)
    beyond = res.shifts > res.disjoint_from()  # at the first disjoint shift: the mean of log 2 / w and 0
    np.testing.assert_allclose(res.grads[0, beyond], 0.0, atol=1e-12)


@settings(deadline=None, max_examples=15)
@given(width=st.floats(0.5, 2.0))
def test_box_jsd_is_s_over_w_log2_while_overlapping_with_the_constant_slope_log2_over_w(width):
    """The closed form for two boxes of width w at distance s < w: JSD = (s / w) log 2."""
    res = ov.overlap_sweep("box", width, 0.0, max_shift=8.0, names=("jsd",))
    near = res.shifts < width - 1e-9
    np.testing.assert_allclose(res.values[0, near], res.shifts[near] / width * LOG2, atol=1e-12)
    inside = res.shifts + res.shifts[1] < width - 1e-9  # both neighbours before the kink at s = w
    np.testing.assert_allclose(res.grads[0, inside], LOG2 / width, rtol=1e-9)


def test_jsd_below_log2_with_a_nonzero_gradient_while_boxes_overlap():
    res = ov.overlap_sweep("box", 1.0, 0.5, names=("jsd",))
    assert res.value[0] < LOG2 - 0.1
    assert res.grad[0] > 0.1


def test_jsd_along_the_sweep_matches_scipy_jensenshannon_squared():
    res = ov.overlap_sweep("gaussian", 1.0, 2.3, names=("jsd",))
    want = jensenshannon(res.p, res.q) ** 2  # scipy returns the square root, natural log by default
    assert res.value[0] == pytest.approx(want, rel=1e-9)


def test_gaussian_jsd_only_approaches_log2_and_its_gradient_decays_without_vanishing():
    res = ov.overlap_sweep("gaussian", 1.0, 8.0, max_shift=8.0, names=("jsd",))
    gap = LOG2 - res.values[0]
    assert (gap[1:] > 0).all()  # never exactly log 2 in this range
    assert (np.diff(gap[20:]) < 0).all()  # but ever closer
    assert 0 < res.grad[0] < 1e-3


@pytest.mark.parametrize("shape", ["box", "gaussian"])
def test_wasserstein_order1_grows_linearly_with_the_shift_and_its_gradient_stays_near_1(shape):
    res = ov.overlap_sweep(shape, 1.0, 3.0, max_shift=8.0, names=("wasserstein",), order=1)
    slope, icpt = np.polyfit(res.shifts, res.values[0], 1)
    assert slope == pytest.approx(1.0, abs=0.01)
    assert np.abs(res.values[0] - (slope * res.shifts + icpt)).max() < res.step
    # on the grid the box moves one cell at a time: dW/ds = 1 +- cell/width
    np.testing.assert_allclose(res.grads[0, 1:], 1.0, atol=res.step / res.width + 1e-9)
    assert res.value[0] == pytest.approx(wasserstein_distance(res.x, res.x, res.p, res.q), rel=1e-9)


def test_wasserstein_order2_of_gaussians_is_shift_squared_with_gradient_2s():
    res = ov.overlap_sweep("gaussian", 1.0, 3.3, max_shift=6.0, names=("wasserstein",), order=2)
    far = res.shifts >= 1.0  # for shifts of a few cells the grid adds about s * cell
    np.testing.assert_allclose(res.values[0, far], res.shifts[far] ** 2, rtol=0.01)
    assert res.grad[0] == pytest.approx(2 * 3.3, rel=0.02)


def test_forward_kl_is_infinite_for_boxes_with_an_undefined_gradient_and_finite_figure():
    res = ov.overlap_sweep("box", 1.0, 3.0, names=("fkl", "jsd"))
    inf = np.isinf(res.values[0])
    assert inf[res.shared_mass == 0].all() and inf.sum() > 100
    assert np.isnan(res.grads[0, inf]).all()
    assert res.value[0] == math.inf and math.isnan(res.grad[0])
    fig = ov_plots.curves_figure(res)
    assert finite_json(fig)
    ceiling = [s for s in fig.layout.shapes if s.yref == "y" and s.line.dash == "dot"]
    assert len(ceiling) == 1 and ceiling[0].y0 == res.ceiling(0) >= ov.CEILING


def test_gaussian_forward_kl_is_finite_and_matches_the_closed_form():
    sigma = 0.8
    res = ov.overlap_sweep("gaussian", sigma, 2.0, names=("fkl",))
    assert np.isfinite(res.values).all()
    np.testing.assert_allclose(res.values[0], res.shifts**2 / (2 * sigma**2), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.grads[0, 1:-1], res.shifts[1:-1] / sigma**2, rtol=1e-5)  # the swept slope
    assert res.grad[0] == pytest.approx(2.0 / sigma**2, rel=1e-6)


@pytest.mark.parametrize("name", ["jsd", "tvd", "skl", "fkl"])
def test_shift_gradients_match_finite_differences(name):
    s, e = 1.7, 1e-5
    res = ov.overlap_sweep("gaussian", 1.0, s, names=(name,))
    hi = ov.overlap_sweep("gaussian", 1.0, s + e, max_shift=8.0, names=(name,)).value[0]
    lo = ov.overlap_sweep("gaussian", 1.0, s - e, max_shift=8.0, names=(name,)).value[0]
    assert res.grad[0] == pytest.approx((hi - lo) / (2 * e), rel=1e-5, abs=1e-9)


def test_disjoint_support_values_are_log2_for_jsd_1_for_tvd_log10_for_skl_and_inf_for_kl():
    values = {nm: ov.disjoint_value(nm, ov.get_spec(nm).defaults()) for nm in ("jsd", "tvd", "skl", "fkl")}
    assert values["jsd"] == pytest.approx(LOG2, abs=1e-15)
    assert values["tvd"] == 1.0
    assert values["skl"] == pytest.approx(math.log(10), abs=1e-12)  # alpha = 0.1
    assert values["fkl"] == math.inf
    assert math.isnan(ov.disjoint_value("wasserstein", {"order": 1}))


def test_sinkhorn_curves_run_on_a_subsample_and_grow_with_the_distance():
    res = ov.overlap_sweep("gaussian", 1.0, 4.0, names=("sinkhorn", "sinkhorn_div"), epsilon=1.0)
    done = ~np.isnan(res.values[0])
    assert done.sum() == len(res.shifts[::ov.SINKHORN_EVERY])
    assert (np.diff(res.values[0, done]) > 0).all()
    assert res.values[0, 0] > 0  # the entropic bias at s = 0
    assert res.values[1, 0] == pytest.approx(0.0, abs=1e-12)  # removed by debiasing
    assert finite_json(ov_plots.curves_figure(res))


@pytest.mark.parametrize("kwargs", [dict(shape="triangle"), dict(width=0.0), dict(shift=-1.0),
                                    dict(max_shift=math.inf), dict(names=())])
def test_overlap_rejects_bad_input_with_a_value_error(kwargs):
    with pytest.raises(ValueError):
        ov.overlap_sweep(**kwargs)


def test_overlap_animation_is_valid_plotly_sliding_the_student_along_the_sweep_from_the_pages_shift():
    res = ov.overlap_sweep(shift=3.03)
    fig = ov_plots.animation_figure(res)
    validated(fig)
    assert len(fig.frames) == ov_plots.MAX_FRAMES
    spec = json.loads(fig.to_json())
    np.testing.assert_allclose(arr(spec["data"][1]["y"]), res.q, rtol=1e-6)  # starts where the page is
    # the frames are shipped as float32
    np.testing.assert_allclose(arr(spec["frames"][-1]["data"][0]["y"]), res.students[-1], rtol=1e-6)
    assert [f["name"] for f in spec["frames"]] == sorted((f["name"] for f in spec["frames"]), key=float)
    assert "JSD 0.693" in spec["frames"][-1]["data"][1]["text"][0]  # the values written on the picture
    curves = ov_plots.curves_figure(res)
    validated(curves)
    jsd_line = [s for s in curves.layout.shapes if s.yref == "y" and s.line.dash == "dash"]
    assert jsd_line and jsd_line[0].y0 == pytest.approx(LOG2)
    assert finite_json(fig) and finite_json(curves)


# =========================================================================== optimal transport
@pytest.fixture(scope="module")
def lesson():
    return otl.transport_lesson("bimodal", 40, 0.02, 2)


def test_sinkhorn_distance_tends_to_the_exact_wasserstein_as_epsilon_shrinks(lesson):
    ok = lesson.sweep_converged
    gap = np.abs(lesson.sweep_linear[ok, 0] - lesson.wasserstein)
    assert gap[0] < 0.01 * lesson.wasserstein
    assert gap[-1] > 0.5 * lesson.wasserstein
    assert (np.diff(gap) > -1e-9).all()  # shrinks with epsilon


def test_exact_wasserstein_matches_pot_and_scipy():
    res = otl.transport_lesson("gaussians", 30, 0.1, 1)
    assert res.wasserstein == pytest.approx(wasserstein_distance(res.x, res.x, res.p, res.q), rel=1e-9)
    np.testing.assert_allclose(res.exact_plan.sum(1), res.p, atol=1e-12)
    np.testing.assert_allclose(res.exact_plan.sum(0), res.q, atol=1e-12)


def test_entropic_bias_w_eps_of_p_with_itself_is_positive_and_grows_with_epsilon(lesson):
    bias = lesson.sweep_linear[:, 1]
    assert (bias > 0).all()
    assert (np.diff(bias) > 0).all()
    assert lesson.linear[1] > 0


@pytest.mark.parametrize("preset", list(otl.PRESETS))
@pytest.mark.parametrize("order", [1, 2])
def test_feydy_divergence_is_nonnegative_and_zero_only_for_equal_histograms(preset, order):
    eps_grid, sweep = otl.epsilon_sweep(preset, 20, order)
    feydy = otl.debias(sweep[1])
    assert (feydy >= -1e-10).all()
    if preset == "same":
        np.testing.assert_allclose(feydy, 0.0, atol=1e-12)
        np.testing.assert_allclose(otl.debias(sweep[0]), 0.0, atol=1e-12)
    else:
        assert (feydy > 1e-6).all()


def test_values_from_potentials_equal_kdviz_sinkhorn_and_pot_sinkhorn_log():
    x, p, q = (torch.as_tensor(v) for v in otl.histograms("gaussians", 30))
    C = transport.cost_matrix(x, 2)
    _, _, _, linear, entropic, errors = otl.solve(p[None], q[None], C, 0.05)
    assert linear.item() == pytest.approx(transport.sinkhorn(p, q, x, 2, 0.05).item(), rel=1e-10)
    assert entropic.item() == pytest.approx(
        transport.sinkhorn(p, q, x, 2, 0.05, entropic=True).item(), rel=1e-10)
    pot = ot.sinkhorn2(p.numpy(), q.numpy(), C.numpy(), 0.05, method="sinkhorn_log")
    assert linear.item() == pytest.approx(float(pot), rel=1e-7)
    assert errors.item() < otl.CONVERGED_L1


def test_sinkhorn_plan_has_the_right_marginals_and_the_animation_ends_on_it(lesson):
    np.testing.assert_allclose(lesson.plan.sum(1), lesson.p, atol=1e-12)  # rows exact after the u-update
    np.testing.assert_allclose(lesson.plan.sum(0), lesson.q, atol=1e-6)
    np.testing.assert_array_equal(lesson.history_plans[-1], lesson.plan)
    assert lesson.history_iters[-1] == lesson.n_iter
    assert lesson.history_errors[-1] < 1e-3 * lesson.history_errors[0]


def test_tiny_epsilon_stays_finite_and_reports_that_it_did_not_converge():
    res = otl.transport_lesson("zipf", 40, 0.001, 2)
    assert res.n_iter == transport.MAX_ITER and not res.converged
    assert res.errors.max() > otl.CONVERGED_L1
    for a in (res.plan, res.linear, res.entropic, res.history_plans, res.sweep_linear, res.sweep_entropic):
        assert np.isfinite(a).all()
    for fig in (ot_plots.plan_figure(res), ot_plots.iterations_figure(res), ot_plots.epsilon_figure(res),
                ot_plots.divergence_figure(res)):
        assert finite_json(fig)


def test_epsilon_sweep_is_memoised_but_hands_out_copies():
    eps, sweep = otl.epsilon_sweep("gaussians", 20, 2)
    sweep[:] = -1.0
    eps[:] = -1.0
    eps2, sweep2 = otl.epsilon_sweep("gaussians", 20, 2)
    assert (sweep2 != -1.0).all() and (eps2 > 0).all()


@pytest.mark.parametrize("kwargs", [dict(preset="nope"), dict(n=5), dict(n=40.5), dict(epsilon=0.0),
                                    dict(epsilon=100.0), dict(order=3)])
def test_transport_lesson_rejects_bad_input_with_a_value_error(kwargs):
    with pytest.raises(ValueError):
        otl.transport_lesson(**kwargs)


def test_transport_figures_are_valid_plotly_and_show_the_current_plans(lesson):
    exact, sink = ot_plots.plan_figure(lesson, "exact"), ot_plots.plan_figure(lesson, "sinkhorn")
    anim, eps, div = (ot_plots.iterations_figure(lesson), ot_plots.epsilon_figure(lesson),
                      ot_plots.divergence_figure(lesson))
    for fig in (exact, sink, anim, eps, div):
        validated(fig)
        assert finite_json(fig)
    np.testing.assert_allclose(arr(exact.data[0].z), lesson.exact_plan)
    np.testing.assert_allclose(arr(sink.data[0].z), lesson.plan)
    assert len(anim.frames) == len(lesson.history_iters)
    assert anim.layout.updatemenus[0].buttons[0].args[1]["frame"]["redraw"] is True  # heatmaps need it
    assert arr(eps.data[3].y)[0] == pytest.approx(lesson.wasserstein)


def test_iterations_animation_ships_at_most_50_frames_including_the_first_and_last_iteration(lesson):
    n = 80  # more kept iterations than the figure ships
    long = dataclasses.replace(lesson, history_iters=np.arange(1, n + 1),
                               history_errors=np.geomspace(1, 1e-9, n),
                               history_plans=np.repeat(lesson.history_plans[-1:], n, axis=0))
    spec = json.loads(ot_plots.iterations_figure(long).to_json())
    names = [f["name"] for f in spec["frames"]]
    assert len(names) == MAX_FRAMES and names[0].startswith("1 ·") and names[-1].startswith(f"{n} ·")
    assert [s["label"] for s in spec["layout"]["sliders"][0]["steps"]] == names
    go.Figure(spec)  # valid plotly, frames included
