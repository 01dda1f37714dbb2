"""Figures of the "Mode seeking vs mean seeking" lesson (from :class:`ModeSeekingResult`).

Every figure is assembled from plain dicts of float32 arrays and handed to plotly unvalidated
(:func:`kdviz.plots.common.figure`): validating the animation's frames trace by trace cost 0.2 s
per page run and ``make_subplots`` 50 ms. The tests rebuild each figure with validation.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sequential

from kdviz.experiments.mode_seeking import ModeSeekingResult
from kdviz.i18n import _
from kdviz.plots import common
from kdviz.plots.common import (
    animation_controls,
    below_axis,
    color,
    f32,
    figure,
    frame_indices,
    label,
    palette,
    two_panels,
)

# the Viridis colorscale as plotly expands it
VIRIDIS = [[i / (len(sequential.Viridis) - 1), c] for i, c in enumerate(sequential.Viridis)]
MAX_POINTS = 256  # curves are drawn on at most this many grid points (keeps the animation JSON small)
# Marks drawn on the landscape's heatmap: they must read on its colours (Viridis, the same in either
# theme), so they are white with a black edge, not the theme's palette.
ON_HEAT, EDGE, STAR = "white", "black", "gold"


def layout(**kwargs) -> dict:
    """:func:`kdviz.plots.common.layout` with Plotly's toolbar upright in the right margin: it never
    covers the legend on top, even when a phone's width wraps the legend over several rows."""
    lay = common.layout(modebar=dict(orientation="v"), **kwargs)
    lay["margin"]["r"] = 30
    return lay


def log_ticks(lo: float, hi: float) -> list[float]:
    """Readable tick values for a log axis over [lo, hi]: 1-2-5 steps over up to two decades,
    decades (thinned to at most 8) beyond that."""
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
        return []
    first, last = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    mults = (1, 2, 5) if last - first <= 2 else (1,)
    ticks = [m * 10.0 ** e for e in range(first, last + 1) for m in mults]
    ticks = [t for t in ticks if lo <= t <= hi]
    stride = max(1, int(np.ceil(len(ticks) / 8)))
    return ticks[::stride] if len(ticks) >= 2 else []  # fewer: plotly's own ticks do better


def _log_axis(ticks: list[float]) -> dict:
    return dict(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks]) if ticks else dict(type="log")


def _thin(res: ModeSeekingResult) -> np.ndarray:
    """Indices of the grid points drawn."""
    return np.unique(np.linspace(0, len(res.x) - 1, min(MAX_POINTS, len(res.x))).round().astype(int))


def _teacher_trace(x, p) -> dict:
    return dict(type="scatter", x=x, y=f32(p), name=_("teacher p"), mode="lines", fill="tozeroy",
                fillcolor=palette()["teacher_fill"], line=dict(color=palette()["teacher"], width=2))


MAIN = "fkl"  # the lesson's main character, drawn on top
DASHES = ("dash", "dot", "dashdot", "longdash", "longdashdot")  # the other students, one each


def draw_order(names) -> list[int]:
    """Row indices in drawing order: the main character last, so that it is never hidden."""
    return sorted(range(len(names)), key=lambda k: names[k] == MAIN)


def _student_trace(name: str, x, q, k: int = 0) -> dict:
    """Solid and thick for the main character; the others dashed (each its own dash) and wider
    below it, so that students on top of each other stay visible."""
    style = dict(width=3) if name == MAIN else dict(width=2.5, dash=DASHES[k % len(DASHES)])
    return dict(type="scatter", x=x, y=f32(q), name=label(name), mode="lines",
                line=dict(color=color(name), **style))


