"""kdviz.fitting: the papers' phenomena on small fits, batched == one-at-a-time, the result's bookkeeping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from reference_fit import fit_one_at_a_time

from kdviz.akl import akl_split
from kdviz.divergences import DIVERGENCES, divergence_from_log
from kdviz.families import (
    GaussianMixture,
    GaussianStudent,
    Grid,
    SoftmaxStudent,
    discrete_teacher,
)
from kdviz.fitting import FitConfig, fit, frame_steps, resolve_params

GRID = Grid(-12.0, 12.0, 256)
GAUSS = GaussianStudent(GRID)


def _tvd(a, b):
    return 0.5 * np.abs(a - b).sum(-1)


def _akl_toy():
    _, p = discrete_teacher("akl_bimodal")
    student = SoftmaxStudent(50, "random", seed=1)
    return np.log(p), p, student


# --------------------------------------------------------------------------- Gaussian phenomena
def test_forward_kl_gaussian_optimum_is_moment_matching():
    mix = GaussianMixture((0.3, 0.7), (-2.0, 2.5), (1.0, 1.5))
    res = fit(mix.log_prob(GRID), GAUSS, GAUSS.init_params(0.0, 1.0), ["fkl"], FitConfig(steps=300, lr=0.05))
    d = GAUSS.describe(res.final_params[0])
    assert float(d["mu"]) == pytest.approx(mix.mean(), abs=5e-3)
    assert float(d["sigma"]) == pytest.approx(math.sqrt(mix.variance()), abs=5e-3)
    assert res.grad_norm[0, -1] < 1e-3  # converged, not just passing by


def test_reverse_kl_started_near_one_mode_stays_on_it_while_forward_kl_covers_both():
    mix = GaussianMixture((0.5, 0.5), (-4.0, 4.0), (1.0, 1.0))
    res = fit(mix.log_prob(GRID), GAUSS, GAUSS.init_params(3.0, 2.0), ["rkl", "fkl"],
              FitConfig(steps=300, lr=0.05))
    rkl, fkl = (GAUSS.describe(res.final_params[k]) for k in range(2))
    assert float(rkl["mu"]) == pytest.approx(4.0, abs=0.05)
    assert float(rkl["sigma"]) == pytest.approx(1.0, abs=0.05)
    assert abs(float(fkl["mu"])) < 0.1 and float(fkl["sigma"]) == pytest.approx(math.sqrt(17.0), abs=0.1)


def test_tvd_fit_moves_far_less_toward_a_small_far_outlier_than_forward_kl():
    mix = GaussianMixture((0.95, 0.05), (0.0, 8.0), (1.0, 0.5))  # 5 % of the mass 8 std away
    res = fit(mix.log_prob(GRID), GAUSS, GAUSS.init_params(0.0, 1.0), ["tvd", "fkl"],
              FitConfig(steps=300, lr=0.05))
    tvd, fkl = (GAUSS.describe(res.final_params[k]) for k in range(2))
    assert float(fkl["mu"]) == pytest.approx(mix.mean(), abs=0.02)  # FKL: pulled to the mean 0.4
    assert abs(float(tvd["mu"])) < 0.25 * abs(float(fkl["mu"]))
    assert float(tvd["sigma"]) < 0.6 * float(fkl["sigma"])  # and it does not widen to cover the outlier


def test_jsd_saturates_at_log2_with_no_gradient_without_overlap_while_wasserstein_grows():
    narrow = GaussianMixture((1.0,), (-6.0,), (0.4,)).log_prob(GRID)
    x = GRID.points()
    vals, grads = [], []  # (starts, 2): columns jsd, wasserstein
    for mu in (2.0, 4.0, 6.0):
        res = fit(narrow, GAUSS, GAUSS.init_params(mu, 0.4), ["jsd", "wasserstein"], FitConfig(steps=0), x=x)
        vals.append(res.loss[:, 0])
        grads.append(res.grad_norm[:, 0])
    (jsd_vals, w_vals), (jsd_grads, w_grads) = np.array(vals).T, np.array(grads).T
    np.testing.assert_allclose(jsd_vals, math.log(2), rtol=1e-9)
    assert jsd_grads.max() < 1e-9
    np.testing.assert_allclose(w_vals, [8.0, 10.0, 12.0], rtol=1e-3)  # W1 = distance of the means
    assert w_grads.min() > 0.5


# --------------------------------------------------------------------------- AKL's head/tail toy
def test_akl_toy_head_share_is_larger_for_fkl_than_rkl_clearly_under_sgd():
    log_p, _, student = _akl_toy()
    # SGD, lr 0.3 (our loss has no batchmean 1/50): measured 0.373 vs 0.325 over the first 3 steps;
    # the gap barely depends on the learning rate below ~1.
    res = fit(log_p, student, student.init_params(), ["fkl", "rkl"],
              FitConfig(steps=3, lr=0.3, optimizer="sgd"))
    share = res.head_share(3)
    assert share[0] - share[1] >= 0.04, share


def test_akl_toy_head_share_gap_is_only_slight_under_adam():
    log_p, _, student = _akl_toy()
    cfg = dict(steps=3, n_frames=2)
    adam = fit(log_p, student, student.init_params(), ["fkl", "rkl"],
               FitConfig(lr=0.1, optimizer="adam", **cfg))
    sgd = fit(log_p, student, student.init_params(), ["fkl", "rkl"],
              FitConfig(lr=0.3, optimizer="sgd", **cfg))
    gap_adam = adam.head_share(3)[0] - adam.head_share(3)[1]  # measured 0.008 (Adam lr 0.1, AKL's setting)
    gap_sgd = sgd.head_share(3)[0] - sgd.head_share(3)[1]
    assert 0 < gap_adam < 0.02
    assert gap_adam < 0.5 * gap_sgd


def test_akl_toy_fkl_and_rkl_both_converge_to_p_after_200_adam_steps():
    log_p, p, student = _akl_toy()
    res = fit(log_p, student, student.init_params(), ["fkl", "rkl"], FitConfig(steps=200, lr=0.1, n_frames=2))
    start_tvd = _tvd(p, np.exp(student.log_prob(student.init_params()[None]).numpy()[0]))
    assert start_tvd > 0.3
    assert (_tvd(p, res.final_q) < 1e-3).all()
    assert (res.head_error[:, -1] + res.tail_error[:, -1] < 2e-3).all()


def test_head_and_tail_errors_use_akls_split_of_the_teacher():
    log_p, p, student = _akl_toy()
    res = fit(log_p, student, student.init_params(), ["fkl", "akl"], FitConfig(steps=2, lr=0.1))
    q0 = torch.softmax(student.init_params(), -1).numpy()
    head = akl_split(torch.as_tensor(p), torch.as_tensor(p))["head_mask"].numpy()
    gap = np.abs(p - q0)
    np.testing.assert_allclose(res.head_error[:, 0], gap[head].sum(), rtol=1e-12)
    np.testing.assert_allclose(res.tail_error[:, 0], gap[~head].sum(), rtol=1e-12)
    np.testing.assert_allclose(res.w_head[:, 0], gap[head].sum() / gap.sum(), rtol=1e-12)
    assert 0 < head.sum() < 50


# --------------------------------------------------------------------------- batched == separate
def _assert_same_trajectories(a, b, atol=1e-9):
    for fld in ("loss", "grad_norm", "frames", "final_params", "head_error", "tail_error", "params"):
        va, vb = getattr(a, fld), getattr(b, fld)
        assert (va is None) == (vb is None), fld
        if va is not None:
            np.testing.assert_allclose(va, vb, atol=atol, rtol=0, err_msg=fld)


def test_batched_gaussian_fit_equals_separate_single_fits_and_the_plain_reference_loop():
    grid = Grid(-8.0, 8.0, 40)
    student = GaussianStudent(grid)
    log_p = GaussianMixture((0.4, 0.6), (-2.0, 2.0), (1.0, 1.5)).log_prob(grid)
    names = list(DIVERGENCES)
    cfg = FitConfig(steps=12, lr=0.1, n_frames=4)
    kw = dict(x=grid.points(), params={"alpha": 0.2, "epsilon": 2.0})
    start = student.init_params(0.5, 2.0)
    batched = fit(log_p, student, start, names, cfg, **kw)
    for k, name in enumerate(names):
        single = fit(log_p, student, start, [name], cfg, **kw)
        np.testing.assert_allclose(batched.loss[k], single.loss[0], atol=1e-10, rtol=0, err_msg=name)
        np.testing.assert_allclose(batched.params[k], single.params[0], atol=1e-10, rtol=0, err_msg=name)
    _assert_same_trajectories(batched, fit_one_at_a_time(log_p, student, start, names, cfg, **kw))
    assert np.ptp(batched.final_params[:, 0]) > 1e-3  # the rows really differ


def test_batched_softmax_fit_equals_the_plain_reference_loop_for_every_divergence():
    log_p, _, student = _akl_toy()
    names = list(DIVERGENCES)
    cfg = FitConfig(steps=8, lr=0.1, n_frames=3)
    kw = dict(params={"mu": 0.4, "beta": 0.3, "epsilon": 20.0})
    batched = fit(log_p, student, student.init_params(), names, cfg, **kw)
    _assert_same_trajectories(
        batched, fit_one_at_a_time(log_p, student, student.init_params(), names, cfg, **kw))
    single = fit(log_p, student, student.init_params(), ["akl"], cfg, **kw)
    np.testing.assert_allclose(batched.loss[names.index("akl")], single.loss[0], atol=1e-12, rtol=0)


def test_a_student_with_zero_probabilities_is_fitted_like_the_plain_reference_loop():
    """Its rows take the divergences' guarded path for ``0 log 0`` (a student without zeros skips it)."""
    log_p, _, student = _akl_toy()
    start = student.init_params()
    start[[3, 17]] = -math.inf  # q = 0 there, for the whole fit
    names = ["rkl", "tvd", "jsd", "skl", "srkl", "akl", "fkl"]
    cfg = FitConfig(steps=6, lr=0.1, n_frames=3)
    res = fit(log_p, student, start, names, cfg)
    _assert_same_trajectories(res, fit_one_at_a_time(log_p, student, start, names, cfg))
    assert res.diverged_at[names.index("fkl")] == 0 and (res.diverged_at[:5] == -1).all()


