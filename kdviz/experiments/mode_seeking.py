"""Lesson "Mode seeking vs mean seeking" (MiniLLM, Gu et al. 2023, Fig. 2).

One Gaussian student ``q = N(mu, sigma^2)`` is fitted to a Gaussian-mixture teacher ``p`` under
several divergences at once, from the same start. Forward KL's optimum over Gaussians is moment
matching (``mu = E_p[x]``, ``sigma^2 = Var_p[x]``): it spreads over every mode. Reverse KL has one
local minimum per well-separated mode (plus a broad one between them) and a student that starts
near a mode locks onto it. The loss landscape over ``(mu, sigma)`` shows why.

The paper gives no mixture parameters; the presets are ours.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch

from kdviz.analysis import Landscape, landscape
from kdviz.divergences import get_spec
from kdviz.experiments import FIT_CHOICES as CHOICES
from kdviz.experiments import GRID, MU_MAX, SIGMA_RANGE, escaped, mass_outside
from kdviz.experiments import SLOW_TO_FIT as EXCLUDED
from kdviz.families import GaussianMixture, GaussianStudent
from kdviz.fitting import FitConfig, fit
from kdviz.i18n import N_, _, ngettext, sentences

DEFAULT_NAMES = ("fkl", "rkl", "jsd", "tvd")
MAX_COMPONENTS = 4
DEFAULT_START = (1.5, 1.0)  # (mu0, sigma0): near the right mode of the bimodal preset, so RKL locks onto it
LANDSCAPE_SHAPE = (61, 40)  # (mus, sigmas) of the landscape grid
LANDSCAPE_MU = (-8.0, 8.0)  # mu range of the landscape (widened to contain the optimisation path)
LANDSCAPE_SIGMA = (0.2, 8.0)  # sigma range, log-spaced (widened likewise)
TIE_RTOL = 1e-6  # minima whose values agree to this relative tolerance are tied global minima
N_STARTS = 64  # random starts of the "many starts" view, fitted in one batch
STD_MIN, SIGMA0_MIN = 0.25, 0.2  # slider minima of the teacher's stds and of σ₀ (5-6 grid points per std)

# name -> (weights, means, stds). The MiniLLM paper gives no parameters: these are our choices. The
# names are the option keys (and the URL's values); the page shows them translated.
PRESETS: dict[str, tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]] = {
    N_("MiniLLM-style bimodal"): ((0.5, 0.5), (-3.0, 3.0), (1.0, 1.0)),
    N_("close modes"): ((0.5, 0.5), (-1.5, 1.5), (1.0, 1.0)),
    N_("unequal weights"): ((0.7, 0.3), (-3.0, 3.0), (1.0, 1.0)),
    N_("three modes"): ((0.3, 0.4, 0.3), (-5.0, 0.0, 5.0), (1.0, 1.0, 1.0)),
}


@dataclass
class ModeSeekingResult:
    """One fit per divergence (row k is ``names[k]``) plus the landscape of one divergence."""

    names: list[str]
    x: np.ndarray  # (V,) grid points
    p: np.ndarray  # (V,) teacher density on the grid (probability / grid step)
    frame_steps: np.ndarray  # (F,)
    frames: np.ndarray  # (K, F, V) student densities at frame_steps
    loss: np.ndarray  # (K, S+1)
    mu: np.ndarray  # (K, S+1) student mean at every step
    sigma: np.ndarray  # (K, S+1) student std at every step
    diverged_at: np.ndarray  # (K,) first non-finite step, -1 = never
    q_mean: np.ndarray  # (K,) mean of the final student on the grid (the grid truncates it at its ends)
    q_std: np.ndarray  # (K,) its std on the grid
    mixture_mean: float  # moments of the continuous mixture (FKL's optimum when p lies on the grid)
    mixture_std: float
    grid_mean: float  # moments of the discretised teacher on the grid
    grid_std: float
    mass_outside: float  # teacher mass outside [GRID.low, GRID.high]
    landscape_name: str
    land_mus: np.ndarray  # (M,)
    land_sigmas: np.ndarray  # (N,) log-spaced
    land_values: np.ndarray  # (N, M) D(p, N(mu, sigma^2))
    local_minima: np.ndarray  # (L, 2) rows (mu, sigma), global first
    global_min: tuple[float, float]
    n_global: int  # the first n_global rows of local_minima tie for the global minimum (TIE_RTOL)
    starts: np.ndarray  # (R, 2) random starts (mu, sigma) of the landscape divergence
    ends: np.ndarray  # (R, 2) where each ends after the same steps
    basin: np.ndarray  # (R,) index of the local minimum nearest each end (in mu, log sigma)
    path_mu: np.ndarray  # (S+1,) the landscape divergence's own optimisation path
    path_sigma: np.ndarray  # (S+1,)

    @property
    def final_mu(self) -> np.ndarray:
        return self.mu[:, -1]  # (K,)

    @property
    def final_sigma(self) -> np.ndarray:
        return self.sigma[:, -1]  # (K,)

    def still_moving(self, tol: float = 0.02) -> list[str]:
        """Divergences whose (mu, sigma) moved more than ``tol`` over the last 10% of the steps."""
        S = self.mu.shape[1] - 1
        back = max(1, S // 10)
        move = np.abs(self.mu[:, -1] - self.mu[:, -1 - back]) + np.abs(
            np.log(self.sigma[:, -1] / self.sigma[:, -1 - back]))
        return [n for n, m in zip(self.names, move) if S > 0 and m > tol]

    def basin_counts(self) -> np.ndarray:
        """How many of the random starts end at each local minimum: ``(L,)``."""
        return np.bincount(self.basin, minlength=len(self.local_minima))

    def export(self) -> tuple[dict, dict]:
        """``(CSV columns, JSON data)`` of the page's downloads: the final students; the teacher,
        every trajectory and the landscape."""
        csv = {"divergence": self.names, "mu": self.final_mu, "sigma": self.final_sigma,
               "mean_on_grid": self.q_mean, "std_on_grid": self.q_std, "final_loss": self.loss[:, -1],
               "diverged_at": self.diverged_at}
        steps = np.arange(self.loss.shape[1])
        return csv, {
            "grid": [GRID.low, GRID.high, len(self.x)],
            "teacher": dict(mean=self.mixture_mean, std=self.mixture_std, grid_mean=self.grid_mean,
                            grid_std=self.grid_std),
            "trajectories": {n: dict(step=steps, loss=self.loss[k], mu=self.mu[k], sigma=self.sigma[k])
                             for k, n in enumerate(self.names)},
            "landscape": dict(divergence=self.landscape_name, mus=self.land_mus, sigmas=self.land_sigmas,
                              values=self.land_values, local_minima=self.local_minima,
                              global_min=self.global_min, tied_global_minima=self.n_global),
            "many_starts": dict(starts=self.starts, ends=self.ends, basin=self.basin)}


@functools.lru_cache(maxsize=16)
def _landscape(teacher: GaussianMixture, name: str, mu_range, sigma_range, shape) -> Landscape:
    """The landscape depends on the teacher, not on the start or the optimiser: memoised so that
    moving those controls does not recompute it. (Callers must not modify the arrays.)"""
    student = GaussianStudent(GRID)
    return landscape(teacher.log_prob(GRID), student, name, np.linspace(*mu_range, shape[0]),
                     np.geomspace(*sigma_range, shape[1]), x=GRID.points())


@functools.lru_cache(maxsize=16)
def _many_starts(teacher: GaussianMixture, name: str, fixed_sigma: float | None,
                 config: FitConfig) -> tuple[np.ndarray, np.ndarray]:
    """:data:`N_STARTS` random starts ``(R, 2)`` and where each ends under ``name``. They do not depend
    on the start the page's students share, so moving it does not refit them: memoised like
    :func:`_landscape`. ``fixed_sigma``: the std every start keeps (the mean alone moves), or None."""
    starts = random_starts(N_STARTS)
    if fixed_sigma is not None:
        starts[:, 1] = fixed_sigma
    student = GaussianStudent(GRID, fixed_sigma=fixed_sigma is not None)
    params = torch.as_tensor(np.stack([starts[:, 0], np.log(starts[:, 1])], -1))
    many = fit(teacher.log_prob(GRID), student, params, [name] * N_STARTS, config, x=GRID.points(),
               stop=escaped)
    ends = np.stack([many.params[:, -1, 0], np.exp(many.params[:, -1, 1])], -1)  # a frozen row: its last good
    starts.flags.writeable = ends.flags.writeable = False  # shared by every result that memo serves
    return starts, ends


def _moments(x: np.ndarray, probs: np.ndarray):
    """Mean and std of probability rows ``(..., V)`` on the points ``x``."""
    mean = (probs * x).sum(-1)
    return mean, np.sqrt((probs * (x - np.expand_dims(mean, -1)) ** 2).sum(-1))


def _span(lo: float, hi: float, values: np.ndarray, bound: tuple[float, float]) -> tuple[float, float]:
    """``[lo, hi]`` widened to contain ``values`` (with 5% slack), clipped to ``bound``."""
    vmin, vmax = float(np.min(values)), float(np.max(values))
    return max(min(lo, vmin - 0.05 * abs(vmin)), bound[0]), min(max(hi, vmax + 0.05 * abs(vmax)), bound[1])


def tied_minima(land: Landscape, rtol: float = TIE_RTOL) -> int:
    """How many of ``land.local_minima`` (sorted, global first) lie within ``rtol`` (relative, with
    an absolute floor of ``rtol``) of the smallest value: a tie is a tie, whatever argmin picked."""
    i = np.searchsorted(land.sigmas, land.local_minima[:, 1])
    j = np.searchsorted(land.mus, land.local_minima[:, 0])
    vals = land.values[np.minimum(i, len(land.sigmas) - 1), np.minimum(j, len(land.mus) - 1)]
    return int(np.sum(vals - vals[0] <= rtol * max(abs(vals[0]), 1.0)))


def random_starts(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 2)`` starts ``(mu, sigma)``: mu uniform over LANDSCAPE_MU, sigma log-uniform over [0.5, 4]."""
    gen = np.random.default_rng(seed)
    return np.stack([gen.uniform(*LANDSCAPE_MU, n), np.exp(gen.uniform(np.log(0.5), np.log(4.0), n))], -1)


