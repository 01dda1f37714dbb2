"""The registry's closed-form gradients (``spec.grad``) against autograd through the values, at every
parameter edge and with exact zeros; the students' hand-written backward; NaN-free values and
gradients at zeros (issue 13's reproducers)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kdviz import numerics as nx
from kdviz.divergences import DIVERGENCES, divergence, divergence_from_log, logit_grad, value_and_grad
from kdviz.families import GaussianMixture, GaussianStudent, Grid

GRID = Grid(-6.0, 6.0, 40)
X = GRID.points()
CLOSED = [n for n, s in DIVERGENCES.items() if s.grad is not None]
EDGES = [{}, {"alpha": 0.0}, {"alpha": 1.0}, {"alpha": 0.3}, {"beta": 0.0}, {"beta": 1.0}, {"beta": 0.2},
         {"mu": 0.0}, {"mu": 1.0}, {"mu": 0.4}, {"order": 2}]
CASES = [(n, e) for n in CLOSED for e in EDGES if set(e) <= {p.name for p in DIVERGENCES[n].params}]


def _kw(name, params):
    return {**params, "x": X} if DIVERGENCES[name].needs_support else dict(params)


def _rows(k, seed, scale=3.0):
    gen = torch.Generator().manual_seed(seed)
    return torch.log_softmax(scale * torch.randn(k, GRID.n, generator=gen, dtype=torch.float64), -1)


def _autograd(name, log_p, log_q, kw):
    leaf = log_q.detach().clone().requires_grad_(True)
    value = divergence_from_log(name, log_p, leaf, **kw)
    if not value.requires_grad:
        return value.detach(), torch.zeros_like(leaf)
    (grad,) = torch.autograd.grad(value.sum(), leaf)
    return value.detach(), grad


def test_every_divergence_has_a_closed_form_gradient_but_the_entropic_ones():
    assert [n for n in DIVERGENCES if n not in CLOSED] == ["sinkhorn", "sinkhorn_div"]


@pytest.mark.parametrize("name, params", CASES)
def test_closed_form_gradient_equals_autograd_through_the_value(name, params):
    log_p = _rows(3, seed=1)
    log_q = _rows(3, seed=2)
    kw = _kw(name, params)
    value, grad = value_and_grad(name, log_p, log_q, **kw)
    ref_v, ref_g = _autograd(name, log_p, log_q, kw)
    torch.testing.assert_close(value, ref_v, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, ref_g, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(DIVERGENCES[name].grad(log_p, log_q, **DIVERGENCES[name].resolve(params),
                                                      **({"x": X} if "x" in kw else {})), ref_g)


@pytest.mark.parametrize("name, params", [c for c in CASES if c[0] != "akl"])
def test_closed_form_gradient_passes_gradcheck_in_float64(name, params):
    """AKL is left out: its weights see a detached q, so its gradient is not the value's derivative."""
    log_p = GaussianMixture((0.5, 0.5), (-1.0, 1.5), (1.0, 1.0)).log_prob(GRID)
    spec = DIVERGENCES[name]
    kw = {**spec.resolve(params), **({"x": X} if spec.needs_support else {})}

    class Node(torch.autograd.Function):
        @staticmethod
        def forward(ctx, lq):
            ctx.save_for_backward(lq)
            return spec.fn(log_p, lq, **kw)

        @staticmethod
        def backward(ctx, g):
            (lq,) = ctx.saved_tensors
            return g[..., None] * spec.grad(log_p, lq, **kw)

    gen = torch.Generator().manual_seed(3)
    z = torch.randn(2, GRID.n, dtype=torch.float64, generator=gen, requires_grad=True)
    # through the softmax: the numerical derivative stays on the simplex, where the values are defined
    assert torch.autograd.gradcheck(lambda z: Node.apply(torch.log_softmax(z, -1)), (z,), eps=1e-7, atol=1e-6)


ZERO_PAIRS = [([0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.5, 0.0]), ([0.0, 0.6, 0.4, 0.0], [0.0, 0.3, 0.3, 0.4]),
              ([0.2, 0.3, 0.5, 0.0], [0.2, 0.3, 0.5, 0.0]), ([1.0, 0.0, 0.0, 0.0], [0.7, 0.3, 0.0, 0.0])]


@pytest.mark.parametrize("name, params", CASES)
@pytest.mark.parametrize("pair", range(len(ZERO_PAIRS)))
def test_closed_form_gradient_equals_autograd_with_exact_zeros_in_p_and_q(name, params, pair):
    p, q = (torch.tensor(v, dtype=torch.float64) for v in ZERO_PAIRS[pair])
    support = {"x": torch.arange(4.0, dtype=torch.float64)} if DIVERGENCES[name].needs_support else {}
    kw = {**params, **support}
    value, grad = value_and_grad(name, p.log(), q.log(), **kw)
    ref_v, ref_g = _autograd(name, p.log(), q.log(), kw)
    assert not torch.isnan(grad).any() and not torch.isnan(ref_g).any()
    torch.testing.assert_close(value, ref_v, rtol=1e-12, atol=0)
    torch.testing.assert_close(grad, ref_g, rtol=1e-10, atol=1e-15)


