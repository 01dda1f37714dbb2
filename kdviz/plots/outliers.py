"""Figures of the "Outliers and TVD" lesson (from :class:`OutliersResult`), built from plain dicts
of float32 arrays without plotly's validation (:func:`kdviz.plots.common.figure`).

Students drawn together get their own dash (overlapping fits stay apart), and the lesson's two main
characters, forward KL and TVD, are drawn last, on top, a little wider."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from kdviz.experiments.outliers import OutliersResult
from kdviz.i18n import _
from kdviz.plots.common import (
    DASHES,
    animation_controls,
    color,
    f32,
    figure,
    font_size,
    label,
    layout,
    palette,
    two_panels,
)

MAX_POINTS = 400  # grid points drawn per curve
MAIN = ("tvd", "fkl")  # drawn last (on top), in this order
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "star", "triangle-down", "pentagon")


def drawing_order(names) -> list[int]:
    """Row indices with the main characters last (on top of the others)."""
    return sorted(range(len(names)), key=lambda k: MAIN.index(names[k]) + 1 if names[k] in MAIN else 0)


def _line(res: OutliersResult, k: int) -> dict:
    main = res.names[k] in MAIN
    return dict(color=color(res.names[k]), width=3.5 if main else 2.5, dash=DASHES[k % len(DASHES)])


def fitted_students(res: OutliersResult) -> go.Figure:
    """The teacher (main mass + outlier) and every divergence's Gaussian, fitted; ▶ replays the fits
    step by step from the start N(0, 1)."""
    idx = np.unique(np.linspace(0, len(res.x) - 1, min(MAX_POINTS, len(res.x))).round().astype(int))
    x = f32(res.x[idx])
    order = drawing_order(res.names)
    data = [dict(type="scatter", x=x, y=f32(res.p[idx]), name=_("teacher p"), mode="lines", fill="tozeroy",
                 fillcolor=palette()["teacher_fill"], line=dict(color=palette()["teacher"], width=2),
                 legendrank=-1)]
    data += [dict(type="scatter", x=x, y=f32(res.q[k, idx]), name=label(res.names[k]), mode="lines",
                  legendrank=k, line=_line(res, k)) for k in order]
    labels = [f"{int(t)}" for t in res.frame_steps]
    frames = [dict(name=lab, traces=list(range(1, len(order) + 1)),
                   data=[dict(type="scatter", y=f32(res.frames[k, f, idx])) for k in order])
              for f, lab in enumerate(labels)]
    # Under the picture, clear of Plotly's toolbar (it covers most of the top on a phone): ▶ on the
    # left of the slider's label row, the step shown on its right, the slider's track the full width
    # below, the legend at the bottom
    controls = animation_controls(labels, prefix=_("step") + " ", duration_ms=70)
    ticks = font_size() + 17  # px under the plot for the x axis' tick labels
    play = controls["updatemenus"][0]
    play.update(y=0, pad=dict(t=ticks, r=10))
    play["buttons"][0]["args"][1]["fromcurrent"] = False  # ▶ replays from step 0
    controls["sliders"][0].update(active=len(labels) - 1, x=0, len=1, y=0, pad=dict(t=ticks + 8))
    controls["sliders"][0]["currentvalue"].update(xanchor="right", offset=12)
    d = float(res.distance)
    ymax = 1.15 * float(max(res.p.max(), res.frames.max()))
    outlier = dict(type="line", xref="x", yref="y domain", x0=d, x1=d, y0=0, y1=1,
                   line=dict(color=palette()["teacher"], dash="dot", width=1))
    lay = layout(height=460, **controls, shapes=[outlier], annotations=[dict(
        text=_("outlier ({weight:.0%} of the mass)").format(weight=res.weight), xref="x", yref="y domain",
        x=d, y=1, xanchor="right", yanchor="top", xshift=-4, showarrow=False)])
    lay["margin"]["b"] = ticks + 90 + font_size() + 12  # the ▶ buttons, the slider and one legend row
    lay["legend"].update(y=0, yanchor="bottom", yref="container")
    lay["yaxis"].update(title=dict(text=_("density")), range=[0, ymax])
    return figure(data, lay, frames)


def robustness(res: OutliersResult) -> go.Figure:
    """Fitted mean and std against the outlier weight, per divergence; dashed: the teacher's moments
    (forward KL's optimum); dotted vertical line: the weight shown above."""
    w = f32(res.sweep_weights)
    data = [dict(type="scatter", x=w, y=f32(moment), name=_("teacher's moments (FKL optimum)"), mode="lines",
                 legendgroup="moments", showlegend=ax == "", xaxis=f"x{ax}", yaxis=f"y{ax}",
                 line=dict(color=palette()["teacher"], dash="dash", width=1.5))
            for ax, moment in (("", res.moment_mu), ("2", res.moment_sigma))]
    for k in drawing_order(res.names):
        n = res.names[k]
        for ax, vals in (("", res.sweep_mu[k]), ("2", res.sweep_sigma[k])):
            shown = np.where(res.sweep_diverged[k], np.nan, vals)  # a failed fit is a gap, not a point
            data.append(dict(type="scatter", x=w, y=f32(shown), name=label(n), mode="lines+markers",
                             legendgroup=n, legendrank=k, showlegend=ax == "", xaxis=f"x{ax}", yaxis=f"y{ax}",
                             line=_line(res, k),
                             marker=dict(size=7, symbol=SYMBOLS[k % len(SYMBOLS)])))
    v = float(res.weight)
    lay = layout(height=400, shapes=[dict(type="line", xref=f"x{ax}", yref=f"y{ax} domain", x0=v, x1=v, y0=0,
                                          y1=1, line=dict(color=palette()["muted"], dash="dot", width=1))
                                     for ax in ("", "2")])
    lay["legend"].update(y=0, yanchor="bottom", yref="container")  # clear of Plotly's toolbar
    lay["margin"]["b"] = 2 * font_size() + 60  # tick labels, axis titles, one legend row
    lay.update(two_panels(_("outlier weight w"), _("fitted mean μ (outlier pull)"), _("fitted std σ"),
                          tickformat=".0%"))
    return figure(data, lay)
