"""kdviz.losses.kd_loss: per-token values against numpy/scipy and TRL, chunks, masks, extremes, errors,
and the bugs the reference libraries had (Liger #609, #974, #1453, TRL #4105, #6526)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from scipy.special import log_softmax, rel_entr

from kdviz.divergences import DIVERGENCES
from kdviz.losses import PER_TOKEN, call_example, kd_loss

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # trl.experimental warns on import
V = 13
PARAMS = {"jsd": {"beta": 0.3}, "skl": {"alpha": 0.2}, "srkl": {"alpha": 0.2}, "akl": {"mu": 0.6}}
ENDPOINTS = [(name, {prm.name: v})
             for name in PER_TOKEN for prm in DIVERGENCES[name].params for v in (0.0, 1.0)]


def logits(*shape, seed=0, scale=2.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).to(dtype)


def batch(seed=0, dtype=torch.float64, pad=True):
    s, t = logits(3, 7, V, seed=seed, dtype=dtype), logits(3, 7, V, seed=seed + 100, dtype=dtype)
    labels = torch.randint(0, V, (3, 7), generator=torch.Generator().manual_seed(seed))
    if pad:
        labels[0, 4:] = -100
        labels[2, :2] = -100
    return s, t, labels


# --------------------------------------------------------------------------- independent reference
def _akl_weights(p, q, mu):
    order = np.argsort(-p, kind="stable")
    head_sorted = np.cumsum(p[order]) <= mu
    head_sorted[0] = True  # the top teacher token is always head
    head = np.zeros_like(head_sorted)
    head[order] = head_sorted
    gap = np.abs(p - q)
    g_head, g_tail = gap[head].sum(), gap[~head].sum()
    return (0.5, 0.5) if g_head + g_tail == 0 else (g_head / (g_head + g_tail), g_tail / (g_head + g_tail))


def reference(name, student, teacher, temperature=1.0, **kw):
    """Per-token D(p, q) in numpy float64, written from the formulas (scipy's rel_entr for KL)."""
    p = np.exp(log_softmax(teacher / temperature, axis=-1))
    q = np.exp(log_softmax(student / temperature, axis=-1))
    kl = lambda a, b: rel_entr(a, b).sum(-1)  # noqa: E731
    if name == "fkl":
        return kl(p, q)
    if name == "rkl":
        return kl(q, p)
    if name == "fkl_rkl":
        return kl(p, q) + kl(q, p)
    if name == "tvd":
        return 0.5 * np.abs(p - q).sum(-1)
    if name == "jsd":
        b = kw["beta"]
        m = b * p + (1 - b) * q
        return b * kl(p, m) + (1 - b) * kl(q, m)
    if name == "skl":
        return kl(p, kw["alpha"] * p + (1 - kw["alpha"]) * q)
    if name == "srkl":
        return kl(q, kw["alpha"] * q + (1 - kw["alpha"]) * p)
    if name == "akl":
        flat_p, flat_q = p.reshape(-1, p.shape[-1]), q.reshape(-1, q.shape[-1])
        w = np.array([_akl_weights(a, b, kw["mu"]) for a, b in zip(flat_p, flat_q)]).reshape(*p.shape[:-1], 2)
        return w[..., 0] * kl(p, q) + w[..., 1] * kl(q, p)
    raise KeyError(name)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("name", PER_TOKEN)
def test_every_per_token_divergence_equals_the_numpy_reference_at_each_token(name, temperature):
    s, t, labels = batch()
    kw = PARAMS.get(name, {})
    got = kd_loss(s, t, name, labels=labels, temperature=temperature, reduction="none", **kw)
    want = reference(name, s.numpy(), t.numpy(), temperature, **PARAMS.get(name, {}))
    want[labels.numpy() == -100] = 0.0
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-10, atol=1e-12)


def test_per_token_divergences_are_exactly_the_registry_entries_and_exclude_only_transport():
    assert set(PER_TOKEN) == {n for n, s in DIVERGENCES.items() if not s.needs_support}
    assert set(PER_TOKEN) == {"fkl", "rkl", "jsd", "tvd", "skl", "srkl", "fkl_rkl", "akl"}


@pytest.mark.parametrize("name", PER_TOKEN)
def test_mean_is_the_sum_over_valid_tokens_divided_by_their_number(name):
    s, t, labels = batch()
    kw = PARAMS.get(name, {})
    per = kd_loss(s, t, name, labels=labels, reduction="none", **kw)
    n_valid = int((labels != -100).sum())
    assert torch.allclose(kd_loss(s, t, name, labels=labels, reduction="sum", **kw), per.sum())
    assert torch.allclose(kd_loss(s, t, name, labels=labels, **kw), per.sum() / n_valid)


