"""Teachers and students.

* Continuous teacher: a Gaussian mixture, evaluated on a grid and normalised there
  (:class:`GaussianMixture`); mean and variance of the continuous mixture in closed form.
* Discrete teachers: AKL's two toys, a Zipf long tail, a seeded Dirichlet draw, or any array
  (:func:`discrete_teacher`, :data:`DISCRETE_PRESETS`).
* Students: a Gaussian ``(mu, log sigma)`` on the same grid, or free softmax logits
  (:class:`GaussianStudent`, :class:`SoftmaxStudent`). Both map a batch of parameter rows
  ``(K, P)`` to log-probabilities ``(K, V)``: one row per divergence being fitted.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from kdviz.divergences import logit_grad
from kdviz.i18n import N_

MAX_COMPONENTS = 5
MAX_CLASSES = 5000


@dataclass(frozen=True)
class Grid:
    """A uniform 1-D grid on which continuous densities become probability vectors."""

    low: float = -10.0  # left end
    high: float = 10.0  # right end
    n: int = 512  # number of points

    def __post_init__(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"grid needs finite low < high, got {self.low!r}, {self.high!r}")
        if not 2 <= int(self.n) <= 20000 or int(self.n) != self.n:
            raise ValueError(f"grid size must be an integer in [2, 20000], got {self.n!r}")

    def points(self, dtype=torch.float64) -> torch.Tensor:
        return torch.linspace(self.low, self.high, int(self.n), dtype=dtype)  # (V,)

    @property
    def step(self) -> float:
        return (self.high - self.low) / (self.n - 1)


def _log_normal(x, mean, std):
    """Log density of N(mean, std^2) at x (broadcasting)."""
    return -0.5 * ((x - mean) / std) ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True)
class GaussianMixture:
    """A Gaussian mixture teacher ``sum_k w_k N(m_k, s_k^2)`` (weights renormalised to 1)."""

    weights: tuple[float, ...] = (0.5, 0.5)
    means: tuple[float, ...] = (-3.0, 3.0)
    stds: tuple[float, ...] = (1.0, 1.0)

    def __post_init__(self):
        k = len(self.weights)
        if not 1 <= k <= MAX_COMPONENTS or len(self.means) != k or len(self.stds) != k:
            raise ValueError(f"a mixture needs 1 to {MAX_COMPONENTS} components with a weight, mean and std "
                             f"each, got {len(self.weights)}, {len(self.means)}, {len(self.stds)}")
        vals = (*self.weights, *self.means, *self.stds)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals):
            raise ValueError(f"mixture parameters must be finite numbers, got {vals!r}")
        if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError(f"mixture weights must be >= 0 with a positive sum, got {self.weights!r}")
        if any(s <= 0 for s in self.stds):
            raise ValueError(f"mixture stds must be > 0, got {self.stds!r}")

    @property
    def normalized_weights(self) -> np.ndarray:
        w = np.asarray(self.weights, dtype=float)
        return w / w.sum()

    def log_prob(self, grid: Grid, dtype=torch.float64) -> torch.Tensor:
        """log p on the grid, normalised over the grid points: ``(V,)``."""
        x = grid.points(dtype)[:, None]  # (V, 1)
        w = torch.as_tensor(self.normalized_weights, dtype=dtype)
        m = torch.as_tensor(self.means, dtype=dtype)
        s = torch.as_tensor(self.stds, dtype=dtype)
        log_dens = torch.logsumexp(torch.log(w) + _log_normal(x, m, s), dim=-1)  # (V,)
        return log_dens - torch.logsumexp(log_dens, dim=-1)

    def prob(self, grid: Grid, dtype=torch.float64) -> torch.Tensor:
        return self.log_prob(grid, dtype).exp()

    def mean(self) -> float:
        """Mean of the continuous mixture, ``sum_k w_k m_k``."""
        return float(np.dot(self.normalized_weights, self.means))

    def variance(self) -> float:
        """Variance of the continuous mixture, ``sum_k w_k (s_k^2 + m_k^2) - mean^2``."""
        w, m, s = self.normalized_weights, np.asarray(self.means), np.asarray(self.stds)
        return float(np.dot(w, s**2 + m**2) - self.mean() ** 2)


# --------------------------------------------------------------------------- discrete teachers
def _akl_support(n: int, step: float) -> np.ndarray:
    return np.arange(n) * step


def _normalise_density(x: np.ndarray, terms) -> np.ndarray:
    dens = sum(w * np.exp(-0.5 * ((x - m) / s) ** 2) / s for w, m, s in terms)
    return dens / dens.sum()


def akl_bimodal(n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """AKL Fig. 2: 50 classes at x = 0, 2, ..., 98, p ∝ 0.3 N(25, 10²) + 0.5 N(75, 10²)."""
    x = _akl_support(n, 2.0)
    return x, _normalise_density(x, [(0.3, 25.0, 10.0), (0.5, 75.0, 10.0)])


def akl_unimodal(n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """AKL Fig. 2, second panel: p ∝ N(50, 15²) over the same 50 classes."""
    x = _akl_support(n, 2.0)
    return x, _normalise_density(x, [(1.0, 50.0, 15.0)])


def zipf(n: int = 50, exponent: float = 1.2) -> tuple[np.ndarray, np.ndarray]:
    """A power-law long tail p_k ∝ k^(-exponent), k = 1..n (a token distribution's shape)."""
    if not (math.isfinite(exponent) and 0 <= exponent <= 10):
        raise ValueError(f"zipf exponent must be in [0, 10], got {exponent!r}")
    x = np.arange(n, dtype=float)
    w = (x + 1.0) ** (-exponent)
    return x, w / w.sum()


def dirichlet(n: int = 50, concentration: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random teacher drawn from Dirichlet(concentration * 1) with a fixed seed."""
    if not (math.isfinite(concentration) and concentration > 0):
        raise ValueError(f"dirichlet concentration must be > 0, got {concentration!r}")
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(n, concentration))
    p = np.maximum(p, np.finfo(float).tiny)  # keep every class possible so that RKL stays finite
    return np.arange(n, dtype=float), p / p.sum()


# key -> (display name, marked with N_ and translated where shown; the function making it)
DISCRETE_PRESETS = {
    "akl_bimodal": (N_("AKL toy: bimodal (0.3 N(25,10²) + 0.5 N(75,10²))"), akl_bimodal),
    "akl_unimodal": (N_("AKL toy: unimodal N(50, 15²)"), akl_unimodal),
    "zipf": (N_("Zipf long tail (k^-1.2)"), zipf),
    "dirichlet": (N_("Random (Dirichlet 0.5, seeded)"), dirichlet),
}


def discrete_teacher(name: str, n: int = 50, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """A discrete preset as ``(x, p)`` arrays of shape ``(n,)``."""
    if name not in DISCRETE_PRESETS:
        raise ValueError(f"unknown discrete preset {name!r}; expected one of {sorted(DISCRETE_PRESETS)}")
    if not 2 <= int(n) <= MAX_CLASSES:
        raise ValueError(f"number of classes must be in [2, {MAX_CLASSES}], got {n!r}")
    return DISCRETE_PRESETS[name][1](int(n), **kwargs)


def teacher_from_array(values, kind: str = "auto") -> np.ndarray:
    """A probability vector from user data (an upload): probabilities or logits.

    ``kind``: ``"probs"`` (non-negative, normalised here), ``"logits"`` (softmax), or ``"auto"``
    (probabilities if all entries are >= 0, logits otherwise). Raises ValueError on anything
    that is not a finite 1-D numeric vector of 2 to MAX_CLASSES entries.
    """
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("the teacher must be numbers only (probabilities or logits)") from None
    # one number: 1 class, not shape ()
    arr = np.squeeze(arr).reshape(-1) if np.size(arr) == 1 else np.squeeze(arr)
    if arr.ndim != 1:
        raise ValueError(f"the teacher must be one vector of numbers, got an array of shape {arr.shape}")
    if not 2 <= arr.size <= MAX_CLASSES:
        raise ValueError(f"the teacher needs 2 to {MAX_CLASSES} classes, got {arr.size}")
    if not np.isfinite(arr).all():
        raise ValueError("the teacher contains NaN or infinite values")
    if kind not in ("auto", "probs", "logits"):
        raise ValueError(f"kind must be 'auto', 'probs' or 'logits', got {kind!r}")
    if kind == "logits" or (kind == "auto" and (arr < 0).any()):
        z = arr - arr.max()
        p = np.exp(z)
        return p / p.sum()
    if (arr < 0).any():
        raise ValueError(f"probabilities must be >= 0, got min {arr.min():.3g}")
    if arr.sum() <= 0:
        raise ValueError("probabilities must have a positive sum, got all zeros")
    return arr / arr.sum()


# --------------------------------------------------------------------------- students
@dataclass(frozen=True)
class GaussianStudent:
    """q = N(mu, sigma^2) on a grid, parameterised by ``(mu, log sigma)`` so that sigma > 0."""

    grid: Grid = Grid()
    fixed_sigma: bool = False  # fit the mean only

    kind = "gaussian"

    @functools.cached_property
    def _points_by_dtype(self) -> dict:
        return {}

    def _points(self, dtype: torch.dtype) -> torch.Tensor:
        """The grid points ``(V,)`` in ``dtype``, converted from float64 once per dtype."""
        if dtype not in self._points_by_dtype:
            self._points_by_dtype[dtype] = self.grid.points(torch.float64).to(dtype)
        return self._points_by_dtype[dtype]

    def init_params(self, mu: float, sigma: float, dtype=torch.float64) -> torch.Tensor:
        if not (math.isfinite(mu) and math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"student start needs a finite mu and sigma > 0, got {mu!r}, {sigma!r}")
        return torch.tensor([mu, math.log(sigma)], dtype=dtype)  # (2,)

    def log_prob(self, params: torch.Tensor) -> torch.Tensor:
        """``(K, 2)`` rows ``(mu, log sigma)`` -> ``(K, V)`` log-probabilities on the grid."""
        return _GaussianLogProb.apply(params, self._points(params.dtype))

    def log_prob_and_vjp(self, params: torch.Tensor, out: torch.Tensor | None = None):
        """``log q (K, V)`` (written into ``out`` if given) and the map ``dL/dlog q (K, V) ->
        dL/dparams (K, 2)`` (no autograd)."""
        log_q, saved = _gaussian_log_prob(params, self._points(params.dtype), out)
        return log_q, lambda g: _gaussian_vjp(g, *saved)

    def grad_mask(self, dtype=torch.float64) -> torch.Tensor:
        """Which parameters move (sigma is frozen in fixed-variance mode)."""
        return torch.tensor([1.0, 0.0 if self.fixed_sigma else 1.0], dtype=dtype)

    @staticmethod
    def describe(params: np.ndarray) -> dict:
        """Readable parameters from rows ``(..., 2)``."""
        return {"mu": params[..., 0], "sigma": np.exp(params[..., 1])}


@dataclass(frozen=True)
class SoftmaxStudent:
    """q = softmax(z) over V classes with free logits z."""

    n_classes: int = 50
    init: str = "random"  # "random": uniform in [0, 1) from the seed (AKL's toy); "uniform": z = 0
    seed: int = 1

    kind = "softmax"

    def init_params(self, dtype=torch.float64) -> torch.Tensor:
        if self.init == "uniform":
            return torch.zeros(self.n_classes, dtype=dtype)
        if self.init != "random":
            raise ValueError(f"softmax init must be 'random' or 'uniform', got {self.init!r}")
        gen = torch.Generator().manual_seed(int(self.seed))
        return torch.rand(self.n_classes, generator=gen, dtype=torch.float64).to(dtype)  # (V,)

    def log_prob(self, params: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(params, dim=-1)  # (K, V)

    def log_prob_and_vjp(self, params: torch.Tensor, out: torch.Tensor | None = None):
        """``log q (K, V)`` (written into ``out`` if given) and the map ``dL/dlog q -> dL/dz``
        (:func:`kdviz.divergences.logit_grad`)."""
        log_q = torch.log_softmax(params, dim=-1, out=out)
        return log_q, lambda g: logit_grad(g, log_q)

    def grad_mask(self, dtype=torch.float64) -> torch.Tensor:
        return torch.ones(self.n_classes, dtype=dtype)


def _gaussian_log_prob(params: torch.Tensor, x: torch.Tensor, out: torch.Tensor | None = None):
    """``log q`` of Gaussian rows on the grid (into ``out`` if given) and what its gradient needs:
    ``(s, 1/sigma, log q)``."""
    inv_sigma = torch.exp(-params[:, 1:])  # (K, 1)
    s = (x - params[:, :1]) * inv_sigma  # (K, V)
    z = -0.5 * s * s  # (K, V): the logits of q on the grid
    log_q = torch.log_softmax(z, dim=-1, out=out)  # fast even where exp(z - max z) underflows
    return log_q, (s, inv_sigma, log_q)


def _gaussian_vjp(g: torch.Tensor, s: torch.Tensor, inv_sigma: torch.Tensor, log_q: torch.Tensor):
    """``dL/d(mu, log sigma)`` from ``g = dL/dlog q``: with ``g_z`` the gradient w.r.t. the logits
    ``z = -s^2 / 2`` (:func:`kdviz.divergences.logit_grad`), ``dL/dmu = sum(g_z s) / sigma`` and
    ``dL/dlog sigma = sum(g_z s^2)``."""
    g_s = logit_grad(g, log_q) * s  # (K, V)
    return torch.cat([g_s.sum(-1, keepdim=True) * inv_sigma, (g_s * s).sum(-1, keepdim=True)], -1)


class _GaussianLogProb(torch.autograd.Function):
    """``log q`` of Gaussian rows on the grid as one autograd node with the closed-form gradient
    (:func:`_gaussian_vjp`); ``tests/test_divergence_grads.py`` checks it against autograd and gradcheck."""

    @staticmethod
    def forward(ctx, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        log_q, saved = _gaussian_log_prob(params, x)
        ctx.save_for_backward(*saved)
        return log_q

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        return _gaussian_vjp(g, *ctx.saved_tensors), None
