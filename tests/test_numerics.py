"""kdviz.numerics: what a fit's teacher and student pieces (exp, support) give the divergences, and
the numerical helpers against their plain forms."""

from __future__ import annotations

import math

import pytest
import torch

from kdviz import numerics as nx
from kdviz.divergences import DIVERGENCES, value_and_grad, value_and_grad_fn

CLOSED = [n for n, s in DIVERGENCES.items() if s.grad is not None]
X = torch.arange(6, dtype=torch.float64)


def _log(p):
    with torch.no_grad():
        return torch.log(torch.tensor(p, dtype=torch.float64))


@pytest.mark.parametrize("name", CLOSED)
@pytest.mark.parametrize("zeros", ["none", "teacher", "student", "both"])
def test_a_fits_student_rows_give_every_divergence_its_value_and_gradient_on_plain_tensors(name, zeros):
    """Inside the blocks the guards for ``0 log 0`` are skipped where nothing is zero, and ``exp`` is
    looked up: the results are those of the plain call (to rounding: AKL combines its terms by lerp)."""
    has_zero = zeros in ("teacher", "both")
    log_p = _log([0.1, 0.0, 0.3, 0.2, 0.25, 0.15] if has_zero else [0.1, 0.05, 0.3, 0.2, 0.2, 0.15])
    gen = torch.Generator().manual_seed(0)
    log_q = torch.log_softmax(torch.randn(4, 6, dtype=torch.float64, generator=gen), -1)
    if zeros in ("student", "both"):
        log_q[1, 2] = log_q[3, 0] = -math.inf  # classes the teacher has but the student has not
    spec = DIVERGENCES[name]
    kw = {**spec.resolve({}), **({"x": X} if spec.needs_support else {})}
    want_v, want_g = value_and_grad(name, log_p, log_q, **({"x": X} if spec.needs_support else {}))
    rows = nx.StudentRows(4, 6, torch.float64)
    views = [rows.rows(slice(0, 1)), rows.rows(slice(1, 4))]
    with torch.inference_mode(), nx.constants(log_p, X), rows:
        rows.log.copy_(log_q)
        rows.refresh()
        assert rows.full is (zeros in ("none", "teacher"))
        assert (nx.support(log_p) is None) is (zeros in ("none", "student"))
        assert nx.exp(views[1]).data_ptr() == rows.exp[1].data_ptr()
        got = [value_and_grad_fn(spec, kw)(log_p, v) for v in views]
    torch.testing.assert_close(torch.cat([v for v, _ in got]), want_v, rtol=1e-12, atol=1e-15, equal_nan=True)
    torch.testing.assert_close(torch.cat([g for _, g in got]), want_g, rtol=1e-12, atol=1e-15, equal_nan=True)


def test_student_rows_are_looked_up_only_inside_the_block_and_only_as_the_same_object():
    rows = nx.StudentRows(2, 3, torch.float64)
    view = rows.rows(slice(0, 1))
    rows.log.copy_(torch.log(torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], dtype=torch.float64)))
    with rows:
        rows.refresh()
        assert nx.exp(view).data_ptr() == rows.exp.data_ptr() and nx.support(view) is None
        copy = view.clone()
        assert nx.exp(copy).data_ptr() != rows.exp.data_ptr() and nx.support(copy).all()
    assert nx.exp(view).data_ptr() != rows.exp.data_ptr() and nx.support(view) is not None
    torch.testing.assert_close(rows.exp, rows.log.exp(), rtol=1e-15, atol=0)


def test_a_teachers_support_is_known_to_be_full_only_inside_its_constants_block():
    full, holes = _log([0.5, 0.5]), _log([1.0, 0.0])
    with nx.constants(full, holes):
        assert nx.support(full) is None
        assert nx.support(holes).tolist() == [True, False]
    assert nx.support(full).tolist() == [True, True]


def test_logaddexp_without_a_gradient_equals_the_guarded_form_and_is_exact_at_minus_infinity():
    a = torch.tensor([-math.inf, -math.inf, 0.0, -1e4, -800.0, 3.0], dtype=torch.float64)
    b = torch.tensor([-math.inf, 0.0, -math.inf, -1.0, -801.0, 3.0], dtype=torch.float64)
    fast = nx.logaddexp(a, b)
    guarded = nx.logaddexp(a.clone().requires_grad_(True), b).detach()
    assert fast[0] == -math.inf and fast[1] == 0.0 and fast[2] == 0.0
    torch.testing.assert_close(fast, guarded, rtol=1e-15, atol=1e-300)
    plain = [max(x, y) + math.log1p(math.exp(min(x, y) - max(x, y)))
             for x, y in zip(a[3:].tolist(), b[3:].tolist())]
    torch.testing.assert_close(fast[3:], torch.tensor(plain, dtype=torch.float64), rtol=1e-15, atol=0)
