"""Figures of the "Gradients" lesson from a :class:`GradientsResult` (dict-built and unvalidated,
like head_tail)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from kdviz.experiments.gradients import GradientsResult
from kdviz.i18n import _
from kdviz.plots.common import color, figure, font_size, grid_axes, label, layout, palette

HEAD_OPACITY = 0.5  # AKL's head: the teacher's fill at half its opacity
DASHES = ("solid", "dash", "dot", "dashdot", "longdash")  # lines that coincide stay visible (RKL, SRKL)
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def symlog(v: np.ndarray) -> np.ndarray:
    """``sign(v) log10(1 + |v|)``: a symmetric log scale that is linear near 0 and keeps signs."""
    return np.sign(v) * np.log10(1.0 + np.abs(v))


def symlog_ticks(vmax: float) -> tuple[list[float], list[str]]:
    """Tick positions (in symlog units) and labels (true values) for ±10^k up to ``vmax``."""
    top = max(0, int(np.ceil(np.log10(max(vmax, 1.0)))))
    vals, text = [0.0], ["0"]
    for k in range(top + 1):
        for s in (1, -1):
            vals.append(float(symlog(s * 10.0**k)))
            text.append(("−" if s < 0 else "")
                        + ("1" if k == 0 else "10" if k == 1 else f"10{str(k).translate(_SUPERSCRIPT)}"))
    return vals, text


def coefficient_figure(res: GradientsResult) -> go.Figure:
    """The coefficient of ``grad q(y*)`` against ``q(y*)`` (log x, symmetric-log y), one line per
    divergence; the dotted line marks ``q = p(y*)`` where TVD switches off."""
    data = [dict(type="scatter", x=res.q, y=symlog(c), customdata=c, mode="lines", name=label(nm),
                 line=dict(color=color(nm), width=4.5 - 0.6 * k, dash=DASHES[k % len(DASHES)]),
                 hovertemplate=_("q(y*) = %{x:.2e}<br>coefficient = %{customdata:.4g}")
                 + "<extra>" + label(nm) + "</extra>")
            for k, (nm, c) in enumerate(zip(res.coef_names, res.coefficients))]
    vmax = float(np.abs(res.coefficients).max()) if res.coefficients.size else 1.0
    tickvals, ticktext = symlog_ticks(vmax)
    lay = layout(x=_("student's probability of the token, q(y*) (log scale)"),
                 y=_("coefficient of ∇q(y*) (symmetric log scale)"), height=460,
                 shapes=[dict(type="line", xref="x", yref="y domain", x0=res.p_star, x1=res.p_star,
                              y0=0, y1=1, line=dict(color=palette()["teacher"], dash="dot", width=1.5)),
                         dict(type="line", xref="x domain", yref="y", x0=0, x1=1, y0=0, y1=0,
                              line=dict(color=palette()["muted"], width=1))],
                 annotations=[dict(text=f"q = p(y*) = {res.p_star:g}", x=np.log10(res.p_star), xref="x",
                                   y=1, yref="y domain", xanchor="right", yanchor="top", xshift=-4,
                                   showarrow=False)])
    lay["legend"].update(y=0, yanchor="bottom", yref="container")  # clear of Plotly's toolbar
    lay["margin"]["b"] = 2 * font_size() + 60  # tick labels, the axis title, one legend row
    lay["xaxis"].update(type="log", exponentformat="power", range=[np.log10(res.q[0]), 0])
    lay["yaxis"].update(tickvals=tickvals, ticktext=ticktext, zeroline=False)
    return figure(data, lay)


def logit_figure(res: GradientsResult) -> go.Figure:
    """Top: teacher and student probabilities, classes sorted by teacher probability (log y).
    Bottom: each divergence's gradient w.r.t. each logit, ``dD/dz``, as a heatmap (one row per
    divergence, scaled by its largest magnitude; blue: negative, the logit rises under gradient
    descent). The shaded band (dotted line below) is AKL's head."""
    order = res.order
    rank = np.arange(1, len(order) + 1)
    n_head = int(res.head_mask.sum())
    axes, ids = grid_axes(2, 1, vspace=0.08, hspace=0)
    axes["yaxis"]["domain"] = [0.62, 1.0]  # probabilities: the smaller top panel
    axes["yaxis2"]["domain"] = [0.0, 0.54]
    cls = res.x[order]
    where = _("rank %{x} (class %{customdata})")
    data = [dict(type="scatter", x=rank, y=res.p[order], mode="lines+markers", name=_("teacher p"),
                 line=dict(color=palette()["teacher"], width=2), marker=dict(size=5), customdata=cls,
                 hovertemplate=where + "<br>p = %{y:.3e}<extra></extra>"),
            dict(type="scatter", x=rank, y=res.q_student[order], mode="lines+markers", name=_("student q"),
                 line=dict(color=palette()["student"], width=1.5, dash="dash"),
                 marker=dict(size=4, symbol="x"), customdata=cls,
                 hovertemplate=where + "<br>q = %{y:.3e}<extra></extra>")]
    scale = np.abs(res.grads).max(-1, keepdims=True)  # (K, 1): each row on its own scale
    z = np.where(scale > 0, res.grads / np.where(scale > 0, scale, 1.0), 0.0)[:, order]
    data.append(dict(type="heatmap", x=rank, y=[label(nm) for nm in res.names], z=z, xaxis="x2", yaxis="y2",
                     customdata=res.grads[:, order], colorscale=palette()["diverging"], zmid=0, zmin=-1,
                     zmax=1, colorbar=dict(title=dict(text=_("∂D/∂z ÷ row max |·|"), side="right"), y=0.27,
                                           len=0.54, thickness=12),
                     hovertemplate=_("rank %{x}") + "<br>∂D/∂z = %{customdata:.3e}<extra>%{y}</extra>"))
    head = _("AKL's head: the {n} most likely classes (p ≥ {p:.3g})").format(n=n_head,
                                                                           p=res.p[res.head_mask].min())
    shade = [dict(type="rect", xref="x", yref="y domain", x0=0.5, x1=n_head + 0.5, y0=0, y1=1,
                  fillcolor=palette()["teacher_fill"], opacity=HEAD_OPACITY, line=dict(width=0),
                  layer="below", showlegend=True, name=head),  # in the legend: it wraps on a phone
             dict(type="line", xref="x2", yref="y2 domain", x0=n_head + 0.5, x1=n_head + 0.5, y0=0, y1=1,
                  line=dict(color=palette()["teacher"], dash="dot", width=1.5))]
    lay = layout(height=620, shapes=shade)
    lay["legend"].update(y=0, yanchor="bottom", yref="container")  # clear of Plotly's toolbar
    lay["margin"]["b"] = 2 * font_size() + 60
    lay.update(axes)
    lay["xaxis2"]["title"] = dict(text=_("class rank by teacher p (1 = most likely)"))
    lay["yaxis"].update(type="log", exponentformat="power", title=dict(text=_("probability (log)")))
    lay["yaxis2"]["title"] = dict(text=_("∂D/∂z per logit"))
    lay["yaxis2"]["autorange"] = "reversed"  # the first divergence on top, as in the legend
    return figure(data, lay)