def test_logit_grad_is_autograd_through_log_softmax_and_sums_to_zero():
    log_p, z = _rows(4, seed=5), torch.randn(4, GRID.n, dtype=torch.float64, requires_grad=True)
    for name in ("fkl", "jsd", "akl", "wasserstein"):
        _, g = value_and_grad(name, log_p, torch.log_softmax(z, -1).detach(), **_kw(name, {}))
        got = logit_grad(g, torch.log_softmax(z, -1).detach())
        value = divergence_from_log(name, log_p, torch.log_softmax(z, -1), **_kw(name, {}))
        (ref,) = torch.autograd.grad(value.sum(), z)
        torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-13)
        torch.testing.assert_close(got.sum(-1), torch.zeros(4, dtype=torch.float64), rtol=0, atol=1e-13)


def test_value_and_grad_goes_through_autograd_for_sinkhorn_and_matches_it():
    log_p, log_q = _rows(2, seed=6), _rows(2, seed=7)
    value, grad = value_and_grad("sinkhorn_div", log_p, log_q, x=X, epsilon=2.0)
    ref_v, ref_g = _autograd("sinkhorn_div", log_p, log_q, {"x": X, "epsilon": 2.0})
    torch.testing.assert_close(value, ref_v)
    torch.testing.assert_close(grad, ref_g)


@pytest.mark.parametrize("fixed_sigma", [False, True])
def test_gaussian_log_density_gradient_equals_autograd_of_the_plain_formula(fixed_sigma):
    student = GaussianStudent(GRID, fixed_sigma=fixed_sigma)
    params = torch.tensor([[0.3, 0.1], [-4.0, -1.5], [9.0, 2.0], [0.0, -3.0]], dtype=torch.float64,
                          requires_grad=True)
    weights = torch.randn(4, GRID.n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def plain(theta):
        z = -0.5 * ((X - theta[:, :1]) * torch.exp(-theta[:, 1:])) ** 2
        return z - nx.logsumexp(z, dim=-1, keepdim=True)

    got = student.log_prob(params)
    ref = plain(params)
    torch.testing.assert_close(got, ref, rtol=1e-13, atol=1e-12)
    (g_got,) = torch.autograd.grad((got * weights).sum(), params)
    (g_ref,) = torch.autograd.grad((ref * weights).sum(), params)
    torch.testing.assert_close(g_got, g_ref, rtol=1e-11, atol=1e-11)
    log_q, vjp = student.log_prob_and_vjp(params.detach())
    torch.testing.assert_close(vjp(weights), g_ref, rtol=1e-11, atol=1e-11)
    assert torch.autograd.gradcheck(student.log_prob, (params[:2].detach().requires_grad_(True),))


# --------------------------------------------------------------------------- issue 13's reproducers
def test_akl_is_inf_not_nan_where_its_weighted_reverse_kl_is_infinite():
    # w_head = 0 and KL(p||q) = inf; w_tail = 1 and KL(q||p) = inf
    p, q = [0, 0, 0, 0.5, 0.5], [0, 0, 0.5, 0.5, 0]
    assert float(divergence("akl", p, q)) == math.inf


def test_akl_with_an_empty_tail_is_forward_kl_even_where_reverse_kl_is_infinite():
    p, q = [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]  # mu = 1: everything is head; KL(q||p) = inf has weight 0
    expected = 0.5 * math.log(0.5 / 0.2) + 0.5 * math.log(0.5 / 0.3)
    qt = torch.tensor(q, dtype=torch.float64, requires_grad=True)
    value = divergence("akl", p, qt, mu=1)
    assert float(value) == pytest.approx(expected, rel=1e-12)
    value.backward()
    assert torch.isfinite(qt.grad[:2]).all() and not torch.isnan(qt.grad).any()


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_jsd_at_beta_zero_or_one_is_zero_with_a_zero_gradient(beta):
    qt = torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64, requires_grad=True)
    value = divergence("jsd", [1.0, 0.0, 0.0], qt, beta=beta)
    value.backward()
    assert float(value) == 0.0 and float(qt.grad.abs().max()) == 0.0


def test_tvd_gradient_at_a_zero_student_class_is_finite_and_the_true_derivative():
    q = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64, requires_grad=True)
    divergence("tvd", [0.2, 0.3, 0.5], q).backward()
    np.testing.assert_allclose(q.grad.numpy(), [0.0, 0.0, -1.0], rtol=1e-12, atol=0)  # d/dq sum max(p - q, 0)


@pytest.mark.parametrize("name, params", [("skl", {"alpha": 1.0}), ("srkl", {"alpha": 1.0}),
                                          ("jsd", {"beta": 0.0}), ("jsd", {"beta": 1.0})])
