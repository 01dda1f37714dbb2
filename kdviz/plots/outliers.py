"""Figures of the "Outliers and TVD" lesson (from :class:`OutliersResult`), built from plain dicts
of float32 arrays without plotly's validation (:func:`kdviz.plots.common.figure`)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from kdviz.experiments.outliers import OutliersResult
from kdviz.plots.common import TEACHER_COLOR, TEACHER_FILL, color, f32, figure, label, layout, two_panels

MAX_POINTS = 400  # grid points drawn per curve
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "star", "triangle-down", "pentagon")


def fitted_students(res: OutliersResult) -> go.Figure:
    """The teacher (main mass + outlier) and every divergence's fitted Gaussian."""
    idx = np.unique(np.linspace(0, len(res.x) - 1, min(MAX_POINTS, len(res.x))).round().astype(int))
    x = f32(res.x[idx])
    data = [dict(type="scatter", x=x, y=f32(res.p[idx]), name="teacher p", mode="lines", fill="tozeroy",
                 fillcolor=TEACHER_FILL, line=dict(color=TEACHER_COLOR, width=2))]
    data += [dict(type="scatter", x=x, y=f32(res.q[k, idx]), name=label(n), mode="lines",
                  line=dict(color=color(n), width=2.5)) for k, n in enumerate(res.names)]
    d = float(res.distance)
    return figure(data, layout(x="x", y="density", height=420, shapes=[dict(
        type="line", xref="x", yref="y domain", x0=d, x1=d, y0=0, y1=1,
        line=dict(color=TEACHER_COLOR, dash="dot", width=1))], annotations=[dict(
        text=f"outlier ({res.weight:.0%} of the mass)", xref="x", yref="y domain", x=d, y=1, xanchor="center",
        yanchor="bottom", showarrow=False)]))


def robustness(res: OutliersResult) -> go.Figure:
    """Fitted mean and std against the outlier weight, per divergence; dashed: the teacher's moments
    (forward KL's optimum); dotted vertical line: the weight shown above."""
    w = f32(res.sweep_weights)
    data = [dict(type="scatter", x=w, y=f32(moment), name="teacher's moments (FKL optimum)", mode="lines",
                 legendgroup="moments", showlegend=ax == "", xaxis=f"x{ax}", yaxis=f"y{ax}",
                 line=dict(color=TEACHER_COLOR, dash="dash", width=1.5))
            for ax, moment in (("", res.moment_mu), ("2", res.moment_sigma))]
    for k, n in enumerate(res.names):
        for ax, vals in (("", res.sweep_mu[k]), ("2", res.sweep_sigma[k])):
            shown = np.where(res.sweep_diverged[k], np.nan, vals)  # a failed fit is a gap, not a point
            data.append(dict(type="scatter", x=w, y=f32(shown), name=label(n), mode="lines+markers", legendgroup=n,
                             showlegend=ax == "", xaxis=f"x{ax}", yaxis=f"y{ax}", line=dict(color=color(n), width=2),
                             marker=dict(size=7, symbol=SYMBOLS[k % len(SYMBOLS)])))
    v = float(res.weight)
    lay = layout(height=400, shapes=[dict(type="line", xref=f"x{ax}", yref=f"y{ax} domain", x0=v, x1=v, y0=0, y1=1,
                                          line=dict(color="#888888", dash="dot", width=1)) for ax in ("", "2")])
    lay.update(two_panels("outlier weight w", "fitted mean μ (outlier pull)", "fitted std σ", tickformat=".0%"))
    return figure(data, lay)
