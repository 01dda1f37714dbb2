"""Lesson "Overlap, JSD saturation and Wasserstein": slide a student away from its teacher.

Teacher ``p`` is centred at 0, student ``q_s`` is the same shape centred at ``s`` (the shift).
For every divergence we record ``D(p, q_s)`` and its derivative ``dD/ds`` along a sweep of shifts.
The seed's point: once the supports stop overlapping the JSD is exactly ``log 2`` and its
gradient is 0, while the Wasserstein distance keeps growing with ``s`` (``W1 = |s|``); forward KL
is infinite as soon as the student misses teacher mass.

Two shapes on a uniform grid of cells of width ``h``:

* ``"box"``: uniform on ``[c - w/2, c + w/2]`` on a grid *aligned* with the boxes: ``m`` cells of
  width ``h = w / m`` per box, and shifts that are whole multiples of ``h``. Each box is then exactly
  ``m`` cells of mass ``1/m``, so every value is that of the continuous boxes (JSD = ``(s/w) log 2``
  while they overlap) and ``dD/ds`` is the central difference of the swept values, exact on each
  straight piece (``log 2 / w`` for the JSD), the mean of the two slopes at a kink (``s = w``).
  Autograd through cell masses would instead report the slope of the staircase the grid makes of
  a box at one point, which swings with the position of the box edges in their cells.
* ``"gaussian"``: ``N(c, w^2)`` normalised over the grid, built in log space, so it is never 0:
  the JSD only approaches ``log 2`` (``log 2 - JSD`` decays like the overlap mass, below float64
  resolution of ``log 2`` after a few standard deviations): a numerical plateau. ``dD/ds`` along the
  sweep: central differences of the swept values; at the page's shift: autograd (the student's
  log-probabilities are a smooth function of ``s``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from kdviz import numerics as nx
from kdviz.divergences import DIVERGENCES, divergence_from_log, get_spec
from kdviz.experiments import SLOW_TO_FIT as SINKHORN_NAMES
from kdviz.i18n import N_, _, sentences

SHAPES = {"box": N_("Boxes (supports become disjoint)"),
          "gaussian": N_("Gaussians (always overlap a little)")}
DIVERGENCE_OPTIONS = tuple(DIVERGENCES)
DEFAULT_DIVERGENCES = ("jsd", "wasserstein")
N_POINTS = 158  # the Gaussians' grid points. 157 intervals (prime): slider shifts are almost never whole
# multiples of the cell width, where the order-2 Wasserstein gradient is wrong (exact ties between the
# two CDFs give a zero gradient instead of 2s)
N_SHIFTS = 121  # shifts in the sweep, 0 .. max_shift
# Entropic OT (SINKHORN_NAMES) costs one (S, V, V) log-sum-exp per iteration, so those run
SINKHORN_POINTS = 40  # ... on a coarser grid of the same range
SINKHORN_EVERY = 4  # ... at every 4th shift of the sweep
MIN_BOX_CELLS = 4  # fewer grid cells per box and the "box" is a spike: warn
CELLS_PER_BOX = 15  # box grid: cells per box, fewer when the sweep is long (MAX_CELLS) ...
MAX_CELLS = 3000  # ... the box grid's size, or SINKHORN_CELLS with a Sinkhorn divergence (V x V per shift)
SINKHORN_CELLS = 160
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
                     "note": _("non-finite values are null (infinite divergence or undefined gradient)"),
                     "takeaway": takeaway(self)}


def grid(width: float, max_shift: float, n: int = N_POINTS) -> torch.Tensor:
    """The Gaussians' grid, covering the teacher at 0 and the student at every shift in [0, max_shift].

    Offset by an irrational fraction of a cell (GRID_PHASE): round shifts never put the two
    Gaussians' grid points in exact ties, where the order-2 Wasserstein gradient is wrong."""
    margin = GAUSS_MARGIN * width
    step = (max_shift + 2 * margin) / (n - 1)
    return torch.linspace(-margin, max_shift + margin, n, dtype=torch.float64) + GRID_PHASE * step  # (V,)


def log_density(x: torch.Tensor, centre: torch.Tensor, width: float) -> torch.Tensor:
    """log N(c, width^2) normalised over the grid ``(V,)``, for centres ``(S,)`` -> ``(S, V)``;
    differentiable in ``centre``."""
    z = -0.5 * ((x - centre[:, None]) / width) ** 2  # (S, V)
    return z - nx.logsumexp(z, dim=-1, keepdim=True)


def cells_per_box(width: float, end: float, max_cells: int = MAX_CELLS) -> int:
    """``m``: cells per box of the boxes' grid (CELLS_PER_BOX, fewer if the sweep to ``end`` would
    need more than ``max_cells`` cells)."""
    return max(1, min(CELLS_PER_BOX, math.floor(max_cells * width / (end + 2 * width))))


