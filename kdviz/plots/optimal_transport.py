"""Figures of the "Optimal transport and Sinkhorn" lesson from a :class:`TransportResult`.

* :func:`plan_figure`: a transport plan as a heatmap with the teacher's marginal on the left and
  the student's on top (exact plan or Sinkhorn plan);
* :func:`iterations_figure`: the Sinkhorn iterations animated (plan, and its q-marginal against q);
* :func:`epsilon_figure`: Sinkhorn distance and bias against epsilon, with the exact W;
* :func:`divergence_figure`: the two debiased Sinkhorn divergences against epsilon.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from kdviz.experiments.optimal_transport import TransportResult, debias
from kdviz.i18n import _
from kdviz.plots.common import (
    TEMPLATE,
    animation_controls,
    chart_height,
    color,
    f32,
    figure,
    font_size,
    frame_indices,
    palette,
)


def _marginal_axes() -> dict:
    """Heatmap bottom-right, q's bars on top, p's bars on the left (x = q's support, y = p's)."""
    return dict(
        xaxis=dict(domain=[0.22, 1.0], anchor="y", title=dict(text=_("x<sub>j</sub> (student q)"))),
        # ticks drawn left of p's bars
        yaxis=dict(domain=[0.0, 0.76], anchor="x", showticklabels=False),
        xaxis2=dict(domain=[0.22, 1.0], anchor="y2", matches="x", showticklabels=False),
        yaxis2=dict(domain=[0.8, 1.0], anchor="x2", rangemode="tozero", showticklabels=False),
        # range set reversed by the callers
        xaxis3=dict(domain=[0.0, 0.2], anchor="y3", showticklabels=False),
        yaxis3=dict(domain=[0.0, 0.76], anchor="x3", matches="y",
                    title=dict(text=_("x<sub>i</sub> (teacher p)"))),
    )


def _layout(title: str, height: int, **extra) -> dict:
    return dict(template=TEMPLATE, font=dict(size=font_size()), height=chart_height(height),
                title=dict(text=title, x=0.01, font=dict(size=font_size() + 2)),
                margin=dict(l=60, r=10, t=50, b=50), showlegend=False, **extra)


def _bars(values, x, axes: str, horizontal: bool, col: str, name: str) -> dict:
    ax, ay = ("x3", "y3") if horizontal else ("x2", "y2")
    xy = dict(x=values, y=x, orientation="h") if horizontal else dict(x=x, y=values)
    return dict(type="bar", name=name, marker=dict(color=col, line=dict(width=0)), xaxis=ax, yaxis=ay,
                hovertemplate=f"{name}(%{{{'y' if horizontal else 'x'}:.3f}}) = "
                              f"%{{{'x' if horizontal else 'y'}:.4f}}<extra></extra>", **xy)


def _heatmap(plan, x, zmax: float) -> dict:
    return dict(type="heatmap", z=plan, x=x, y=x, zmin=0.0, zmax=zmax, colorscale=palette()["heat"],
                colorbar=dict(title=dict(text="Γ<sub>ij</sub>", side="right"), len=0.76, y=0.0,
                              yanchor="bottom", thickness=12),
                hovertemplate=_("from x<sub>i</sub> = %{y:.3f} to x<sub>j</sub> = %{x:.3f}: "
                                "%{z:.3g}") + "<extra></extra>")


def plan_figure(res: TransportResult, which: str = "sinkhorn", height: int = 470) -> go.Figure:
    """The exact (``which="exact"``) or Sinkhorn plan with p on the left and q on top."""
    if which not in ("exact", "sinkhorn"):
        raise ValueError(f"which must be 'exact' or 'sinkhorn', got {which!r}")
    plan = res.exact_plan if which == "exact" else res.plan
    title = (_("Exact plan: W = {w:.4g}").format(w=res.wasserstein) if which == "exact" else
             _("Sinkhorn plan, ε = {eps:g}: W<sub>ε</sub> = {sinkhorn:.4g}").format(eps=res.epsilon,
                                                                                   sinkhorn=res.sinkhorn))
    data = [_heatmap(plan, res.x, float(plan.max())),
            _bars(res.q, res.x, "top", False, palette()["student"], "q"),
            _bars(res.p, res.x, "left", True, palette()["teacher"], "p")]
    axes = _marginal_axes()
    axes["yaxis2"]["range"] = [0, 1.15 * float(res.q.max())]  # a flat q stays visibly flat
    axes["xaxis3"]["range"] = [1.15 * float(res.p.max()), 0]
    return figure(data, _layout(title, height, **axes, bargap=0.05))


def iterations_figure(res: TransportResult, height: int = 520) -> go.Figure:
    """The seed's iterations u = P / (K v), v = Q / (K^T u), animated: the plan and its q-marginal,
    at most ``MAX_FRAMES`` of the kept iterations (evenly spaced among them, first and last included)."""
    keep = frame_indices(len(res.history_iters))
    plans, iters, errs = res.history_plans[keep], res.history_iters[keep], res.history_errors[keep]
    # colours scaled to the last plan: early iterates can be far more concentrated (they saturate)
    zmax = float(plans[-1].max())
    top = 1.1 * float(max(res.q.max(), plans.sum(-2).max()))
    axes = _marginal_axes()
    axes["yaxis2"]["range"] = [0, top]
    axes["xaxis3"]["range"] = [1.15 * float(res.p.max()), 0]
    data = [_heatmap(f32(plans[0]), res.x, zmax),
            _bars(f32(plans[0].sum(-2)), res.x, "top", False, palette()["student"], "Γᵀ1"),
            dict(type="scatter", x=res.x, y=res.q, mode="lines",
                 line=dict(color=palette()["teacher"], width=2, shape="hvh"),
                 name=_("target q"), xaxis="x2", yaxis="y2", hoverinfo="skip"),
            _bars(res.p, res.x, "left", True, palette()["teacher"], "p")]
    labels = [_("{iteration} · error {error:.1e}").format(iteration=it, error=e)
              for it, e in zip(iters, errs)]
    frames = [dict(name=lab, traces=[0, 1], data=[dict(type="heatmap", z=f32(plans[f])),
                                                  dict(type="bar", y=f32(plans[f].sum(-2)))])
              for f, lab in enumerate(labels)]
    # heatmaps are not "transitionable": plotly only repaints them with redraw=True
    controls = animation_controls(labels, prefix=_("iteration "), duration_ms=120, redraw=True)
    # play/pause under the x axis's tick labels and title, the slider under them across the whole
    # width (side by side they overlap on a phone); offsets in pixels through the pads
    size = font_size()
    buttons_top = 4 * size + 14
    slider_top = buttons_top + 2 * size + 16
    controls["updatemenus"][0].update(x=0, y=0, yanchor="top", pad=dict(t=buttons_top, r=10))
    controls["sliders"][0].update(x=0, len=1.0, y=0, yanchor="top", pad=dict(t=slider_top))
    controls["sliders"][0]["currentvalue"]["xanchor"] = "right"
    bottom = int(slider_top + 4.5 * size)
    title = (_("Sinkhorn iterations, ε = {eps:g} (converged)") if res.converged else
             _("Sinkhorn iterations, ε = {eps:g} (NOT converged after {n} iterations)")).format(
                 eps=res.epsilon, n=res.n_iter)
    return figure(data,
                  _layout(title, height, **axes, **controls, bargap=0.05)
                  | dict(margin=dict(l=60, r=10, t=50, b=bottom)),
                  frames)


def _log_eps_axis(res: TransportResult) -> dict:
    return dict(type="log", title=dict(text=_("ε = 1/λ (relative to the cost scale, max C = 1)")),
                range=[np.log10(res.eps_grid[0]) - 0.1, np.log10(res.eps_grid[-1]) + 0.1])


def _curve(x, y, name, col, dash="solid", converged=None, symbol="circle") -> dict:
    ok = np.ones_like(x, dtype=bool) if converged is None else converged
    return dict(type="scatter", x=x, y=y, name=name, mode="lines+markers",
                line=dict(color=col, width=2.5, dash=dash),
                marker=dict(size=7, symbol=[symbol if c else f"{symbol}-open" for c in ok], color=col),
                hovertemplate="ε = %{x:.3g}<br>%{y:.5g}<extra>" + name + "</extra>")


def _vline(x: float) -> dict:
    return dict(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1,
                line=dict(color=palette()["muted"], width=1, dash="dot"))


def _exact_line(res: TransportResult) -> dict:
    """The exact W as a horizontal line across the epsilon range."""
    return dict(type="scatter", x=[res.eps_grid[0], res.eps_grid[-1]], y=[res.wasserstein] * 2, mode="lines",
                line=dict(color=color("wasserstein"), width=2.5),
                name=_("exact W = {w:.4g}").format(w=res.wasserstein))


def epsilon_figure(res: TransportResult, height: int = 430) -> go.Figure:
    """W_eps(p, q), W_eps(p, p), W_eps(q, q) against epsilon; the exact W as a horizontal line."""
    eps, lin, ok = res.eps_grid, res.sweep_linear, res.sweep_converged
    col = color("sinkhorn")
    # three colours and three dashes: the bias curves (p against itself, q against itself) are the headline
    data = [_curve(eps, lin[:, 0], _("W<sub>ε</sub>(p, q)  Sinkhorn distance"), col, converged=ok),
            _curve(eps, lin[:, 1], _("W<sub>ε</sub>(p, p)  bias: p against itself"), palette()["teacher"],
                   "dash", ok, "square"),
            _curve(eps, lin[:, 2], _("W<sub>ε</sub>(q, q)  bias: q against itself"), palette()["student"],
                   "dot", ok, "diamond"),
            _exact_line(res),
            dict(type="scatter", x=[res.epsilon], y=[res.sinkhorn], mode="markers",
                 name=f"ε = {res.epsilon:g}",
                 marker=dict(size=13, color=col, symbol="star",
                             line=dict(color=palette()["marker_edge"], width=1)))]
    lay = _layout(_("Sinkhorn distance and its bias against ε"),
                  height, xaxis=_log_eps_axis(res), yaxis=dict(title=dict(text="⟨Γ<sub>ε</sub>, C⟩"),
                                                               rangemode="tozero"),
                  shapes=[_vline(res.epsilon)])
    lay.update(showlegend=True, legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
               margin=dict(l=60, r=20, t=50, b=120))
    return figure(data, lay)


def divergence_figure(res: TransportResult, height: int = 430) -> go.Figure:
    """The seed's linear and Feydy's entropic debiased Sinkhorn divergences against epsilon."""
    eps, ok = res.eps_grid, res.sweep_converged
    col = color("sinkhorn_div")
    seed, feydy = debias(res.sweep_linear), debias(res.sweep_entropic)
    data = [_curve(eps, seed, _("seed: W<sub>ε</sub>(p,q) − ½W<sub>ε</sub>(p,p) − ½W<sub>ε</sub>(q,q)"),
                   col, "solid", ok),
            _curve(eps, feydy, _("Feydy et al.: same with OT<sub>ε</sub> (entropy included)"),
                   col, "dash", ok, "square"),
            _exact_line(res),
            dict(type="scatter", x=[eps[0], eps[-1]], y=[0, 0], mode="lines",
                 line=dict(color=palette()["muted"], width=1), name="0", hoverinfo="skip")]
    lay = _layout(_("Debiased Sinkhorn divergences against ε"), height, xaxis=_log_eps_axis(res),
                  yaxis=dict(title=dict(text="S<sub>ε</sub>(p, q)")), shapes=[_vline(res.epsilon)])
    lay.update(showlegend=True, legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
               margin=dict(l=60, r=20, t=50, b=120))
    return figure(data, lay)
