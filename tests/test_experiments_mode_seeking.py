"""Library tests of the mode-seeking and outlier lessons' experiment functions (no Streamlit)."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from kdviz.experiments import mode_seeking as ms
from kdviz.experiments import outliers as ol
from kdviz.families import GaussianMixture, GaussianStudent
from kdviz.i18n import Display, displayed


@pytest.fixture(scope="module")
def default_run():
    return ms.mode_seeking()


# --------------------------------------------------------------------------- mode seeking
def test_result_arrays_have_one_row_per_divergence_and_one_column_per_step(default_run):
    r, K, S = default_run, len(ms.DEFAULT_NAMES), 200
    assert r.names == list(ms.DEFAULT_NAMES)
    assert r.loss.shape == r.mu.shape == r.sigma.shape == (K, S + 1)
    assert r.frames.shape == (K, len(r.frame_steps), ms.GRID.n) and r.frame_steps[-1] == S
    assert r.land_values.shape == (len(r.land_sigmas), len(r.land_mus)) == ms.LANDSCAPE_SHAPE[::-1]
    assert np.isfinite(r.land_values).all() and (r.diverged_at == -1).all()
    # densities: probability / grid step, so they integrate to 1 on the grid
    np.testing.assert_allclose(r.p.sum() * ms.GRID.step, 1.0, rtol=1e-12)
    np.testing.assert_allclose(r.frames.sum(-1) * ms.GRID.step, 1.0, rtol=1e-10)


def test_defaults_forward_kl_spreads_to_the_moments_and_reverse_kl_locks_onto_the_right_mode(default_run):
    r = default_run
    fkl, rkl = r.names.index("fkl"), r.names.index("rkl")
    assert abs(r.final_mu[fkl] - r.mixture_mean) < 0.05 and r.final_sigma[fkl] > 2.5
    np.testing.assert_allclose([r.q_mean[fkl], r.q_std[fkl]], [r.grid_mean, r.grid_std], atol=0.01)
    assert abs(r.final_mu[rkl] - 3.0) < 0.1 and abs(r.final_sigma[rkl] - 1.0) < 0.1
    assert ms.describe(r, rkl, (-3.0, 3.0)) == ("locks", 3.0)
    assert ms.describe(r, fkl, (-3.0, 3.0)) == ("spreads", None)
    assert r.still_moving() == []  # the default 200 steps converge


def test_the_chinese_takeaway_and_warnings_state_the_same_numbers_as_the_english_ones(default_run):
    def numbers(texts):
        return sorted(re.findall(r"-?\d+(?:\.\d+)?", " ".join(texts)))

    def texts():
        return [ms.takeaway(default_run, (-3.0, 3.0)), *ms.warnings(default_run, (ms.STD_MIN, 1.0), 0.2),
                ms.landscape_caption(default_run)]

    english = texts()
    with displayed(Display(lang="zh")):
        chinese = texts()
    assert "锁定" in chinese[0] and "locks onto" not in chinese[0] and len(chinese) == len(english) == 4
    assert numbers(chinese) == numbers(english)


def test_reverse_kl_landscape_has_a_minimum_per_mode_and_a_broad_one_between(default_run):
    r = default_run
    assert r.landscape_name == "rkl"
    mins = r.local_minima
    assert len(mins) == 3
    at_modes = sorted((m for m in mins if m[1] < 1.5), key=lambda m: m[0])
    assert [round(m[0]) for m in at_modes] == [-3, 3]
    between = [m for m in mins if m[1] > 2]
    assert len(between) == 1 and abs(between[0][0]) < 0.3 and 2.3 < between[0][1] < 3.3
    assert abs(abs(r.global_min[0]) - 3) < 0.3  # the modes are deeper than the broad minimum
    np.testing.assert_array_equal(r.path_mu, r.mu[r.names.index("rkl")])


def test_reverse_kl_started_between_the_modes_settles_in_the_broad_minimum():
    r = ms.mode_seeking(mu0=0.0, sigma0=2.0, names=["rkl"], landscape_shape=(5, 5))
    assert abs(r.final_mu[0]) < 0.1 and r.final_sigma[0] > 2.3
    assert ms.describe(r, 0, (-3.0, 3.0))[0] == "spreads"


def test_landscape_divergence_not_in_the_list_is_fitted_on_its_own_row_without_changing_the_others():
    alone = ms.mode_seeking(names=["fkl"], steps=60, landscape_name="rkl", landscape_shape=(5, 5))
    both = ms.mode_seeking(names=["fkl", "rkl"], steps=60, landscape_name="rkl", landscape_shape=(5, 5))
    assert alone.names == ["fkl"] and alone.mu.shape[0] == 1
    np.testing.assert_allclose(alone.path_mu, both.mu[1], atol=1e-12)
    np.testing.assert_allclose(alone.mu[0], both.mu[0], atol=1e-12)


def test_fixed_variance_keeps_sigma_at_its_start_and_still_moves_the_mean():
    r = ms.mode_seeking(sigma0=1.7, names=["fkl"], steps=100, fixed_sigma=True, landscape_name="fkl",
                        landscape_shape=(5, 5))
    np.testing.assert_allclose(r.sigma, 1.7, rtol=1e-12)
    assert abs(r.final_mu[0] - r.mixture_mean) < 0.1 and abs(r.mu[0, 0] - 1.5) < 1e-12


def test_too_few_steps_are_reported_as_still_moving():
    r = ms.mode_seeking(names=["fkl"], steps=20, lr=0.01, landscape_name="fkl", landscape_shape=(5, 5))
    assert r.still_moving() == ["fkl"]


@pytest.mark.parametrize("bad", [[], ["sinkhorn"], ["fkl", "sinkhorn_div"], ["nope"]])
def test_empty_unknown_or_sinkhorn_divergence_lists_are_rejected(bad):
    with pytest.raises(ValueError):
        ms.mode_seeking(names=bad, steps=5)


def test_sinkhorn_is_not_offered_and_every_other_registry_divergence_is():
    from kdviz.divergences import DIVERGENCES
    assert set(ms.CHOICES) == set(DIVERGENCES) - {"sinkhorn", "sinkhorn_div"}


def test_every_preset_is_a_valid_mixture_whose_mass_stays_on_the_grid():
    for name, (w, m, s) in ms.PRESETS.items():
        assert ms.mass_outside(GaussianMixture(w, m, s)) < 1e-6, name
        assert len(w) <= ms.MAX_COMPONENTS


def test_mass_outside_the_grid_agrees_with_scipy():
    mix = GaussianMixture((0.25, 0.75), (9.0, -1.0), (2.0, 1.0))
    want = (0.25 * (norm.sf(10, 9, 2) + norm.cdf(-10, 9, 2))
            + 0.75 * (norm.sf(10, -1, 1) + norm.cdf(-10, -1, 1)))
    assert ms.mass_outside(mix) == pytest.approx(want, rel=1e-9)


@settings(deadline=None, max_examples=4)
@given(st.floats(-4, 2), st.floats(0.5, 4), st.floats(0.5, 1.5), st.floats(0.1, 0.9))
def test_forward_kl_fit_matches_the_grid_teachers_mean_and_std(m1, gap, s1, w1):
    """Gaussians on the grid are an exponential family in (x, x²): FKL's optimum is moment matching.
    (Means within ±6 so that 400 steps from the default start converge; checked below.)"""
    r = ms.mode_seeking((w1, 1 - w1), (m1, m1 + gap), (s1, 1.0), names=["fkl"], steps=400, lr=0.1,
                        landscape_name="fkl", landscape_shape=(5, 5))
    assert r.still_moving() == []
    np.testing.assert_allclose([r.q_mean[0], r.q_std[0]], [r.grid_mean, r.grid_std], atol=0.01)


# --------------------------------------------------------------------------- outliers
@pytest.fixture(scope="module")
def outlier_run():
    return ol.outliers()


def test_outlier_result_shapes_and_sweep_grid(outlier_run):
    r, K = outlier_run, len(ol.DEFAULT_NAMES)
    assert r.names == list(ol.DEFAULT_NAMES)
    np.testing.assert_allclose(r.sweep_weights, np.linspace(0, ol.SWEEP_MAX, ol.SWEEP_N))
    assert r.sweep_mu.shape == r.sweep_sigma.shape == r.sweep_diverged.shape == (K, ol.SWEEP_N)
    assert r.q.shape == (K, ol.GRID.n) and r.mu.shape == r.loss.shape == (K, 201)
    assert not r.sweep_diverged.any() and (r.diverged_at == -1).all()
    np.testing.assert_allclose(r.q.sum(-1) * ol.GRID.step, 1.0, rtol=1e-10)


def test_forward_kl_follows_the_moments_while_tvd_and_skew_kl_barely_move(outlier_run):
    r = outlier_run
    k = {n: i for i, n in enumerate(r.names)}
    np.testing.assert_allclose(r.sweep_mu[k["fkl"]], r.moment_mu, atol=0.03)
    np.testing.assert_allclose(r.sweep_sigma[k["fkl"]], r.moment_sigma, rtol=0.03)
    for robust in ("tvd", "skl", "rkl", "jsd"):
        assert abs(r.sweep_mu[k[robust], -1]) < 0.25 * r.sweep_mu[k["fkl"], -1], robust
    assert r.pull()[k["fkl"]] == pytest.approx(1.0, abs=0.05) and r.pull()[k["tvd"]] < 0.25


def test_without_an_outlier_every_divergence_stays_at_the_main_mass(outlier_run):
    np.testing.assert_allclose(outlier_run.sweep_mu[:, 0], 0.0, atol=0.02)
    np.testing.assert_allclose(outlier_run.sweep_sigma[:, 0], 1.0, atol=0.02)


def test_the_default_steps_converge_for_the_sweep():
    short = ol.outliers(names=["fkl", "tvd", "skl"], sweep_n=4)
    long = ol.outliers(names=["fkl", "tvd", "skl"], sweep_n=4, steps=1000)
    np.testing.assert_allclose(short.sweep_mu, long.sweep_mu, atol=0.06)
    np.testing.assert_allclose(np.log(short.sweep_sigma), np.log(long.sweep_sigma), atol=0.05)


def test_outlier_teacher_puts_weight_w_in_the_bump():
    mix = ol.outlier_teacher(0.2, 6.0, 0.5)
    assert mix.mean() == pytest.approx(1.2) and mix.variance() == pytest.approx(0.8 + 0.2 * 0.25 + 0.16 * 36)
    with pytest.raises(ValueError):
        ol.outlier_teacher(1.0, 6.0)


def test_coinciding_groups_the_divergences_that_stay_at_the_main_mass(outlier_run):
    groups = outlier_run.coinciding()
    assert ["rkl", "skl", "jsd"] in groups and not any("fkl" in g or "tvd" in g for g in groups)


def test_outlier_takeaway_names_the_robust_divergences(outlier_run):
    text = ol.takeaway(outlier_run)
    assert "Reverse KL, TVD, Skew KL, JSD move less than a quarter as far as forward KL" in text
    assert "w·d = 0.60" in text


def test_the_chosen_weight_is_fitted_as_its_sweep_row_when_on_the_grid_and_on_its_own_row_otherwise():
    on = ol.outliers(weight=0.1, names=["fkl"], sweep_n=4)  # sweep 0, 0.1, 0.2, 0.3
    assert on.final_mu[0] == on.sweep_mu[0, 1] and on.final_sigma[0] == on.sweep_sigma[0, 1]
    off = ol.outliers(weight=0.13, names=["fkl"], sweep_n=4)
    assert off.final_mu[0] == pytest.approx(0.13 * 6.0, abs=0.02) and len(off.sweep_weights) == 4
    np.testing.assert_allclose(off.sweep_mu, on.sweep_mu, atol=1e-12)  # an extra row changes no other row


def test_landscape_is_reused_when_only_the_start_changes():
    a = ms.mode_seeking(names=["fkl"], steps=30, landscape_name="fkl", landscape_shape=(7, 6))
    b = ms.mode_seeking(mu0=-1.0, names=["fkl"], steps=30, landscape_name="fkl", landscape_shape=(7, 6))
    assert a.land_values is b.land_values  # memoised: same teacher, same ranges
    np.testing.assert_array_equal(a.land_values, ms.landscape(
        GaussianMixture(*ms.PRESETS["MiniLLM-style bimodal"]).log_prob(ms.GRID), GaussianStudent(ms.GRID),
        "fkl", a.land_mus, a.land_sigmas).values)