def test_fit_loss_at_step_zero_is_the_registry_divergence_of_the_start():
    log_p, _, student = _akl_toy()
    res = fit(log_p, student, student.init_params(), ["jsd", "skl", "tvd"], FitConfig(steps=1),
              params={"skl": {"alpha": 0.3}})
    log_q = student.log_prob(student.init_params()[None])[0]
    lp = torch.as_tensor(log_p)
    expected = [float(divergence_from_log("jsd", lp, log_q)),
                float(divergence_from_log("skl", lp, log_q, alpha=0.3)),
                float(divergence_from_log("tvd", lp, log_q))]
    np.testing.assert_allclose(res.loss[:, 0], expected, rtol=1e-12)


# --------------------------------------------------------------------------- bookkeeping
def test_fit_result_shapes_frames_and_fixed_sigma():
    student = GaussianStudent(Grid(-6, 6, 30), fixed_sigma=True)
    log_p = GaussianMixture((1.0,), (2.0,), (1.0,)).log_prob(student.grid)
    res = fit(log_p, student, student.init_params(0.0, 1.7), ["fkl", "rkl"],
              FitConfig(steps=20, lr=0.1, n_frames=5))
    assert res.loss.shape == res.grad_norm.shape == (2, 21)
    assert res.params.shape == (2, 21, 2) and res.final_params.shape == (2, 2)
    np.testing.assert_array_equal(res.frame_steps, [0, 5, 10, 15, 20])
    assert res.frames.shape == (2, 5, 30)
    np.testing.assert_allclose(
        res.final_q, np.exp(student.log_prob(torch.as_tensor(res.final_params)).numpy()))
    np.testing.assert_allclose(np.exp(res.params[:, :, 1]), 1.7)  # sigma frozen
    assert (res.params[:, -1, 0] > 1.0).all()  # mu moved toward 2
    assert res.head_error is None
    with pytest.raises(ValueError, match="softmax"):
        res.head_share()
    assert (res.diverged_at == -1).all()


