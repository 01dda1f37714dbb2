"""FusedLinearKDLoss against Liger's LigerFusedLinearJSDLoss and against the dense kd_loss; sinkd_loss
against POT."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch

from kdviz.losses import PER_TOKEN, FusedLinearKDLoss, kd_loss, sinkd_loss

N, HS, HT, V = 24, 8, 6, 17
PARAMS = {"jsd": {"beta": 0.3}, "skl": {"alpha": 0.2}, "srkl": {"alpha": 0.2}, "akl": {"mu": 0.6}}


def inputs(seed=0, dtype=torch.float32, bias=False):
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g).to(dtype)  # noqa: E731
    h, w, th, tw = r(N, HS), r(V, HS), r(N, HT), r(V, HT)
    labels = torch.randint(0, V, (N,), generator=g)
    labels[::5] = -100
    out = dict(student_hidden=h.requires_grad_(True), student_weight=w.requires_grad_(True),
               teacher_hidden=th, teacher_weight=tw, labels=labels)
    if bias:
        out |= dict(student_bias=r(V).requires_grad_(True), teacher_bias=r(V))
    return out


def grads(loss, x, names=("student_hidden", "student_weight")):
    return torch.autograd.grad(loss, [x[k] for k in names])


def liger(x, **kwargs):
    from liger_kernel.chunked_loss import LigerFusedLinearJSDLoss

    loss_fn = LigerFusedLinearJSDLoss(compiled=False, **kwargs)
    keys = ("student_hidden", "student_weight", "teacher_hidden", "teacher_weight", "labels")
    return loss_fn(*(x[k] for k in keys), x.get("student_bias"), x.get("teacher_bias"))


# --------------------------------------------------------------------------- Liger parity
@pytest.mark.parametrize("beta", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_fused_jsd_equals_liger_fused_linear_jsd_in_value_and_gradients(beta, temperature):
    x = inputs(seed=1)
    ours = FusedLinearKDLoss("jsd", beta=beta, temperature=temperature, chunk_size=7)(**x)
    theirs = liger(x, weight_hard_loss=0.0, weight_soft_loss=1.0, beta=beta, temperature=temperature)
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    for a, b in zip(grads(ours, x), grads(theirs, x)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_fused_with_hard_loss_and_biases_equals_liger():
    x = inputs(seed=2, bias=True)
    weights = dict(weight_hard_loss=0.4, weight_soft_loss=0.6)
    ours = FusedLinearKDLoss("jsd", temperature=2.0, chunk_size=5, **weights)(**x)
    theirs = liger(x, temperature=2.0, **weights)
    assert torch.allclose(ours, theirs, rtol=1e-5)
    names = ("student_hidden", "student_weight", "student_bias")
    for a, b in zip(grads(ours, x, names), grads(theirs, x, names)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- fused == dense
def dense(x, name, temperature, weight_hard_loss=0.0, weight_soft_loss=1.0, **params):
    s = x["student_hidden"] @ x["student_weight"].T + x.get("student_bias", 0.0)
    t = x["teacher_hidden"] @ x["teacher_weight"].T + x.get("teacher_bias", 0.0)
    soft = kd_loss(s, t, name, labels=x["labels"], temperature=temperature, **params)
    hard = torch.nn.functional.cross_entropy(s, x["labels"], ignore_index=-100)
    return weight_soft_loss * soft + weight_hard_loss * hard


@pytest.mark.parametrize("chunk_size", [1, 6, 1024])
@pytest.mark.parametrize("name", PER_TOKEN)
def test_fused_equals_dense_kd_loss_in_value_and_gradients(name, chunk_size):
    x = inputs(seed=3, dtype=torch.float64, bias=True)
    kw = PARAMS.get(name, {})
    fused = FusedLinearKDLoss(name, temperature=1.5, chunk_size=chunk_size, weight_hard_loss=0.3, **kw)(**x)
    ref = dense(x, name, 1.5, weight_hard_loss=0.3, **kw)
    assert torch.allclose(fused, ref, rtol=1e-12)
    names = ("student_hidden", "student_weight", "student_bias")
    for a, b in zip(grads(fused, x, names), grads(ref, x, names)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_liger_609_and_6526_fused_passes_beta_and_temperature_on():
    x = inputs(seed=4, dtype=torch.float64)
    fused = FusedLinearKDLoss("jsd", beta=0.1, temperature=4.0, chunk_size=5)(**x)
    assert torch.allclose(fused, dense(x, "jsd", 4.0, beta=0.1), rtol=1e-12)
    assert not torch.allclose(fused, dense(x, "jsd", 4.0, beta=0.9))
    assert not torch.allclose(fused, dense(x, "jsd", 1.0, beta=0.1))


def test_liger_974_fused_ignores_positions_and_divides_by_the_valid_tokens():
    x = inputs(seed=5, dtype=torch.float64)
    loss = FusedLinearKDLoss("fkl", chunk_size=4)(**x)
    ignored = x["labels"] == -100
    per = kd_loss(x["student_hidden"] @ x["student_weight"].T, x["teacher_hidden"] @ x["teacher_weight"].T,
                  "fkl", reduction="none")
    assert torch.allclose(loss, per[~ignored].sum() / (~ignored).sum())
    (g,) = torch.autograd.grad(loss, x["student_hidden"])
    assert (g[ignored] == 0).all()


def test_fused_all_labels_ignored_gives_zero_connected_to_the_graph():
    x = inputs(seed=6)
    x["labels"] = torch.full((N,), -100)
    loss = FusedLinearKDLoss("jsd", weight_hard_loss=0.5)(**x)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert (x["student_weight"].grad == 0).all() and (x["student_hidden"].grad == 0).all()


def test_fused_bf16_inputs_give_float32_loss_and_bf16_gradients_close_to_float32():
    x = inputs(seed=7, dtype=torch.bfloat16)
    loss = FusedLinearKDLoss("jsd", chunk_size=5)(**x)
    g = grads(loss, x)
    assert loss.dtype == torch.float32
    assert all(t.dtype == torch.bfloat16 and torch.isfinite(t).all() for t in g)
    x32 = {k: (v.detach().float().requires_grad_(v.requires_grad) if v.is_floating_point() else v)
           for k, v in x.items()}
    assert torch.allclose(loss, FusedLinearKDLoss("jsd")(**x32), rtol=1e-5)


def test_fused_loss_is_scaled_by_the_upstream_gradient():
    x = inputs(seed=8)
    loss = FusedLinearKDLoss("rkl", chunk_size=5)(**x)
    (g1,) = torch.autograd.grad(loss, x["student_weight"], retain_graph=False)
    (g3,) = torch.autograd.grad(3.0 * FusedLinearKDLoss("rkl", chunk_size=5)(**x), x["student_weight"])
    torch.testing.assert_close(g3, 3.0 * g1)


@pytest.mark.parametrize("kwargs, call, match", [
    ({"divergence": "sinkhorn"}, {}, "sinkd_loss"),
    ({"temperature": 0}, {}, "temperature"),
    ({"beta": 2.0}, {}, "beta"),
    ({"chunk_size": 0}, {}, "chunk_size"),
    ({"weight_hard_loss": -1.0}, {}, "weight_hard_loss"),
    ({}, {"student_weight": torch.zeros(V, HS + 1)}, "student_weight"),
    ({}, {"teacher_weight": torch.zeros(V + 1, HT)}, "vocabularies differ"),
    ({}, {"teacher_hidden": torch.zeros(N - 1, HT)}, "number of tokens"),
    ({}, {"student_bias": torch.zeros(V + 1)}, "student_bias"),
    ({"weight_hard_loss": 0.5}, {"labels": None}, "needs labels"),
])
def test_fused_bad_input_raises_value_error_naming_the_problem(kwargs, call, match):
    with pytest.raises(ValueError, match=match):
        FusedLinearKDLoss(**kwargs)(**(inputs() | call))


# --------------------------------------------------------------------------- SinKD
def test_sinkd_equals_pots_log_domain_sinkhorn_between_the_rows():
    g = torch.Generator().manual_seed(9)
    s, t = (torch.randn(3, 5, V, generator=g, dtype=torch.float64) for _ in range(2))
    labels = torch.zeros(3, 5, dtype=torch.long)
    labels[1, 2:] = -100
    valid = (labels != -100).reshape(-1).numpy()
    for temperature, eps, iters in [(1.0, 0.1, 20), (2.0, 0.05, 7), (0.5, 1.0, 200)]:
        ours = sinkd_loss(s, t, labels=labels, temperature=temperature, epsilon=eps, iterations=iters)
        q = torch.softmax(s / temperature, -1).reshape(-1, V).numpy()[valid]
        p = torch.softmax(t / temperature, -1).reshape(-1, V).numpy()[valid]
        cost = ot.dist(q, p, metric="cityblock")  # (n, n) L1 between the rows
        n = len(q)
        want = ot.sinkhorn2(np.full(n, 1 / n), np.full(n, 1 / n), cost, eps, method="sinkhorn_log",
                            numItermax=iters, stopThr=0.0, warn=False)
        assert np.isclose(ours.item(), float(want), rtol=1e-10, atol=1e-13)


def test_sinkd_gradient_matches_finite_differences_and_skips_the_teacher():
    g = torch.Generator().manual_seed(10)
    s = torch.randn(6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randn(6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: sinkd_loss(x, t.detach(), epsilon=0.5, iterations=10), (s,))
    sinkd_loss(s, t).backward()
    assert t.grad is None and torch.isfinite(s.grad).all()


def test_sinkd_is_smaller_for_a_student_equal_to_the_teacher_and_zero_when_nothing_is_valid():
    g = torch.Generator().manual_seed(11)
    t = torch.randn(8, V, generator=g)
    assert sinkd_loss(t, t) < sinkd_loss(torch.randn(8, V, generator=g), t)
    s = torch.randn(8, V, requires_grad=True)
    loss = sinkd_loss(s, t, labels=torch.full((8,), -100))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert (s.grad == 0).all()


@pytest.mark.parametrize("kwargs, match", [({"epsilon": 0.0}, "epsilon"), ({"iterations": 0}, "iterations"),
                                           ({"temperature": -2.0}, "temperature")])
def test_sinkd_bad_input_raises_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sinkd_loss(torch.zeros(4, V), torch.zeros(4, V), **kwargs)