def nearest_minimum(points: np.ndarray, minima: np.ndarray) -> np.ndarray:
    """Index of the minimum nearest each point ``(R, 2)`` in (mu, log sigma): ``(R,)``."""
    def coords(a):
        return np.stack([a[:, 0], np.log(a[:, 1])], -1)
    return np.linalg.norm(coords(points)[:, None] - coords(minima)[None], axis=-1).argmin(-1)


def mode_seeking(weights: Sequence[float] = PRESETS["MiniLLM-style bimodal"][0],
                 means: Sequence[float] = PRESETS["MiniLLM-style bimodal"][1],
                 stds: Sequence[float] = PRESETS["MiniLLM-style bimodal"][2],
                 mu0: float = DEFAULT_START[0], sigma0: float = DEFAULT_START[1],
                 names: Sequence[str] = DEFAULT_NAMES, *, steps: int = 200, lr: float = 0.1,
                 optimizer: str = "adam", fixed_sigma: bool = False, landscape_name: str = "rkl",
                 n_frames: int = 100,
                 landscape_shape: tuple[int, int] = LANDSCAPE_SHAPE) -> ModeSeekingResult:
    """Fit ``N(mu, sigma^2)`` to the mixture under every divergence in ``names`` and evaluate the
    landscape of ``landscape_name`` over ``(mu, sigma)``.

    The landscape divergence is fitted too (an extra independent row when it is not in ``names``)
    so that its path can be drawn on its landscape.
    """
    names = list(names)
    if not names:
        raise ValueError("pick at least one divergence")
    for n in [*names, landscape_name]:
        get_spec(n)
        if n in EXCLUDED:
            raise ValueError(f"{n!r} is too slow to fit on a {GRID.n}-point grid; "
                             f"choose from {list(CHOICES)}")
    teacher = GaussianMixture(tuple(map(float, weights)), tuple(map(float, means)), tuple(map(float, stds)))
    if len(teacher.weights) > MAX_COMPONENTS:
        raise ValueError(f"at most {MAX_COMPONENTS} components, got {len(teacher.weights)}")
    student = GaussianStudent(GRID, fixed_sigma=bool(fixed_sigma))
    start = student.init_params(float(mu0), float(sigma0))
    log_p = teacher.log_prob(GRID)  # (V,)
    fit_names = names if landscape_name in names else [*names, landscape_name]
    config = FitConfig(steps=int(steps), lr=float(lr), optimizer=optimizer, n_frames=int(n_frames))
    res = fit(log_p, student, start, fit_names, config, x=GRID.points(), stop=escaped)
    K = len(names)
    mu, sigma = res.params[..., 0], np.exp(res.params[..., 1])  # (K', S+1) each
    path = fit_names.index(landscape_name)

    x = GRID.points().numpy()
    p = log_p.exp().numpy()
    grid_mean, grid_std = map(float, _moments(x, p))
    q_mean, q_std = _moments(x, res.frames[:K, -1])
    mu_lo, mu_hi = _span(*LANDSCAPE_MU, mu[path], (GRID.low, GRID.high))
    s_lo, s_hi = _span(*LANDSCAPE_SIGMA, sigma[path], (0.05, 20.0))
    land = _landscape(teacher, landscape_name, (mu_lo, mu_hi), (s_lo, s_hi), tuple(landscape_shape))
    starts, ends = _many_starts(teacher, landscape_name, float(sigma0) if fixed_sigma else None,
                                replace(config, n_frames=2))
    return ModeSeekingResult(
        names=names, x=x, p=p / GRID.step, frame_steps=res.frame_steps, frames=res.frames[:K] / GRID.step,
        loss=res.loss[:K], mu=mu[:K], sigma=sigma[:K], diverged_at=res.diverged_at[:K],
        q_mean=q_mean, q_std=q_std,
        mixture_mean=teacher.mean(), mixture_std=math.sqrt(teacher.variance()),
        grid_mean=grid_mean, grid_std=grid_std, mass_outside=mass_outside(teacher),
        landscape_name=landscape_name, land_mus=land.mus, land_sigmas=land.sigmas, land_values=land.values,
        local_minima=land.local_minima, global_min=land.global_min, n_global=tied_minima(land),
        starts=starts, ends=ends, basin=nearest_minimum(ends, land.local_minima), path_mu=mu[path],
        path_sigma=sigma[path])


