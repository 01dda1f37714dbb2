"""kdviz.transport: exact OT and Sinkhorn against POT, Feydy's entropic divergence, gradients, plans."""

from __future__ import annotations

import warnings

import numpy as np
import ot
import pytest
import torch

from kdviz import transport as T
from kdviz.divergences import divergence, divergence_from_log


def _simplex(rng, v):
    w = rng.random(v) ** 2 + 1e-3
    return w / w.sum()


def _case(seed, v=8, sort=True):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=v) * 3
    x = np.sort(x) if sort else x
    return _simplex(rng, v), _simplex(rng, v), x


def _cost(x, order):
    return np.abs(x[:, None] - x[None, :]) ** order


def _t(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


# --------------------------------------------------------------------------- exact transport
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("sort", [True, False], ids=["sorted_x", "unsorted_x"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wasserstein_matches_pot_emd2_on_nonuniform_support(order, sort, seed):
    p, q, x = _case(seed, sort=sort)
    expected = ot.emd2(p, q, _cost(x, order))
    got = float(T.wasserstein(_t(p), _t(q), _t(x), order=order))
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_wasserstein2_squared_of_gaussians_matches_closed_form():
    x = np.linspace(-20, 20, 4001)
    dens = [np.exp(-0.5 * ((x - m) / s) ** 2) for m, s in ((-1.0, 1.0), (2.5, 2.0))]
    p, q = (d / d.sum() for d in dens)
    got = float(T.wasserstein(_t(p), _t(q), _t(x), order=2))
    assert got == pytest.approx((2.5 + 1.0) ** 2 + (2.0 - 1.0) ** 2, rel=1e-3)


def test_wasserstein_batches_match_row_by_row():
    rng = np.random.default_rng(3)
    x = np.sort(rng.normal(size=6))
    P = np.stack([_simplex(rng, 6) for _ in range(4)])
    Q = np.stack([_simplex(rng, 6) for _ in range(4)])
    for order in (1, 2):
        got = T.wasserstein(_t(P), _t(Q), _t(x), order=order).numpy()
        ref = [ot.emd2(P[i], Q[i], _cost(x, order)) for i in range(4)]
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)


def test_exact_plan_has_the_right_marginals_and_optimal_cost():
    p, q, x = _case(4)
    for order in (1, 2):
        plan = T.exact_plan(p, q, x, order)
        np.testing.assert_allclose(plan.sum(1), p, atol=1e-12)
        np.testing.assert_allclose(plan.sum(0), q, atol=1e-12)
        assert (plan * _cost(x, order)).sum() == pytest.approx(
            float(T.wasserstein(_t(p), _t(q), _t(x), order)), rel=1e-9)


def test_cost_matrix_is_distance_to_the_power_order():
    x = _t([0.0, 1.0, 3.0])
    np.testing.assert_array_equal(T.cost_matrix(x, 1).numpy(), [[0, 1, 3], [1, 0, 2], [3, 2, 0]])
    np.testing.assert_array_equal(T.cost_matrix(x, 2).numpy(), [[0, 1, 9], [1, 0, 4], [9, 4, 0]])


def test_support_defaults_to_arange_and_rejects_bad_coordinates():
    np.testing.assert_array_equal(T.support(None, 4).numpy(), [0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        T.support([0.0, 1.0], 4)
    with pytest.raises(ValueError, match="finite"):
        T.support([0.0, 1.0, float("nan"), 2.0], 4)


# --------------------------------------------------------------------------- Sinkhorn
@pytest.mark.parametrize("epsilon", [0.05, 0.3, 1.0, 5.0])
@pytest.mark.parametrize("order", [1, 2])
def test_sinkhorn_matches_pot_sinkhorn2_log_domain_where_both_converge(epsilon, order):
    p, q, x = _case(5, v=7)
    C = _cost(x, order)
    expected, log = ot.sinkhorn2(p, q, C, epsilon, method="sinkhorn_log", numItermax=100_000, stopThr=1e-9,
                                 log=True)
    assert log["err"][-1] < 1e-9  # POT converged: its value is the fixed point
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = float(T.sinkhorn(_t(p), _t(q), _t(x), order=order, epsilon=epsilon))
    if caught:  # order 2, epsilon 0.05: 1000 iterations are not enough; it says so
        assert (order, epsilon) == (2, 0.05) and issubclass(caught[0].category, T.SinkhornNotConverged)
        assert "1000 iterations" in str(caught[0].message)
        # epsilon scaling still ends far closer to the fixed point than POT's plain 1000 iterations
        plain = ot.sinkhorn2(p, q, C, epsilon, method="sinkhorn_log")
        assert abs(got - expected) < 0.2 * abs(float(plain) - expected)
    else:
        assert got == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize("p, q, epsilon, expected", [([0.4, 0.4, 0.2], [0.2, 0.3, 0.5], 1e-4, 0.5),
                                                     ([1.0, 0.0, 0.0], [0.0, 0.0, 1.0], 1e-6, 2.0)])
def test_sinkhorn_at_tiny_epsilon_is_the_exact_transport_cost_not_underflow(p, q, epsilon, expected):
    x = np.arange(3.0)
    exact = ot.emd2(np.array(p), np.array(q), _cost(x, 1))
    assert exact == pytest.approx(expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and it converges (no SinkhornNotConverged)
        got = float(divergence("sinkhorn", p, q, epsilon=epsilon))
    assert got == pytest.approx(exact, abs=1e-3)


def test_sinkhorn_that_hits_its_iteration_cap_warns_with_iterations_and_residual():
    p, q, x = _case(5, v=7)
    with pytest.warns(T.SinkhornNotConverged, match=r"after 7 iterations with marginal violation \d"):
        a, b = _t(p), _t(q)
        T.sinkhorn_potentials(a, b, T.cost_matrix(_t(x), 2), 0.05, max_iter=7)


def test_sinkhorn_refuses_half_precision_and_plans_above_the_memory_limit():
    with pytest.raises(ValueError, match="float32 or float64.*float16"):
        divergence("sinkhorn", torch.tensor([0.5, 0.5], dtype=torch.float16),
                   torch.tensor([0.25, 0.75], dtype=torch.float16))
    big = torch.full((100_000,), 1e-5, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"V = 100000 points needs 80 GB.*MAX_PLAN_BYTES"):
        divergence("sinkhorn", big, big)


def test_sinkhorn_batches_broadcast_and_match_pot_row_by_row():
    rng = np.random.default_rng(6)
    x = np.arange(5.0)
    P = np.stack([_simplex(rng, 5) for _ in range(3)])[:, None, :]  # (3, 1, 5)
    Q = np.stack([_simplex(rng, 5) for _ in range(2)])  # (2, 5)
    got = T.sinkhorn(_t(P), _t(Q), _t(x), epsilon=0.5).numpy()
    assert got.shape == (3, 2)
    ref = [[ot.sinkhorn2(P[i, 0], Q[j], _cost(x, 1), 0.5, method="sinkhorn_log") for j in range(2)]
           for i in range(3)]
    np.testing.assert_allclose(got, np.array(ref, dtype=float), rtol=1e-6)


def test_sinkhorn_plan_has_the_requested_marginals():
    p, q, x = _case(7)
    C = T.cost_matrix(_t(x), 1)
    log_u, log_v, n_iter = T.sinkhorn_potentials(_t(p), _t(q), C, 0.5)
    plan = T.plan_from_potentials(log_u, log_v, C, 0.5).numpy()
    assert n_iter < T.MAX_ITER
    np.testing.assert_allclose(plan.sum(0), q, atol=1e-8)
    np.testing.assert_allclose(plan.sum(1), p, atol=1e-8)
    np.testing.assert_allclose(plan, ot.sinkhorn(p, q, C.numpy(), 0.5, method="sinkhorn_log"), atol=1e-8)


def test_sinkhorn_tends_to_the_exact_wasserstein_value_as_epsilon_shrinks():
    p, q, x = _case(8, v=6)
    exact = ot.emd2(p, q, _cost(x, 1))
    gaps = [float(T.sinkhorn(_t(p), _t(q), _t(x), epsilon=eps)) - exact for eps in (2.0, 0.5, 0.1, 0.02)]
    assert all(g >= -1e-9 for g in gaps)  # the entropic plan is feasible: never below the optimum
    assert all(a > b for a, b in zip(gaps, gaps[1:])), gaps
    assert gaps[-1] < 1e-2 * exact and gaps[0] > 10 * gaps[-1]


def test_seed_unbiased_sinkhorn_divergence_is_zero_at_p_equals_q_and_positive_otherwise():
    p, q, x = _case(9)
    assert float(T.sinkhorn_divergence(_t(p), _t(p), _t(x), epsilon=0.5)) == pytest.approx(0.0, abs=1e-12)
    assert float(T.sinkhorn_divergence(_t(p), _t(q), _t(x), epsilon=0.5)) > 1e-3


def _feydy_ot_eps(a, b, C, eps):
    """OT_eps = <G, C> + eps KL(G || a x b) with G POT's log-domain entropic plan."""
    G = ot.sinkhorn(a, b, C, eps, method="sinkhorn_log", stopThr=1e-12, numItermax=5000)
    ab = a[:, None] * b[None, :]
    kl = np.sum(np.where(G > 0, G * np.log(np.where(G > 0, G, 1.0) / ab), 0.0))
    return (G * C).sum() + eps * kl


@pytest.mark.parametrize("epsilon", [0.2, 0.5, 2.0])
@pytest.mark.parametrize("order", [1, 2])
def test_entropic_sinkhorn_divergence_matches_feydy_from_pots_plan(epsilon, order):
    p, q, _ = _case(10, v=7)
    x = np.linspace(0.0, 3.0, 7)  # costs up to 9: POT converges well within its iteration budget
    C = _cost(x, order)
    expected = (_feydy_ot_eps(p, q, C, epsilon) - 0.5 * _feydy_ot_eps(p, p, C, epsilon)
                - 0.5 * _feydy_ot_eps(q, q, C, epsilon))
    got = float(T.sinkhorn_divergence(_t(p), _t(q), _t(x), order=order, epsilon=epsilon, entropic=True))
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-10)
    assert got > 0


def test_entropic_ot_value_differs_from_the_linear_sinkhorn_cost():
    """The two conventions of references.md give different numbers
    (so the tests above can tell them apart)."""
    p, q, x = _case(11)
    lin = float(T.sinkhorn(_t(p), _t(q), _t(x), epsilon=1.0))
    ent = float(T.sinkhorn(_t(p), _t(q), _t(x), epsilon=1.0, entropic=True))
    assert ent == pytest.approx(_feydy_ot_eps(p, q, _cost(x, 1), 1.0), rel=1e-6)
    assert abs(ent - lin) > 1e-2


def test_entropic_sinkhorn_divergence_is_zero_only_at_p_equals_q():
    p, q, x = _case(12)
    S = lambda a, b: float(T.sinkhorn_divergence(_t(a), _t(b), _t(x), epsilon=1.0, entropic=True))  # noqa: E731
    assert S(p, p) == pytest.approx(0.0, abs=1e-12)
    assert S(q, q) == pytest.approx(0.0, abs=1e-12)
    assert S(p, q) > 1e-4


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("epsilon", [0.2, 1.0])
def test_implicit_sinkhorn_gradient_matches_pots_unrolled_autograd(epsilon):
    p, _, x = _case(13, v=6)
    z0 = np.random.default_rng(14).normal(size=6)
    C = _cost(x, 1)
    z1 = _t(z0).requires_grad_(True)
    T.sinkhorn(_t(p), torch.softmax(z1, -1), _t(x), epsilon=epsilon).backward()
    z2 = _t(z0).requires_grad_(True)
    ot.sinkhorn2(_t(p), torch.softmax(z2, -1), _t(C), epsilon, method="sinkhorn_log",
                 stopThr=1e-12, numItermax=5000).backward()
    torch.testing.assert_close(z1.grad, z2.grad, rtol=1e-5, atol=1e-8)


def test_sinkhorn_gradients_flow_to_both_histograms_and_batches_unbroadcast():
    rng = np.random.default_rng(15)
    zp = _t(rng.normal(size=(1, 5))).requires_grad_(True)
    zq = _t(rng.normal(size=(2, 5))).requires_grad_(True)
    val = T.sinkhorn_divergence(torch.softmax(zp, -1), torch.softmax(zq, -1), _t(np.arange(5.0)), epsilon=1.0)
    val.sum().backward()
    assert zp.grad.shape == (1, 5) and zq.grad.shape == (2, 5)
    assert torch.isfinite(zp.grad).all() and zp.grad.abs().max() > 1e-4
    assert torch.autograd.gradcheck(
        lambda a, b: T.sinkhorn_divergence(torch.softmax(a, -1), torch.softmax(b, -1), _t(np.arange(5.0)),
                                           epsilon=1.0),
        (zp.detach().requires_grad_(True), zq.detach().requires_grad_(True)), atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sinkhorn_gradient_is_finite_when_classes_hold_almost_no_mass(dtype):
    zp = torch.tensor([50.0, -50.0, 0.0, -50.0, 50.0], dtype=dtype)
    zq = torch.tensor([50.0, 50.0, 50.0, -50.0, -50.0], dtype=dtype, requires_grad=True)
    val = divergence_from_log("sinkhorn", zp, zq, normalize=True, epsilon=1.0)
    val.backward()
    assert torch.isfinite(val) and torch.isfinite(zq.grad).all()
    z64 = zq.detach().double().requires_grad_(True)
    divergence_from_log("sinkhorn", zp.double(), z64, normalize=True, epsilon=1.0).backward()
    torch.testing.assert_close(zq.grad.double(), z64.grad, rtol=1e-3, atol=1e-6)


def test_wasserstein_grows_with_shift_even_without_overlap():
    x = np.arange(20.0)
    p = np.zeros(20)
    p[:2] = 0.5
    vals = []
    for shift in (5, 10, 15):
        q = np.zeros(20)
        q[shift:shift + 2] = 0.5
        vals.append(float(divergence("wasserstein", _t(p), _t(q), x=x)))
    np.testing.assert_allclose(vals, [5.0, 10.0, 15.0], rtol=1e-12)


# --------------------------------------------------------------------------- animation helper
def test_sinkhorn_history_marginal_error_decreases_to_zero():
    p, q, x = _case(16, v=6)
    iters, plans, errors = T.sinkhorn_history(p, q, x, epsilon=0.5, every=2, max_frames=40)
    assert plans.shape == (len(iters), 6, 6) and len(errors) == len(iters)
    assert iters[0] == 1 and np.all(np.diff(iters) == 2)
    assert errors[-1] < 1e-6 < errors[0]
    np.testing.assert_allclose(plans[-1].sum(1), p, atol=1e-10)  # the row update comes last