def test_an_identically_zero_divergence_keeps_a_graph_with_a_zero_gradient(name, params):
    z = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    value = divergence_from_log(name, torch.log_softmax(torch.randn(5, dtype=torch.float64), -1),
                                torch.log_softmax(z, -1), **params)
    value.sum().backward()
    assert value.abs().max() == 0.0 and z.grad.abs().max() == 0.0


# --------------------------------------------------------------------------- hypothesis: exact zeros
def _hot(v, k, i, j, w):
    out = [0.0] * v
    out[i] += w if k == 2 else 1.0
    if k == 2:
        out[j] += 1.0 - w
    return out


HOT = st.integers(3, 5).flatmap(lambda v: st.tuples(
    st.just(v),
    st.sampled_from([1, 2]), st.integers(0, v - 1), st.integers(0, v - 1), st.sampled_from([0.5, 0.3]),
    st.sampled_from([1, 2]), st.integers(0, v - 1), st.integers(0, v - 1), st.sampled_from([0.5, 0.8])))
PARAMS = {"alpha": [0.0, 0.5, 1.0], "beta": [0.0, 0.5, 1.0], "mu": [0.0, 0.5, 1.0], "order": [1, 2],
          "epsilon": [1.0]}


def _all_params(name):
    spec = DIVERGENCES[name]
    names = [prm.name for prm in spec.params]
    return [dict(zip(names, combo)) for combo in itertools.product(*(PARAMS[n] for n in names))]


@settings(max_examples=300, deadline=None)
@given(case=HOT)
def test_one_and_two_hot_pairs_give_no_nan_values_or_gradients(case):
    v, kp, ip, jp, wp, kq, iq, jq, wq = case
    p, q = _hot(v, kp, ip, jp, wp), _hot(v, kq, iq, jq, wq)
    for name in CLOSED:  # the entropic ones: exhaustively below (each call is a Sinkhorn solve)
        for params in _all_params(name):
            qt = torch.tensor(q, dtype=torch.float64, requires_grad=True)
            value = divergence(name, p, qt, **params)
            assert not torch.isnan(value), (name, params, p, q)
            assert float(value) >= -1e-9, (name, params, p, q)
            value.backward()
            assert not torch.isnan(qt.grad).any(), (name, params, p, q, qt.grad)
            if math.isfinite(float(value)) and name in ("fkl", "tvd", "wasserstein"):
                assert torch.isfinite(qt.grad).all(), (name, params, p, q)  # true gradient finite here


@pytest.mark.filterwarnings("ignore::kdviz.transport.SinkhornNotConverged")  # one-hot pairs at epsilon 1
@pytest.mark.parametrize("name", list(DIVERGENCES))
def test_every_one_and_two_hot_pair_on_four_classes_gives_no_nan(name):
    """Exhaustive over the small space (issue 13 counted 370 such pairs), every parameter edge."""
    hots = [_hot(4, 1, i, 0, 1.0) for i in range(4)]
    hots += [_hot(4, 2, i, j, 0.5) for i in range(4) for j in range(4) if i < j]
    for p, q in itertools.product(hots, hots):
        for params in _all_params(name):
            qt = torch.tensor(q, dtype=torch.float64, requires_grad=True)
            value = divergence(name, p, qt, **params)
            value.backward()
            assert not torch.isnan(value) and not torch.isnan(qt.grad).any(), (name, params, p, q)


def test_numpy_and_zero_dim_torch_scalars_are_accepted_as_parameters():
    p, q = [0.2, 0.3, 0.5], [0.3, 0.3, 0.4]
    ref = float(divergence("skl", p, q, alpha=0.25))
    assert float(divergence("skl", p, q, alpha=np.float32(0.25))) == pytest.approx(ref)
    assert float(divergence("skl", p, q, alpha=np.array(0.25))) == pytest.approx(ref)
    assert float(divergence("skl", p, q, alpha=torch.tensor(0.25))) == pytest.approx(ref)
    assert float(divergence("wasserstein", p, q, order=np.int64(2))) == pytest.approx(
        float(divergence("wasserstein", p, q, order=2)))
    with pytest.raises(ValueError, match="must be a number"):
        divergence("skl", p, q, alpha=torch.tensor([0.25, 0.5]))
    with pytest.raises(ValueError, match="must be a number"):
        divergence("skl", p, q, alpha=np.bool_(True))


@pytest.mark.parametrize("p, match", [("abc", "must be numbers"),
                                      (torch.tensor([[1 + 1j, 0]]), "real numbers"),
                                      (torch.zeros(0, 3), "empty batch"), (np.zeros((0, 2)), "empty batch")])
def test_bad_inputs_raise_value_error_naming_what_is_wrong(p, match):
    with pytest.raises(ValueError, match=match):
        divergence("fkl", p, [0.5, 0.5, 0.0])
    if match == "empty batch":
        with pytest.raises(ValueError, match=match):
            divergence_from_log("fkl", torch.as_tensor(p), torch.as_tensor(p))