def test_a_row_with_infinite_loss_is_frozen_and_leaves_the_other_rows_alone():
    p = np.array([0.5, 0.3, 0.2, 0.0])  # class 3 is impossible under the teacher: RKL(q > 0) = inf
    with np.errstate(divide="ignore"):
        log_p = np.log(p)
    student = SoftmaxStudent(4, "uniform")
    res = fit(log_p, student, student.init_params(), ["rkl", "fkl"], FitConfig(steps=5, lr=0.1))
    alone = fit(log_p, student, student.init_params(), ["fkl"], FitConfig(steps=5, lr=0.1))
    assert res.diverged_at.tolist() == [0, -1]
    assert np.isnan(res.loss[0]).all()
    np.testing.assert_allclose(res.final_params[0], student.init_params().numpy())
    np.testing.assert_allclose(res.loss[1], alone.loss[0], atol=1e-12, rtol=0)
    assert np.isfinite(res.frames).all()


def test_frame_steps_are_even_and_include_both_ends():
    np.testing.assert_array_equal(frame_steps(10, 3), [0, 5, 10])
    np.testing.assert_array_equal(frame_steps(3, 100), [0, 1, 2, 3])
    np.testing.assert_array_equal(frame_steps(0, 5), [0])


def test_resolve_params_shares_values_and_lets_per_divergence_values_win():
    out = resolve_params(["skl", "srkl", "fkl", "jsd"], {"alpha": 0.2, "srkl": {"alpha": 0.5}})
    assert out == [{"alpha": 0.2}, {"alpha": 0.5}, {}, {"beta": 0.5}]
    with pytest.raises(ValueError, match=r"alpha.*\[0, 1\]"):
        resolve_params(["skl"], {"alpha": 2.0})
    with pytest.raises(ValueError, match="unknown"):
        resolve_params(["fkl"], {"fkl": {"alpha": 0.1}})