def describe(res: ModeSeekingResult, k: int, means: Sequence[float]) -> tuple[str, float | None]:
    """``("locks", mode)`` when student k is narrow (sigma below half the teacher's std) and sits on a
    component mean, else ``("spreads", None)``."""
    means = np.asarray(means, dtype=float)
    mode = float(means[np.argmin(np.abs(means - res.final_mu[k]))])
    narrow = res.final_sigma[k] < 0.5 * res.mixture_std
    if len(means) > 1 and narrow and abs(res.final_mu[k] - mode) < 0.5:
        return "locks", mode
    return "spreads", None


def _n(v: float) -> str:
    """Two decimals without a minus sign on zero ("-0.00" reads as a different number)."""
    return f"{v + 0.0:.2f}" if abs(v) >= 0.005 else "0.00"


def _where(mu: float, sigma: float) -> str:
    return f"μ = {_n(mu)}, σ = {_n(sigma)}"


def takeaway(res: ModeSeekingResult, means: Sequence[float]) -> str:
    """The page's "what you should see", written from this run's numbers (in the viewer's language)."""
    out = []
    for k, n in enumerate(res.names):
        kind, mode = describe(res, k, means)
        where = _where(res.final_mu[k], res.final_sigma[k])
        if kind == "locks":
            out.append(_("**{name}** locks onto the mode at {mode:g} ({where}).").format(
                name=get_spec(n).display_label, mode=mode, where=where))
        else:
            out.append(_("**{name}** spreads over the teacher ({where}).").format(
                name=get_spec(n).display_label, where=where))
    if "fkl" in res.names:
        k = res.names.index("fkl")
        out.append(_("Forward KL's optimum over Gaussians is moment matching: its student has mean {mean} "
                     "and std {std} on the axis, the teacher {teacher_mean} and {teacher_std}.").format(
            mean=_n(res.q_mean[k]), std=_n(res.q_std[k]), teacher_mean=_n(res.grid_mean),
            teacher_std=_n(res.grid_std)))
    if "rkl" in res.names and describe(res, res.names.index("rkl"), means)[0] == "locks":
        out.append(_("Reverse KL has a minimum at each separated mode (and a broad one between them): which "
                     "one it reaches depends on the start."))
    return sentences([*out, many_starts_text(res)])


