"""One pure function per lesson: plain values in, a dataclass of numpy arrays out.

The pieces several lessons share live here, so that no lesson imports another: the grid of the
Gaussian-student lessons, the bounds beyond which such a student has left it, and the one
statement that entropic OT is too slow to fit.
"""

from __future__ import annotations

import math

import numpy as np

from kdviz.divergences import DIVERGENCES
from kdviz.families import GaussianMixture, Grid

# Entropic OT (Sinkhorn, the Sinkhorn divergence) runs an inner Sinkhorn loop at every step of a fit:
# on a lesson's grid that takes minutes. Lessons leave these out of their fits (or run them coarser).
SLOW_TO_FIT = ("sinkhorn", "sinkhorn_div")
FIT_CHOICES = tuple(n for n in DIVERGENCES if n not in SLOW_TO_FIT)

GRID = Grid(-10.0, 10.0, 512)  # the Gaussian-student lessons' grid: spacing 20/511 = 0.039
# A student outside these bounds has left the grid: sigma far below the grid step is one point,
# far above the grid's width a flat line, |mu| beyond the grid a tail. The losses stay finite
# (the grid renormalises q) but the parameters mean nothing any more: such a fit counts as diverged.
MU_MAX = 3 * max(abs(GRID.low), abs(GRID.high))
SIGMA_RANGE = (GRID.step / 4, 10 * (GRID.high - GRID.low))


def mass_outside(mixture: GaussianMixture, grid: Grid = GRID) -> float:
    """Probability the continuous mixture puts outside ``[grid.low, grid.high]``."""
    out = 0.0
    for w, m, s in zip(mixture.normalized_weights, mixture.means, mixture.stds):
        below = 0.5 * math.erfc((m - grid.low) / (s * math.sqrt(2)))
        above = 0.5 * math.erfc((grid.high - m) / (s * math.sqrt(2)))
        out += w * (below + above)
    return float(out)


def escaped(params: np.ndarray) -> np.ndarray:
    """Which rows ``(..., 2)`` of ``(mu, log sigma)`` lie outside the meaningful range (the fits'
    stop rule: such a student is frozen like a non-finite fit)."""
    mu, log_sigma = params[..., 0], params[..., 1]
    with np.errstate(invalid="ignore"):
        inside = (np.abs(mu) <= MU_MAX) & (log_sigma >= math.log(SIGMA_RANGE[0])) & (
            log_sigma <= math.log(SIGMA_RANGE[1]))
    return ~inside