def fit_animation(res: ModeSeekingResult, at_end: bool = False) -> go.Figure:
    """Every student's density over the teacher, step by step (plays in the browser): at most
    ``MAX_FRAMES`` of the kept snapshots, evenly spaced, the first and the last among them.
    ``at_end``: the figure shows the last step until played (play starts from the first step)."""
    idx = _thin(res)
    x = f32(res.x[idx])
    keep = frame_indices(len(res.frame_steps))
    ys = f32(res.frames[:, keep][:, :, idx])  # (K, F', V')
    K = len(res.names)
    order = draw_order(res.names)
    shown = -1 if at_end else 0
    data = [_teacher_trace(x, res.p[idx])] + [_student_trace(res.names[k], x, ys[k, shown], k) for k in order]
    # fixed axis; a collapsing student (density ~1/grid step) would squash the teacher: cap at 4x its peak
    top = 1.08 * min(max(float(res.p.max()), float(np.nanmax(res.frames))), 4 * float(res.p.max()))
    labels = [str(int(s)) for s in res.frame_steps[keep]]
    # 50 frames x 0.1 s: the 5 s of the old 100 x 60 ms
    controls = animation_controls(labels, prefix=_("step "), duration_ms=100)
    controls["sliders"][0]["active"] = len(labels) - 1 if at_end else 0
    bottom = below_axis(controls)
    lay = layout(x="x", y=_("density"), height=460, **controls)
    lay["xaxis"]["range"] = [float(x[0]), float(x[-1])]
    lay["yaxis"]["range"] = [0, top]
    lay["margin"]["b"] = bottom
    frames = [dict(name=lab, traces=list(range(1, K + 1)),
                   data=[dict(type="scatter", y=ys[k, f]) for k in order]) for f, lab in enumerate(labels)]
    return figure(data, lay, frames)


def final_fits(res: ModeSeekingResult) -> go.Figure:
    """The students after the last step over the teacher; dotted line: the teacher's mean."""
    idx = _thin(res)
    x = f32(res.x[idx])
    data = [_teacher_trace(x, res.p[idx])] + [_student_trace(res.names[k], x, res.frames[k, -1, idx], k)
                                              for k in draw_order(res.names)]
    m = float(res.mixture_mean)
    return figure(data, layout(x="x", y=_("density"), height=400, shapes=[dict(
        type="line", xref="x", yref="y domain", x0=m, x1=m, y0=0, y1=1,
        line=dict(color=palette()["teacher"], dash="dot", width=1))], annotations=[dict(
        text=_("teacher mean"), xref="x", yref="y domain", x=m, y=0, xanchor="left", yanchor="bottom",
        showarrow=False)]))


def loss_curves(res: ModeSeekingResult, normalised: bool = False) -> go.Figure:
    """Loss per step on a log axis; ``normalised``: the gap to the final loss over the initial gap,
    ``(L_t - L_S) / (L_0 - L_S)``, so every divergence starts at 1."""
    steps = np.arange(res.loss.shape[1])
    data, ys = [], []
    for k, n in enumerate(res.names):
        y = res.loss[k]
        if normalised:
            last = np.nanmin(y)
            gap = y[0] - last
            y = (y - last) / gap if gap > 0 else np.full_like(y, np.nan)
            y = np.where(y > 0, y, np.nan)  # the minimum itself has no place on a log axis
        ys.append(y)
        data.append(dict(type="scatter", x=steps, y=f32(y), name=label(n), mode="lines",
                         line=dict(color=color(n), width=2)))
    ytitle = "(D_t − min D) / (D_0 − min D)" if normalised else "D(p, q_t)"
    lay = layout(x=_("step"), y=ytitle, height=360)
    ys = np.concatenate(ys).astype(float)
    ys = ys[np.isfinite(ys) & (ys > 0)]
    ticks = log_ticks(float(ys.min()), float(ys.max())) if len(ys) else []
    lay["yaxis"].update(_log_axis(ticks))
    return figure(data, lay)


def parameter_paths(res: ModeSeekingResult) -> go.Figure:
    """mu and sigma of every student against the step, with the teacher's moments dotted."""
    steps = np.arange(res.mu.shape[1])
    data = [dict(type="scatter", x=steps, y=f32(vals), name=label(n), mode="lines", legendgroup=n,
                 showlegend=ax == "", xaxis=f"x{ax}", yaxis=f"y{ax}", line=dict(color=color(n), width=2))
            for k, n in enumerate(res.names) for ax, vals in (("", res.mu[k]), ("2", res.sigma[k]))]
    shapes, notes = [], []
    for ax, v, text in (("", res.mixture_mean, _("teacher mean")), ("2", res.mixture_std, _("teacher std"))):
        shapes.append(dict(type="line", xref=f"x{ax} domain", yref=f"y{ax}", x0=0, x1=1,
                           y0=float(v), y1=float(v),
                           line=dict(color=palette()["teacher"], dash="dot", width=1)))
        notes.append(dict(text=text, xref=f"x{ax} domain", yref=f"y{ax}", x=1, y=float(v), xanchor="right",
                          yanchor="top", showarrow=False))
    lay = layout(height=360, shapes=shapes, annotations=notes)
    lay.update(two_panels(_("step"), _("student mean μ"), _("student std σ")))
    return figure(data, lay)