def many_starts_text(res: ModeSeekingResult) -> str:
    """Where the random starts end, and whether the landscape's global minimum is a tie."""
    counts = res.basin_counts()
    where = "; ".join(_("{count} at {where}").format(count=c, where=_where(m, s)) for c, (m, s) in
                      sorted(zip(counts, res.local_minima), key=lambda t: -t[0]) if c)
    text = _("Of {n} random starts under {name}: {where} (nearest minimum of the landscape after the same "
             "steps).").format(n=len(res.basin), name=get_spec(res.landscape_name).display_label, where=where)
    if res.n_global > 1:
        text += " " + _("The lowest {n} minima tie (equal to {rtol:g} relative): none is better than the "
                        "other.").format(n=res.n_global, rtol=TIE_RTOL)
    return text


def warnings(res: ModeSeekingResult, stds: Sequence[float], sigma0: float) -> list[str]:
    """The page's warnings about this run: teacher mass off the grid, a std or σ₀ at its slider's
    minimum, students that diverged."""
    out = []
    if res.mass_outside > 1e-3:
        out.append(_("{mass:.1%} of the teacher's mass lies outside the grid [{low:g}, {high:g}]: the grid "
                     "teacher is cut there, so its moments differ from the mixture's.").format(
            mass=res.mass_outside, low=GRID.low, high=GRID.high))
    if min(stds) <= STD_MIN:
        out.append(_("A component std is at the minimum ({min}): only about {points:.0f} grid points per "
                     "std, the discretised densities are coarse.").format(min=STD_MIN,
                                                                          points=STD_MIN / GRID.step))
    if sigma0 <= SIGMA0_MIN:
        out.append(_("The start std σ₀ = {sigma0} is at the minimum: very narrow students have huge "
                     "reverse-KL gradients at the first steps.").format(sigma0=sigma0))
    bad = [_("{name} (step {step})").format(name=get_spec(n).display_label, step=t)
           for n, t in zip(res.names, res.diverged_at) if t >= 0]
    if bad:
        out.append(_("Diverged (a non-finite loss, or the student left the grid: σ < {low:.2g}, σ > {high:g} "
                     "or |μ| > {mu:g}); curves frozen from there: {names}. Lower the learning rate.").format(
            low=SIGMA_RANGE[0], high=SIGMA_RANGE[1], mu=MU_MAX, names=", ".join(bad)))
    return out


