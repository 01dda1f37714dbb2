"""kdviz.batched and the students' log-densities: the closed-form gradients equal autograd's.

The fused loss and the Gaussian log-density are autograd nodes with hand-written backward
formulas (for speed); these tests hold them to the plain registry functions differentiated by
autograd, for every divergence and parameter value, and to torch's numerical gradcheck.
"""

from __future__ import annotations

import math

import pytest
import torch

from kdviz import numerics as nx
from kdviz.batched import BatchedLoss
from kdviz.divergences import DIVERGENCES, divergence_from_log
from kdviz.families import GaussianMixture, GaussianStudent, Grid, discrete_teacher
from kdviz.fitting import resolve_params

GRID = Grid(-6.0, 6.0, 40)
X = GRID.points()
FAST = [n for n in DIVERGENCES if not n.startswith("sinkhorn")]


def _student_rows(k: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.log_softmax(3 * torch.randn(k, GRID.n, generator=gen, dtype=torch.float64), -1)


def _reference(log_p, log_q, names, kwargs):
    """Values and gradients w.r.t. log q, one registry call per row, differentiated by autograd."""
    log_q = log_q.detach().requires_grad_(True)
    vals = torch.stack([divergence_from_log(n, log_p, log_q[k], **kw) for k, (n, kw) in enumerate(zip(names, kwargs))])
    (grad,) = torch.autograd.grad(vals.sum(), log_q)
    return vals.detach(), grad


def _batched(log_p, log_q, names, kwargs):
    log_q = log_q.detach().requires_grad_(True)
    vals = BatchedLoss(log_p, names, kwargs)(log_q)
    (grad,) = torch.autograd.grad(vals.sum(), log_q)
    return vals.detach(), grad


def _kwargs(names, params=None):
    kwargs = resolve_params(names, params)
    for n, kw in zip(names, kwargs):
        if DIVERGENCES[n].needs_support:
            kw["x"] = X
    return kwargs


@pytest.mark.parametrize("params", [None, {"alpha": 0.3, "beta": 0.2, "mu": 0.7},
                                    {"alpha": 0.0, "beta": 1.0}, {"alpha": 1.0, "beta": 0.0, "mu": 0.0}])
def test_fused_loss_values_and_gradients_equal_autograd_through_the_registry_for_every_divergence(params):
    log_p = GaussianMixture((0.3, 0.7), (-2.0, 2.0), (1.0, 0.7)).log_prob(GRID)
    names = FAST + FAST[::-1]  # every divergence, twice, in two orders
    kwargs = _kwargs(names, params)
    log_q = _student_rows(len(names))
    ref_v, ref_g = _reference(log_p, log_q, names, kwargs)
    got_v, got_g = _batched(log_p, log_q, names, kwargs)
    torch.testing.assert_close(got_v, ref_v, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(got_g, ref_g, rtol=1e-10, atol=1e-13)


def test_fused_loss_matches_autograd_on_a_discrete_teacher_with_a_very_peaked_student():
    _, p = discrete_teacher("zipf", 30)
    log_p = torch.as_tensor(p).log()
    names = ["fkl", "rkl", "jsd", "tvd", "skl", "srkl", "fkl_rkl", "akl"]
    kwargs = _kwargs(names)
    log_q = torch.log_softmax(torch.linspace(-50, 50, 30, dtype=torch.float64).expand(len(names), -1), -1)
    ref_v, ref_g = _reference(log_p, log_q, names, kwargs)
    got_v, got_g = _batched(log_p, log_q, names, kwargs)
    torch.testing.assert_close(got_v, ref_v, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(got_g, ref_g, rtol=1e-10, atol=1e-13)


def test_akl_row_at_p_equals_q_has_zero_value_and_the_half_half_weights_gradient():
    log_p = GaussianMixture().log_prob(GRID)
    names, kwargs = ["akl"], _kwargs(["akl"])
    ref_v, ref_g = _reference(log_p, log_p[None], names, kwargs)
    got_v, got_g = _batched(log_p, log_p[None], names, kwargs)
    assert float(got_v.detach()) == 0.0
    torch.testing.assert_close(got_g, ref_g, rtol=0, atol=1e-15)


def test_teacher_with_exact_zeros_scores_every_row_through_its_registry_function():
    p = torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64)
    loss = BatchedLoss(p.log(), ["fkl", "tvd"], [{}, {}])
    assert not loss.fused and [k for k, *_ in loss.other] == [0, 1]
    vals = loss(torch.log_softmax(torch.zeros(2, 4, dtype=torch.float64), -1))
    torch.testing.assert_close(vals, torch.tensor([math.log(2), 0.5], dtype=torch.float64))


def test_wasserstein_of_order_two_and_sinkhorn_rows_go_through_autograd_not_the_fused_node():
    log_p = GaussianMixture().log_prob(GRID)
    names = ["wasserstein", "sinkhorn", "wasserstein"]
    kwargs = _kwargs(names, {"wasserstein": {"order": 2}, "sinkhorn": {"epsilon": 1.0}})
    loss = BatchedLoss(log_p, names, kwargs)
    assert [k for k, *_ in loss.other] == [0, 1, 2] and not loss.fused
    log_q = _student_rows(3)
    ref_v, ref_g = _reference(log_p, log_q, names, kwargs)
    got_v, got_g = _batched(log_p, log_q, names, kwargs)
    torch.testing.assert_close(got_v, ref_v, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(got_g, ref_g, rtol=1e-7, atol=1e-10)


def test_fused_loss_passes_torch_gradcheck_for_every_divergence_but_akl():
    log_p = GaussianMixture((0.5, 0.5), (-1.0, 1.5), (1.0, 1.0)).log_prob(GRID)
    names = [n for n in FAST if n != "akl"]  # AKL's weights see a detached q: not a true derivative
    loss = BatchedLoss(log_p, names, _kwargs(names))
    log_q = _student_rows(len(names), seed=3).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda lq: loss(lq), (log_q,), eps=1e-7, atol=1e-6)


@pytest.mark.parametrize("fixed_sigma", [False, True])
def test_gaussian_log_density_gradient_equals_autograd_of_the_plain_formula(fixed_sigma):
    student = GaussianStudent(GRID, fixed_sigma=fixed_sigma)
    params = torch.tensor([[0.3, 0.1], [-4.0, -1.5], [9.0, 2.0], [0.0, -3.0]], dtype=torch.float64, requires_grad=True)
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
    assert torch.autograd.gradcheck(student.log_prob, (params[:2].detach().requires_grad_(True),))


@pytest.mark.parametrize("name, params", [("jsd", {"beta": 0.0}), ("jsd", {"beta": 1.0}), ("skl", {"alpha": 1.0})])
def test_a_divergence_that_is_identically_zero_alone_still_backpropagates_a_zero_gradient(name, params):
    log_p = GaussianMixture().log_prob(GRID)
    log_q = _student_rows(1).requires_grad_(True)
    vals = BatchedLoss(log_p, [name], _kwargs([name], params))(log_q)
    vals.sum().backward()
    assert float(vals.detach()) == 0.0 and float(log_q.grad.abs().max()) == 0.0
