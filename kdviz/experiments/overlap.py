"""Lesson "Overlap, JSD saturation and Wasserstein": slide a student away from its teacher.

Teacher ``p`` is centred at 0, student ``q_s`` is the same shape centred at ``s`` (the shift).
For every divergence we record ``D(p, q_s)`` and its derivative ``dD/ds`` along a sweep of shifts,
by autograd through kdviz (the student's log-probabilities are a differentiable function of
``s``). The seed's point: once the supports stop overlapping the JSD is exactly ``log 2`` and its
gradient is 0, while the Wasserstein distance keeps growing with ``s`` (``W1 = |s|``); forward KL
is infinite as soon as the student misses teacher mass.

Two shapes on a uniform grid of cells of width ``h``:

* ``"box"``: uniform on ``[c - w/2, c + w/2]``; each cell gets the length of its overlap with the
  box divided by ``w``. That is exact mass per cell, piecewise linear in ``s`` (so ``dq/ds``
  exists almost everywhere) and *exactly* zero outside the box: for ``s >= w + h`` the supports
  are disjoint.
* ``"gaussian"``: ``N(c, w^2)`` normalised over the grid, built in log space, so it is never 0:
  the JSD only approaches ``log 2`` (``log 2 - JSD`` decays like the overlap mass, below float64
  resolution of ``log 2`` after a few standard deviations): a numerical plateau.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from kdviz import numerics as nx
from kdviz.divergences import DIVERGENCES, divergence_from_log, get_spec
from kdviz.experiments import SLOW_TO_FIT as SINKHORN_NAMES

SHAPES = {"box": "Boxes (supports become disjoint)", "gaussian": "Gaussians (always overlap a little)"}
DIVERGENCE_OPTIONS = tuple(DIVERGENCES)
DEFAULT_DIVERGENCES = ("jsd", "fkl", "tvd", "wasserstein")
N_POINTS = 158  # grid cells: 15 per box of width 1 over a sweep of 8. 157 intervals (prime): swept and
# slider shifts are almost never whole multiples of the cell width, where POT's order-2 Wasserstein
# gradient is wrong (exact ties between the two CDFs give a zero gradient instead of 2s)
N_SHIFTS = 121  # shifts in the sweep, 0 .. max_shift
# Entropic OT (SINKHORN_NAMES) costs one (S, V, V) log-sum-exp per iteration, so those run
SINKHORN_POINTS = 40  # ... on a coarser grid of the same range
SINKHORN_EVERY = 4  # ... at every 4th shift of the sweep
MIN_BOX_CELLS = 4  # fewer grid cells per box and the "box" is a spike: warn
CEILING = 10.0  # nats: infinite values are drawn here (or at 1.25 x the largest finite value if higher)
GRID_PHASE = (math.sqrt(5) - 1) / 20  # ~0.062 of a cell, irrational (see grid())
GAUSS_MARGIN = 6.0  # the grid extends 6 sigma beyond both centres
BOX_MARGIN = 0.5  # ... and half a width beyond both boxes


@dataclass
class OverlapResult:
    """Values and shift-derivatives of each divergence along the sweep, and the current state."""

    shape: str
    width: float
    names: tuple  # divergences, registry order of the request
    params: dict  # name -> resolved parameters used
    x: np.ndarray  # (V,) grid
    p: np.ndarray  # (V,) teacher
    shifts: np.ndarray  # (S,) sweep
    values: np.ndarray  # (K, S) D(p, q_s); +inf allowed, NaN where not computed (transport subsample)
    grads: np.ndarray  # (K, S) dD/ds; NaN where D is not finite or not computed
    shared_mass: np.ndarray  # (S,) sum_i min(p_i, q_i): 0 once the supports are disjoint
    students: np.ndarray  # (S, V) q_s along the sweep (for the animation)
    shift: float  # the current shift
    q: np.ndarray  # (V,) the student at the current shift
    value: np.ndarray  # (K,) D at the current shift
    grad: np.ndarray  # (K,) dD/ds at the current shift
    disjoint_value: np.ndarray  # (K,) D of two point masses at different classes (NaN for transport ones)

    @property
    def step(self) -> float:
        return float(self.x[1] - self.x[0])

    def ceiling(self, k: int) -> float:
        """Where the non-finite values of divergence ``k`` are drawn (shown on the figure)."""
        finite = self.values[k][np.isfinite(self.values[k])]
        top = float(finite.max()) if finite.size else 0.0
        return max(CEILING, 1.25 * top)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def disjoint_from(self) -> float:
        """The smallest swept shift from which the supports never share mass again (inf if never)."""
        shared = self.shared_mass > 0
        if shared[-1]:
            return math.inf
        last = np.flatnonzero(shared)
        return float(self.shifts[last[-1] + 1]) if last.size else float(self.shifts[0])

    def export(self) -> tuple[dict, dict]:
        """``(CSV columns, JSON data)`` of the page's downloads: every curve over the shifts; the
        densities, the values at the current shift and the takeaway."""
        csv = {"shift": self.shifts}
        for k, nm in enumerate(self.names):
            csv |= {f"{nm}_value": self.values[k], f"{nm}_dDds": self.grads[k]}
        return csv, {"params": self.params, "x": self.x, "p": self.p, "q": self.q,
                     "current": {nm: {"value": self.value[k], "dD_ds": self.grad[k]}
                                 for k, nm in enumerate(self.names)},
                     "note": "non-finite values are null (infinite divergence or undefined gradient)",
                     "takeaway": takeaway(self)}


def grid(shape: str, width: float, max_shift: float, n: int = N_POINTS) -> torch.Tensor:
    """The grid covering the teacher at 0 and the student at every shift in [0, max_shift].

    The cells are offset by an irrational fraction of a cell (GRID_PHASE) so that the edges of boxes
    with round widths and shifts never fall exactly on a cell edge: there a cell's mass is exactly
    0 while its derivative is not, autograd drops that one-sided derivative through log 0, and the
    mass moved by a shift no longer adds up (a spurious JSD gradient of log 2 / 2w at disjoint supports).
    """
    margin = GAUSS_MARGIN * width if shape == "gaussian" else (0.5 + BOX_MARGIN) * width
    step = (max_shift + 2 * margin) / (n - 1)
    return torch.linspace(-margin, max_shift + margin, n, dtype=torch.float64) + GRID_PHASE * step  # (V,)


def log_density(shape: str, x: torch.Tensor, centre: torch.Tensor, width: float) -> torch.Tensor:
    """log q for centres ``(S,)`` on the grid ``(V,)`` -> ``(S, V)``, differentiable in ``centre``.

    Box: mass per cell = |cell ∩ [c - w/2, c + w/2]| / w; cells outside the box get log 0 = -inf
    with a zero gradient (their mass does not change for small moves of the box).
    """
    c = centre[:, None]  # (S, 1)
    if shape == "gaussian":
        z = -0.5 * ((x - c) / width) ** 2  # (S, V)
        return z - nx.logsumexp(z, dim=-1, keepdim=True)
    if shape != "box":
        raise ValueError(f"shape must be one of {sorted(SHAPES)}, got {shape!r}")
    h = float(x[1] - x[0])
    lo = torch.maximum(x - h / 2, c - width / 2)
    hi = torch.minimum(x + h / 2, c + width / 2)
    mass = torch.relu(hi - lo) / width  # (S, V); relu: an empty intersection has length 0
    pos = mass > 0
    return torch.where(pos, torch.log(torch.where(pos, mass, 1.0)), float("-inf"))


def disjoint_value(name: str, params: dict) -> float:
    """D(p, q) for two point masses at different classes: the value of every divergence that only
    sees probabilities once the supports are disjoint (log 2 for JSD, 1 for TVD, inf for KL).
    NaN for the transport divergences, which depend on the distance instead."""
    if get_spec(name).needs_support:
        return math.nan
    lp = torch.tensor([0.0, -math.inf], dtype=torch.float64)
    return float(divergence_from_log(name, lp, lp.flip(0), **params))


def _values_and_grads(name, shape, x, shifts, width, params):
    log_p = log_density(shape, x, torch.zeros(1, dtype=torch.float64), width)[0]  # (V,)
    s = torch.as_tensor(shifts, dtype=torch.float64).requires_grad_(True)
    log_q = log_density(shape, x, s, width)  # (S, V)
    val = divergence_from_log(name, log_p, log_q, x=x, **params)  # (S,)
    (grad,) = torch.autograd.grad(val.sum(), s)  # row k depends on s_k only: d val_k / d s_k
    val, grad = val.detach().numpy(), grad.numpy()
    return val, np.where(np.isfinite(val) & np.isfinite(grad), grad, np.nan)


def overlap_sweep(shape: str = "box", width: float = 1.0, shift: float = 3.0, max_shift: float = 8.0,
                  names=DEFAULT_DIVERGENCES, order: int = 1, epsilon: float = 0.1) -> OverlapResult:
    """Every divergence in ``names`` along the shifts ``0..max(max_shift, shift)`` and at ``shift``.

    Args:
        shape: ``"box"`` or ``"gaussian"``; width: box width or Gaussian sigma (> 0).
        shift: the current student centre (>= 0); max_shift: the end of the sweep (> 0).
        names: registry names. order: ground cost exponent of the transport divergences.
        epsilon: entropic regularisation of ``sinkhorn`` / ``sinkhorn_div`` (same units as the cost).
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {sorted(SHAPES)}, got {shape!r}")
    for v, what in ((width, "width"), (max_shift, "max_shift")):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{what} must be a finite number > 0, got {v!r}")
    if not (math.isfinite(shift) and shift >= 0):
        raise ValueError(f"shift must be a finite number >= 0, got {shift!r}")
    names = tuple(names)
    if not names:
        raise ValueError("pick at least one divergence")
    end = max(max_shift, shift)
    params = {}
    for nm in names:
        spec = get_spec(nm)
        given = {"order": order, "epsilon": epsilon}
        params[nm] = spec.resolve({k: v for k, v in given.items() if k in {p.name for p in spec.params}})
    with nx.torch_threads(1):
        x = grid(shape, width, end)
        x_coarse = grid(shape, width, end, SINKHORN_POINTS)
        shifts = np.linspace(0.0, end, N_SHIFTS)
        values = np.full((len(names), N_SHIFTS), np.nan)
        grads = np.full_like(values, np.nan)
        value, grad = np.empty(len(names)), np.empty(len(names))
        for k, nm in enumerate(names):
            coarse = nm in SINKHORN_NAMES
            idx = slice(None, None, SINKHORN_EVERY if coarse else 1)
            batch = np.append(shifts[idx], shift)
            val, gr = _values_and_grads(nm, shape, x_coarse if coarse else x, batch, width, params[nm])
            values[k, idx], grads[k, idx] = val[:-1], gr[:-1]
            value[k], grad[k] = val[-1], gr[-1]
        with torch.no_grad():
            all_shifts = torch.as_tensor(np.append(shifts, shift))
            log_p = log_density(shape, x, torch.zeros(1, dtype=torch.float64), width)[0]  # (V,)
            log_q = log_density(shape, x, all_shifts, width)  # (S + 1, V)
            q = nx.exp(log_q).where(log_q > -math.inf, 0.0)
            p = nx.exp(log_p).where(log_p > -math.inf, 0.0)
            shared = torch.minimum(p, q).sum(-1)
    return OverlapResult(
        shape=shape, width=float(width), names=names, params=params, x=x.numpy(), p=p.numpy(),
        shifts=shifts, values=values, grads=grads, shared_mass=shared[:-1].numpy(),
        students=q[:-1].numpy(), shift=float(shift), q=q[-1].numpy(), value=value, grad=grad,
        disjoint_value=np.array([disjoint_value(nm, params[nm]) for nm in names]))


