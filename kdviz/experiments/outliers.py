"""Lesson "Outliers and TVD": how far does a small, far-away mass pull a Gaussian student?

The seed says "KLD is sensitive to outliers while TVD is more robust". This toy is ours (f-distill's
Figure 1 is a schematic): the teacher is a main mass ``N(0, 1)`` plus an outlier mass
``N(d, s_o^2)`` of weight ``w``,

.. math:: p = (1 - w)\\,N(0, 1) + w\\,N(d, s_o^2),

and one Gaussian ``q = N(mu, sigma^2)`` is fitted under each divergence, starting from the main
mass ``(0, 1)``: the fit that would be right without the outlier. Forward KL must cover the outlier
(its optimum is moment matching: ``mu = w d``); TVD, skew KL and the mode-seeking divergences
barely move.

The robustness sweep fits one student per (outlier weight, divergence) pair. All of them are rows
of *one* call of the fit loop (:func:`kdviz.fitting.fit`, one teacher per row), with Adam and a
learning rate that shrinks smoothly (cosine decay) to LR_FINAL of itself. The animation's frames are
the students of that same fit at the chosen weight, step by step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from kdviz.divergences import get_spec
from kdviz.experiments import FIT_CHOICES as CHOICES
from kdviz.experiments import GRID, escaped, mass_outside
from kdviz.experiments import SLOW_TO_FIT as EXCLUDED
from kdviz.families import GaussianMixture, GaussianStudent, Grid
from kdviz.fitting import FitConfig, fit, frame_steps
from kdviz.i18n import _, ngettext

DEFAULT_NAMES = ("fkl", "rkl", "tvd", "skl", "jsd")
MAIN = (0.0, 1.0)  # (mean, std) of the main mass; also the students' start
SWEEP_MAX = 0.3  # the robustness curve runs over outlier weights 0 .. SWEEP_MAX
SWEEP_N = 13  # number of outlier weights in the sweep (step 0.025)
LR_FINAL = 0.02  # cosine decay of the learning rate to this fraction: settles TVD's kinks
N_FRAMES = 50  # animation frames: the students at evenly spaced steps of the fit


def outlier_teacher(weight: float, distance: float, outlier_std: float = 0.5) -> GaussianMixture:
    """``(1 - w) N(0, 1) + w N(d, s_o^2)``."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"outlier weight must be in [0, 1), got {weight!r}")
    return GaussianMixture((1.0 - weight, weight), (MAIN[0], float(distance)), (MAIN[1], float(outlier_std)))


@dataclass
class OutliersResult:
    """Fits at the chosen outlier weight and the robustness sweep; row k is ``names[k]``."""

    names: list[str]
    weight: float
    distance: float
    outlier_std: float
    x: np.ndarray  # (V,)
    p: np.ndarray  # (V,) teacher density at the chosen weight
    q: np.ndarray  # (K, V) fitted student densities at the chosen weight
    mu: np.ndarray  # (K, S+1) trajectories at the chosen weight
    sigma: np.ndarray  # (K, S+1)
    loss: np.ndarray  # (K, S+1)
    diverged_at: np.ndarray  # (K,) first non-finite step at the chosen weight, -1 = never
    frame_steps: np.ndarray  # (F,) steps shown by the animation (0 = the start, the last = the fit)
    frames: np.ndarray  # (K, F, V) student densities at those steps
    sweep_weights: np.ndarray  # (W,)
    sweep_mu: np.ndarray  # (K, W) fitted mean per outlier weight
    sweep_sigma: np.ndarray  # (K, W)
    sweep_diverged: np.ndarray  # (K, W) bool
    moment_mu: np.ndarray  # (W,) mean of the teacher: FKL's optimum
    moment_sigma: np.ndarray  # (W,) its std
    mass_outside: float  # teacher mass outside the grid at the chosen weight

    @property
    def final_mu(self) -> np.ndarray:
        return self.mu[:, -1]

    @property
    def final_sigma(self) -> np.ndarray:
        return self.sigma[:, -1]

    def coinciding(self, tol: float = 0.02) -> list[list[str]]:
        """Groups of divergences whose sweep curves (mu and sigma) agree within ``tol`` everywhere:
        in the figures they hide each other."""
        groups: list[list[int]] = []
        for k in range(len(self.names)):
            for g in groups:
                j = g[0]
                if (np.abs(self.sweep_mu[k] - self.sweep_mu[j]).max() < tol
                        and np.abs(self.sweep_sigma[k] - self.sweep_sigma[j]).max() < tol):
                    g.append(k)
                    break
            else:
                groups.append([k])
        return [[self.names[k] for k in g] for g in groups if len(g) > 1]

    def pull(self) -> np.ndarray:
        """How far each fitted mean moved toward the outlier, as a fraction of FKL's optimum
        ``w d`` (1 = as far as moment matching), at the chosen weight: ``(K,)``."""
        target = self.weight * self.distance
        return self.final_mu / target if target > 0 else np.zeros(len(self.names))

    def export(self) -> tuple[dict, dict]:
        """``(CSV columns, JSON data)`` of the page's downloads: the robustness sweep; the final
        students, their trajectories and the sweep with the teacher's moments."""
        csv = {"divergence": [n for n in self.names for __ in self.sweep_weights],
               "outlier_weight": list(self.sweep_weights) * len(self.names),
               "mu": self.sweep_mu.ravel(), "sigma": self.sweep_sigma.ravel()}
        return csv, {
            "start": MAIN, "grid": [GRID.low, GRID.high, len(self.x)],
            "final": {n: dict(mu=self.final_mu[k], sigma=self.final_sigma[k])
                      for k, n in enumerate(self.names)},
            "trajectories": {n: dict(loss=self.loss[k], mu=self.mu[k], sigma=self.sigma[k])
                             for k, n in enumerate(self.names)},
            "sweep": dict(weights=self.sweep_weights, mu=dict(zip(self.names, self.sweep_mu)),
                          sigma=dict(zip(self.names, self.sweep_sigma)), teacher_mean=self.moment_mu,
                          teacher_std=self.moment_sigma)}