@pytest.mark.parametrize("kw,match", [
    ({"steps": -1}, "steps"), ({"steps": 2.5}, "steps"), ({"lr": 0.0}, "learning rate"),
    ({"lr": float("nan")}, "learning rate"), ({"optimizer": "rmsprop"}, "optimizer"),
    ({"n_frames": 1}, "n_frames"),
])
def test_fit_config_rejects_bad_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        FitConfig(**kw)


def test_fit_rejects_no_divergence_and_unknown_names():
    log_p, _, student = _akl_toy()
    with pytest.raises(ValueError, match="at least one"):
        fit(log_p, student, student.init_params(), [])
    with pytest.raises(ValueError, match="unknown divergence"):
        fit(log_p, student, student.init_params(), ["fkl", "kl"])


def test_warm_up_runs_a_tiny_fit_and_leaves_the_thread_count_alone():
    from kdviz.fitting import warm_up

    before = torch.get_num_threads()
    warm_up()
    assert torch.get_num_threads() == before


# --------------------------------------------------------------------------- rows, optimizers, stop rule
def _outlier_rows():
    grid = Grid(-8.0, 8.0, 64)
    teachers = torch.stack([GaussianMixture((1 - w, w), (0.0, 5.0), (1.0, 0.5)).log_prob(grid)
                            for w in (0.05, 0.25)])
    return grid, GaussianStudent(grid), teachers


def test_rows_with_their_own_teachers_and_starts_are_independent_fits():
    grid, student, lps = _outlier_rows()
    starts = torch.stack([student.init_params(0.0, 1.0), student.init_params(1.0, 2.0)])
    cfg = FitConfig(steps=40, lr=0.1)
    both = fit(lps, student, starts, ["fkl", "tvd"], cfg)
    one = fit(lps[1], student, starts[1], ["tvd"], cfg)
    np.testing.assert_allclose(both.params[1], one.params[0], atol=1e-12, rtol=0)
    _assert_same_trajectories(both, fit_one_at_a_time(lps, student, starts, ["fkl", "tvd"], cfg))