def box_cells(res: OverlapResult) -> float:
    """How many grid cells one box covers (the resolution of the box shape)."""
    return res.width / res.step


def takeaway(res: OverlapResult) -> str:
    """The sentence under the figures, computed from what the figures show."""
    parts = []
    if "jsd" in res.names:
        k = res.index("jsd")
        if res.shape == "box":
            far = res.shared_mass == 0
            if far.any():
                dev = np.abs(res.values[k, far] - math.log(2)).max()
                g = np.abs(res.grads[k, far]).max()
                parts.append(f"Once the boxes no longer overlap (shift >= {res.disjoint_from():.2f}), the JSD is "
                             f"log 2 (up to rounding, {dev:.0e}) and its gradient is {g:.0e}: no signal where to move.")
            else:
                parts.append("The boxes overlap over the whole sweep: sweep further to see the JSD saturate.")
        else:
            gap, g = math.log(2) - res.values[k, -1], abs(res.grads[k, -1])
            parts.append(f"At the end of the sweep (s = {res.shifts[-1]:g}, {res.shifts[-1] / res.width:.3g} σ) the "
                         f"Gaussian JSD is log 2 - {gap:.1e} and its gradient {g:.1e}: a numerical plateau, "
                         "exponentially small but not exactly flat.")
    for nm in ("wasserstein", "sinkhorn", "sinkhorn_div"):
        if nm in res.names:
            k = res.index(nm)
            ok = np.isfinite(res.values[k]) & (res.shifts >= res.shifts[-1] / 2)
            if res.params[nm]["order"] == 1:
                slope = np.polyfit(res.shifts[ok], res.values[k, ok], 1)[0]
                parts.append(f"{get_spec(nm).label} keeps growing with the distance (slope {slope:.2f} over the "
                             "second half of the sweep) and its gradient does not vanish.")
            else:
                parts.append(f"{get_spec(nm).label} with the squared cost grows like shift², its gradient like 2 × shift.")
            break
    if "fkl" in res.names:
        k = res.index("fkl")
        inf = ~np.isfinite(res.values[k])
        if inf.any():
            parts.append(f"Forward KL is infinite from shift {res.shifts[inf][0]:.2f} on: the student misses teacher mass.")
        else:
            parts.append(f"Forward KL stays finite here but grows fast ({res.values[k, -1]:.3g} at the end of the sweep).")
    return " ".join(parts) or "Pick JSD, Wasserstein or forward KL to see the saturation story."
