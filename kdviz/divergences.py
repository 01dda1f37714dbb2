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

import functools
import math

import torch

from kdviz import numerics as nx
from kdviz import transport
from kdviz.akl import akl_weights
from kdviz.i18n import N_
from kdviz.spec import DivergenceSpec, Param, validate_distribution

__all__ = [
    "DIVERGENCES",
    "DivergenceSpec",
    "Param",
    "divergence",
    "divergence_from_log",
    "logit_grad",
    "validate_distribution",
    "value_and_grad",
]

NEG_INF = float("-inf")


# --------------------------------------------------------------------------- building blocks
def _where_possible(log_a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``t`` where ``a > 0`` and 0 where ``a = 0`` (``0 log 0 = 0``); ``t`` itself when ``a`` is known
    to have no zeros (:func:`kdviz.numerics.support`: the teacher and the student in a fit)."""
    possible = nx.support(log_a)
    return t if possible is None else torch.where(possible, t, 0.0)


def _log_ratio(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """``log a - log b`` where ``a > 0`` and 0 where ``a = 0``: the summand of ``KL(a || b)`` over
    ``a``, ``0 log 0 = 0``. The zeros are replaced *before* they are weighted, so that no
    ``-inf - -inf`` (NaN) reaches the value or the gradient."""
    return _where_possible(log_a, log_a - log_b)


def _mix_parts(log_a: torch.Tensor, log_b: torch.Tensor, w: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log(w a), log((1 - w) b))``, ``0 < w < 1``: the logs of the two parts of the mixture
    ``m = w a + (1 - w) b``. ``log m`` is their ``logaddexp``, so that tiny probabilities stay exact.
    A fit's teacher part is computed once (:func:`kdviz.numerics.cached`)."""
    return nx.cached(torch.add, log_a, math.log(w)), nx.cached(torch.add, log_b, math.log1p(-w))


def _share(log_a: torch.Tensor, part_a: torch.Tensor, part_b: torch.Tensor) -> torch.Tensor:
    """``w a / m = sigmoid(log(w a) - log((1 - w) b))``: the share of the part ``w a`` in the mixture
    (in [0, 1]); 0 where ``a = 0``."""
    return _where_possible(log_a, torch.sigmoid(part_a - part_b))


def _zero(log_p: torch.Tensor, log_q: torch.Tensor, with_grad: bool):
    """An identically zero divergence (a mixture with weight 1) that keeps a graph to ``log q``."""
    value = (0.0 * torch.where(log_q > NEG_INF, log_q, 0.0)).sum(-1) + torch.zeros_like(log_p[..., 0])
    return (value, _full(torch.zeros_like(log_q), log_p, log_q)) if with_grad else value


def _full(g: torch.Tensor, log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """``g`` broadcast to the shape of ``(log_p, log_q)``: gradients have the batch shape."""
    if log_q.shape[max(log_q.dim() - log_p.dim(), 0):] == log_p.shape:  # log q has it (a fit's rows):
        return g.expand_as(log_q)  # a view, cheaper than torch.broadcast_tensors
    return torch.broadcast_tensors(g, log_p, log_q)[0]


def _weighted(w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``w * t`` with ``0 * inf = 0``: a term of weight 0 is absent (AKL with an empty head or tail)."""
    return torch.where(w > 0, w * t, 0.0)


def _gradient_of(fn):
    """``grad(log_p, log_q, **kw)``: the gradient half of ``fn(..., with_grad=True)``."""
    return lambda log_p, log_q, **kwargs: fn(log_p, log_q, with_grad=True, **kwargs)[1]


def logit_grad(grad_log_q: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    r"""Gradient w.r.t. the logits ``z`` of a softmax student ``log q = log_softmax(z)``.

    .. math:: \frac{\partial D}{\partial z} = g - q \sum_y g_y, \qquad g = \frac{\partial D}{\partial \log q}

    Shapes: ``(..., V)`` both; the result sums to 0 over the classes.
    """
    return torch.addcmul(grad_log_q, nx.exp(log_q), grad_log_q.sum(-1, keepdim=True), value=-1.0)


# --------------------------------------------------------------------------- the divergences
# Each divergence is one function of log-probabilities. ``with_grad=True`` returns ``(value, grad)``
# with ``grad`` the exact gradient w.r.t. ``log q`` (``q dD/dq``, the formula after "grad" in the
# docstring) computed from the value's own intermediates, without autograd.
# tests/test_divergence_grads.py holds every gradient to autograd through the value.
def forward_kl(log_p, log_q, *, with_grad: bool = False):
    r"""Forward KL, zero-avoiding ("mean-seeking").

    .. math:: \mathrm{KL}(p\|q) = \sum_y p(y) \log \frac{p(y)}{q(y)}, \qquad
              \text{grad} = q\,\frac{\partial}{\partial q} = -p

    Minimising it over q is maximum likelihood / cross-entropy with soft targets.
    """
    p = nx.exp(log_p)
    value = (p * _log_ratio(log_p, log_q)).sum(-1)
    if not with_grad:
        return value
    return value, _full(nx.cached(torch.neg, p), log_p, log_q)  # -p: once per fit for its teacher


def reverse_kl(log_p, log_q, *, with_grad: bool = False):
    r"""Reverse KL, zero-forcing ("mode-seeking").

    .. math:: \mathrm{RKL}(p, q) = \mathrm{KL}(q\|p) = \sum_y q(y) \log \frac{q(y)}{p(y)}, \qquad
              \text{grad} = q \left(\log\frac{q}{p} + 1\right)
    """
    q = nx.exp(log_q)
    ratio = _log_ratio(log_q, log_p)
    value = (q * ratio).sum(-1)
    if not with_grad:
        return value
    return value, _where_possible(log_q, torch.addcmul(q, q, ratio))  # q (log q/p + 1) in one op


def generalized_jsd(log_p, log_q, beta: float = 0.5, *, with_grad: bool = False):
    r"""Generalised Jensen-Shannon divergence (GKD, Agarwal et al. 2024).

    .. math:: \mathrm{JSD}_\beta(p, q) = \beta\,\mathrm{KL}(p\|m) + (1-\beta)\,\mathrm{KL}(q\|m),
              \quad m = \beta p + (1-\beta) q, \qquad
              \text{grad} = (1-\beta)\, q \log\frac{q}{m}

    ``beta = 0.5`` is the classic JSD, bounded by ``log 2``. It is 0 for ``beta`` in {0, 1}.
    """
    if beta <= 0.0 or beta >= 1.0:
        return _zero(log_p, log_q, with_grad)
    log_m = nx.logaddexp(*_mix_parts(log_p, log_q, beta))
    beta_p = nx.cached(torch.mul, nx.exp(log_p), beta)  # once per fit for its teacher
    q_part = (1.0 - beta) * nx.exp(log_q) * _log_ratio(log_q, log_m)  # (..., V): also the gradient
    value = torch.addcmul(q_part, beta_p, _log_ratio(log_p, log_m)).sum(-1)  # p part + q part
    return (value, q_part) if with_grad else value


def total_variation(log_p, log_q, *, with_grad: bool = False):
    r"""Total variation distance, in [0, 1].

    .. math:: \mathrm{TVD}(p, q) = \tfrac12 \sum_y |p(y) - q(y)| = \sum_y \max(p(y) - q(y), 0),
              \qquad \text{grad} = -q\,[q < p]

    computed as the second form (the seed's ``1 - sum min(p, q)`` without its cancellation): equal
    on the simplex, and its gradient is the seed's: none where q overestimates. With respect to
    logits it is the gradient of the first form.
    """
    q = nx.exp(log_q)
    excess = torch.relu(nx.exp(log_p) - q)  # (..., V): max(p - q, 0)
    value = excess.sum(-1)
    return (value, -q * torch.sign(excess)) if with_grad else value  # sign(excess) = [q < p]


def skew_kl(log_p, log_q, alpha: float = 0.1, *, with_grad: bool = False):
    r"""Skew forward KL (DistiLLM, Ko et al. 2024).

    .. math:: \mathrm{SKL}_\alpha(p, q) = \mathrm{KL}(p \,\|\, m), \quad m = \alpha p + (1-\alpha) q,
              \qquad \text{grad} = -p\,\frac{(1-\alpha) q}{m}

    ``alpha = 0`` is forward KL; the mixture keeps the gradient coefficient below ``1/(alpha p)``.
    ``alpha = 1`` is ``KL(p || p) = 0``.
    """
    if alpha >= 1.0:
        return _zero(log_p, log_q, with_grad)
    if alpha <= 0.0:
        return forward_kl(log_p, log_q, with_grad=with_grad)
    parts = _mix_parts(log_p, log_q, alpha)  # log(alpha p), log((1 - alpha) q)
    log_m = nx.logaddexp(*parts)
    p = nx.exp(log_p)
    value = (p * _log_ratio(log_p, log_m)).sum(-1)
    if not with_grad:
        return value
    return value, nx.cached(torch.neg, p) * _share(log_q, parts[1], parts[0])  # -p: once per fit


def skew_reverse_kl(log_p, log_q, alpha: float = 0.1, *, with_grad: bool = False):
    r"""Skew reverse KL (DistiLLM).

    .. math:: \mathrm{SRKL}_\alpha(p, q) = \mathrm{KL}(q \,\|\, m), \quad m = \alpha q + (1-\alpha) p,
              \qquad \text{grad} = q \left(\log\frac{q}{m} + 1 - \frac{\alpha q}{m}\right)

    ``alpha = 0`` is reverse KL, ``alpha = 1`` is ``KL(q || q) = 0``.
    """
    if alpha >= 1.0:
        return _zero(log_p, log_q, with_grad)
    if alpha <= 0.0:
        return reverse_kl(log_p, log_q, with_grad=with_grad)
    parts = _mix_parts(log_q, log_p, alpha)  # log(alpha q), log((1 - alpha) p)
    log_m = nx.logaddexp(*parts)
    q = nx.exp(log_q)
    q_ratio = q * _log_ratio(log_q, log_m)  # (..., V)
    value = q_ratio.sum(-1)
    if not with_grad:
        return value
    # q (log q/m + 1 - alpha q/m) = q log q/m + q (1 - alpha) p/m, the last share in one addcmul
    return value, _where_possible(log_q, torch.addcmul(q_ratio, q, _share(log_p, parts[1], parts[0])))


def fkl_plus_rkl(log_p, log_q, *, with_grad: bool = False):
    r"""Sum of both directions (the "FKL+RKL" row of the AKL table; twice Jeffreys' mean).

    .. math:: \mathrm{KL}(p\|q) + \mathrm{KL}(q\|p), \qquad
              \text{grad} = -p + q \left(\log\frac{q}{p} + 1\right)
    """
    fkl, rkl = forward_kl(log_p, log_q, with_grad=with_grad), reverse_kl(log_p, log_q, with_grad=with_grad)
    return (fkl[0] + rkl[0], fkl[1] + rkl[1]) if with_grad else fkl + rkl


def adaptive_kl(log_p, log_q, mu: float = 0.5, *, with_grad: bool = False):
    r"""Adaptive KL (AKL, Wu et al. 2024): FKL on the head, RKL on the tail, weighted by the gaps.

    .. math:: \mathrm{AKL}(p, q) = w_{head}\,\mathrm{KL}(p\|q) + w_{tail}\,\mathrm{KL}(q\|p), \quad
              w_{head} = \frac{g_{head}}{g_{head}+g_{tail}} = 1 - w_{tail}

    with grad the same combination of the two gradients. The weights (:func:`kdviz.akl.akl_split`) see a
    detached q (no gradient through them); the value is 0 when ``p == q``. A term of weight 0 is
    absent: the value is +inf exactly when a term of positive weight is.
    """
    p = nx.exp(log_p)
    # with_grad: no graph, so q needs no detaching and can be the one exp of the fit's step
    _, _, w_head = akl_weights(p, nx.exp(log_q if with_grad else log_q.detach()), mu)  # (...)
    if not with_grad:
        w_tail = 1.0 - w_head
        # a term of weight 0 sees log p for log q, KL(p || p) = 0: no inf (and no 0 * inf) in its graph
        fkl = forward_kl(log_p, torch.where(w_head[..., None] > 0, log_q, log_p))
        rkl = reverse_kl(log_p, torch.where(w_tail[..., None] > 0, log_q, log_p))
        return _weighted(w_head, fkl) + _weighted(w_tail, rkl)
    (fv, fg), (rv, rg) = (fn(log_p, log_q, with_grad=True) for fn in (forward_kl, reverse_kl))
    if nx.support(log_p) is None and nx.support(log_q) is None:  # no zeros: every term is finite, and
        # RKL + w_head (FKL - RKL) is the weighted sum, the weights summing to 1
        return torch.lerp(rv, fv, w_head), torch.lerp(rg, fg, w_head.unsqueeze(-1))
    w_tail = 1.0 - w_head
    # a weight-0 term is dropped by _weighted (0 * inf = 0); FKL's gradient -p is finite
    return (_weighted(w_head, fv) + _weighted(w_tail, rv),
            w_head.unsqueeze(-1) * fg + _weighted(w_tail.unsqueeze(-1), rg))


def _wasserstein(log_p, log_q, x, order: int = 1, *, with_grad: bool = False):
    r"""W1 on an increasing support is ``sum_i |F_p(x_i) - F_q(x_i)| (x_{i+1} - x_i)``, so
    grad_j ``= q_j sum_{i >= j} sign(F_q - F_p)(x_i) (x_{i+1} - x_i)``. W2 (or an unsorted
    support) has no closed form here: its gradient is autograd's through the value."""
    p, q = nx.exp(log_p), nx.exp(log_q)
    if not with_grad:
        return transport.wasserstein(p, q, x, order=order)
    if not nx.cached(transport.cdf_form, x, order):
        return _autograd_value_and_grad(_wasserstein, log_p, log_q, {"x": x, "order": order})
    cdf_gap = torch.cumsum(q - p, -1)  # (..., V): F_q(x_i) - F_p(x_i)
    dx = nx.cached(_spacing, x, q.dtype)  # (V,): 0 after the last point
    step = torch.sign(cdf_gap) * dx
    tail = torch.flip(torch.cumsum(torch.flip(step, [-1]), -1), [-1])  # (..., V): sum over i >= j
    return cdf_gap.abs() @ dx, q * tail


def _spacing(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x_{i+1} - x_i`` and 0 after the last point: ``(V,)``."""
    return torch.cat([x[1:] - x[:-1], x.new_zeros(1)]).to(dtype)


def _sinkhorn(log_p, log_q, x, order: int = 1, epsilon: float = 1.0):
    return transport.sinkhorn(nx.exp(log_p), nx.exp(log_q), x, order=order, epsilon=epsilon)


def _sinkhorn_div(log_p, log_q, x, order: int = 1, epsilon: float = 1.0, entropic: bool = False):
    return transport.sinkhorn_divergence(nx.exp(log_p), nx.exp(log_q), x, order=order,
                                         epsilon=epsilon, entropic=entropic)


# --------------------------------------------------------------------------- the registry
ALPHA = Param("alpha", 0.1, 0.0, 1.0,
              help=N_("skew: weight of the divergence's own first argument in the mixture"))
BETA = Param("beta", 0.5, 0.0, 1.0, help=N_("teacher weight in the JSD mixture m = beta p + (1 - beta) q"))
MU = Param("mu", 0.5, 0.0, 1.0, help=N_("head = classes holding the first mu of the teacher's mass"))
ORDER = Param("order", 1, 1, 2, choices=(1, 2), help=N_("ground cost |x_i - x_j|^order"))
EPSILON = Param("epsilon", 1.0, 0.0, 1e6, low_open=True, help=N_("entropic regularisation eps = 1/lambda"))


DIVERGENCES: dict[str, DivergenceSpec] = {s.name: s for s in [
    DivergenceSpec(
        "fkl", N_("Forward KL"), forward_kl, _gradient_of(forward_kl),
        r"\mathrm{KL}(p\|q)=\sum_y p(y)\log\frac{p(y)}{q(y)}",
        behaviour=N_("zero-avoiding, mean-seeking: covers every mode of p"),
        source=N_("Hinton et al. 2015; MiniLLM (Gu et al. 2023)"),
        grad_latex=r"-\frac{1}{q}",
        color="#0072B2"),
    DivergenceSpec(
        "rkl", N_("Reverse KL"), reverse_kl, _gradient_of(reverse_kl),
        r"\mathrm{RKL}(p,q)=\mathrm{KL}(q\|p)=\sum_y q(y)\log\frac{q(y)}{p(y)}",
        behaviour=N_("zero-forcing, mode-seeking: locks onto one mode of p"),
        source=N_("MiniLLM (Gu et al. 2023)"),
        grad_latex=r"\frac{1}{p}\left(\log\frac{q}{p}+1\right)",
        color="#D55E00"),
    DivergenceSpec(
        "jsd", N_("JSD"), generalized_jsd, _gradient_of(generalized_jsd),
        r"\mathrm{JSD}_\beta(p,q)=\beta\,\mathrm{KL}(p\|m)+(1-\beta)\,\mathrm{KL}(q\|m),"
        r"\;m=\beta p+(1-\beta)q",
        params=(BETA,), symmetric=True, bounded="<= log 2 (beta = 0.5)",
        behaviour=N_("symmetric and bounded; saturates at log 2 and loses its gradient without overlap"),
        source=N_("Lin 1991; generalised in GKD (Agarwal et al. 2024)"),
        color="#CC79A7"),
    DivergenceSpec(
        "tvd", N_("TVD"), total_variation, _gradient_of(total_variation),
        r"\mathrm{TVD}(p,q)=\tfrac12\sum_y|p(y)-q(y)|=1-\sum_y\min(p(y),q(y))",
        symmetric=True, bounded="[0, 1]",
        behaviour=N_("gradient coefficient 1/p instead of 1/q, none when q overestimates: robust to "
                     "outliers"),
        source=N_("f-distill (Wen et al. 2023)"),
        grad_latex=r"-\frac{1}{p}\,[q<p]",
        color="#009E73"),
    DivergenceSpec(
        "skl", N_("Skew KL"), skew_kl, _gradient_of(skew_kl),
        r"\mathrm{SKL}_\alpha(p,q)=\mathrm{KL}\big(p\,\|\,\alpha p+(1-\alpha)q\big)",
        params=(ALPHA,), bounded="<= log(1/alpha)",
        behaviour=N_("forward KL with the 1/q gradient tamed by mixing p into q"),
        source=N_("DistiLLM (Ko et al. 2024)"),
        grad_latex=r"-\frac{1-\alpha}{\tilde q},\;\tilde q=\alpha p+(1-\alpha)q",
        color="#56B4E9"),
    DivergenceSpec(
        "srkl", N_("Skew reverse KL"), skew_reverse_kl, _gradient_of(skew_reverse_kl),
        r"\mathrm{SRKL}_\alpha(p,q)=\mathrm{KL}\big(q\,\|\,\alpha q+(1-\alpha)p\big)",
        params=(ALPHA,), bounded="<= log(1/alpha)",
        behaviour=N_("reverse KL with a skewed, better-conditioned gradient"),
        source=N_("DistiLLM (Ko et al. 2024)"),
        grad_latex=(r"\frac{1}{p}\left(\log\frac{q}{\tilde p}+1-\frac{\alpha q}{\tilde p}\right),\;"
                    r"\tilde p=\alpha q+(1-\alpha)p"),
        color="#E69F00"),
    DivergenceSpec(
        "fkl_rkl", N_("FKL+RKL"), fkl_plus_rkl, _gradient_of(fkl_plus_rkl),
        r"\mathrm{KL}(p\|q)+\mathrm{KL}(q\|p)",
        symmetric=True,
        behaviour=N_("both directions at once: covers modes and penalises mass where p has none"),
        source=N_("AKL paper's baseline (Wu et al. 2024)"),
        color="#882255"),
    DivergenceSpec(
        "akl", N_("AKL"), adaptive_kl, _gradient_of(adaptive_kl),
        r"\mathrm{AKL}(p,q)=\frac{g_{head}}{g_{head}+g_{tail}}\mathrm{KL}(p\|q)"
        r"+\frac{g_{tail}}{g_{head}+g_{tail}}\mathrm{KL}(q\|p)",
        params=(MU,),
        behaviour=N_("weights FKL (head) and RKL (tail) by where the student's error is"),
        source=N_("AKL (Wu et al. 2024)"),
        color="#999933"),
    DivergenceSpec(
        "wasserstein", N_("Wasserstein"), _wasserstein, _gradient_of(_wasserstein),
        r"W(p,q)=\min_{\Gamma\in\Pi(p,q)}\langle\Gamma,C\rangle,\;C_{ij}=|x_i-x_j|^{r}",
        params=(ORDER,), symmetric=True, needs_support=True,
        behaviour=N_("moves mass along the support: grows with distance even without overlap"),
        source=N_("Kantorovich; seed slides (linear-programming form)"),
        color="#332288"),
    DivergenceSpec(
        "sinkhorn", N_("Sinkhorn"), _sinkhorn, None,
        r"W_\varepsilon(p,q)=\langle\Gamma_\varepsilon,C\rangle,\;"
        r"\Gamma_\varepsilon=\arg\min_{\Gamma\in\Pi(p,q)}\langle\Gamma,C\rangle-\varepsilon H(\Gamma)",
        params=(ORDER, EPSILON), symmetric=True, needs_support=True,
        behaviour=N_("entropic OT: smooth and fast, but biased (W_eps(p, p) > 0)"),
        source=N_("Cuturi 2013; SinKD (Cui et al. 2024)"),
        color="#44AA99"),
    DivergenceSpec(
        "sinkhorn_div", N_("Sinkhorn divergence"), _sinkhorn_div, None,
        r"S_\varepsilon(p,q)=W_\varepsilon(p,q)-\tfrac12W_\varepsilon(p,p)-\tfrac12W_\varepsilon(q,q)",
        params=(ORDER, EPSILON), symmetric=True, needs_support=True, flags=frozenset({"entropic"}),
        behaviour=N_("removes the entropic bias: 0 at p = q"),
        source=N_("seed slides; entropic=True: Feydy et al. 2019"),
        color="#AA4499"),
]}


def get_spec(name: str) -> DivergenceSpec:
    """The registry entry for ``name`` or a ValueError listing the known names."""
    try:
        return DIVERGENCES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown divergence {name!r}; expected one of {sorted(DIVERGENCES)}") from None


def _prepare(spec: DivergenceSpec, log_p, log_q, x, params):
    if log_p.shape[-1] != log_q.shape[-1]:
        raise ValueError(f"p and q must have the same number of classes, "
                         f"got {log_p.shape[-1]} and {log_q.shape[-1]}")
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


class _GradientFrom(torch.autograd.Function):
    """``value`` forward, the gradient of ``surrogate`` backward (same shape)."""

    @staticmethod
    def forward(ctx, value, surrogate):
        return value.clone()

    @staticmethod
    def backward(ctx, grad):
        return None, grad


def divergence(name: str, p, q, *, x=None, **params) -> torch.Tensor:
    """``D_name(p, q)`` for teacher ``p`` and student ``q`` probabilities of shape ``(..., V)``.

    Args:
        name: a key of :data:`DIVERGENCES`.
        p, q: probability tensors (non-negative, rows summing to 1), broadcastable.
        x: support coordinates ``(V,)`` for the transport divergences (default ``arange(V)``).
        **params: the divergence's parameters (see ``DIVERGENCES[name].params``).

    Returns:
        tensor of shape ``broadcast(p, q).shape[:-1]``, differentiable in ``q``. Where ``q_i = 0``
        the gradient is the one-sided derivative at ``q_i = delta`` (``delta`` = the dtype's
        smallest normal number to the power 0.9, 1e-277 in float64): finite, and the exact limit
        where the true derivative is finite (TVD, skew KL, a class that both give 0).
    Raises:
        ValueError: unknown name or parameter, out-of-range parameter, invalid distributions.
    """
    spec = get_spec(name)
    p = validate_distribution(p, "p (teacher)")
    q = validate_distribution(q, "q (student)")
    log_p, log_q, kwargs = _prepare(spec, torch.log(p), torch.log(q), x, params)
    value = spec.fn(log_p, log_q, **kwargs)
    if q.requires_grad and bool((q == 0).any()):
        # d log q / dq = 1/q is 0/0 at q = 0: differentiate at q + delta there instead (value unchanged)
        delta = torch.finfo(q.dtype).tiny ** 0.9
        log_q_delta = torch.log(q + delta * (q == 0).to(q.dtype)).to(log_q.dtype)
        value = _GradientFrom.apply(value.detach(), spec.fn(log_p, log_q_delta, **kwargs))
    return value


def _check_logs(log_p, log_q) -> None:
    for t, what in ((log_p, "log p"), (log_q, "log q")):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise ValueError(f"{what} must be a floating tensor, got {type(t).__name__}")
        if t.numel() == 0:
            raise ValueError(f"{what} is an empty batch, got shape {tuple(t.shape)}")
        if torch.isnan(t).any() or (t == float("inf")).any():
            raise ValueError(f"{what} must not contain NaN or +inf")


def divergence_from_log(name: str, log_p, log_q, *, x=None, normalize: bool = False, **params):
    """Like :func:`divergence` but from log-probabilities (``normalize=True``: from logits).

    No validation of the rows beyond NaN checks: the caller (the fitting engine) builds them with
    ``log_softmax`` and friends. ``-inf`` entries mean probability 0.
    """
    spec = get_spec(name)
    _check_logs(log_p, log_q)
    if normalize:
        log_p, log_q = torch.log_softmax(log_p, -1), torch.log_softmax(log_q, -1)
    log_p, log_q, kwargs = _prepare(spec, log_p, log_q, x, params)
    return spec.fn(log_p, log_q, **kwargs)


def _autograd_value_and_grad(fn, log_p, log_q, kwargs):
    """``fn(log_p, log_q)`` and its gradient w.r.t. ``log q`` by autograd: ``((...), (..., V))``."""
    shape = torch.broadcast_shapes(log_p.shape, log_q.shape)
    # inference_mode(False): the fit loop runs in inference mode, whose tensors cannot enter a graph;
    # clones made outside it can
    with torch.inference_mode(False), torch.enable_grad():
        leaf = log_q.detach().expand(shape).clone().requires_grad_(True)
        value = fn(log_p.detach().clone() if log_p.is_inference() else log_p.detach(), leaf, **kwargs)
        if not value.requires_grad:
            return value, torch.zeros_like(leaf)
        (grad,) = torch.autograd.grad(value.sum(), leaf)
    return value.detach(), grad


def spec_value_and_grad(spec: DivergenceSpec, log_p, log_q, kwargs: dict):
    """``(value (...), grad (..., V))`` of a registry entry at resolved ``kwargs``: the closed-form
    gradient where the entry has one, autograd through the value otherwise. No graph is kept."""
    with torch.no_grad():
        return value_and_grad_fn(spec, kwargs)(log_p, log_q)


def value_and_grad_fn(spec: DivergenceSpec, kwargs: dict):
    """``f(log_p, log_q) -> (value, grad)`` of :func:`spec_value_and_grad` with ``kwargs`` bound once
    (the fit loop calls it every step). Call it under ``no_grad`` or ``inference_mode``."""
    if spec.grad is None:
        return lambda log_p, log_q: _autograd_value_and_grad(spec.fn, log_p, log_q, kwargs)
    return functools.partial(spec.fn, with_grad=True, **kwargs)


def value_and_grad(name: str, log_p, log_q, *, x=None, **params):
    """``D_name(p, q)`` and its gradient w.r.t. ``log q`` from log-probabilities, without autograd
    where the registry has a closed form (:attr:`DivergenceSpec.grad`).

    Returns ``(value (...), grad (..., V))`` with ``(...)`` the broadcast batch shape. The
    gradient w.r.t. the logits of a softmax student is :func:`logit_grad` of it.
    """
    spec = get_spec(name)
    _check_logs(log_p, log_q)
    log_p, log_q, kwargs = _prepare(spec, log_p, log_q, x, params)
    return spec_value_and_grad(spec, log_p, log_q, kwargs)
