"""kdviz.divergences: reference values (scipy / POT / numpy), properties (hypothesis), gradients.

Bad input and registry metadata: tests/test_divergence_errors.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr
from scipy.stats import wasserstein_distance

from kdviz.akl import akl_split
from kdviz.divergences import DIVERGENCES, divergence, divergence_from_log
from kdviz.transport import STOP_THR

NAMES = list(DIVERGENCES)
TRANSPORT = [n for n in NAMES if DIVERGENCES[n].needs_support]
KL_FAMILY = ["fkl", "rkl", "jsd", "skl", "srkl", "fkl_rkl", "akl"]
PROPS = settings(deadline=None, max_examples=30)


def _t(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def _d(name, p, q, **kw):
    return float(divergence(name, _t(p), _t(q), **kw))


def _random_simplex(rng, v):
    w = rng.random(v) ** 3  # spread over several orders of magnitude
    return w / w.sum()


def _akl_numpy(p, q, mu=0.5):
    """AKL by the rule of references.md (authors' AKL.py), in numpy."""
    order = np.argsort(-p, kind="stable")
    head_sorted = np.cumsum(p[order]) <= mu
    head_sorted[0] = True
    head = np.zeros_like(head_sorted)
    head[order] = head_sorted
    err = np.abs(p - q)
    g_h, g_t = err[head].sum(), err[~head].sum()
    if g_h + g_t == 0:
        return 0.0, head
    fkl, rkl = rel_entr(p, q).sum(), rel_entr(q, p).sum()
    return (g_h * fkl + g_t * rkl) / (g_h + g_t), head


# --------------------------------------------------------------------------- reference inputs
def _reference_pairs():
    rng = np.random.default_rng(0)
    pairs = [(_random_simplex(rng, v), _random_simplex(rng, v)) for v in (2, 5, 9, 30) for _ in range(2)]
    pairs.append((np.array([1.0, 0, 0, 0]), _random_simplex(rng, 4)))  # one-hot teacher
    pairs.append((_random_simplex(rng, 4), np.array([0.0, 1, 0, 0])))  # one-hot student
    pairs.append((np.array([0.5, 0.5, 0, 0]), np.array([0, 0, 0.25, 0.75])))  # disjoint supports
    pairs.append((np.array([0.5, 0.5 - 1e-30, 1e-30]), np.array([1e-30, 0.5, 0.5 - 1e-30])))  # tiny
    pairs.append((np.array([0.5, 0.5]), np.array([1e-30, 1 - 1e-30])))
    return pairs


REF_PAIRS = _reference_pairs()
PAIR_IDS = ["rand2a", "rand2b", "rand5a", "rand5b", "rand9a", "rand9b", "rand30a", "rand30b",
            "onehot_p", "onehot_q", "disjoint", "tiny1e-30", "tiny_q"]


@pytest.mark.parametrize("p,q", REF_PAIRS, ids=PAIR_IDS)
def test_kl_family_matches_scipy_rel_entr(p, q):
    alpha = 0.1
    expected = {
        "fkl": rel_entr(p, q).sum(),
        "rkl": rel_entr(q, p).sum(),
        "skl": rel_entr(p, alpha * p + (1 - alpha) * q).sum(),
        "srkl": rel_entr(q, alpha * q + (1 - alpha) * p).sum(),
        "fkl_rkl": rel_entr(p, q).sum() + rel_entr(q, p).sum(),
        "tvd": 0.5 * np.abs(p - q).sum(),
    }
    for name, ref in expected.items():
        got = _d(name, p, q)
        if math.isinf(ref):
            assert got == ref, name
        else:
            assert got == pytest.approx(ref, rel=1e-9, abs=1e-15), name


@pytest.mark.parametrize("p,q", REF_PAIRS, ids=PAIR_IDS)
def test_jsd_is_the_square_of_scipy_jensenshannon_in_nats(p, q):
    assert _d("jsd", p, q) == pytest.approx(jensenshannon(p, q) ** 2, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("beta", [0.1, 0.3, 0.8])
def test_generalized_jsd_matches_explicit_mixture_kls(beta):
    rng = np.random.default_rng(1)
    p, q = _random_simplex(rng, 7), _random_simplex(rng, 7)
    m = beta * p + (1 - beta) * q
    ref = beta * rel_entr(p, m).sum() + (1 - beta) * rel_entr(q, m).sum()
    assert _d("jsd", p, q, beta=beta) == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("alpha", [0.01, 0.3, 0.7, 1.0])
def test_skew_kls_match_explicit_mixtures_for_several_alphas(alpha):
    rng = np.random.default_rng(2)
    p, q = _random_simplex(rng, 6), _random_simplex(rng, 6)
    assert _d("skl", p, q, alpha=alpha) == pytest.approx(
        rel_entr(p, alpha * p + (1 - alpha) * q).sum(), rel=1e-10, abs=1e-15)
    assert _d("srkl", p, q, alpha=alpha) == pytest.approx(
        rel_entr(q, alpha * q + (1 - alpha) * p).sum(), rel=1e-10, abs=1e-15)


@pytest.mark.parametrize("p,q", REF_PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("mu", [0.0, 0.5, 0.9])
def test_akl_matches_the_reference_rule(p, q, mu):
    ref, _ = _akl_numpy(p, q, mu)
    got = _d("akl", p, q, mu=mu)
    if math.isinf(ref):
        assert got == ref
    else:
        assert got == pytest.approx(ref, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("p,q", REF_PAIRS[:10], ids=PAIR_IDS[:10])
def test_wasserstein_order1_matches_scipy_on_nonuniform_support(p, q):
    x = np.cumsum(np.random.default_rng(len(p)).random(len(p)) + 0.1) - 3.0  # increasing, uneven
    assert _d("wasserstein", p, q, x=x) == pytest.approx(
        wasserstein_distance(x, x, p, q), rel=1e-9, abs=1e-12)


# --------------------------------------------------------------------------- hypothesis strategies
def _logit_vector(v):
    return st.lists(st.floats(-15, 15), min_size=v, max_size=v).map(lambda z: torch.softmax(_t(z), -1))


def _weights_vector(v):  # exact zeros allowed
    return (st.lists(st.sampled_from([0.0, 0.0, 1e-12, 0.01, 0.1, 0.3, 1.0, 2.0]), min_size=v, max_size=v)
            .filter(lambda w: sum(w) > 0).map(lambda w: _t(w) / sum(w)))


def pairs(positive=True, v_min=2, v_max=7):
    make = _logit_vector if positive else _weights_vector
    return st.integers(v_min, v_max).flatmap(lambda v: st.tuples(make(v), make(v)))


@PROPS
@given(pq=pairs(positive=False))
def test_kl_family_tvd_wasserstein_are_non_negative_even_with_zeros(pq):
    p, q = pq
    for name in KL_FAMILY + ["tvd", "wasserstein"]:
        val = float(divergence(name, p, q))
        assert val >= -1e-12, (name, val)


@settings(deadline=None, max_examples=20)
@given(pq=pairs(), eps=st.sampled_from([0.5, 2.0]))
def test_entropic_sinkhorn_divergence_is_non_negative(pq, eps):
    p, q = pq
    assert float(divergence("sinkhorn_div", p, q, epsilon=eps, entropic=True)) >= -1e-9


@PROPS
@given(p=st.integers(2, 7).flatmap(_logit_vector))
def test_every_divergence_but_biased_sinkhorn_is_zero_at_p_equals_q(p):
    for name in NAMES:
        val = float(divergence(name, p, p))
        if name == "sinkhorn":
            continue
        assert abs(val) <= 1e-9, (name, val)
    assert float(divergence("sinkhorn_div", p, p, entropic=True)) == pytest.approx(0.0, abs=1e-9)


def test_plain_sinkhorn_is_biased_positive_at_p_equals_q():
    p = _t([0.2, 0.3, 0.5])
    assert float(divergence("sinkhorn", p, p, epsilon=1.0)) > 0.05


@PROPS
@given(pq=pairs(v_max=6))
def test_symmetric_registry_flag_holds_for_symmetric_divergences(pq):
    p, q = pq
    for name in NAMES:
        if DIVERGENCES[name].symmetric:
            a, b = float(divergence(name, p, q)), float(divergence(name, q, p))
            # Sinkhorn stops at a marginal violation of STOP_THR (1e-9), so its value is exact to
            # about 1e-9 times the largest cost (here V - 1), not to rounding
            tol = 10 * STOP_THR * (p.shape[-1] - 1) if "epsilon" in DIVERGENCES[name].defaults() else 1e-9
            assert a == pytest.approx(b, rel=1e-6, abs=tol), name


def test_symmetric_flag_is_false_exactly_for_divergences_with_an_asymmetric_pair():
    rng = np.random.default_rng(3)
    batch = [(_random_simplex(rng, 6), _random_simplex(rng, 6)) for _ in range(8)]
    for name in NAMES:
        gaps = [abs(_d(name, p, q) - _d(name, q, p)) for p, q in batch]
        assert (max(gaps) < 1e-8) == DIVERGENCES[name].symmetric, (name, max(gaps))


@PROPS
@given(pq=pairs(), beta=st.floats(0.05, 0.95))
def test_generalized_jsd_swaps_beta_with_its_arguments(pq, beta):
    """The registry's symmetric flag holds at the default beta = 0.5 only: JSD_b(p, q) = JSD_(1-b)(q, p)."""
    p, q = pq
    a = float(divergence("jsd", p, q, beta=beta))
    assert a == pytest.approx(float(divergence("jsd", q, p, beta=1 - beta)), rel=1e-9, abs=1e-12)


def test_generalized_jsd_is_not_symmetric_away_from_beta_one_half():
    p, q = [0.7, 0.2, 0.1], [0.1, 0.3, 0.6]
    assert abs(_d("jsd", p, q, beta=0.2) - _d("jsd", q, p, beta=0.2)) > 1e-3


@PROPS
@given(pq=pairs(positive=False))
def test_jsd_is_at_most_log2_and_tvd_at_most_one(pq):
    p, q = pq
    assert float(divergence("jsd", p, q)) <= math.log(2) + 1e-12
    assert float(divergence("tvd", p, q)) <= 1.0 + 1e-12


@PROPS
@given(pq=pairs(positive=False), alpha=st.floats(0.01, 1.0))
def test_skew_kls_are_bounded_by_log_one_over_alpha(pq, alpha):
    p, q = pq
    bound = math.log(1 / alpha) + 1e-9
    assert float(divergence("skl", p, q, alpha=alpha)) <= bound
    assert float(divergence("srkl", p, q, alpha=alpha)) <= bound


def test_bounds_are_attained_for_disjoint_supports():
    p, q = [0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]
    assert _d("jsd", p, q) == pytest.approx(math.log(2), rel=1e-12)
    assert _d("tvd", p, q) == pytest.approx(1.0)
    assert _d("skl", p, q, alpha=0.2) == pytest.approx(math.log(5), rel=1e-12)


@PROPS
@given(pq=pairs(positive=False))
def test_forward_kl_of_p_q_equals_reverse_kl_of_q_p(pq):
    p, q = pq
    a, b = float(divergence("fkl", p, q)), float(divergence("rkl", q, p))
    assert a == b or a == pytest.approx(b, rel=1e-12)


@PROPS
@given(z=st.integers(2, 6).flatmap(
           lambda v: st.tuples(*[st.lists(st.floats(-20, 20), min_size=v, max_size=v)] * 2)),
       shifts=st.tuples(st.floats(-30, 30), st.floats(-30, 30)))
def test_divergence_from_logits_is_shift_invariant(z, shifts):
    zp, zq = _t(z[0]), _t(z[1])
    for name in NAMES:
        a = divergence_from_log(name, zp, zq, normalize=True)
        b = divergence_from_log(name, zp + shifts[0], zq + shifts[1], normalize=True)
        assert float(a) == pytest.approx(float(b), rel=1e-7, abs=1e-9), name


# --------------------------------------------------------------------------- dtypes, shapes, extremes
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", NAMES)
def test_values_and_logit_gradients_stay_finite_at_logits_of_plus_minus_50(name, dtype):
    zp = torch.tensor([50.0, -50.0, 0.0, -50.0, 50.0], dtype=dtype)
    for zq0 in ([-50.0, 50.0, -50.0, 0.0, -50.0], [50.0, 50.0, 50.0, -50.0, -50.0]):
        zq = torch.tensor(zq0, dtype=dtype, requires_grad=True)
        val = divergence_from_log(name, zp, zq, normalize=True)
        val.backward()
        assert torch.isfinite(val), (name, val)
        assert torch.isfinite(zq.grad).all(), (name, zq.grad)


@pytest.mark.parametrize("name", NAMES)
def test_float32_batches_broadcast_and_match_float64_row_by_row(name):
    rng = np.random.default_rng(4)
    p = np.stack([_random_simplex(rng, 5) for _ in range(2)])[:, None, :]  # (2, 1, 5)
    q = np.stack([_random_simplex(rng, 5) for _ in range(3)])  # (3, 5)
    out = divergence(name, torch.tensor(p, dtype=torch.float32), torch.tensor(q, dtype=torch.float32))
    assert out.shape == (2, 3) and out.dtype == torch.float32
    ref = np.array([[_d(name, p[i, 0], q[j]) for j in range(3)] for i in range(2)])
    np.testing.assert_allclose(out.numpy(), ref, rtol=2e-4, atol=2e-5)


# --------------------------------------------------------------------------- gradients
def _gradcheck_inputs(v=5, seed=5):
    rng = np.random.default_rng(seed)
    return _t(_random_simplex(rng, v) * 0.9 + 0.1 / v), _t(rng.normal(size=v))


@pytest.mark.parametrize("name", [n for n in NAMES if n != "akl"])
def test_gradcheck_with_respect_to_student_logits_float64(name):
    p, z = _gradcheck_inputs()
    z.requires_grad_(True)
    log_p = p.log()
    assert torch.autograd.gradcheck(lambda z_: divergence_from_log(name, log_p, z_, normalize=True), (z,),
                                    eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("name", ["fkl", "rkl", "jsd", "tvd", "skl", "srkl", "fkl_rkl"])
def test_gradcheck_with_respect_to_free_student_probabilities_float64(name):
    p, _ = _gradcheck_inputs(seed=6)
    q = _t(_random_simplex(np.random.default_rng(7), 5) * 0.9 + 0.02).requires_grad_(True)  # off the simplex
    log_p = p.log()
    assert torch.autograd.gradcheck(lambda q_: divergence_from_log(name, log_p, q_.log()), (q,),
                                    eps=1e-7, atol=1e-6, rtol=1e-4)


def _akl_fixed_weights(log_p, log_q, w_head):
    kl_pq = (log_p.exp() * (log_p - log_q)).sum(-1)
    kl_qp = (log_q.exp() * (log_q - log_p)).sum(-1)
    return w_head * kl_pq + (1 - w_head) * kl_qp


def test_akl_gradient_is_that_of_fkl_rkl_with_weights_held_fixed():
    p, z = _gradcheck_inputs(v=8, seed=8)
    log_p = p.log()
    q0 = torch.softmax(z, -1).numpy()
    ref_value, head = _akl_numpy(p.numpy(), q0)
    err = np.abs(p.numpy() - q0)
    w_head = err[head].sum() / err.sum()  # fixed numbers: no graph
    z1 = z.clone().requires_grad_(True)
    akl = divergence_from_log("akl", log_p, z1, normalize=True)
    akl.backward()
    assert akl.item() == pytest.approx(ref_value, rel=1e-10)
    z2 = z.clone().requires_grad_(True)
    _akl_fixed_weights(log_p, torch.log_softmax(z2, -1), w_head).backward()
    torch.testing.assert_close(z1.grad, z2.grad, rtol=1e-10, atol=1e-12)
    # and the surrogate's own gradient is right (finite differences)
    z3 = z.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda z_: _akl_fixed_weights(log_p, torch.log_softmax(z_, -1), w_head), (z3,))


def test_akl_gradient_differs_from_one_that_flows_through_the_weights():
    """The detached-weights test above can fail: letting q's gradient reach the weights changes it."""
    p, z = _gradcheck_inputs(v=8, seed=8)
    log_p = p.log()
    head = akl_split(p, p)["head_mask"]
    z1 = z.clone().requires_grad_(True)
    divergence_from_log("akl", log_p, z1, normalize=True).backward()
    z2 = z.clone().requires_grad_(True)
    log_q = torch.log_softmax(z2, -1)
    gap = (p - log_q.exp()).abs()
    w_head = gap[head].sum() / gap.sum()  # not detached
    _akl_fixed_weights(log_p, log_q, w_head).backward()
    assert (z1.grad - z2.grad).abs().max() > 1e-4


def test_akl_is_zero_with_zero_gradient_at_p_equals_q():
    p = _t([0.4, 0.3, 0.2, 0.1])
    z = p.log().clone().requires_grad_(True)
    val = divergence_from_log("akl", p.log(), z, normalize=True)
    val.backward()
    assert float(val.detach()) == 0.0
    assert torch.isfinite(z.grad).all() and z.grad.abs().max() < 1e-12


# --------------------------------------------------------------------------- AKL split
@pytest.mark.parametrize("mu", [0.0, 0.2, 0.5, 0.95])
def test_akl_split_head_follows_cumulative_mass_rule_with_top1_always_head(mu):
    rng = np.random.default_rng(9)
    for _ in range(5):
        p, q = _random_simplex(rng, 12), _random_simplex(rng, 12)
        split = akl_split(_t(p), _t(q), mu)
        _, head = _akl_numpy(p, q, mu)
        np.testing.assert_array_equal(split["head_mask"].numpy(), head)
        assert split["head_mask"][int(np.argmax(p))]
        err = np.abs(p - q)
        assert float(split["w_head"]) == pytest.approx(err[head].sum() / err.sum(), rel=1e-12)
        assert float(split["w_head"] + split["w_tail"]) == pytest.approx(1.0)


@pytest.mark.parametrize("mu", [0.0, 0.3, 0.5, 0.95, 1.0])
def test_akl_split_head_equals_the_stable_sort_rule_with_ties_and_heads_longer_than_the_top_64(mu):
    rng = np.random.default_rng(11)
    rows = [
        np.full(300, 1 / 300),  # all tied; the head (up to 300 classes) is longer than the top 64
        np.repeat([0.3, 0.1, 0.02], [1, 4, 10]) / 0.9,  # ties at the head's smallest value
        rng.integers(1, 4, 80).astype(float),  # few distinct values, many ties
        np.exp(rng.normal(0, 4, 2048)),  # a peaked vocabulary-sized row
        np.concatenate([np.zeros(5), [0.5, 0.5]]),  # zeros (ties) and a tie at the top
    ]
    for row in rows:
        p = row / row.sum()
        _, head = _akl_numpy(p, p, mu)
        np.testing.assert_array_equal(akl_split(_t(p), _t(p), mu)["head_mask"].numpy(), head)
    batch = np.stack([_random_simplex(rng, 100) for _ in range(6)] + [np.full(100, 0.01)])
    heads = akl_split(_t(batch), _t(batch), mu)["head_mask"].numpy()
    for p, head in zip(batch, heads):
        np.testing.assert_array_equal(head, _akl_numpy(p, p, mu)[1])


def test_akl_split_top1_is_head_even_when_it_holds_more_than_mu():
    split = akl_split(_t([0.05, 0.9, 0.05]), _t([1 / 3] * 3), mu=0.5)
    assert split["head_mask"].tolist() == [False, True, False]


def test_akl_split_works_on_batches_and_defines_equal_weights_at_p_equals_q():
    p = _t([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    split = akl_split(p, p)
    assert split["w_head"].tolist() == [0.5, 0.5]
    assert split["head_mask"].tolist() == [[True, False, False], [False, False, True]]
