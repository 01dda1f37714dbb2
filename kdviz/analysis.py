"""Loss landscapes over the Gaussian student's (mu, sigma) and gradient analysis per token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from kdviz.divergences import DIVERGENCES, divergence_from_log, get_spec, logit_grad, spec_value_and_grad
from kdviz.families import GaussianStudent
from kdviz.transport import support

LANDSCAPE_CHUNK = 256  # rows of (mu, sigma) per batched call (bounds memory for transport divergences)


@dataclass
class Landscape:
    """``values[i, j]`` = D(p, N(mus[j], sigmas[i]^2)) on the student's grid."""

    name: str
    mus: np.ndarray  # (M,)
    sigmas: np.ndarray  # (N,) log-spaced
    values: np.ndarray  # (N, M)
    local_minima: np.ndarray  # (L, 2) rows (mu, sigma) of the grid's local minima, global first
    global_min: tuple[float, float]  # (mu, sigma)


def landscape(log_p, student: GaussianStudent, name: str, mus: Sequence[float], sigmas: Sequence[float],
              *, x=None, **params) -> Landscape:
    """Evaluate divergence ``name`` for every Gaussian student on the (mu, sigma) grid.

    Local minima: grid points not larger than any of their 8 neighbours (edges excluded, where
    a minimum only says the range is too small), found with ``scipy.ndimage.minimum_filter``.
    """
    from scipy import ndimage  # scipy only here: importing kdviz stays light

    mus = np.asarray(mus, dtype=float)
    sigmas = np.asarray(sigmas, dtype=float)
    if mus.ndim != 1 or sigmas.ndim != 1 or len(mus) < 3 or len(sigmas) < 3 or (sigmas <= 0).any():
        raise ValueError("landscape needs at least 3 mus and 3 positive sigmas")
    log_p = torch.as_tensor(log_p, dtype=torch.float64)
    S, M = np.meshgrid(np.log(sigmas), mus, indexing="ij")  # (N, M)
    theta = torch.as_tensor(np.stack([M.ravel(), S.ravel()], -1))  # (N*M, 2)
    if get_spec(name).needs_support and x is None:
        x = student.grid.points()
    with torch.no_grad():
        vals = torch.cat([divergence_from_log(name, log_p, student.log_prob(chunk), x=x, **params)
                          for chunk in theta.split(LANDSCAPE_CHUNK)])
    values = vals.numpy().reshape(S.shape)
    finite = np.where(np.isfinite(values), values, np.inf)
    is_min = finite <= ndimage.minimum_filter(finite, size=3, mode="nearest")
    is_min[[0, -1], :] = False
    is_min[:, [0, -1]] = False
    gi = np.unravel_index(np.argmin(finite), finite.shape)
    rows = sorted(zip(*np.nonzero(is_min)), key=lambda ij: finite[ij])
    rows = [gi] + [ij for ij in rows if tuple(ij) != tuple(gi)]
    minima = np.array([(mus[j], sigmas[i]) for i, j in rows])
    return Landscape(name, mus, sigmas, values, minima, (float(mus[gi[1]]), float(sigmas[gi[0]])))


# --------------------------------------------------------------------------- gradient analysis
COEFFICIENT_NAMES = tuple(n for n, spec in DIVERGENCES.items() if spec.grad_latex)  # the seed's slides


def gradient_coefficient(name: str, q, p, alpha: float = 0.1) -> np.ndarray:
    """The coefficient ``c`` multiplying ``grad q(y*)`` for one token under divergence ``name``.

    The single-sample gradient (y* drawn from p) is ``c grad q(y*)`` with ``c = (dD/dq(y*)) / p(y*)``
    (the seed's slides) and ``dD/dq = grad / q``, ``grad`` the registry's gradient w.r.t. ``log q``.
    The divergences with a coefficient (``spec.grad_latex``) are sums of per-class terms, so the
    per-class gradient depends only on that class's ``(p, q)``: each token is a one-class row.
    ``q``, ``p``: the student's and teacher's probability of the token (arrays broadcast).
    KL's ``-1/q`` explodes as q -> 0; TVD's is bounded by ``1/p`` and zero once q >= p; SKL's
    is bounded by ``(1-alpha)/(alpha p)``. The seed writes RKL's "+1" as "-1" and SRKL's
    ``alpha q / p~`` as ``alpha / p~``; both differ from the exact form (the constant in RKL's
    vanishes on the simplex).
    """
    spec = get_spec(name)
    if not spec.grad_latex:
        raise ValueError(f"gradient coefficients exist for {list(COEFFICIENT_NAMES)}, got {name!r}")
    q, p = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(p, dtype=float))
    if (q <= 0).any() or (p <= 0).any() or (q > 1).any() or (p > 1).any():
        raise ValueError("token probabilities must be in (0, 1]")
    log_q, log_p = torch.as_tensor(np.log(q))[..., None], torch.as_tensor(np.log(p))[..., None]  # (..., 1)
    kw = spec.resolve({"alpha": float(alpha)} if spec.params else {})
    _, grad = spec_value_and_grad(spec, log_p, log_q, kw)
    return (grad[..., 0].numpy() / q) / p


def logit_gradients(p, logits, names: Sequence[str], params: dict | None = None) -> np.ndarray:
    """Per-class gradient ``dD/dz_y`` of each divergence w.r.t. the student's logits: ``(K, V)``.

    Shows which tokens push hardest on the current student ``q = softmax(z)``: the registry's
    gradient w.r.t. ``log q`` through the softmax (:func:`kdviz.divergences.logit_grad`).
    """
    from kdviz.fitting import resolve_params  # local: fitting imports this module's users

    log_p = torch.log(torch.as_tensor(p, dtype=torch.float64))
    log_q = torch.log_softmax(torch.as_tensor(logits, dtype=torch.float64), -1)
    out = []
    for name, kw in zip(names, resolve_params(names, params)):
        spec = get_spec(name)
        if spec.needs_support:
            kw["x"] = support(None, log_q.shape[-1])
        out.append(logit_grad(spec_value_and_grad(spec, log_p, log_q, kw)[1], log_q).numpy())
    return np.stack(out)
