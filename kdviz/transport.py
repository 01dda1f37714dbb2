"""Optimal transport on a 1-D support: exact Wasserstein, Sinkhorn and the Sinkhorn divergences.

Conventions (see ``shared/notes/references.md``):

* ground cost ``C_ij = |x_i - x_j|^order``; ``order = 2`` gives W2 squared.
* Sinkhorn as in the seed: ``K = exp(-C / eps)`` with ``eps = 1 / lambda``, and the *Sinkhorn
  distance* is the linear term ``<Gamma_eps, C>`` of the entropic plan (POT's ``sinkhorn2``).
* ``sinkhorn_divergence(..., entropic=False)`` is the seed's unbiased form
  ``W_eps(p,q) - W_eps(p,p)/2 - W_eps(q,q)/2``; ``entropic=True`` is Feydy et al. (2019), whose
  ``OT_eps = <Gamma, C> + eps KL(Gamma || p x q)`` includes the entropy term (geomloss).

POT does the exact transport (``ot.wasserstein_1d``, ``ot.emd``). The entropic solver is our own
log-domain Sinkhorn because it is batched over histograms (POT loops over them in Python), it can be
animated iteration by iteration, and its gradient comes from implicit differentiation of the
fixed point (exact at convergence, no unrolled iterations kept in memory). It performs the same
updates and the same stopping rule as ``ot.sinkhorn2(..., method="sinkhorn_log")``; a small
``epsilon`` is reached by epsilon scaling (warm starts from a decreasing sequence of epsilons), so
that the fixed point is found where plain iterations would need millions of steps. A solve that
stops at ``MAX_ITER`` without meeting ``STOP_THR`` returns its last iterate and warns with
:class:`SinkhornNotConverged` (iterations and residual in the message).

POT (and with it scipy) is imported only when exact transport is used.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from kdviz import numerics as nx

MAX_ITER = 1000  # POT's numItermax
STOP_THR = 1e-9  # POT's stopThr: l2 violation of the student marginal
MAX_PLAN_BYTES = 2**30  # Sinkhorn refuses problems whose (batch, V, V) plan would exceed 1 GiB
SCALING_STEP = 0.5  # epsilon scaling: each warm start has half the previous epsilon
SCALING_ITER = 20  # iterations per intermediate epsilon


class SinkhornNotConverged(RuntimeWarning):
    """Sinkhorn stopped at its iteration cap with the marginal violation above the threshold."""


def cdf_form(x: torch.Tensor, order: int) -> bool:
    """True when W is the l1 distance of the CDFs: order 1 on an increasing support."""
    return order == 1 and bool((x[1:] > x[:-1]).all())


def support(x, n: int, dtype=torch.float64) -> torch.Tensor:
    """Support coordinates as a ``(n,)`` tensor; ``None`` means ``0, 1, ..., n-1``."""
    if x is None:
        return torch.arange(n, dtype=dtype)
    x = torch.as_tensor(x, dtype=dtype)
    if x.shape != (n,):
        raise ValueError(f"support x must have shape ({n},), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("support x must be finite")
    return x


def cost_matrix(x: torch.Tensor, order: int = 1) -> torch.Tensor:
    """``C_ij = |x_i - x_j|^order``, shape ``(V, V)``."""
    return (x[:, None] - x[None, :]).abs() ** order


def wasserstein(p: torch.Tensor, q: torch.Tensor, x: torch.Tensor, order: int = 1) -> torch.Tensor:
    r"""Exact optimal transport cost between histograms on the line (POT's ``wasserstein_1d``).

    .. math:: W(p, q) = \min_{\Gamma \in \Pi(p, q)} \sum_{ij} \Gamma_{ij} |x_i - x_j|^{r}
              = \int_0^1 |F_p^{-1}(t) - F_q^{-1}(t)|^r \, dt

    Differentiable in both histograms. Shapes: p, q ``(..., V)``, x ``(V,)`` -> ``(...)``.
    Order 1 on an increasing support uses the CDF identity (a few tensor ops); everything
    else goes through POT.
    """
    p, q = torch.broadcast_tensors(p, q)
    if cdf_form(x, order):
        # W1 on the line is the l1 distance between the CDFs: sum_i |F_p(x_i) - F_q(x_i)| (x_{i+1} - x_i)
        return (torch.cumsum(p - q, -1)[..., :-1].abs() * (x[1:] - x[:-1]).to(p.dtype)).sum(-1)
    batch = p.shape[:-1]
    pw = p.reshape(-1, p.shape[-1]).T  # (V, B)
    qw = q.reshape(-1, q.shape[-1]).T  # (V, B)
    xs = x.to(p.dtype)[:, None].expand_as(pw)
    import ot  # POT imports scipy: only here, when exact transport beyond W1 is needed

    return ot.wasserstein_1d(xs, xs, pw, qw, p=order).reshape(batch)


def _safe_log(a: torch.Tensor) -> torch.Tensor:
    """log a with -inf where a == 0 and a gradient that stays finite there."""
    pos = a > 0
    return torch.where(pos, torch.where(pos, a, 1.0).log(), float("-inf"))


def _sinkhorn_updates(log_u, log_v, log_a, log_b, m):
    log_v = log_b - nx.logsumexp(m + log_u[..., :, None], dim=-2)  # (..., V)
    log_u = log_a - nx.logsumexp(m + log_v[..., None, :], dim=-1)  # (..., V)
    return log_u, log_v


def sinkhorn_potentials(a, b, C, epsilon, *, max_iter=MAX_ITER, stop_thr=STOP_THR, init=None,
                        callback=None, warn=True):
    r"""Log-domain Sinkhorn scalings, batched over the leading axes.

    Iterates, exactly like POT's ``sinkhorn_log`` (``M_r = -C / eps``)

    .. math:: \log v \leftarrow \log b - \mathrm{LSE}_i(M_r + \log u), \quad
              \log u \leftarrow \log a - \mathrm{LSE}_j(M_r + \log v)

    and stops when the l2 violation of the ``b`` marginal (checked every 10 iterations) is below
    ``stop_thr`` (at least 10 machine epsilons: 1.2e-6 in float32). The plan is
    ``Gamma = diag(u) K diag(v)``. Without ``init`` or ``callback``, an
    ``epsilon`` below a hundredth of the largest cost is reached by epsilon scaling: ``SCALING_ITER``
    iterations at each of ``epsilon * 2^k`` from the cost scale down, the dual potentials
    ``eps log u``, ``eps log v`` carried from one to the next.

    Args:
        a, b: histograms ``(..., V)`` (no gradient is tracked here).
        C: cost ``(V, V)``. epsilon: > 0. init: optional ``(log_u, log_v)`` warm start.
        callback: called as ``callback(iteration, log_u, log_v)`` after every iteration.
        warn: warn with :class:`SinkhornNotConverged` when ``max_iter`` is reached first.
    Returns:
        ``(log_u, log_v, n_iter)``.
    """
    with torch.no_grad():
        a, b = torch.broadcast_tensors(a.detach(), b.detach())
        log_a, log_b = _safe_log(a), _safe_log(b)
        if init is None:
            log_u = torch.zeros_like(a)
            log_v = torch.zeros_like(b)
            scale = float(C.max())  # plain iterations converge from zero potentials above scale / 100
            n_warm = int(math.log(scale / epsilon, 1 / SCALING_STEP)) if epsilon < 0.01 * scale else 0
            for eps in [epsilon / SCALING_STEP**k for k in range(n_warm, 0, -1)] if callback is None else []:
                for _ in range(SCALING_ITER):
                    log_u, log_v = _sinkhorn_updates(log_u, log_v, log_a, log_b, -C / eps)
                log_u, log_v = log_u * SCALING_STEP**-1, log_v * SCALING_STEP**-1  # same eps log u, next eps
        else:
            log_u, log_v = (t.detach().expand_as(a).clone() for t in init)
        m = -C / epsilon  # (V, V)
        stop_thr = max(stop_thr, 10 * torch.finfo(a.dtype).eps)  # float32 cannot reach 1e-9
        err = float("inf")
        it = 0
        for it in range(max_iter):
            log_u, log_v = _sinkhorn_updates(log_u, log_v, log_a, log_b, m)
            if callback is not None:
                callback(it, log_u, log_v)
            if it % 10 == 0 or it == max_iter - 1:
                col = nx.exp(m + log_u[..., :, None] + log_v[..., None, :]).sum(-2)
                err = float(torch.linalg.vector_norm(col - b, dim=-1).max())
                if err < stop_thr:
                    break
    if warn and not err < stop_thr:
        warnings.warn(SinkhornNotConverged(
            f"Sinkhorn stopped after {it + 1} iterations with marginal violation {err:.3g} > {stop_thr:g} "
            f"(epsilon {epsilon:g}): the value and its gradient are approximate"), stacklevel=2)
    return log_u, log_v, it + 1


def plan_from_potentials(log_u, log_v, C, epsilon) -> torch.Tensor:
    """The entropic plan ``Gamma_ij = u_i exp(-C_ij / eps) v_j``, shape ``(..., V, V)``."""
    return nx.exp(log_u[..., :, None] - C / epsilon + log_v[..., None, :])


def _implicit_grads(plan, r, c):
    """Solve ``[[diag a, G], [G^T, diag b]] [z_a; z_b] = [r; c]`` for the gradient of a plan functional.

    Differentiating the marginal constraints of ``Gamma_ij = exp((f_i + g_j - C_ij)/eps)`` gives
    ``H [df; dg] = eps [da; db]`` with ``H`` the matrix above (PSD, null vector (1, -1)); a
    functional with ``dL = (r . df + c . dg) / eps`` then has gradient ``H^+ [r; c]``.
    Dividing the block rows by ``a`` and ``b`` leaves the plan's conditionals ``A = D_a^{-1} G`` and
    ``B = D_b^{-1} G^T`` (row-stochastic): ``z_a = r/a - A z_b`` and ``(I - B A) z_b = c/b - B r/a``.
    Every entry stays of the order of the costs even when a class holds 1e-40 of the mass (the
    Schur complement ``diag(b) - G^T D_a^{-1} G`` is then numerically singular). ``I - B A`` has the
    null vector 1 (the constant of the potentials): ``+ 1 1^T / V`` picks the solution with
    ``sum(z_b) = 0``. ``a`` and ``b`` are read off the plan so that A and B are exactly stochastic.
    Classes with zero mass carry no plan entries; they get a gradient of 0 on their side.
    """
    rows, cols = plan.sum(-1)[..., :, None], plan.sum(-2)[..., :, None]  # (..., V, 1): the plan's marginals
    # Divide (never multiply by 1/mass: 1/1e-44 overflows float32); zero-mass classes get 0.
    rows_safe, cols_safe = torch.where(rows > 0, rows, 1.0), torch.where(cols > 0, cols, 1.0)
    cond_a = plan / rows_safe  # A, (..., V, V)
    cond_b = plan.transpose(-1, -2) / cols_safe  # B, (..., V, V)
    r_a = (r[..., :, None] / rows_safe)[..., 0]  # (..., V) mean costs
    c_b = (c[..., :, None] / cols_safe)[..., 0]
    n = plan.shape[-1]
    lhs = torch.eye(n, dtype=plan.dtype) - cond_b @ cond_a + 1.0 / n  # (..., V, V)
    rhs = (c_b - (cond_b @ r_a[..., :, None])[..., 0])[..., None]  # (..., V, 1)
    z_b, info = torch.linalg.solve_ex(lhs, rhs)
    if bool((info != 0).any()) or not bool(torch.isfinite(z_b).all()):
        # A nearly diagonal plan (tiny eps) decouples the chain B A: I - B A + 1 1^T/V is then
        # singular in float precision; the least-squares (minimum-norm) solution is the stable limit.
        z_b = torch.linalg.lstsq(lhs, rhs, driver="gelsd").solution
    z_b = z_b[..., 0]
    z_a = r_a - (cond_a @ z_b[..., :, None])[..., 0]
    return z_a, z_b


class _EntropicOT(torch.autograd.Function):
    """Value of the entropic transport with a gradient by implicit differentiation."""

    @staticmethod
    def forward(ctx, a, b, C, epsilon, entropic, init):
        log_u, log_v, _ = sinkhorn_potentials(a, b, C, epsilon, init=init)
        plan = plan_from_potentials(log_u, log_v, C, epsilon)
        linear = (plan * C).sum((-2, -1))
        if entropic:
            # Feydy et al.: OT_eps = <a, f> + <b, g> with f = eps (log u - log a), g = eps (log v - log b)
            f = epsilon * torch.where(a > 0, log_u - _safe_log(a), 0.0)
            g = epsilon * torch.where(b > 0, log_v - _safe_log(b), 0.0)
            value = (a * f).sum(-1) + (b * g).sum(-1)
            ctx.save_for_backward(f, g)
        else:
            value = linear
            ctx.save_for_backward(plan, a, b, C)
        ctx.entropic = entropic
        ctx.batch_a, ctx.batch_b = a.shape, b.shape
        return value

    @staticmethod
    def backward(ctx, grad):
        if ctx.entropic:  # envelope theorem: the dual potentials are the gradient
            f, g = ctx.saved_tensors
            ga, gb = f * grad[..., None], g * grad[..., None]
        else:
            plan, a, b, C = ctx.saved_tensors
            weighted = plan * C
            z_a, z_b = _implicit_grads(plan, weighted.sum(-1), weighted.sum(-2))
            ga, gb = z_a * grad[..., None], z_b * grad[..., None]
        return _unbroadcast(ga, ctx.batch_a), _unbroadcast(gb, ctx.batch_b), None, None, None, None


def _unbroadcast(g: torch.Tensor, shape) -> torch.Tensor:
    while g.ndim > len(shape):
        g = g.sum(0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdim=True)
    return g


def check_sinkhorn_size(p: torch.Tensor) -> None:
    """ValueError unless Sinkhorn can run on histograms like ``p``: float32/float64 (the implicit
    gradient solves a linear system, which torch has no half-precision kernel for) and a
    ``(batch, V, V)`` plan of at most ``MAX_PLAN_BYTES``."""
    if p.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"Sinkhorn needs float32 or float64 histograms, got {p.dtype}")
    need = p[..., 0].numel() * p.shape[-1] ** 2 * p.element_size()
    if need > MAX_PLAN_BYTES:
        raise ValueError(f"Sinkhorn on {p[..., 0].numel()} histogram(s) of V = {p.shape[-1]} points needs "
                         f"{need / 1e9:.3g} GB per (batch, V, V) plan; the limit is "
                         f"{MAX_PLAN_BYTES / 2**30:g} GiB (kdviz.transport.MAX_PLAN_BYTES)")


def sinkhorn(p, q, x, order: int = 1, epsilon: float = 1.0, *, entropic: bool = False, init=None):
    r"""Sinkhorn distance ``W_eps(p, q) = <Gamma_eps, C>`` (seed, POT ``sinkhorn2``), batched.

    .. math:: \Gamma_\varepsilon = \arg\min_{\Gamma \in \Pi(p,q)} \langle \Gamma, C\rangle
              - \varepsilon H(\Gamma)

    ``entropic=True`` returns Feydy's ``OT_eps = <Gamma, C> + eps KL(Gamma || p x q)`` instead.
    Differentiable in p and q (implicit differentiation at the converged scalings). Warns with
    :class:`SinkhornNotConverged` if the solver stops at ``MAX_ITER`` before converging; raises
    ValueError for half precision and above ``MAX_PLAN_BYTES`` (see :func:`check_sinkhorn_size`).
    """
    p, q = torch.broadcast_tensors(p, q)
    check_sinkhorn_size(p)
    C = cost_matrix(x.to(p.dtype), order)
    return _EntropicOT.apply(p, q, C, float(epsilon), entropic, init)


def sinkhorn_divergence(p, q, x, order: int = 1, epsilon: float = 1.0, *, entropic: bool = False):
    r"""Debiased Sinkhorn: ``S(p, q) = W(p, q) - W(p, p)/2 - W(q, q)/2``.

    ``entropic=False``: W is the seed's linear Sinkhorn distance (can be slightly negative).
    ``entropic=True``: W is Feydy et al.'s ``OT_eps``; then ``S >= 0`` with equality iff p == q.
    """
    pq = sinkhorn(p, q, x, order, epsilon, entropic=entropic)
    pp = sinkhorn(p, p, x, order, epsilon, entropic=entropic)
    qq = sinkhorn(q, q, x, order, epsilon, entropic=entropic)
    return pq - 0.5 * pp - 0.5 * qq


def exact_plan(p, q, x, order: int = 1) -> np.ndarray:
    """The exact optimal plan (POT's network simplex ``ot.emd``), ``(V, V)`` numpy array."""
    import ot

    x = np.asarray(x, dtype=np.float64)
    C = np.abs(x[:, None] - x[None, :]) ** order
    return ot.emd(np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64), C)


def sinkhorn_history(p, q, x, order: int = 1, epsilon: float = 1.0, every: int = 1, max_frames: int = 100):
    """Plans along the Sinkhorn iterations, for animation.

    Returns ``(iterations, plans, errors)``: the iteration numbers kept, their plans
    ``(F, V, V)`` and the l1 violation of the ``q`` marginal at each kept iteration.
    """
    p = torch.as_tensor(p, dtype=torch.float64)
    q = torch.as_tensor(q, dtype=torch.float64)
    C = cost_matrix(support(x, p.shape[-1]), order)
    kept: list[tuple[int, torch.Tensor]] = []

    def keep(it, log_u, log_v):
        if it % every == 0 and len(kept) < max_frames:
            kept.append((it + 1, plan_from_potentials(log_u, log_v, C, epsilon)))

    sinkhorn_potentials(p, q, C, epsilon, callback=keep, max_iter=every * max_frames, warn=False)
    iters = np.array([k for k, _ in kept])
    plans = torch.stack([g for _, g in kept]).numpy()
    errors = np.abs(plans.sum(-2) - q.numpy()[None, :]).sum(-1)
    return iters, plans, errors
