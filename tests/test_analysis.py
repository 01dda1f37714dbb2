"""kdviz.analysis: loss landscapes (local minima) and per-token gradient coefficients vs autograd."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kdviz.analysis import (
    COEFFICIENT_NAMES,
    gradient_coefficient,
    landscape,
    logit_gradients,
)
from kdviz.divergences import DIVERGENCES, divergence, divergence_from_log
from kdviz.families import GaussianMixture, GaussianStudent, Grid

GRID = Grid(-12.0, 12.0, 200)
STUDENT = GaussianStudent(GRID)
BIMODAL = GaussianMixture((0.5, 0.5), (-3.0, 3.0), (1.0, 1.0))
MUS = np.linspace(-6.0, 6.0, 49)  # step 0.25
SIGMAS = np.geomspace(0.3, 8.0, 30)  # ratio ~1.12


def _near(minima, mu, sigma, d_mu=0.3, ratio=1.15):
    return any(abs(m - mu) <= d_mu and 1 / ratio <= s / sigma <= ratio for m, s in minima)


# --------------------------------------------------------------------------- landscapes
def test_reverse_kl_landscape_has_a_local_minimum_on_each_mode():
    land = landscape(BIMODAL.log_prob(GRID), STUDENT, "rkl", MUS, SIGMAS)
    assert land.values.shape == (30, 49)
    assert _near(land.local_minima, -3.0, 1.0) and _near(land.local_minima, 3.0, 1.0)
    assert abs(abs(land.global_min[0]) - 3.0) <= 0.3  # the best student sits on a mode
    assert tuple(land.local_minima[0]) == land.global_min


def test_forward_kl_landscape_has_one_minimum_at_moment_matching():
    land = landscape(BIMODAL.log_prob(GRID), STUDENT, "fkl", MUS, SIGMAS)
    assert len(land.local_minima) == 1
    assert _near(land.local_minima, BIMODAL.mean(), math.sqrt(BIMODAL.variance()))


def test_landscape_values_are_the_divergences_of_the_grid_students():
    log_p = BIMODAL.log_prob(GRID)
    mus, sigmas = np.array([-1.0, 0.0, 2.0]), np.array([0.5, 1.0, 3.0])
    for name in ("jsd", "wasserstein"):
        land = landscape(log_p, STUDENT, name, mus, sigmas)
        i, j = 2, 0  # sigma 3, mu -1
        log_q = STUDENT.log_prob(torch.tensor([[mus[j], math.log(sigmas[i])]], dtype=torch.float64))[0]
        ref = divergence(name, log_p.exp(), log_q.exp(), x=GRID.points() if name == "wasserstein" else None)
        assert land.values[i, j] == pytest.approx(float(ref), rel=1e-9)


@pytest.mark.parametrize("mus,sigmas", [([0.0, 1.0], [1.0, 2.0, 3.0]), ([0.0, 1.0, 2.0], [1.0, -2.0, 3.0]),
                                        (np.zeros((3, 3)), [1.0, 2.0, 3.0])])
def test_landscape_rejects_too_small_or_invalid_grids(mus, sigmas):
    with pytest.raises(ValueError, match="landscape"):
        landscape(BIMODAL.log_prob(GRID), STUDENT, "fkl", mus, sigmas)


# --------------------------------------------------------------------------- gradient coefficients
def _autograd_dq(name, p, q, alpha=0.1):
    """dD/dq_y with q a free positive vector (not constrained to the simplex)."""
    qt = torch.as_tensor(q).clone().requires_grad_(True)
    kw = {"alpha": alpha} if name in ("skl", "srkl") else {}
    divergence_from_log(name, torch.as_tensor(p).log(), qt.log(), **kw).backward()
    return qt.grad.numpy()


def _pq(seed, v=9):
    rng = np.random.default_rng(seed)
    p, q = rng.random(v) + 0.05, rng.random(v) + 0.05
    return p / p.sum(), q / q.sum()


@pytest.mark.parametrize("name", ["fkl", "rkl", "tvd", "skl", "srkl"])
@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.4, 1.0])
def test_gradient_coefficient_is_exactly_the_partial_derivative_over_p(name, alpha):
    p, q = _pq(1)
    coef = gradient_coefficient(name, q, p, alpha)
    np.testing.assert_allclose(coef * p, _autograd_dq(name, p, q, alpha), rtol=1e-10, atol=1e-13)


def test_tvd_gradient_coefficient_differs_from_half_the_l1_distances_by_a_constant_shared_by_all_classes():
    p, q = _pq(2)
    coef = gradient_coefficient("tvd", q, p)
    qt = torch.as_tensor(q).clone().requires_grad_(True)
    (0.5 * (torch.as_tensor(p) - qt).abs().sum()).backward()  # TVD's other form, by autograd
    diff = coef * p - qt.grad.numpy()
    assert np.ptp(diff) < 1e-12  # one constant: irrelevant on the simplex
    assert abs(diff[0]) > 0.1  # and not zero: the seed's 1 - sum min(p, q) form differs off the simplex
    assert ((coef == 0) == (q >= p)).all()  # no push once q overestimates


def test_gradient_coefficients_explode_for_kl_but_stay_bounded_for_tvd_and_skl():
    q = np.array([1e-8, 1e-4, 0.5])
    p = np.full(3, 0.3)
    assert abs(gradient_coefficient("fkl", q, p)[0]) == pytest.approx(1e8)
    assert np.abs(gradient_coefficient("tvd", q, p)).max() <= 1 / 0.3 + 1e-12
    alpha = 0.1
    assert np.abs(gradient_coefficient("skl", q, p, alpha)).max() <= (1 - alpha) / (alpha * 0.3) + 1e-9


def test_every_gradient_coefficient_has_a_latex_formula_and_bad_input_raises():
    assert COEFFICIENT_NAMES == ("fkl", "rkl", "tvd", "skl", "srkl")
    assert all(DIVERGENCES[n].grad_latex.strip() for n in COEFFICIENT_NAMES)
    with pytest.raises(ValueError, match="gradient coefficients exist"):
        gradient_coefficient("jsd", 0.5, 0.5)
    for q, p in ((0.0, 0.5), (0.5, 1.5), (-0.1, 0.5)):
        with pytest.raises(ValueError, match=r"\(0, 1\]"):
            gradient_coefficient("fkl", q, p)


# --------------------------------------------------------------------------- logit gradients
def test_logit_gradients_match_closed_forms_for_forward_and_reverse_kl():
    p, _ = _pq(3, v=7)
    z = np.random.default_rng(4).normal(size=7)
    q = np.exp(z - z.max())
    q /= q.sum()
    g = logit_gradients(p, z, ["fkl", "rkl"])
    assert g.shape == (2, 7)
    np.testing.assert_allclose(g[0], q - p, atol=1e-12)  # softmax + cross-entropy
    rkl = (q * np.log(q / p)).sum()
    np.testing.assert_allclose(g[1], q * (np.log(q / p) - rkl), atol=1e-12)


def test_logit_gradients_sum_to_zero_and_pass_parameters():
    p, _ = _pq(5, v=6)
    z = np.random.default_rng(6).normal(size=6)
    names = ["jsd", "tvd", "skl", "akl", "wasserstein", "sinkhorn_div"]
    g = logit_gradients(p, z, names, {"alpha": 0.5})
    np.testing.assert_allclose(g.sum(-1), 0.0, atol=1e-10)  # softmax is shift-invariant
    assert np.isfinite(g).all() and (np.abs(g).max(-1) > 1e-4).all()
    g_default = logit_gradients(p, z, ["skl"])
    assert np.abs(g_default[0] - g[names.index("skl")]).max() > 1e-4  # alpha reached the divergence