# --------------------------------------------------------------------------- TRL parity
@pytest.mark.parametrize("beta", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_jsd_equals_trl_generalized_jsd_loss_with_labels_in_float64(beta, temperature):
    from trl.experimental.gkd.gkd_trainer import GKDTrainer

    s, t, labels = batch(seed=3)
    s.requires_grad_(True)
    ours = kd_loss(s, t, "jsd", beta=beta, labels=labels, temperature=temperature)
    trl = GKDTrainer.generalized_jsd_loss(s, t, labels=labels, beta=beta, temperature=temperature)
    assert abs(ours.item() - trl.item()) <= 1e-6 * max(1.0, abs(trl.item()))
    (g_ours,), (g_trl,) = torch.autograd.grad(ours, s), torch.autograd.grad(trl, s)
    torch.testing.assert_close(g_ours, g_trl, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("beta, name", [(0.0, "fkl"), (1.0, "rkl")])
def test_trls_special_cased_beta_endpoints_are_forward_and_reverse_kl(beta, name):
    from trl.experimental.gkd.gkd_trainer import GKDTrainer

    s, t, labels = batch(seed=4)
    trl = GKDTrainer.generalized_jsd_loss(s, t, labels=labels, beta=beta)
    assert torch.allclose(kd_loss(s, t, name, labels=labels), trl, rtol=1e-10)
    assert kd_loss(s, t, "jsd", beta=beta, labels=labels).item() == 0.0  # the formula itself is 0 there


def test_trl_4105_without_labels_mean_divides_by_tokens_not_by_batch():
    from trl.experimental.gkd.gkd_trainer import GKDTrainer

    s, t, _ = batch(seed=5)
    ours = kd_loss(s, t, "jsd")
    per = kd_loss(s, t, "jsd", reduction="none")
    assert torch.allclose(ours, per.sum() / (3 * 7))
    trl = GKDTrainer.generalized_jsd_loss(s, t, beta=0.5)  # TRL's documented batchmean: / B
    assert torch.allclose(trl, per.sum() / 3) and not torch.allclose(ours, trl)


# --------------------------------------------------------------------------- chunks
@pytest.mark.parametrize("chunk_size", [1, 4, 100])
@pytest.mark.parametrize("name", PER_TOKEN)
def test_chunked_values_and_gradients_equal_unchunked(name, chunk_size):
    s, t, labels = batch(seed=6)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[1, 3] = False
    kw = PARAMS.get(name, {})
    for reduction in ("mean", "sum", "none"):
        out = {}
        for cs in (None, chunk_size):
            x = s.clone().requires_grad_(True)
            loss = kd_loss(x, t, name, labels=labels, mask=mask, temperature=1.7, reduction=reduction,
                           chunk_size=cs, **kw)
            weights = torch.linspace(0.5, 2.0, loss.numel(), dtype=loss.dtype).reshape(loss.shape)
            (g,) = torch.autograd.grad((loss * weights).sum(), x)
            out[cs] = (loss.detach(), g)
        torch.testing.assert_close(out[None][0], out[chunk_size][0], rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(out[None][1], out[chunk_size][1], rtol=1e-10, atol=1e-14)


def test_trl_6526_chunked_path_keeps_the_temperature():
    s, t, labels = batch(seed=7)
    at_4 = kd_loss(s, t, "jsd", labels=labels, temperature=4.0)
    assert torch.allclose(kd_loss(s, t, "jsd", labels=labels, temperature=4.0, chunk_size=2), at_4)
    assert not torch.allclose(kd_loss(s, t, "jsd", labels=labels, temperature=1.0, chunk_size=2), at_4)


def test_chunked_forward_without_grad_gives_the_same_values():
    s, t, labels = batch(seed=8)
    with torch.no_grad():
        chunked = kd_loss(s, t, "akl", labels=labels, chunk_size=5, reduction="none")
    torch.testing.assert_close(chunked, kd_loss(s, t, "akl", labels=labels, reduction="none"))


# --------------------------------------------------------------------------- masks and the known bugs
@pytest.mark.parametrize("chunk_size", [None, 3])
def test_liger_974_ignored_positions_change_nothing_and_get_no_gradient(chunk_size):
    s, t, labels = batch(seed=9)
    x = s.clone().requires_grad_(True)
    loss = kd_loss(x, t, "jsd", labels=labels, chunk_size=chunk_size)
    (g,) = torch.autograd.grad(loss, x)
    ignored = labels == -100
    s2, t2 = s.clone(), t.clone()
    s2[ignored], t2[ignored] = 50.0 * torch.randn_like(s2[ignored]), -30.0
    assert torch.allclose(kd_loss(s2, t2, "jsd", labels=labels, chunk_size=chunk_size), loss)
    assert (g[ignored] == 0).all() and (g[~ignored] != 0).any()


def test_mask_and_labels_combine_and_a_custom_ignore_index_is_honoured():
    s, t, labels = batch(seed=10, pad=False)
    labels[0, 0] = 7
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[2, 5] = False
    per = kd_loss(s, t, "fkl", labels=labels, ignore_index=7, mask=mask, reduction="none")
    valid = (labels != 7) & mask
    assert (per[~valid] == 0).all() and (per[valid] > 0).all()
    mean = kd_loss(s, t, "fkl", labels=labels, ignore_index=7, mask=mask)
    assert torch.allclose(mean, per.sum() / valid.sum())


@pytest.mark.parametrize("chunk_size", [None, 2])
def test_liger_609_beta_reaches_the_loss_and_the_mixture_weights_are_not_swapped(chunk_size):
    s, t, labels = batch(seed=11)
    b01 = kd_loss(s, t, "jsd", beta=0.1, labels=labels, chunk_size=chunk_size, reduction="none")
    b09 = kd_loss(s, t, "jsd", beta=0.9, labels=labels, chunk_size=chunk_size, reduction="none")
    assert not torch.allclose(b01, b09)
    # JSD_beta(p, q) = JSD_{1-beta}(q, p): swapping the roles must also swap beta
    swapped = kd_loss(t, s, "jsd", beta=0.9, labels=labels, chunk_size=chunk_size, reduction="none")
    torch.testing.assert_close(b01, swapped)
    want = reference("jsd", s.numpy(), t.numpy(), beta=0.1)
    want[labels.numpy() == -100] = 0.0
    np.testing.assert_allclose(b01.numpy(), want, rtol=1e-10)


@pytest.mark.parametrize("name", PER_TOKEN)
def test_liger_1453_no_nan_when_both_log_probs_are_far_below_minus_104(name):
    """Tokens that both teacher and student give log-prob ~ -1e4 (0 * -inf in a naive mixture)."""
    s, t = logits(4, V, seed=12, dtype=torch.float32), logits(4, V, seed=13, dtype=torch.float32)
    s[:, :5], t[:, :5] = -1e4, -1e4
    for temperature in (0.25, 1.0):
        x = s.clone().requires_grad_(True)
        loss = kd_loss(x, t, name, temperature=temperature, **PARAMS.get(name, {}))
        (g,) = torch.autograd.grad(loss, x)
        assert torch.isfinite(loss) and torch.isfinite(g).all()


@pytest.mark.parametrize("chunk_size", [None, 2])
@pytest.mark.parametrize("name", PER_TOKEN)
def test_all_positions_invalid_gives_zero_connected_to_the_graph(name, chunk_size):
    s, t, _ = batch(seed=14)
    x = s.clone().requires_grad_(True)
    loss = kd_loss(x, t, name, labels=torch.full((3, 7), -100), chunk_size=chunk_size, **PARAMS.get(name, {}))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert x.grad is not None and (x.grad == 0).all()


@pytest.mark.parametrize("name", ["akl", "jsd", "tvd", "fkl_rkl"])
def test_identical_teacher_and_student_give_zero_and_finite_gradients(name):
    s, _, labels = batch(seed=15)
    x = s.clone().requires_grad_(True)
    loss = kd_loss(x, s, name, labels=labels)
    (g,) = torch.autograd.grad(loss, x)
    assert abs(loss.item()) < 1e-12 and torch.isfinite(g).all()


def test_teacher_never_receives_a_gradient():
    s, t, labels = batch(seed=16)
    x, y = s.clone().requires_grad_(True), t.clone().requires_grad_(True)
    for cs in (None, 3):
        kd_loss(x, y, "jsd", labels=labels, chunk_size=cs).backward()
        assert y.grad is None and x.grad is not None


# --------------------------------------------------------------------------- extremes and dtypes
@pytest.mark.parametrize("chunk_size", [None, 3])
@pytest.mark.parametrize("temperature", [0.25, 1.0, 4.0])
@pytest.mark.parametrize("name, params", [(n, PARAMS.get(n, {})) for n in PER_TOKEN] + ENDPOINTS)
def test_extreme_logits_temperatures_and_parameter_endpoints_give_finite_values_and_gradients(
        name, params, temperature, chunk_size):
    g = torch.Generator().manual_seed(17)
    s = 1e4 * torch.sign(torch.randn(2, 3, V, generator=g))  # logits of +-1e4
    t = 1e4 * torch.sign(torch.randn(2, 3, V, generator=g))
    t[0, 0] = s[0, 0]  # one token where they agree exactly
    x = s.clone().requires_grad_(True)
    loss = kd_loss(x, t, name, temperature=temperature, chunk_size=chunk_size, reduction="none", **params)
    (grad,) = torch.autograd.grad(loss.sum(), x)
    assert torch.isfinite(loss).all() and (loss >= 0).all() and torch.isfinite(grad).all()


@pytest.mark.parametrize("name", PER_TOKEN)
def test_bf16_inputs_are_computed_in_float32_with_a_bf16_gradient(name):
    s, t, labels = batch(seed=18, dtype=torch.bfloat16)
    x = s.clone().requires_grad_(True)
    loss = kd_loss(x, t, name, labels=labels, temperature=0.5, **PARAMS.get(name, {}))
    (g,) = torch.autograd.grad(loss, x)
    assert loss.dtype == torch.float32 and g.dtype == torch.bfloat16 and torch.isfinite(g).all()
    exact = kd_loss(s.float(), t.float(), name, labels=labels, temperature=0.5, **PARAMS.get(name, {}))
    assert torch.allclose(loss, exact, rtol=1e-6)
    chunked = kd_loss(x, t, name, labels=labels, temperature=0.5, chunk_size=4, **PARAMS.get(name, {}))
    assert torch.allclose(chunked, loss, rtol=1e-6)


def test_t2_scale_multiplies_by_the_squared_temperature_hinton_convention():
    s, t, labels = batch(seed=19)
    plain = kd_loss(s, t, "fkl", labels=labels, temperature=3.0)
    assert torch.allclose(kd_loss(s, t, "fkl", labels=labels, temperature=3.0, t2_scale=True), 9.0 * plain)


def test_temperature_softens_both_distributions():
    s, t, labels = batch(seed=20)
    want = reference("fkl", s.numpy(), t.numpy(), 4.0)[labels.numpy() != -100].mean()
    assert np.isclose(kd_loss(s, t, "fkl", labels=labels, temperature=4.0).item(), want, rtol=1e-12)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, match", [
    (lambda s, t: kd_loss(s, t[..., :-1]), "same shape"),  # Liger #634: no silent vocab padding
    (lambda s, t: kd_loss(s, t, "kl"), "unknown divergence"),
    (lambda s, t: kd_loss(s, t, "sinkhorn"), "sinkd_loss"),
    (lambda s, t: kd_loss(s, t, "wasserstein"), "ground cost"),
    (lambda s, t: kd_loss(s, t, temperature=0.0), "temperature"),
    (lambda s, t: kd_loss(s, t, temperature=-1.0), "temperature"),
    (lambda s, t: kd_loss(s, t, temperature=float("nan")), "temperature"),
    (lambda s, t: kd_loss(s, t, "jsd", beta=1.5), "beta"),
    (lambda s, t: kd_loss(s, t, "skl", alpha=-0.1), "alpha"),
    (lambda s, t: kd_loss(s, t, "akl", mu=2), "mu"),
    (lambda s, t: kd_loss(s, t, "fkl", beta=0.5), "unknown"),
    (lambda s, t: kd_loss(s, t, reduction="batchmean"), "reduction"),
    (lambda s, t: kd_loss(s, t, chunk_size=0), "chunk_size"),
    (lambda s, t: kd_loss(s, t, labels=torch.zeros(3, 6, dtype=torch.long)), "labels"),
    (lambda s, t: kd_loss(s, t, mask=torch.ones(21, dtype=torch.bool)), "mask"),
    (lambda s, t: kd_loss(s.long(), t), "floating"),
])
def test_bad_input_raises_value_error_naming_the_problem(call, match):
    s, t, _ = batch()
    with pytest.raises(ValueError, match=match):
        call(s, t)


# --------------------------------------------------------------------------- the call shown in the app
@pytest.mark.parametrize("name", PER_TOKEN)
def test_call_example_evaluates_to_the_same_loss(name):
    s, t, labels = batch(seed=21)
    code = call_example(name, **PARAMS.get(name, {}))
    got = eval(code, {"kd_loss": kd_loss}, {"student_logits": s, "teacher_logits": t, "labels": labels})
    assert torch.equal(got, kd_loss(s, t, name, labels=labels, **PARAMS.get(name, {})))


def test_call_example_covers_every_registry_divergence_and_validates_params():
    for name in DIVERGENCES:
        assert call_example(name).startswith(("kd_loss(", "sinkd_loss("))
    with pytest.raises(ValueError, match="beta"):
        call_example("jsd", beta=2.0)