def box_log_density(n_cells: int, m: int, first: np.ndarray) -> torch.Tensor:
    """``(S, V)`` log-probabilities of boxes of ``m`` cells starting at the cells ``first`` ``(S,)``."""
    i = np.arange(n_cells)
    inside = (i >= first[:, None]) & (i < first[:, None] + m)
    return torch.from_numpy(np.where(inside, -math.log(m), -math.inf))


def differences(values: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Central differences of ``values`` along ``shifts`` (one-sided at the ends); NaN next to a
    non-finite or missing value."""
    with np.errstate(invalid="ignore"):
        g = np.gradient(values, shifts) if len(values) > 1 else np.full_like(values, np.nan)
    return np.where(np.isfinite(g), g, np.nan)


def _box_sweep(names, params, width, shift, end):
    """Boxes on their aligned grid: ``(x, shifts, values, grads, shift, value, grad, log_p, log_q)``,
    the page's shift rounded to whole cells, ``log_q`` at the swept shifts and then at that shift."""
    m = cells_per_box(width, end, SINKHORN_CELLS if any(nm in SINKHORN_NAMES for nm in names) else MAX_CELLS)
    h = width / m
    last = math.ceil(end / h - 1e-9)  # the last shift, in cells
    stride = max(1, math.ceil(last / (N_SHIFTS - 1)))
    t = np.arange(0, last + stride, stride)  # shifts in cells (the last one >= end)
    now = int(round(shift / h))
    around = np.array([max(now - 1, 0), now, now + 1])  # the page's shift and its neighbours
    j = math.ceil(BOX_MARGIN * m)  # empty cells before the teacher and after the furthest student
    n_cells = 2 * j + max(int(t[-1]), now + 1) + m
    x = torch.from_numpy(-width / 2 + (np.arange(n_cells) - j + 0.5) * h)  # cell edges on the boxes' edges
    log_p = box_log_density(n_cells, m, np.array([j]))[0]
    values = np.full((len(names), len(t)), np.nan)
    grads = np.full_like(values, np.nan)
    value, grad = np.empty(len(names)), np.empty(len(names))
    for k, nm in enumerate(names):
        idx = slice(None, None, SINKHORN_EVERY if nm in SINKHORN_NAMES else 1)
        cells = np.append(t[idx], around)
        val = divergence_from_log(nm, log_p, box_log_density(n_cells, m, j + cells), x=x, **params[nm])
        val = val.numpy()
        values[k, idx], grads[k, idx] = val[:-3], differences(val[:-3], t[idx] * h)
        value[k] = val[-2]
        grad[k] = (differences(val[-3:], around * h)[1] if now > 0
                   else differences(val[-2:], around[1:] * h)[0])  # one-sided at s = 0
    log_q = box_log_density(n_cells, m, j + np.append(t, now))
    return x, t * h, values, grads, now * h, value, grad, log_p, log_q


def disjoint_value(name: str, params: dict) -> float:
    """D(p, q) for two point masses at different classes: the value of every divergence that only
    sees probabilities once the supports are disjoint (log 2 for JSD, 1 for TVD, inf for KL).
    NaN for the transport divergences, which depend on the distance instead."""
    if get_spec(name).needs_support:
        return math.nan
    lp = torch.tensor([0.0, -math.inf], dtype=torch.float64)
    return float(divergence_from_log(name, lp, lp.flip(0), **params))


def _values_and_grads(name, x, shifts, width, params):
    log_p = log_density(x, torch.zeros(1, dtype=torch.float64), width)[0]  # (V,)
    s = torch.as_tensor(shifts, dtype=torch.float64).requires_grad_(True)
    log_q = log_density(x, s, width)  # (S, V)
    val = divergence_from_log(name, log_p, log_q, x=x, **params)  # (S,)
    (grad,) = torch.autograd.grad(val.sum(), s)  # row k depends on s_k only: d val_k / d s_k
    val, grad = val.detach().numpy(), grad.numpy()
    return val, np.where(np.isfinite(val) & np.isfinite(grad), grad, np.nan)


def _gaussian_sweep(names, params, width, shift, end):
    """Values of Gaussians: ``(x, shifts, values, grads, value, grad)``. Along the sweep ``dD/ds`` is the
    slope between neighbouring shifts (the grid makes the value a little bumpy between shifts, and
    at s = 0 TVD and W1 have a kink autograd would call 0); at the page's shift, autograd."""
    x = grid(width, end)
    x_coarse = grid(width, end, SINKHORN_POINTS)
    shifts = np.linspace(0.0, end, N_SHIFTS)
    values = np.full((len(names), N_SHIFTS), np.nan)
    grads = np.full_like(values, np.nan)
    value, grad = np.empty(len(names)), np.empty(len(names))
    for k, nm in enumerate(names):
        coarse = nm in SINKHORN_NAMES
        idx = slice(None, None, SINKHORN_EVERY if coarse else 1)
        batch = np.append(shifts[idx], shift)
        val, gr = _values_and_grads(nm, x_coarse if coarse else x, batch, width, params[nm])
        values[k, idx], grads[k, idx] = val[:-1], differences(val[:-1], shifts[idx])
        value[k], grad[k] = val[-1], gr[-1]
    return x, shifts, values, grads, value, grad


def overlap_sweep(shape: str = "box", width: float = 1.0, shift: float = 3.0, max_shift: float = 8.0,
                  names=DEFAULT_DIVERGENCES, order: int = 1, epsilon: float = 0.1) -> OverlapResult:
    """Every divergence in ``names`` along the shifts ``0..max(max_shift, shift)`` and at ``shift``
    (for boxes: the nearest whole number of cells, ``res.shift``).

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
        if shape == "box":
            box = _box_sweep(names, params, width, shift, end)
            x, shifts, values, grads, shift, value, grad, log_p, log_q = box
        else:
            x, shifts, values, grads, value, grad = _gaussian_sweep(names, params, width, shift, end)
            log_p = log_density(x, torch.zeros(1, dtype=torch.float64), width)[0]  # (V,)
            log_q = log_density(x, torch.as_tensor(np.append(shifts, shift)), width)  # (S + 1, V)
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
            far = res.shifts > res.disjoint_from()  # beyond the kink, where the two slopes average
            near = (res.shifts > 0) & (res.shifts < res.width)
            if near.any():
                parts.append(_("While the boxes overlap (s < {width:g}) the JSD is (s/w)·log 2: it climbs "
                               "at a constant rate, |dJSD/ds| = {rate:.3f} = log 2 / w.").format(
                    width=res.width, rate=np.median(np.abs(res.grads[k, near]))))
            if far.any():
                dev = np.abs(res.values[k, far] - math.log(2)).max()
                g = np.abs(res.grads[k, far]).max()
                if dev < 1e-12 and g < 1e-12:
                    parts.append(_("From s = {s:.2f} on the boxes no longer overlap: the JSD is log 2 and "
                                   "its gradient 0 (to 12 decimals): no signal where to move.").format(
                        s=res.disjoint_from()))
                else:
                    parts.append(_("From s = {s:.2f} on the boxes no longer overlap: the JSD is log 2 "
                                   "(within {dev:.1e}) and its gradient at most {g:.1e}: no signal where to "
                                   "move.").format(
                        s=res.disjoint_from(), dev=dev, g=g))
            else:
                parts.append(_("The boxes overlap over the whole sweep: sweep further to see the JSD "
                               "saturate."))
        else:
            parts.append(_("At the end of the sweep (s = {s:g}, {sigmas:.3g} σ) the Gaussian JSD is log 2 - "
                           "{gap:.1e} and its gradient {g:.1e}: a numerical plateau, exponentially small but "
                           "not exactly flat.").format(
                s=res.shifts[-1], sigmas=res.shifts[-1] / res.width, gap=math.log(2) - res.values[k, -1],
                g=abs(res.grads[k, -1])))
    for nm in ("wasserstein", "sinkhorn", "sinkhorn_div"):
        if nm in res.names:
            k = res.index(nm)
            ok = np.isfinite(res.values[k]) & (res.shifts >= res.shifts[-1] / 2)
            if res.params[nm]["order"] == 1:
                parts.append(_("{divergence} keeps growing with the distance (slope {slope:.2f} over the "
                               "second half of the sweep) and its gradient does not vanish.").format(
                    divergence=get_spec(nm).display_label,
                    slope=np.polyfit(res.shifts[ok], res.values[k, ok], 1)[0]))
            else:
                parts.append(_("{divergence} with the squared cost grows like shift², its gradient like "
                               "2 × shift.").format(divergence=get_spec(nm).display_label))
            break
    if "fkl" in res.names:
        k = res.index("fkl")
        inf = ~np.isfinite(res.values[k])
        if inf.any():
            parts.append(_("Forward KL is infinite from shift {s:.2f} on: the student misses teacher "
                           "mass.").format(s=res.shifts[inf][0]))
        else:
            parts.append(_("Forward KL stays finite here but grows fast ({value:.3g} at the end of the "
                           "sweep).").format(value=res.values[k, -1]))
    return sentences(parts) or _("Pick JSD, Wasserstein or forward KL to see the saturation story.")