def test_interleaved_rows_of_the_same_divergence_are_evaluated_together_and_come_back_in_row_order():
    grid, student, lps = _outlier_rows()
    cfg = FitConfig(steps=20, lr=0.1)
    mixed = fit(lps[1], student, student.init_params(0.0, 1.0), ["fkl", "tvd", "fkl"], cfg)
    alone = fit(lps[1], student, student.init_params(0.0, 1.0), ["tvd"], cfg)
    np.testing.assert_array_equal(mixed.params[0], mixed.params[2])
    np.testing.assert_array_equal(mixed.params[1], alone.params[0])
    assert np.abs(mixed.params[0] - mixed.params[1]).max() > 1e-3


def test_a_row_with_an_infinite_loss_is_frozen_and_does_not_disturb_the_others():
    grid, student, lps = _outlier_rows()
    holes = lps[0].clone()
    holes[:20] = -math.inf  # p = 0 where q > 0: reverse KL is infinite
    res = fit(torch.stack([holes, lps[0]]), student, student.init_params(0.0, 1.0), ["rkl", "rkl"],
              FitConfig(steps=30, lr=0.1))
    assert res.diverged_at.tolist() == [0, -1]
    assert np.isnan(res.loss[0]).all() and (res.params[0] == res.params[0, 0]).all()
    alone = fit(lps[0], student, student.init_params(0.0, 1.0), ["rkl"], FitConfig(steps=30, lr=0.1))
    np.testing.assert_array_equal(res.loss[1], alone.loss[0])


@pytest.mark.parametrize("optimizer, lr_final", [("adam", 1.0), ("sgd", 1.0), ("adam", 0.02), ("sgd", 0.1)])
def test_the_engines_adam_sgd_and_cosine_schedule_equal_torch_optim_in_float64(optimizer, lr_final):
    grid, student, lps = _outlier_rows()
    names = ["fkl", "rkl", "jsd", "tvd", "akl", "wasserstein"]
    cfg = FitConfig(steps=60, lr=0.3 if optimizer == "sgd" else 0.05, optimizer=optimizer, lr_final=lr_final)
    kw = dict(x=grid.points())
    ours = fit(lps[1], student, student.init_params(1.0, 2.0), names, cfg, **kw)
    torch_optim = fit_one_at_a_time(lps[1], student, student.init_params(1.0, 2.0), names, cfg, **kw)
    _assert_same_trajectories(ours, torch_optim, atol=1e-12)
    assert np.ptp(ours.final_params[:, 0]) > 1e-3


def test_a_stop_rule_freezes_a_row_from_the_first_step_where_it_holds():
    grid, student, lps = _outlier_rows()
    cfg = FitConfig(steps=50, lr=0.2)
    free = fit(lps[1], student, student.init_params(0.0, 1.0), ["fkl", "tvd"], cfg)
    t = int(np.argmax(free.params[0, :, 0] > 0.5))  # the FKL student passes mu = 0.5 at step t
    assert 0 < t < 50 and (free.params[1, :, 0] <= 0.5).all()
    stopped = fit(lps[1], student, student.init_params(0.0, 1.0), ["fkl", "tvd"], cfg,
                  stop=lambda prm: prm[..., 0] > 0.5)
    assert stopped.diverged_at.tolist() == [t, -1]
    assert np.isnan(stopped.loss[0, t:]).all() and (stopped.params[0, t:] == free.params[0, t - 1]).all()
    np.testing.assert_array_equal(stopped.loss[0, :t], free.loss[0, :t])
    np.testing.assert_array_equal(stopped.loss[1], free.loss[1])


def test_fit_rejects_teacher_and_parameter_rows_that_do_not_match_the_divergence_rows():
    grid, student, lps = _outlier_rows()
    with pytest.raises(ValueError, match="one teacher row per divergence row: 3 rows, got 2"):
        fit(lps, student, student.init_params(0.0, 1.0), ["fkl"] * 3)
    with pytest.raises(ValueError, match="one parameter dict per row"):
        fit(lps[0], student, student.init_params(0.0, 1.0), ["skl", "skl"], params=[{"alpha": 0.2}])