def many_starts_traces(res: ModeSeekingResult) -> list[dict]:
    """The random starts (small open circles), a thin segment from each to its end, and the ends
    (filled dots): where each start ends shows the minima's basins of attraction."""
    seg_x = np.column_stack([res.starts[:, 0], res.ends[:, 0], np.full(len(res.starts), np.nan)]).ravel()
    seg_y = np.column_stack([res.starts[:, 1], res.ends[:, 1], np.full(len(res.starts), np.nan)]).ravel()
    return [dict(type="scatter", x=f32(seg_x), y=f32(seg_y), mode="lines", hoverinfo="skip", showlegend=False,
                 line=dict(color="rgba(255, 255, 255, 0.45)", width=1)),
            dict(type="scatter", x=f32(res.starts[:, 0]), y=f32(res.starts[:, 1]), mode="markers",
                 name=_("{n} random starts").format(n=len(res.starts)),
                 marker=dict(symbol="circle", size=5, color=ON_HEAT, line=dict(width=1, color=EDGE))),
            dict(type="scatter", x=f32(res.ends[:, 0]), y=f32(res.ends[:, 1]), mode="markers",
                 name=_("where each ends"), marker=dict(symbol="circle", size=7, color=palette()["student"],
                                                        line=dict(width=1, color=EDGE)))]


def landscape_figure(res: ModeSeekingResult, many: bool = False) -> go.Figure:
    """log10 of the gap to the landscape's minimum over (mu, sigma), its local minima, its global
    minima (every minimum tied with the lowest is a star) and the optimisation path of the same
    divergence; ``many``: also the random starts and where each ends."""
    vals = res.land_values
    finite = np.isfinite(vals)
    low = np.nanmin(np.where(finite, vals, np.nan))
    z = np.log10(np.where(finite, vals - low, np.nan) + 1e-3)  # 1e-3 keeps the minimum itself finite
    name = res.landscape_name
    path_mu, path_sigma = f32(res.path_mu), f32(res.path_sigma)
    path = _("{name} path").format(name=label(name))
    data = [dict(type="heatmap", x=res.land_mus, y=res.land_sigmas, z=f32(z), colorscale=VIRIDIS,
                 reversescale=True, colorbar=dict(title=dict(text="log₁₀(D − min D + 10⁻³)", side="right")),
                 hovertemplate="μ=%{x:.2f}<br>σ=%{y:.2f}<br>" + _("log₁₀ gap") + "=%{z:.2f}<extra></extra>"),
            dict(type="scatter", x=path_mu, y=path_sigma, name=path, mode="lines",
                 line=dict(color=ON_HEAT, width=5), showlegend=False, hoverinfo="skip"),
            dict(type="scatter", x=path_mu, y=path_sigma, name=path, mode="lines",
                 line=dict(color=color(name), width=2.5)),
            dict(type="scatter", x=[float(res.path_mu[0])], y=[float(res.path_sigma[0])], name=_("start"),
                 mode="markers",
                 marker=dict(symbol="circle", size=12, color=ON_HEAT, line=dict(width=2, color=EDGE)))]
    if many:
        data += many_starts_traces(res)
    g = res.n_global
    if len(res.local_minima) > g:
        data.append(dict(type="scatter", x=res.local_minima[g:, 0], y=res.local_minima[g:, 1],
                         name=_("local minimum"), mode="markers",
                         marker=dict(symbol="x", size=12, color=ON_HEAT, line=dict(width=1, color=EDGE))))
    data.append(dict(type="scatter", x=res.local_minima[:g, 0], y=res.local_minima[:g, 1],
                     name=_("global minimum") if g == 1 else _("global minimum ({n}-way tie)").format(n=g),
                     mode="markers",
                     marker=dict(symbol="star", size=18, color=STAR, line=dict(width=1, color=EDGE))))
    lay = layout(x=_("student mean μ"), y=_("student std σ (log scale)"), height=480)
    lay["yaxis"].update(_log_axis(log_ticks(float(res.land_sigmas[0]), float(res.land_sigmas[-1]))))
    lay["xaxis"]["range"] = [float(res.land_mus[0]), float(res.land_mus[-1])]
    return figure(data, lay)
