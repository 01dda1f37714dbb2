"""Figures of the "Head vs tail" lesson (AKL Fig. 2) from a :class:`HeadTailResult`.

Figures are assembled as plain dicts (students' values as float32 arrays) and handed to plotly
unvalidated (:func:`kdviz.plots.common.figure`): several times faster than ``make_subplots`` /
``add_trace`` / ``update_layout``, and than validating the animation frame by frame (the page
re-draws them on every slider move). The tests rebuild each figure with validation.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from kdviz.experiments.head_tail import MARGIN, HeadTailResult, TeachersResult
from kdviz.i18n import _
from kdviz.plots import common
from kdviz.plots.common import (
    animation_controls,
    below_axis,
    chart_height,
    color,
    f32,
    figure,
    font_size,
    frame_indices,
    grid_axes,
    label,
    palette,
)


def layout(*, title: str | None = None, x: str = "", y: str = "", height: int = 420, **extra) -> dict:
    """:func:`kdviz.plots.common.layout` with Plotly's toolbar upright in the right margin, so it never
    covers the legend; a titled figure's legend sits under its x axis, clear of the title however
    many rows a phone's width wraps it into."""
    lay = common.layout(title=title, x=x, y=y, height=height, modebar=dict(orientation="v"), **extra)
    lay["margin"].update(r=30, t=60 if title else 30)
    if title:
        plot = lay["height"] - lay["margin"]["t"] - lay["margin"]["b"]
        lay["legend"].update(y=-(4 * font_size() + 8) / plot, yanchor="top")  # under ticks and axis title
    return lay


def _panel_title(text: str, sfx: str, inside: bool = False) -> dict:
    """A subplot title above the panel, or inside its top-right corner (``inside``)."""
    where = dict(x=0.98, y=0.98, xanchor="right", yanchor="top") if inside else \
        dict(x=0.5, y=1.0, xanchor="center", yanchor="bottom")
    return dict(text=text, xref=f"x{sfx} domain", yref=f"y{sfx} domain", showarrow=False,
                font=dict(size=font_size() + 1), **where)


def _legend_line(name: str) -> dict:
    """A legend entry for a dotted reference line drawn as a layout shape."""
    return dict(type="scatter", x=[None], y=[None], mode="lines", name=name,
                line=dict(color=palette()["teacher"], dash="dot", width=1.5))


def _bar_width(x: np.ndarray) -> float:
    return float(np.min(np.diff(x))) * 0.9 if len(x) > 1 else 0.9


def _teacher_bars(res: HeadTailResult, show_legend: bool, sfx: str = "") -> list[dict]:
    """The teacher as two bar traces, head (strong) and tail (faint), so the split is visible, in the
    theme's colours (the head reads as the darker bars on white, the lighter ones on black)."""
    width = _bar_width(res.x)
    parts = (("head", _("teacher p (head)"), palette()["teacher"], 0.6, res.head_mask),
             ("tail", _("teacher p (tail)"), palette()["muted"], 0.35, ~res.head_mask))
    return [dict(type="bar", x=res.x[mask], y=res.p[mask], width=width, xaxis=f"x{sfx}", yaxis=f"y{sfx}",
                 marker=dict(color=fill, opacity=opacity, line=dict(width=0)), name=name,
                 legendgroup=f"teacher_{part}", showlegend=show_legend,
                 hovertemplate=f"{_('class')} %{{x}}<br>p = %{{y:.4f}}<extra>{name}</extra>")
            for part, name, fill, opacity, mask in parts]