def link_figure(res: GradientsResult, name: str) -> go.Figure:
    """One divergence, same teacher and student, classes sorted by teacher probability: on top, the
    coefficient ``dD/dq_y`` of each class (symmetric log scale); below, the push on its logit,
    ``dD/dz_y`` (the softmax included). Stacked, so they read on a phone too. The shaded band is AKL's
    head."""
    k, order = res.names.index(name), res.order
    rank = np.arange(1, len(order) + 1)
    cls = res.x[order]
    gq, gz = res.grads_q[k, order], res.grads[k, order]
    axes, ids = grid_axes(2, 1, vspace=0.1, hspace=0)
    data = [dict(type="bar", x=rank, y=symlog(gq), customdata=np.stack([cls, gq], -1), name="∂D/∂q",
                 marker=dict(color=color(name)), showlegend=False,
                 hovertemplate=_("rank %{x} (class %{customdata[0]})")
                 + "<br>∂D/∂q = %{customdata[1]:.4g}<extra></extra>"),
            dict(type="bar", x=rank, y=gz, customdata=cls, name="∂D/∂z", xaxis="x2", yaxis="y2",
                 marker=dict(color=color(name)), showlegend=False,
                 hovertemplate=_("rank %{x} (class %{customdata})") + "<br>∂D/∂z = %{y:.4g}<extra></extra>")]
    n_head = int(res.head_mask.sum())
    shade = [dict(type="rect", xref=f"x{s}", yref=f"y{s} domain", x0=0.5, x1=n_head + 0.5, y0=0, y1=1,
                  fillcolor=palette()["teacher_fill"], opacity=HEAD_OPACITY, line=dict(width=0),
                  layer="below") for s in ("", "2")]
    tickvals, ticktext = symlog_ticks(float(np.abs(gq).max()))
    lay = layout(height=520, shapes=shade, title=f"{label(name)}: D(p, q) = {res.values[k]:.4f}")
    lay.update(axes)
    lay["yaxis"].update(title=dict(text=_("coefficient ∂D/∂q")), tickvals=tickvals, ticktext=ticktext)
    lay["yaxis2"]["title"] = dict(text=_("push ∂D/∂z"))
    lay["xaxis2"]["title"] = dict(text=_("class rank by teacher p (1 = most likely)"))
    return figure(data, lay)
