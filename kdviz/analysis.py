"""Loss landscapes over the Gaussian student's (mu, sigma) and gradient analysis per token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from scipy import ndimage

from kdviz.divergences import divergence_from_log, get_spec
from kdviz.families import GaussianStudent

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
def _skew(p, q, alpha):
    return alpha * p + (1 - alpha) * q


# Coefficient c(q, p, alpha) such that the single-sample gradient (y* drawn from p) is
# c * grad q(y*), i.e. c = (dD/dq(y*)) / p(y*), as on the seed's slides.
GRADIENT_COEFFICIENTS = {
    "fkl": (r"-\frac{1}{q}", lambda q, p, a: -1.0 / q),
    "rkl": (r"\frac{1}{p}\left(\log\frac{q}{p}+1\right)", lambda q, p, a: (np.log(q / p) + 1.0) / p),
    "tvd": (r"-\frac{1}{p}\,[q<p]", lambda q, p, a: np.where(q < p, -1.0 / p, 0.0)),
    "skl": (r"-\frac{1-\alpha}{\tilde q},\;\tilde q=\alpha p+(1-\alpha)q",
            lambda q, p, a: -(1 - a) / _skew(p, q, a)),
    "srkl": (r"\frac{1}{p}\left(\log\frac{q}{\tilde p}+1-\frac{\alpha q}{\tilde p}\right),\;\tilde p=\alpha q+(1-\alpha)p",
             lambda q, p, a: (np.log(q / _skew(q, p, a)) + 1.0 - a * q / _skew(q, p, a)) / p),
}


def gradient_coefficient(name: str, q, p, alpha: float = 0.1) -> np.ndarray:
    """The coefficient multiplying ``grad q(y*)`` for one token under divergence ``name``.

    ``q``, ``p``: the student's and teacher's probability of the token (arrays broadcast).
    KL's ``-1/q`` explodes as q -> 0; TVD's is bounded by ``1/p`` and zero once q >= p; SKL's
    is bounded by ``(1-alpha)/(alpha p)``. These are the exact partial derivatives divided by p
    (the seed writes RKL's "+1" as "-1" and SRKL's ``alpha q / p~`` as ``alpha / p~``; both
    forms differ from the exact one, and the constant in RKL's vanishes on the simplex).
    TVD uses the seed's form ``1 - sum min(p, q)``.
    """
    if name not in GRADIENT_COEFFICIENTS:
        raise ValueError(f"gradient coefficients exist for {sorted(GRADIENT_COEFFICIENTS)}, got {name!r}")
    q = np.asarray(q, dtype=float)
    p = np.asarray(p, dtype=float)
    if (q <= 0).any() or (p <= 0).any() or (q > 1).any() or (p > 1).any():
        raise ValueError("token probabilities must be in (0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        return GRADIENT_COEFFICIENTS[name][1](q, p, alpha)


def logit_gradients(p, logits, names: Sequence[str], params: dict | None = None) -> np.ndarray:
    """Per-class gradient ``dD/dz_y`` of each divergence w.r.t. the student's logits: ``(K, V)``.

    Shows which tokens push hardest on the current student ``q = softmax(z)``.
    """
    from kdviz.fitting import resolve_params  # local: fitting imports this module's users

    log_p = torch.log(torch.as_tensor(p, dtype=torch.float64))
    out = []
    for name, kw in zip(names, resolve_params(names, params)):
        z = torch.as_tensor(logits, dtype=torch.float64).clone().requires_grad_(True)
        value = divergence_from_log(name, log_p, torch.log_softmax(z, -1), **kw)
        if not value.requires_grad:  # q drops out (skew KL with alpha = 1 is KL(p || p) = 0)
            out.append(np.zeros(z.shape[-1]))
            continue
        value.backward()
        out.append(z.grad.numpy())
    return np.stack(out)
