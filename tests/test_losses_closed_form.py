"""kd_loss and FusedLinearKDLoss take the registry's closed-form gradient (one ``spec.fn(...,
with_grad=True)`` call per chunk, no autograd graph), and it equals autograd through ``spec.fn``."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from kdviz import divergences as dv
from kdviz.losses import PER_TOKEN, FusedLinearKDLoss, kd_loss

N, H, V = 12, 5, 11
PARAMS = [(name, {}) for name in PER_TOKEN if not dv.DIVERGENCES[name].params] + [
    (name, {prm.name: v}) for name in PER_TOKEN for prm in dv.DIVERGENCES[name].params
    for v in (0.0, 0.3, 1.0)]


def problem(seed=0):
    """float64 hidden states and heads, labels with ignored positions, a mask, and one row of large logits."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)  # noqa: E731
    h, w, th, tw = r(N, H), r(V, H), r(N, H), r(V, H)
    h[3] *= 40.0  # logits in the hundreds: probabilities far below float64's exp range
    labels = torch.randint(0, V, (N,), generator=g)
    labels[::4] = -100
    mask = torch.ones(N, dtype=torch.bool)
    mask[5] = False
    return h, w, th, tw, labels, mask


def autograd_reference(student_logits, teacher_logits, name, kw, temperature, valid):
    """Per-token values (0 where invalid) and their graph, autograd through the registry's ``spec.fn``."""
    spec = dv.DIVERGENCES[name]
    log_p = torch.log_softmax(teacher_logits / temperature, -1)
    log_q = torch.log_softmax(student_logits / temperature, -1)
    return torch.where(valid, spec.fn(log_p, log_q, **kw), 0.0)


def grad_of(loss, *xs):
    """Gradients of ``loss`` w.r.t. ``xs`` (zeros where it does not depend on one)."""
    grads = torch.autograd.grad(loss, xs, allow_unused=True)
    out = [torch.zeros_like(x) if g is None else g for g, x in zip(grads, xs)]
    return out[0] if len(xs) == 1 else out


@pytest.mark.parametrize("chunk_size", [None, 3])
@pytest.mark.parametrize("temperature", [0.25, 1.0, 4.0])
@pytest.mark.parametrize(("name", "kw"), PARAMS)
def test_kd_loss_closed_form_gradient_equals_autograd_through_spec_fn(name, kw, temperature, chunk_size):
    h, w, th, tw, labels, mask = problem()
    s, t = (h @ w.T).requires_grad_(True), th @ tw.T
    weights = torch.linspace(0.5, 2.0, N, dtype=torch.float64)  # an upstream gradient that is not all ones
    ours = kd_loss(s, t, name, labels=labels, mask=mask, temperature=temperature, reduction="none",
                   chunk_size=chunk_size, **kw)
    ref = autograd_reference(s, t, name, kw, temperature, (labels != -100) & mask)
    torch.testing.assert_close(ours.detach(), ref.detach(), rtol=1e-12, atol=1e-12)
    g_ours, g_ref = grad_of((weights * ours).sum(), s), grad_of((weights * ref).sum(), s)
    assert torch.isfinite(g_ours).all()
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("temperature", [0.25, 1.0, 4.0])
@pytest.mark.parametrize(("name", "kw"), PARAMS)
def test_fused_closed_form_gradients_equal_autograd_through_spec_fn_on_dense_logits(name, kw, temperature):
    h, w, th, tw, labels, _ = problem(seed=1)
    b, tb = 0.1 * torch.arange(V, dtype=torch.float64), torch.linspace(-1, 1, V, dtype=torch.float64)
    h, w, b = (x.clone().requires_grad_(True) for x in (h, w, b))
    loss_fn = FusedLinearKDLoss(name, temperature=temperature, chunk_size=4, weight_hard_loss=0.25, **kw)
    ours = loss_fn(h, w, th, tw, labels, b, tb)
    valid = labels != -100
    s = torch.addmm(b, h, w.T)
    ce = torch.nn.functional.cross_entropy(s, labels, ignore_index=-100, reduction="sum")
    soft = autograd_reference(s, th @ tw.T + tb, name, kw, temperature, valid).sum()
    ref = (soft + 0.25 * ce) / valid.sum()
    torch.testing.assert_close(ours.detach(), ref.detach(), rtol=1e-12, atol=1e-12)
    for g_ours, g_ref in zip(grad_of(ours, h, w, b), grad_of(ref, h, w, b)):
        torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)


@pytest.fixture
def counted(monkeypatch):
    """Patch a registry entry so that its ``fn`` records each call: (with_grad, a graph was being built)."""
    calls, originals = [], {}

    def patch(name, closed_form=True):
        spec = originals.setdefault(name, dv.DIVERGENCES[name])
        fn = spec.fn

        def counting(log_p, log_q, **kw):
            calls.append((kw.get("with_grad", False), torch.is_grad_enabled() and log_q.requires_grad))
            return fn(log_p, log_q, **kw)

        monkeypatch.setitem(dv.DIVERGENCES, name, dataclasses.replace(
            spec, fn=counting, grad=spec.grad if closed_form else None))
        return calls

    return patch


@pytest.mark.parametrize("name", ["jsd", "akl", "tvd"])
@pytest.mark.parametrize("chunk_size", [None, 3])
def test_kd_loss_takes_the_closed_form_once_per_chunk_without_building_a_graph(counted, monkeypatch, name,
                                                                               chunk_size):
    calls = counted(name)
    monkeypatch.setattr(dv, "_autograd_value_and_grad", lambda *a: pytest.fail("autograd fallback taken"))
    h, w, th, tw, labels, mask = problem()
    s = (h @ w.T).requires_grad_(True)
    loss = kd_loss(s, th @ tw.T, name, labels=labels, mask=mask, chunk_size=chunk_size)
    loss.backward()
    n_valid = int(((labels != -100) & mask).sum())
    assert calls == [(True, False)] * (1 if chunk_size is None else math.ceil(n_valid / chunk_size))
    assert s.grad is not None and torch.isfinite(s.grad).all()


def test_fused_loss_takes_the_closed_form_once_per_chunk_without_building_a_graph(counted, monkeypatch):
    calls = counted("jsd")
    monkeypatch.setattr(dv, "_autograd_value_and_grad", lambda *a: pytest.fail("autograd fallback taken"))
    h, w, th, tw, labels, _ = problem()
    h.requires_grad_(True)
    FusedLinearKDLoss("jsd", chunk_size=4)(h, w, th, tw, labels).backward()
    assert calls == [(True, False)] * math.ceil(int((labels != -100).sum()) / 4)


@pytest.mark.parametrize("name", ["jsd", "skl"])
def test_without_a_closed_form_autograd_runs_per_chunk_and_gives_the_same_gradients(counted, name):
    h, w, th, tw, labels, mask = problem()
    out = {}
    for closed_form in (True, False):
        calls = counted(name, closed_form=closed_form)
        calls.clear()
        s = (h @ w.T).requires_grad_(True)
        kd_loss(s, th @ tw.T, name, labels=labels, mask=mask, temperature=2.0, chunk_size=4).backward()
        hf = h.clone().requires_grad_(True)
        FusedLinearKDLoss(name, temperature=2.0, chunk_size=4)(hf, w, th, tw, labels).backward()
        out[closed_form] = (s.grad, hf.grad, list(calls))
    assert all(c == (True, False) for c in out[True][2])
    assert out[False][2] and all(c == (False, True) for c in out[False][2])  # value only, inside a graph
    for a, b in zip(out[True][:2], out[False][:2]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13)