def bars_figure(res: HeadTailResult, step_a: int, step_b: int) -> go.Figure:
    """The paper's panels: teacher vs student bars after ``step_a`` and ``step_b`` steps, one row
    per divergence. Head classes are the dark teacher bars; the dotted line is the smallest head
    probability (every bar reaching it is head)."""
    ia, ib = res.frame_index(step_a), res.frame_index(step_b)
    K = len(res.names)
    height, margins = 190 * K + 130, dict(t=80, b=50)
    title = (font_size() + 12) / (chart_height(height) - margins["t"] - margins["b"])  # a panel title, in y
    axes, ids = grid_axes(K, 2, vspace=title, hspace=0.04)
    frames = res.fit.frames
    top = 1.08 * max(res.p.max(), frames[:, [ia, ib]].max())
    data, shapes, notes = [], [], []
    for k, name in enumerate(res.names):
        for c, i in enumerate((ia, ib)):
            sfx = ids[k][c]
            data += _teacher_bars(res, show_legend=k == 0 and c == 0, sfx=sfx)
            data.append(dict(type="bar", x=res.x, y=f32(frames[k, i]), width=_bar_width(res.x) * 0.55,
                             xaxis=f"x{sfx}", yaxis=f"y{sfx}", name=label(name), showlegend=False,
                             marker=dict(color=color(name), opacity=0.8, line=dict(width=0)),
                             hovertemplate=_("class") + " %{x}<br>q = %{y:.4f}<extra></extra>"))
            shapes.append(dict(type="line", xref=f"x{sfx} domain", yref=f"y{sfx}", x0=0, x1=1,
                               y0=res.head_threshold, y1=res.head_threshold,
                               line=dict(color=palette()["teacher"], dash="dot", width=1)))
            notes.append(_panel_title(_("{name}, step {step}").format(name=label(name),
                                                                      step=int(res.fit.frame_steps[i])), sfx))
            axes[f"yaxis{sfx}"]["range"] = [0, top]
        axes[f"yaxis{ids[k][0]}"]["title"] = dict(text=_("probability"))
    axes[f"xaxis{ids[-1][0]}"]["title"] = axes[f"xaxis{ids[-1][1]}"]["title"] = dict(text=_("class"))
    data.append(_legend_line(_("head boundary: p ≥ {threshold:.3g} (μ_AKL = {mu:g})").format(
        threshold=res.head_threshold, mu=res.mu)))
    lay = layout(height=height, barmode="overlay", bargap=0, shapes=shapes, annotations=notes)
    lay.update(axes)
    lay["margin"].update(margins)
    lay["legend"]["y"] = 1 + title  # above the first row's panel titles
    return figure(data, lay)


def _style(name: str, k: int) -> dict:
    """Line style of a student: each its own dash, so that students on top of each other stay visible."""
    return dict(color=color(name), width=2.5, dash=("solid", "dash", "dot", "dashdot", "longdash")[k % 5])


def _lines(res: HeadTailResult, values: np.ndarray, hover: str, sfx: str = "", show_legend: bool = True,
           custom: np.ndarray | None = None) -> list[dict]:
    steps = np.arange(res.steps + 1)
    return [dict(type="scatter", x=steps, y=f32(values[k]), mode="lines", name=label(nm), legendgroup=nm,
                 showlegend=show_legend, xaxis=f"x{sfx}", yaxis=f"y{sfx}", line=_style(nm, k),
                 customdata=None if custom is None else f32(custom[k]),
                 hovertemplate=f"{_('step')} %{{x}}<br>{hover}<extra>{label(nm)}</extra>")
            for k, nm in enumerate(res.names)]


def error_curves(res: HeadTailResult) -> go.Figure:
    """Head error and tail error, ``sum |p - q|`` over each part, against the step."""
    axes, ids = grid_axes(1, 2, vspace=0, hspace=0.05)
    data = (_lines(res, res.fit.head_error, "%{y:.4f}", ids[0][0])
            + _lines(res, res.fit.tail_error, "%{y:.4f}", ids[0][1], show_legend=False))
    axes["xaxis"]["title"] = axes["xaxis2"]["title"] = dict(text=_("step"))
    axes["yaxis"].update(title=dict(text=_("error Σ|p − q|")), rangemode="tozero")
    notes = [_panel_title(_("<b>head</b> error (strong bars)"), ids[0][0], inside=True),
             _panel_title(_("<b>tail</b> error (faint bars)"), ids[0][1], inside=True)]
    lay = layout(height=360, annotations=notes)
    lay.update(axes)
    return figure(data, lay)


def share_figure(res: HeadTailResult, n: int) -> go.Figure:
    """Share of the error reduction over the first ``n`` steps that falls on the head, per divergence."""
    share = res.fit.head_share(n)
    shown = np.where(np.isfinite(share), share, 0.0)  # a missing bar (text says n/a), never a NaN bar
    text = [f"{s:.2f}" if np.isfinite(s) else _("n/a") for s in share]
    # the values inside the bars' tops, in the colour plotly picks to contrast with each bar
    data = [dict(type="bar", x=[label(nm) for nm in res.names], y=shown, text=text, textposition="inside",
                 insidetextanchor="end", marker=dict(color=[color(nm) for nm in res.names]), showlegend=False,
                 hovertemplate="%{x}: " + _("head share") + " %{text}<extra></extra>")]
    base = res.initial_head_share()
    extra = {}
    if np.isfinite(base):
        extra = dict(shapes=[dict(type="line", xref="x domain", yref="y", x0=0, x1=1, y0=base, y1=base,
                                  line=dict(color=palette()["teacher"], dash="dot", width=1.5))])
        data.append(_legend_line(_("if head and tail errors shrank at the same rate: {base:.2f}").format(
            base=base)))
    lay = layout(title=_("Head share over the first {n} steps").format(n=min(n, res.steps)),
                 y="Δhead / (Δhead + Δtail)", height=380, **extra)
    lay["showlegend"] = True
    lay["yaxis"]["range"] = [0, 1.05]
    return figure(data, lay)


