"""Lesson "Optimal transport and Sinkhorn": exact plan, entropic plan, bias and debiasing.

Teacher ``p`` and student ``q`` live on ``n`` points of ``[0, 1]``, so the ground cost
``C_ij = |x_i - x_j|^order`` is at most 1 for both orders and ``epsilon`` (= 1/lambda of the seed,
``K = exp(-C / epsilon)``) is directly relative to the cost scale.

What :func:`transport_lesson` computes (plain values in, numpy arrays out):

* the exact plan (network simplex, :func:`kdviz.transport.exact_plan`) and ``W(p, q)``;
* at the chosen ``epsilon``: the Sinkhorn plan, the seed's Sinkhorn distance ``W_eps = <Gamma, C>``,
  its bias ``W_eps(p, p)``, ``W_eps(q, q)`` and both debiased divergences (the seed's linear
  ``W_eps(p,q) - W_eps(p,p)/2 - W_eps(q,q)/2`` and Feydy et al.'s, whose ``OT_eps`` includes the
  entropy term), plus the marginal error after at most 1000 iterations (convergence check);
* the iterations themselves (:func:`kdviz.transport.sinkhorn_history`), for the animation;
* the same quantities over a log-spaced sweep of ``epsilon``: one batched solve of the three
  pairs (p, q), (p, p), (q, q) per epsilon, warm-started from the previous (larger) epsilon with
  the potentials ``f = eps log u`` held fixed ("epsilon scaling": same fixed point, fewer iterations).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from kdviz import numerics as nx
from kdviz import transport
from kdviz.families import zipf
from kdviz.i18n import N_, _
from kdviz.i18n import sentences as join_sentences

EPS_LOW, EPS_HIGH = 1e-3, 10.0  # the range of epsilon (relative to the cost scale max C = 1)
N_SWEEP = 17  # epsilons in the sweep (4 per decade)
N_FRAMES = 60  # frames of the iteration animation
DEFAULT_EPSILON = 0.001  # about 220 iterations on the default preset: the animation has something to show
CONVERGED_L1 = 1e-6  # a plan whose q-marginal is off by more than this (l1) has not converged
MIN_POINTS, MAX_POINTS = 10, 80


def _bump(x, mean, std):
    return np.exp(-0.5 * ((x - mean) / std) ** 2)


def _normalise(w):
    return w / w.sum()


PRESETS = {  # key: (label, translated where shown; x -> (p, q) unnormalised)
    "bimodal": (N_("Bimodal p, unimodal q between its modes"),
                lambda x: (_bump(x, 0.2, 0.06) + _bump(x, 0.8, 0.06), _bump(x, 0.5, 0.12))),
    "gaussians": (N_("Two Gaussians (p at 0.3, q at 0.65)"),
                  lambda x: (_bump(x, 0.3, 0.08), _bump(x, 0.65, 0.1))),
    "zipf": (N_("Zipf long tail p (k^-1.2), uniform q"),
             lambda x: (zipf(len(x))[1], np.ones_like(x))),
    "same": (N_("p = q (only the entropic bias is left)"),
             lambda x: (_bump(x, 0.5, 0.12), _bump(x, 0.5, 0.12))),
}


@dataclass
class TransportResult:
    """Everything the page draws. Plans are ``[i, j]`` = mass moved from ``x_i`` (p) to ``x_j`` (q)."""

    preset: str
    order: int
    epsilon: float
    x: np.ndarray  # (V,) support in [0, 1]
    p: np.ndarray  # (V,) teacher
    q: np.ndarray  # (V,) student
    exact_plan: np.ndarray  # (V, V) the exact optimal plan
    wasserstein: float  # W(p, q) = <exact plan, C>
    plan: np.ndarray  # (V, V) Sinkhorn plan at epsilon
    n_iter: int  # Sinkhorn iterations used at epsilon (1000 = the cap)
    # at epsilon, for the pairs (p, q), (p, p), (q, q):
    linear: np.ndarray  # (3,) the seed's Sinkhorn distance <Gamma_eps, C>
    entropic: np.ndarray  # (3,) Feydy's OT_eps = <Gamma, C> + eps KL(Gamma || a x b)
    errors: np.ndarray  # (3,) l1 error of the second marginal after the last iteration
    history_iters: np.ndarray  # (F,) iteration numbers of the animation frames
    history_plans: np.ndarray  # (F, V, V)
    history_errors: np.ndarray  # (F,) l1 error of the q marginal at those iterations
    eps_grid: np.ndarray  # (E,) log-spaced epsilons
    sweep_linear: np.ndarray  # (E, 3)
    sweep_entropic: np.ndarray  # (E, 3)
    sweep_errors: np.ndarray  # (E, 3)

    @property
    def sinkhorn(self) -> float:
        return float(self.linear[0])

    @property
    def div_linear(self) -> float:
        """The seed's unbiased Sinkhorn divergence at epsilon."""
        return float(debias(self.linear))

    @property
    def div_entropic(self) -> float:
        """Feydy et al.'s Sinkhorn divergence at epsilon."""
        return float(debias(self.entropic))

    @property
    def converged(self) -> bool:
        return bool(self.errors.max() <= CONVERGED_L1)

    @property
    def sweep_converged(self) -> np.ndarray:
        return self.sweep_errors.max(-1) <= CONVERGED_L1  # (E,)

    def export(self) -> tuple[dict, dict]:
        """``(CSV columns, JSON data)`` of the page's downloads: the epsilon sweep; the histograms,
        both plans and the values at the chosen epsilon."""
        csv = {"epsilon": self.eps_grid, "W_eps_pq": self.sweep_linear[:, 0],
               "W_eps_pp": self.sweep_linear[:, 1], "W_eps_qq": self.sweep_linear[:, 2],
               "OT_eps_pq_entropic": self.sweep_entropic[:, 0],
               "S_seed": debias(self.sweep_linear), "S_feydy": debias(self.sweep_entropic),
               "marginal_error": self.sweep_errors.max(-1)}
        return csv, {"x": self.x, "p": self.p, "q": self.q, "wasserstein": self.wasserstein,
                     "exact_plan": self.exact_plan, "sinkhorn_plan": self.plan, "iterations": self.n_iter,
                     "at_epsilon": {"W_eps": self.linear, "OT_eps_entropic": self.entropic,
                                    "pairs": ["pq", "pp", "qq"], "S_seed": self.div_linear,
                                    "S_feydy": self.div_entropic,
                                    "marginal_error": self.errors},
                     "takeaway": takeaway(self)}


