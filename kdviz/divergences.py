"""Divergences used as knowledge-distillation losses, and the registry that describes them.

Convention (as in the seed slides): ``D(p, q)`` with **p the teacher** and **q the student**.
torch's ``F.kl_div(input, target)`` takes the arguments the other way round (student log-probs
first, teacher second); nothing here uses it.

Every divergence works on the last axis: ``p`` and ``q`` have shape ``(..., V)`` (broadcastable)
and the result has shape ``(...)``. All logarithms are natural; ``0 log 0 = 0``.

Two entry points:

* :func:`divergence` takes probabilities (validated: non-negative, finite, rows summing to 1).
* :func:`divergence_from_log` takes log-probabilities (or logits with ``normalize=True``). Use it
  when the student comes from a softmax: gradients then stay finite even where ``q`` underflows
  to 0 (logits of +-50), because ``log q`` is never recomputed from ``q``.
"""

from __future__ import annotations

import math

import torch

from kdviz import numerics as nx
from kdviz import transport
from kdviz.spec import DivergenceSpec, Param, validate_distribution

__all__ = [
    "DIVERGENCES",
    "DivergenceSpec",
    "Param",
    "akl_split",
    "divergence",
    "divergence_from_log",
    "validate_distribution",
]


# --------------------------------------------------------------------------- building blocks
def _kl(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    r"""KL(a || b) = sum_i a_i (log a_i - log b_i) from log-probabilities, ``0 log 0 = 0``.

    Entries with ``a_i = 0`` (``log a_i = -inf``) are masked *before* the subtraction so that no
    ``-inf - -inf`` (NaN) reaches the forward pass or the gradient.
    """
    a = nx.exp(log_a)
    support = log_a > float("-inf")
    diff = torch.where(support, log_a, 0.0) - torch.where(support, log_b, 0.0)  # (..., V)
    return (a * diff).sum(-1)


def _log_mix(log_a: torch.Tensor, log_b: torch.Tensor, w: float) -> torch.Tensor:
    """log(w a + (1 - w) b), computed with logaddexp so that tiny probabilities stay exact."""
    if w <= 0.0:
        return log_b
    if w >= 1.0:
        return log_a
    return nx.logaddexp(log_a + math.log(w), log_b + math.log1p(-w))


# --------------------------------------------------------------------------- the divergences
def forward_kl(log_p, log_q):
    r"""Forward KL, zero-avoiding ("mean-seeking").

    .. math:: \mathrm{KL}(p\|q) = \sum_y p(y) \log \frac{p(y)}{q(y)}

    Minimising it over q is maximum likelihood / cross-entropy with soft targets.
    """
    return _kl(log_p, log_q)


def reverse_kl(log_p, log_q):
    r"""Reverse KL, zero-forcing ("mode-seeking").

    .. math:: \mathrm{RKL}(p, q) = \mathrm{KL}(q\|p) = \sum_y q(y) \log \frac{q(y)}{p(y)}
    """
    return _kl(log_q, log_p)


def generalized_jsd(log_p, log_q, beta: float = 0.5):
    r"""Generalised Jensen-Shannon divergence (GKD, Agarwal et al. 2024).

    .. math:: \mathrm{JSD}_\beta(p, q) = \beta\,\mathrm{KL}(p\|m) + (1-\beta)\,\mathrm{KL}(q\|m),
              \quad m = \beta p + (1-\beta) q

    ``beta = 0.5`` is the classic JSD, bounded by ``log 2``. It is 0 for ``beta`` in {0, 1}.
    """
    log_m = _log_mix(log_p, log_q, beta)
    return beta * _kl(log_p, log_m) + (1.0 - beta) * _kl(log_q, log_m)


def total_variation(log_p, log_q):
    r"""Total variation distance, in [0, 1].

    .. math:: \mathrm{TVD}(p, q) = \tfrac12 \sum_y |p(y) - q(y)| = 1 - \sum_y \min(p(y), q(y))
    """
    return 0.5 * (nx.exp(log_p) - nx.exp(log_q)).abs().sum(-1)


def skew_kl(log_p, log_q, alpha: float = 0.1):
    r"""Skew forward KL (DistiLLM, Ko et al. 2024).

    .. math:: \mathrm{SKL}_\alpha(p, q) = \mathrm{KL}(p \,\|\, \alpha p + (1-\alpha) q)

    ``alpha = 0`` is forward KL; the mixture keeps the gradient coefficient below ``1/(alpha p)``.
    """
    return _kl(log_p, _log_mix(log_p, log_q, alpha))


def skew_reverse_kl(log_p, log_q, alpha: float = 0.1):
    r"""Skew reverse KL (DistiLLM).

    .. math:: \mathrm{SRKL}_\alpha(p, q) = \mathrm{KL}(q \,\|\, \alpha q + (1-\alpha) p)
    """
    return _kl(log_q, _log_mix(log_q, log_p, alpha))


def fkl_plus_rkl(log_p, log_q):
    r"""Sum of both directions (the "FKL+RKL" row of the AKL table; twice Jeffreys' mean).

    .. math:: \mathrm{KL}(p\|q) + \mathrm{KL}(q\|p)
    """
    return _kl(log_p, log_q) + _kl(log_q, log_p)


def akl_split(p: torch.Tensor, q: torch.Tensor, mu: float = 0.5):
    """AKL's head/tail split of the teacher and its adaptive weights (Wu et al. 2024, ``AKL.py``).

    Sort the teacher descending; the head is the positions whose cumulative teacher mass is
    ``<= mu`` (the top-1 class is always head), the tail is the rest. With errors
    ``|p - q|``, ``g_head`` and ``g_tail`` sum them over head and tail, and
    ``w_head = g_head / (g_head + g_tail)``, ``w_tail = 1 - w_head``. ``q`` is detached.
    When ``p == q`` both gaps are 0: the weights are defined as (0.5, 0.5) there, and the AKL
    value is 0 anyway.

    Args:
        p: teacher probabilities ``(..., V)``; q: student probabilities ``(..., V)``.

    Returns:
        dict of tensors: ``head_mask`` (..., V) bool in the original class order,
        ``g_head``, ``g_tail``, ``w_head``, ``w_tail`` (...).
    """
    p, q = torch.broadcast_tensors(p, q.detach())
    p_sorted, order = torch.sort(p, dim=-1, descending=True, stable=True)  # (..., V)
    cum = torch.cumsum(p_sorted, dim=-1)
    head_sorted = cum <= mu
    head_sorted[..., 0] = True  # the top-1 class is always head
    head_mask = torch.empty_like(head_sorted).scatter_(-1, order, head_sorted)  # back to class order
    gap = (p - q).abs()
    g_head = torch.where(head_mask, gap, 0.0).sum(-1)
    g_tail = torch.where(head_mask, 0.0, gap).sum(-1)
    total = g_head + g_tail
    # p == q: both gaps vanish and the paper's ratio is 0/0; any weights give AKL = 0 there.
    w_head = torch.where(total > 0, g_head / torch.where(total > 0, total, 1.0), 0.5)
    return {"head_mask": head_mask, "g_head": g_head, "g_tail": g_tail,
            "w_head": w_head, "w_tail": 1.0 - w_head}


def adaptive_kl(log_p, log_q, mu: float = 0.5):
    r"""Adaptive KL (AKL, Wu et al. 2024): FKL on the head, RKL on the tail, weighted by the gaps.

    .. math:: \mathrm{AKL}(p, q) = \frac{g_{head}}{g_{head}+g_{tail}}\mathrm{KL}(p\|q)
              + \frac{g_{tail}}{g_{head}+g_{tail}}\mathrm{KL}(q\|p)

    The weights see a detached q (no gradient through them); the value is 0 when ``p == q``.
    """
    split = akl_split(nx.exp(log_p), nx.exp(log_q), mu)
    return split["w_head"] * _kl(log_p, log_q) + split["w_tail"] * _kl(log_q, log_p)


def _wasserstein(log_p, log_q, x, order: int = 1):
    return transport.wasserstein(nx.exp(log_p), nx.exp(log_q), x, order=order)


def _sinkhorn(log_p, log_q, x, order: int = 1, epsilon: float = 1.0):
    return transport.sinkhorn(nx.exp(log_p), nx.exp(log_q), x, order=order, epsilon=epsilon)


def _sinkhorn_div(log_p, log_q, x, order: int = 1, epsilon: float = 1.0, entropic: bool = False):
    return transport.sinkhorn_divergence(nx.exp(log_p), nx.exp(log_q), x, order=order,
                                         epsilon=epsilon, entropic=entropic)


# --------------------------------------------------------------------------- the registry
ALPHA = Param("alpha", 0.1, 0.0, 1.0, help="skew: weight of the divergence's own first argument in the mixture")
BETA = Param("beta", 0.5, 0.0, 1.0, help="teacher weight in the JSD mixture m = beta p + (1 - beta) q")
MU = Param("mu", 0.5, 0.0, 1.0, help="head = classes holding the first mu of the teacher's mass")
ORDER = Param("order", 1, 1, 2, choices=(1, 2), help="ground cost |x_i - x_j|^order")
EPSILON = Param("epsilon", 1.0, 0.0, 1e6, low_open=True, help="entropic regularisation eps = 1/lambda")


DIVERGENCES: dict[str, DivergenceSpec] = {s.name: s for s in [
    DivergenceSpec(
        "fkl", "Forward KL", forward_kl,
        r"\mathrm{KL}(p\|q)=\sum_y p(y)\log\frac{p(y)}{q(y)}",
        behaviour="zero-avoiding, mean-seeking: covers every mode of p",
        source="Hinton et al. 2015; MiniLLM (Gu et al. 2023)",
        kl_terms=lambda: [("p", 0.0, 1.0)],
        color="#1f77b4"),
    DivergenceSpec(
        "rkl", "Reverse KL", reverse_kl,
        r"\mathrm{RKL}(p,q)=\mathrm{KL}(q\|p)=\sum_y q(y)\log\frac{q(y)}{p(y)}",
        behaviour="zero-forcing, mode-seeking: locks onto one mode of p",
        source="MiniLLM (Gu et al. 2023)",
        kl_terms=lambda: [("q", 0.0, 1.0)],
        color="#d62728"),
    DivergenceSpec(
        "jsd", "JSD", generalized_jsd,
        r"\mathrm{JSD}_\beta(p,q)=\beta\,\mathrm{KL}(p\|m)+(1-\beta)\,\mathrm{KL}(q\|m),\;m=\beta p+(1-\beta)q",
        params=(BETA,), symmetric=True, bounded="<= log 2 (beta = 0.5)",
        behaviour="symmetric and bounded; saturates at log 2 and loses its gradient without overlap",
        source="Lin 1991; generalised in GKD (Agarwal et al. 2024)",
        kl_terms=lambda beta: [("p", beta, beta), ("q", 1.0 - beta, 1.0 - beta)],
        color="#2ca02c"),
    DivergenceSpec(
        "tvd", "TVD", total_variation,
        r"\mathrm{TVD}(p,q)=\tfrac12\sum_y|p(y)-q(y)|=1-\sum_y\min(p(y),q(y))",
        symmetric=True, bounded="[0, 1]",
        behaviour="gradient coefficient 1/p instead of 1/q, none when q overestimates: robust to outliers",
        source="f-distill (Wen et al. 2023)",
        color="#9467bd"),
    DivergenceSpec(
        "skl", "Skew KL", skew_kl,
        r"\mathrm{SKL}_\alpha(p,q)=\mathrm{KL}\big(p\,\|\,\alpha p+(1-\alpha)q\big)",
        params=(ALPHA,), bounded="<= log(1/alpha)",
        behaviour="forward KL with the 1/q gradient tamed by mixing p into q",
        source="DistiLLM (Ko et al. 2024)",
        kl_terms=lambda alpha: [("p", alpha, 1.0)],
        color="#17becf"),
    DivergenceSpec(
        "srkl", "Skew reverse KL", skew_reverse_kl,
        r"\mathrm{SRKL}_\alpha(p,q)=\mathrm{KL}\big(q\,\|\,\alpha q+(1-\alpha)p\big)",
        params=(ALPHA,), bounded="<= log(1/alpha)",
        behaviour="reverse KL with a skewed, better-conditioned gradient",
        source="DistiLLM (Ko et al. 2024)",
        kl_terms=lambda alpha: [("q", alpha, 1.0)],
        color="#ff7f0e"),
    DivergenceSpec(
        "fkl_rkl", "FKL+RKL", fkl_plus_rkl,
        r"\mathrm{KL}(p\|q)+\mathrm{KL}(q\|p)",
        symmetric=True,
        behaviour="both directions at once: covers modes and penalises mass where p has none",
        source="AKL paper's baseline (Wu et al. 2024)",
        kl_terms=lambda: [("p", 0.0, 1.0), ("q", 0.0, 1.0)],
        color="#8c564b"),
    DivergenceSpec(
        "akl", "AKL", adaptive_kl,
        r"\mathrm{AKL}(p,q)=\frac{g_{head}}{g_{head}+g_{tail}}\mathrm{KL}(p\|q)"
        r"+\frac{g_{tail}}{g_{head}+g_{tail}}\mathrm{KL}(q\|p)",
        params=(MU,),
        behaviour="weights FKL (head) and RKL (tail) by where the student's error is",
        source="AKL (Wu et al. 2024)",
        kl_terms=lambda mu: [("p", 0.0, "w_head"), ("q", 0.0, "w_tail")],
        color="#e377c2"),
    DivergenceSpec(
        "wasserstein", "Wasserstein", _wasserstein,
        r"W(p,q)=\min_{\Gamma\in\Pi(p,q)}\langle\Gamma,C\rangle,\;C_{ij}=|x_i-x_j|^{r}",
        params=(ORDER,), symmetric=True, needs_support=True,
        behaviour="moves mass along the support: grows with distance even without overlap",
        source="Kantorovich; seed slides (linear-programming form)",
        color="#bcbd22"),
    DivergenceSpec(
        "sinkhorn", "Sinkhorn", _sinkhorn,
        r"W_\varepsilon(p,q)=\langle\Gamma_\varepsilon,C\rangle,\;"
        r"\Gamma_\varepsilon=\arg\min_{\Gamma\in\Pi(p,q)}\langle\Gamma,C\rangle-\varepsilon H(\Gamma)",
        params=(ORDER, EPSILON), symmetric=True, needs_support=True,
        behaviour="entropic OT: smooth and fast, but biased (W_eps(p, p) > 0)",
        source="Cuturi 2013; SinKD (Cui et al. 2024)",
        color="#7f7f7f"),
    DivergenceSpec(
        "sinkhorn_div", "Sinkhorn divergence", _sinkhorn_div,
        r"S_\varepsilon(p,q)=W_\varepsilon(p,q)-\tfrac12W_\varepsilon(p,p)-\tfrac12W_\varepsilon(q,q)",
        params=(ORDER, EPSILON), symmetric=True, needs_support=True, flags=frozenset({"entropic"}),
        behaviour="removes the entropic bias: 0 at p = q",
        source="seed slides; entropic=True: Feydy et al. 2019",
        color="#6b6ecf"),
]}


def get_spec(name: str) -> DivergenceSpec:
    """The registry entry for ``name`` or a ValueError listing the known names."""
    try:
        return DIVERGENCES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown divergence {name!r}; expected one of {sorted(DIVERGENCES)}") from None


def _prepare(spec: DivergenceSpec, log_p, log_q, x, params):
    if log_p.shape[-1] != log_q.shape[-1]:
        raise ValueError(f"p and q must have the same number of classes, got {log_p.shape[-1]} and {log_q.shape[-1]}")
    try:
        torch.broadcast_shapes(log_p.shape, log_q.shape)
    except RuntimeError:
        raise ValueError(f"p and q must have broadcastable shapes, got {tuple(log_p.shape)} "
                         f"and {tuple(log_q.shape)}") from None
    if log_p.dtype != log_q.dtype:
        dtype = torch.promote_types(log_p.dtype, log_q.dtype)
        log_p, log_q = log_p.to(dtype), log_q.to(dtype)
    kwargs = spec.resolve(params)
    if spec.needs_support:
        kwargs["x"] = transport.support(x, log_p.shape[-1], log_p.dtype)
    return log_p, log_q, kwargs


def divergence(name: str, p, q, *, x=None, **params) -> torch.Tensor:
    """``D_name(p, q)`` for teacher ``p`` and student ``q`` probabilities of shape ``(..., V)``.

    Args:
        name: a key of :data:`DIVERGENCES`.
        p, q: probability tensors (non-negative, rows summing to 1), broadcastable.
        x: support coordinates ``(V,)`` for the transport divergences (default ``arange(V)``).
        **params: the divergence's parameters (see ``DIVERGENCES[name].params``).

    Returns:
        tensor of shape ``broadcast(p, q).shape[:-1]``, differentiable in ``q``.
    Raises:
        ValueError: unknown name or parameter, out-of-range parameter, invalid distributions.
    """
    spec = get_spec(name)
    p = validate_distribution(p, "p (teacher)")
    q = validate_distribution(q, "q (student)")
    log_p, log_q, kwargs = _prepare(spec, torch.log(p), torch.log(q), x, params)
    return spec.fn(log_p, log_q, **kwargs)


def divergence_from_log(name: str, log_p, log_q, *, x=None, normalize: bool = False, **params):
    """Like :func:`divergence` but from log-probabilities (``normalize=True``: from logits).

    No validation of the rows beyond NaN checks: the caller (the fitting engine) builds them with
    ``log_softmax`` and friends. ``-inf`` entries mean probability 0.
    """
    spec = get_spec(name)
    for t, what in ((log_p, "log p"), (log_q, "log q")):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise ValueError(f"{what} must be a floating tensor, got {type(t).__name__}")
        if torch.isnan(t).any() or (t == float("inf")).any():
            raise ValueError(f"{what} must not contain NaN or +inf")
    if normalize:
        log_p, log_q = torch.log_softmax(log_p, -1), torch.log_softmax(log_q, -1)
    log_p, log_q, kwargs = _prepare(spec, log_p, log_q, x, params)
    return spec.fn(log_p, log_q, **kwargs)