def weights_figure(res: HeadTailResult) -> go.Figure:
    """AKL's head weight ``w_head = g_head / (g_head + g_tail)`` along each run."""
    lay = layout(title=_("AKL's head weight w_head"), x=_("step"),
                 y="w_head = g_head / (g_head + g_tail)", height=360)
    lay["yaxis"]["range"] = [0, 1]
    return figure(_lines(res, res.fit.w_head, "w_head = %{y:.3f}"), lay)


def tvd_figure(res: HeadTailResult) -> go.Figure:
    """TVD(p, q_t) against the step, log scale: do they all converge?"""
    floor = 1e-8  # zero TVD has no place on a log axis: values below 1e-8 are drawn at 1e-8
    data = _lines(res, np.maximum(res.tvd, floor), "TVD = %{customdata:.2e}", custom=res.tvd)
    lay = layout(title=_("Convergence: TVD(p, q_t)"), x=_("step"), y=_("TVD (log scale)"), height=360)
    lay["yaxis"].update(type="log", exponentformat="power")
    return figure(data, lay)


def animation_figure(res: HeadTailResult) -> go.Figure:
    """Teacher bars (head dark, tail light) and every student as a line over the classes, played
    over at most ``MAX_FRAMES`` of the kept frames (evenly spaced, the first and the last among them)."""
    fs = res.fit.frame_steps
    pick = frame_indices(len(fs))
    ys = f32(res.fit.frames[:, pick])  # (K, F', V)
    K = len(res.names)
    data = _teacher_bars(res, show_legend=True) + [
        dict(type="scatter", x=res.x, y=ys[k, 0], mode="lines+markers", name=label(nm),
             line=_style(nm, k), marker=dict(size=4)) for k, nm in enumerate(res.names)]
    labels = [str(int(fs[i])) for i in pick]
    controls = animation_controls(labels, prefix=_("step "), duration_ms=100)  # 50 frames x 0.1 s
    bottom = below_axis(controls)
    lay = layout(x=_("class"), y=_("probability"), height=460, barmode="overlay", bargap=0, **controls)
    lay["xaxis"]["range"] = [float(res.x.min()) - 1, float(res.x.max()) + 1]
    lay["yaxis"]["range"] = [0, 1.08 * float(max(res.p.max(), ys.max()))]
    lay["margin"]["b"] = bottom
    # each frame replaces the students' y values; the two teacher bar traces come along unchanged: left
    # out of the frames, plotly.js drops them from the plot when a frame plays (redraw=False)
    frames = [dict(name=lab, traces=list(range(2 + K)),
                   data=[dict(type="bar"), dict(type="bar")]
                   + [dict(type="scatter", y=ys[k, f]) for k in range(K)])
              for f, lab in enumerate(labels)]
    return figure(data, lay, frames)


def teachers_figure(res: TeachersResult) -> go.Figure:
    """FKL's head share against RKL's on each random teacher: above the band, FKL puts more of its
    early progress on the head; inside it (within MARGIN of the diagonal), too close to call."""
    both = np.concatenate([res.fkl, res.rkl])
    both = both[np.isfinite(both)]
    lo, hi = (float(both.min()) - 0.05, float(both.max()) + 0.05) if len(both) else (0.0, 1.0)
    band = dict(type="scatter", x=[lo, hi, hi, lo], y=[lo + MARGIN, hi + MARGIN, hi - MARGIN, lo - MARGIN],
                fill="toself", mode="lines", line=dict(width=0), fillcolor=palette()["teacher_fill"],
                name=_("too close to call (±{margin:g})").format(margin=MARGIN), hoverinfo="skip")
    dots = dict(type="scatter", x=f32(res.rkl), y=f32(res.fkl), mode="markers", name=_("one random teacher"),
                marker=dict(size=9, color=color("fkl"), line=dict(width=1, color=palette()["marker_edge"])),
                hovertemplate="RKL %{x:.2f}<br>FKL %{y:.2f}<extra></extra>")
    lay = layout(title=_("{n} random teachers, first {steps} steps").format(n=len(res.fkl), steps=res.steps),
                 x=_("RKL's head share"), y=_("FKL's head share"), height=380)
    lay["xaxis"]["range"] = lay["yaxis"]["range"] = [lo, hi]
    lay["showlegend"] = True
    return figure([band, dots], lay)