def debias(values: np.ndarray) -> np.ndarray:
    """``W(p, q) - W(p, p)/2 - W(q, q)/2`` from the last axis ``(pq, pp, qq)``."""
    return values[..., 0] - 0.5 * values[..., 1] - 0.5 * values[..., 2]


def support(n: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, n)


def histograms(preset: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, p, q)`` of a preset on ``n`` points of [0, 1]."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {sorted(PRESETS)}")
    if not (isinstance(n, (int, np.integer)) and MIN_POINTS <= n <= MAX_POINTS):
        raise ValueError(f"number of points must be an integer in [{MIN_POINTS}, {MAX_POINTS}], got {n!r}")
    x = support(int(n))
    p, q = PRESETS[preset][1](x)
    return x, _normalise(np.asarray(p, float)), _normalise(np.asarray(q, float))


def solve(a: torch.Tensor, b: torch.Tensor, C: torch.Tensor, epsilon: float, init=None):
    """Log-domain Sinkhorn for a batch of pairs; the two values of each pair from its potentials.

    Same numbers as :func:`kdviz.transport.sinkhorn` (``entropic=False`` and ``True``) at the
    returned scalings, computed once instead of re-solving (which would iterate again when the
    solver stopped at its cap).

    Returns ``(log_u, log_v, n_iter, linear, entropic, errors)``; errors: l1 error of b's marginal.
    """
    log_u, log_v, n_iter = transport.sinkhorn_potentials(a, b, C, epsilon, init=init)
    plan = transport.plan_from_potentials(log_u, log_v, C, epsilon)  # (B, V, V)
    linear = (plan * C).sum((-2, -1))
    f = epsilon * torch.where(a > 0, log_u - torch.log(a), 0.0)  # Feydy's dual potentials
    g = epsilon * torch.where(b > 0, log_v - torch.log(b), 0.0)
    entropic = (a * f).sum(-1) + (b * g).sum(-1)
    errors = (plan.sum(-2) - b).abs().sum(-1)
    return log_u, log_v, n_iter, linear, entropic, errors


def _frames(n_iter: int, n_frames: int) -> np.ndarray:
    """Up to ``n_frames`` iteration indices in 0..n_iter-1, geometric (the early iterations change most)."""
    idx = np.unique(np.round(np.geomspace(1, n_iter, n_frames)).astype(int)) - 1
    return idx