def still_moving_text(res: ModeSeekingResult) -> str | None:
    """A note naming the students still moving at the last step, or None."""
    moving = res.still_moving()
    if not moving:
        return None
    return _("Still moving at the last step: {names}. More steps (or a larger learning rate) would move them "
             "further.").format(names=", ".join(get_spec(n).display_label for n in moving))


def table(res: ModeSeekingResult) -> list[dict]:
    """The final students against the teacher's moments, one row each (the teacher last)."""
    cols = ("", "μ", "σ", _("mean on the axis"), _("std on the axis"))
    rows = [(get_spec(n).display_label, res.final_mu[k], res.final_sigma[k], res.q_mean[k], res.q_std[k])
            for k, n in enumerate(res.names)]
    rows.append((_("teacher"), res.mixture_mean, res.mixture_std, res.grid_mean, res.grid_std))
    return [dict(zip(cols, (name, *map(_n, values)))) for name, *values in rows]


def table_caption() -> str:
    return _("μ, σ: the fitted parameters (teacher: the mixture's mean and std); mean and std on the axis: "
             "the moments of the density drawn, which stops at ±{high:g} and so cuts a wide student. Forward "
             "KL's optimum matches the teacher's moments.").format(high=GRID.high)


def landscape_caption(res: ModeSeekingResult) -> str:
    """What the landscape figure draws, with the number of minima it found."""
    found = len(res.local_minima)
    drawn = _("{name} for every Gaussian N(μ, σ²) on a {m}×{s} grid. Star: global minimum (every minimum "
              "tied with the lowest is a star); ×: other local minima (points lower than their 8 "
              "neighbours); line: this divergence's own path from the start circle.").format(
        name=get_spec(res.landscape_name).display_label, m=len(res.land_mus), s=len(res.land_sigmas))
    return drawn + " " + ngettext("{n} minimum found.", "{n} minima found.", found).format(n=found)
