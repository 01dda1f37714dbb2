"""Figures of the "Mode seeking vs mean seeking" lesson (from :class:`ModeSeekingResult`)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kdviz.experiments.mode_seeking import ModeSeekingResult
from kdviz.plots.common import TEACHER_COLOR, TEACHER_FILL, animate, base_layout, color, label

MAX_POINTS = 256  # curves are drawn on at most this many grid points (keeps the animation JSON small)
DIGITS = 5  # decimals kept in the figure JSON


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


def _teacher_trace(x, p) -> go.Scatter:
    return go.Scatter(x=x, y=np.round(p, DIGITS), name="teacher p", mode="lines", fill="tozeroy",
                      fillcolor=TEACHER_FILL, line=dict(color=TEACHER_COLOR, width=2))


def _student_trace(name: str, x, q, **kw) -> go.Scatter:
    return go.Scatter(x=x, y=np.round(q, DIGITS), name=label(name), mode="lines",
                      line=dict(color=color(name), width=2.5), **kw)


def fit_animation(res: ModeSeekingResult) -> go.Figure:
    """Every student's density over the teacher, step by step (plays in the browser)."""
    idx = _thin(res)
    x = res.x[idx]
    fig = go.Figure([_teacher_trace(x, res.p[idx])])
    for k, n in enumerate(res.names):
        fig.add_trace(_student_trace(n, x, res.frames[k, 0, idx]))
    ys = res.frames[:, :, idx].astype(np.float32)  # (K, F, V') float32 halves the figure JSON
    frames = [[go.Scatter(y=ys[k, f]) for k in range(len(res.names))] for f in range(len(res.frame_steps))]
    # fixed axis; a collapsing student (density ~1/grid step) would squash the teacher: cap at 4x its peak
    top = 1.08 * min(max(float(res.p.max()), float(np.nanmax(res.frames))), 4 * float(res.p.max()))
    base_layout(fig, x="x", y="density", height=460)
    fig.update_xaxes(range=[float(x[0]), float(x[-1])])
    fig.update_yaxes(range=[0, top])
    animate(fig, frames, [str(s) for s in res.frame_steps], list(range(1, len(res.names) + 1)))
    fig.layout.sliders[0].update(x=0.22, len=0.78)  # clear of the play/pause buttons (they overlapped)
    return fig


def final_fits(res: ModeSeekingResult) -> go.Figure:
    """The students after the last step over the teacher; dotted line: the teacher's mean."""
    idx = _thin(res)
    x = res.x[idx]
    fig = go.Figure([_teacher_trace(x, res.p[idx])])
    for k, n in enumerate(res.names):
        fig.add_trace(_student_trace(n, x, res.frames[k, -1, idx]))
    fig.add_vline(x=res.mixture_mean, line=dict(color=TEACHER_COLOR, dash="dot", width=1),
                  annotation_text="teacher mean", annotation_position="bottom right")
    base_layout(fig, x="x", y="density", height=400)
    return fig


def loss_curves(res: ModeSeekingResult, normalised: bool = False) -> go.Figure:
    """Loss per step on a log axis; ``normalised``: the gap to the final loss over the initial gap,
    ``(L_t - L_S) / (L_0 - L_S)``, so every divergence starts at 1."""
    steps = np.arange(res.loss.shape[1])
    fig = go.Figure()
    for k, n in enumerate(res.names):
        y = res.loss[k]
        if normalised:
            last = np.nanmin(y)
            gap = y[0] - last
            y = (y - last) / gap if gap > 0 else np.full_like(y, np.nan)
            y = np.where(y > 0, y, np.nan)  # the minimum itself has no place on a log axis
        fig.add_trace(go.Scatter(x=steps, y=y, name=label(n), mode="lines", line=dict(color=color(n), width=2)))
    ytitle = "(D_t − min D) / (D_0 − min D)" if normalised else "D(p, q_t)"
    base_layout(fig, x="step", y=ytitle, height=360)
    ys = np.concatenate([t.y for t in fig.data]).astype(float)
    ys = ys[np.isfinite(ys) & (ys > 0)]
    ticks = log_ticks(float(ys.min()), float(ys.max())) if len(ys) else []
    fig.update_yaxes(**_log_axis(ticks))
    return fig


def parameter_paths(res: ModeSeekingResult) -> go.Figure:
    """mu and sigma of every student against the step, with the teacher's moments dotted."""
    steps = np.arange(res.mu.shape[1])
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1)
    for k, n in enumerate(res.names):
        for col, vals in ((1, res.mu[k]), (2, res.sigma[k])):
            fig.add_trace(go.Scatter(x=steps, y=vals, name=label(n), mode="lines", legendgroup=n,
                                     showlegend=col == 1, line=dict(color=color(n), width=2)), row=1, col=col)
    for col, v, text in ((1, res.mixture_mean, "teacher mean"), (2, res.mixture_std, "teacher std")):
        fig.add_hline(y=v, line=dict(color=TEACHER_COLOR, dash="dot", width=1), row=1, col=col,
                      annotation_text=text, annotation_position="bottom right")
    base_layout(fig, height=360)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="student mean μ", row=1, col=1)
    fig.update_yaxes(title_text="student std σ", row=1, col=2)
    return fig


def landscape_figure(res: ModeSeekingResult) -> go.Figure:
    """log10 of the gap to the landscape's minimum over (mu, sigma), its local minima, its
    global minimum and the optimisation path of the same divergence."""
    vals = res.land_values
    finite = np.isfinite(vals)
    low = np.nanmin(np.where(finite, vals, np.nan))
    z = np.log10(np.where(finite, vals - low, np.nan) + 1e-3)  # 1e-3 keeps the minimum itself finite
    name = res.landscape_name
    fig = go.Figure(go.Heatmap(
        x=res.land_mus, y=res.land_sigmas, z=np.round(z, 3), colorscale="Viridis", reversescale=True,
        colorbar=dict(title=dict(text="log₁₀(D − min D + 10⁻³)", side="right")),
        hovertemplate="μ=%{x:.2f}<br>σ=%{y:.2f}<br>log₁₀ gap=%{z:.2f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=res.path_mu, y=res.path_sigma, name=f"{label(name)} path", mode="lines",
                             line=dict(color="white", width=5), showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=res.path_mu, y=res.path_sigma, name=f"{label(name)} path", mode="lines",
                             line=dict(color=color(name), width=2.5)))
    fig.add_trace(go.Scatter(x=res.path_mu[:1], y=res.path_sigma[:1], name="start", mode="markers",
                             marker=dict(symbol="circle", size=12, color="white", line=dict(width=2, color="black"))))
    if len(res.local_minima) > 1:
        fig.add_trace(go.Scatter(x=res.local_minima[1:, 0], y=res.local_minima[1:, 1], name="local minimum",
                                 mode="markers", marker=dict(symbol="x", size=12, color="white",
                                                             line=dict(width=1, color="black"))))
    fig.add_trace(go.Scatter(x=[res.global_min[0]], y=[res.global_min[1]], name="global minimum", mode="markers",
                             marker=dict(symbol="star", size=18, color="gold", line=dict(width=1, color="black"))))
    base_layout(fig, x="student mean μ", y="student std σ (log scale)", height=480)
    ticks = log_ticks(float(res.land_sigmas[0]), float(res.land_sigmas[-1]))
    fig.update_yaxes(**_log_axis(ticks))
    fig.update_xaxes(range=[float(res.land_mus[0]), float(res.land_mus[-1])])
    return fig