def outliers(weight: float = 0.1, distance: float = 6.0, outlier_std: float = 0.5,
             names: Sequence[str] = DEFAULT_NAMES, *, steps: int = 200, lr: float = 0.1,
             sweep_max: float = SWEEP_MAX, sweep_n: int = SWEEP_N, grid: Grid = GRID) -> OutliersResult:
    """Fit every divergence at ``weight`` and along the sweep ``linspace(0, sweep_max, sweep_n)``,
    all in one batched optimisation from the main mass ``N(0, 1)``."""
    names = list(names)
    if not names:
        raise ValueError("pick at least one divergence")
    for n in names:
        get_spec(n)
        if n in EXCLUDED:
            raise ValueError(f"{n!r} is too slow to fit on a {grid.n}-point grid; choose from "
                             f"{list(CHOICES)}")
    if not (math.isfinite(distance) and math.isfinite(outlier_std) and outlier_std > 0):
        raise ValueError(f"need a finite distance and outlier std > 0, got {distance!r}, {outlier_std!r}")
    if not 2 <= sweep_n <= 100 or not 0 < sweep_max < 1:
        raise ValueError(f"sweep needs 2..100 weights in [0, <1], got {sweep_n!r} up to {sweep_max!r}")
    sweep = np.linspace(0.0, sweep_max, int(sweep_n))
    shared = np.flatnonzero(np.isclose(sweep, weight, rtol=0, atol=1e-12))
    weights = sweep if len(shared) else np.append(sweep, float(weight))  # chosen weight: a sweep row or last
    teachers = [outlier_teacher(float(w), distance, outlier_std) for w in weights]
    log_ps = torch.stack([t.log_prob(grid) for t in teachers])  # (W+1, V)
    student = GaussianStudent(grid)
    W, K = len(weights), len(names)
    res = fit(log_ps.repeat(K, 1), student, student.init_params(*MAIN), [n for n in names for __ in weights],
              FitConfig(steps=int(steps), lr=float(lr), n_frames=2, lr_final=LR_FINAL), stop=escaped)
    params = res.params.reshape(K, W, -1, 2).swapaxes(0, 1)  # rows are divergence-major: (W', K, S+1, 2)
    loss = res.loss.reshape(K, W, -1).swapaxes(0, 1)  # (W', K, S+1)
    mu, sigma = params[..., 0], np.exp(params[..., 1])  # (W', K, S+1)
    first_bad = res.diverged_at.reshape(K, W).T  # (W', K)
    c = int(shared[0]) if len(shared) else -1  # row of the chosen weight
    n = len(sweep)
    shown = frame_steps(int(steps), N_FRAMES)  # (F,)
    frames = student.log_prob(torch.as_tensor(params[c][:, shown].reshape(-1, 2))).exp().numpy() / grid.step
    frames = frames.reshape(K, len(shown), -1)  # (K, F, V)
    return OutliersResult(
        names=names, weight=float(weight), distance=float(distance), outlier_std=float(outlier_std),
        x=grid.points().numpy(), p=log_ps[c].exp().numpy() / grid.step, q=frames[:, -1],
        frame_steps=shown, frames=frames.astype(np.float32),  # float32, as the figure ships them
        mu=mu[c], sigma=sigma[c], loss=loss[c], diverged_at=first_bad[c],
        sweep_weights=sweep, sweep_mu=mu[:n, :, -1].T, sweep_sigma=sigma[:n, :, -1].T,
        sweep_diverged=(first_bad[:n] >= 0).T,
        moment_mu=np.array([t.mean() for t in teachers[:n]]),
        moment_sigma=np.sqrt([t.variance() for t in teachers[:n]]),
        mass_outside=mass_outside(teachers[c], grid))


def takeaway(res: OutliersResult) -> str:
    """The page's "what you should see", written from this run's numbers."""
    target = res.weight * res.distance
    parts = [f"{get_spec(n).display_label} {m:+.2f}" + (f" ({m / target:.0%})" if target > 0 else "")
             for n, m in zip(res.names, res.final_mu)]
    text = _("With {weight:.0%} of the mass at distance {distance:g}, moment matching (forward KL's optimum) "
             "puts the mean at w·d = {target:.2f}. The fitted means move: {means}.").format(
        weight=res.weight, distance=res.distance, target=target, means=", ".join(parts))
    ends = [f"{get_spec(n).display_label} μ = {m[-1]:.2f}, σ = {s[-1]:.2f}"
            for n, m, s in zip(res.names, res.sweep_mu, res.sweep_sigma)]
    text += " " + _("At {weight:.0%} outlier mass: {fits}.").format(weight=res.sweep_weights[-1],
                                                                    fits="; ".join(ends))
    if "fkl" in res.names:
        fkl = res.sweep_mu[res.names.index("fkl"), -1]
        calm = [get_spec(n).display_label for n, m in zip(res.names, res.sweep_mu[:, -1])
                if n != "fkl" and abs(m) < 0.25 * abs(fkl)]
        if calm:
            text += " " + ngettext(
                "{divergences} moves less than a quarter as far as forward KL: it gives the outlier up "
                "instead of stretching to cover it.",
                "{divergences} move less than a quarter as far as forward KL: they give the outlier up "
                "instead of stretching to cover it.", len(calm)).format(divergences=", ".join(calm))
    return text
