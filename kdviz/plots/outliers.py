"""Figures of the "Outliers and TVD" lesson (from :class:`OutliersResult`)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kdviz.experiments.outliers import OutliersResult
from kdviz.plots.common import TEACHER_COLOR, TEACHER_FILL, base_layout, color, label

MAX_POINTS = 400  # grid points drawn per curve
DIGITS = 5  # decimals kept in the figure JSON
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "star", "triangle-down", "pentagon")


def fitted_students(res: OutliersResult) -> go.Figure:
    """The teacher (main mass + outlier) and every divergence's fitted Gaussian."""
    idx = np.unique(np.linspace(0, len(res.x) - 1, min(MAX_POINTS, len(res.x))).round().astype(int))
    x = res.x[idx]
    fig = go.Figure(go.Scatter(x=x, y=np.round(res.p[idx], DIGITS), name="teacher p", mode="lines",
                               fill="tozeroy", fillcolor=TEACHER_FILL, line=dict(color=TEACHER_COLOR, width=2)))
    for k, n in enumerate(res.names):
        fig.add_trace(go.Scatter(x=x, y=np.round(res.q[k, idx], DIGITS), name=label(n), mode="lines",
                                 line=dict(color=color(n), width=2.5)))
    fig.add_vline(x=res.distance, line=dict(color=TEACHER_COLOR, dash="dot", width=1),
                  annotation_text=f"outlier ({res.weight:.0%} of the mass)", annotation_position="top")
    base_layout(fig, x="x", y="density", height=420)
    return fig


def robustness(res: OutliersResult) -> go.Figure:
    """Fitted mean and std against the outlier weight, per divergence; dashed: the teacher's moments
    (forward KL's optimum); dotted vertical line: the weight shown above."""
    w = res.sweep_weights
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1)
    for col, moment in ((1, res.moment_mu), (2, res.moment_sigma)):
        fig.add_trace(go.Scatter(x=w, y=moment, name="teacher's moments (FKL optimum)", mode="lines",
                                 legendgroup="moments", showlegend=col == 1,
                                 line=dict(color=TEACHER_COLOR, dash="dash", width=1.5)), row=1, col=col)
    for k, n in enumerate(res.names):
        for col, vals in ((1, res.sweep_mu[k]), (2, res.sweep_sigma[k])):
            shown = np.where(res.sweep_diverged[k], np.nan, vals)  # a failed fit is a gap, not a point
            fig.add_trace(go.Scatter(x=w, y=shown, name=label(n), mode="lines+markers", legendgroup=n,
                                     showlegend=col == 1, line=dict(color=color(n), width=2),
                                     marker=dict(size=7, symbol=SYMBOLS[k % len(SYMBOLS)])), row=1, col=col)
    for col in (1, 2):
        fig.add_vline(x=res.weight, line=dict(color="#888888", dash="dot", width=1), row=1, col=col)
    base_layout(fig, height=400)
    fig.update_xaxes(title_text="outlier weight w", tickformat=".0%")
    fig.update_yaxes(title_text="fitted mean μ (outlier pull)", row=1, col=1)
    fig.update_yaxes(title_text="fitted std σ", row=1, col=2)
    return fig