@functools.lru_cache(maxsize=32)
def _sweep(preset: str, n: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    x_np, p_np, q_np = histograms(preset, n)
    eps_grid = np.geomspace(EPS_LOW, EPS_HIGH, N_SWEEP)
    sweep = np.empty((3, N_SWEEP, 3))
    with nx.torch_threads(1):
        x, p, q = (torch.as_tensor(v) for v in (x_np, p_np, q_np))
        C = transport.cost_matrix(x, order)
        a, b = torch.stack([p, p, q]), torch.stack([q, p, q])  # (3, V): pairs pq, pp, qq
        init, prev = None, None
        for e in range(N_SWEEP - 1, -1, -1):  # large to small epsilon, warm-started
            eps = float(eps_grid[e])
            if init is not None:
                init = (init[0] * prev / eps, init[1] * prev / eps)  # same f = eps log u, g = eps log v
            lu, lv, __, lin, ent, err = solve(a, b, C, eps, init=init)
            init, prev = (lu, lv), eps
            sweep[:, e] = lin.numpy(), ent.numpy(), err.numpy()
    return eps_grid, sweep


def epsilon_sweep(preset: str, n: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """``(eps_grid (E,), values (3, E, 3))``: [linear, entropic, errors] x epsilon x pair (pq, pp, qq).

    It does not depend on the epsilon being looked at, so it is memoised (returned as copies):
    moving the epsilon slider re-solves one epsilon, not the whole sweep.
    """
    eps_grid, sweep = _sweep(preset, n, order)
    return eps_grid.copy(), sweep.copy()


def transport_lesson(preset: str = "bimodal", n: int = 40, epsilon: float = DEFAULT_EPSILON,
                     order: int = 2) -> TransportResult:
    """Exact and entropic transport between the preset's p and q (see the module docstring)."""
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    if not (isinstance(epsilon, (int, float)) and EPS_LOW <= epsilon <= EPS_HIGH):
        raise ValueError(f"epsilon must be in [{EPS_LOW:g}, {EPS_HIGH:g}], got {epsilon!r}")
    x_np, p_np, q_np = histograms(preset, n)
    exact = transport.exact_plan(p_np, q_np, x_np, order)
    cost = np.abs(x_np[:, None] - x_np[None, :]) ** order
    with nx.torch_threads(1):
        x, p, q = (torch.as_tensor(v) for v in (x_np, p_np, q_np))
        C = transport.cost_matrix(x, order)
        a, b = torch.stack([p, p, q]), torch.stack([q, p, q])  # (3, V): pairs pq, pp, qq
        __, __, n_iter, linear, entropic, errors = solve(a, b, C, float(epsilon))
        iters, plans, hist_err = transport.sinkhorn_history(p_np, q_np, x_np, order, float(epsilon),
                                                            every=1, max_frames=transport.MAX_ITER)
        keep = _frames(len(iters), N_FRAMES)
        plan = plans[-1]
    eps_grid, sweep = epsilon_sweep(preset, int(n), int(order))
    return TransportResult(
        preset=preset, order=int(order), epsilon=float(epsilon), x=x_np, p=p_np, q=q_np,
        exact_plan=exact, wasserstein=float((exact * cost).sum()), plan=plan, n_iter=int(n_iter),
        linear=linear.numpy(), entropic=entropic.numpy(), errors=errors.numpy(),
        history_iters=iters[keep], history_plans=plans[keep], history_errors=hist_err[keep],
        eps_grid=eps_grid, sweep_linear=sweep[0], sweep_entropic=sweep[1], sweep_errors=sweep[2])


def takeaway(res: TransportResult) -> str:
    """The sentences under the figures, from the numbers on screen; each comparison they state is checked."""
    over = res.sinkhorn - res.wasserstein
    blurred = (_("The Sinkhorn plan is the exact plan blurred by ε: at ε = {eps:g} the Sinkhorn distance "
                 "is {sinkhorn:.4g} against the exact W = {w:.4g} (over by {diff:.2g}).") if over >= 0 else
               _("The Sinkhorn plan is the exact plan blurred by ε: at ε = {eps:g} the Sinkhorn distance "
                 "is {sinkhorn:.4g} against the exact W = {w:.4g} (under by {diff:.2g})."))
    sentences = [blurred.format(eps=res.epsilon, sinkhorn=res.sinkhorn, w=res.wasserstein, diff=abs(over))]
    bias, ok = res.sweep_linear[:, 1], res.sweep_converged
    if ok.sum() > 1 and np.all(np.diff(bias[ok]) >= 0):
        sentences.append(_("The bias W_ε(p, p) = {bias:.2g} is above 0 although p is compared with itself, "
                           "and it grows with ε, to {last:.3g} at ε = {eps_last:g}.").format(
                               bias=res.linear[1], last=bias[ok][-1], eps_last=res.eps_grid[ok][-1]))
    else:
        sentences.append(_("The bias W_ε(p, p) = {bias:.2g} is above 0 although p is compared with "
                           "itself.").format(bias=res.linear[1]))
    closer = tuple(abs(v - res.wasserstein) < abs(over) for v in (res.div_linear, res.div_entropic))
    debiased = {  # (seed's closer to W than the Sinkhorn distance, Feydy's closer)
        (True, True): _("Debiased: seed's version {seed:.4g}, Feydy's {feydy:.4g}; both are closer to W "
                        "than the Sinkhorn distance."),
        (True, False): _("Debiased: seed's version {seed:.4g}, Feydy's {feydy:.4g}; seed's is closer to W "
                         "than the Sinkhorn distance."),
        (False, True): _("Debiased: seed's version {seed:.4g}, Feydy's {feydy:.4g}; Feydy's is closer to W "
                         "than the Sinkhorn distance."),
        (False, False): _("Debiased: seed's version {seed:.4g}, Feydy's {feydy:.4g}.")}
    sentences.append(debiased[closer].format(seed=res.div_linear, feydy=res.div_entropic))
    if res.preset == "same":
        sentences.append(_("With p = q both debiased divergences are 0 while W_ε(p, q) is not."))
    return join_sentences(sentences)
