"""Figures of the "Overlap, JSD saturation and Wasserstein" lesson from an :class:`OverlapResult`.

Two figures: a compact animation of the teacher and the sliding student (its ▶ Play button right on
it, and the divergences' values at the shown shift written in the picture), and the curves: one row
per divergence with its value and the size of its shift-derivative along the sweep, a dotted line and
markers at the page's shift. Built as plain dicts (``go.Figure(dict)``), much faster than
``make_subplots`` for this many panels.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from kdviz.experiments.overlap import SINKHORN_NAMES, OverlapResult
from kdviz.i18n import _
from kdviz.plots.common import TEMPLATE, animation_controls, color, f32, figure, font_size, label, palette

ANIMATION_HEIGHT = 360  # px of the animation figure
ROW_HEIGHT = 150  # px of each divergence row
GAP = 60  # px between rows (room for the panel titles)
MARGIN_T, MARGIN_B = 30, 50  # px
MAX_FRAMES = 61


def _finite(a: np.ndarray) -> list:
    """A JSON-safe list: non-finite entries become None (a gap in the line), never NaN."""
    return [float(v) if np.isfinite(v) else None for v in a]


def _disjoint_text(v: float) -> str:
    name = " = log 2" if math.isclose(v, math.log(2), rel_tol=1e-12) else ""
    return _("disjoint: {value:.3f}").format(value=v) + name  # short: a phone's panel is 130 px wide


def _on_curve(res: OverlapResult, k: int, i: int, values: np.ndarray) -> float | None:
    """``values[i]`` as drawn: infinite at the ceiling; not computed (Sinkhorn subsample) read off the
    straight segment between the computed neighbours; None (hidden) if undefined."""
    v = values[i]
    if np.isnan(v) and np.isnan(res.values[k, i]):
        ok = np.isfinite(values) & ~np.isnan(res.values[k])
        if ok.sum() >= 2:
            v = np.interp(res.shifts[i], res.shifts[ok], values[ok])
    if v == np.inf:
        return res.ceiling(k)
    return float(v) if np.isfinite(v) else None


def _axes(n_rows: int, plot_height: int) -> tuple[dict, list[tuple[str, str]]]:
    """``n_rows`` rows of (value, |gradient|) panels; ``plot_height``: pixels between the top and
    bottom margins (the unit of the axis domains)."""
    px = lambda v: v / plot_height  # noqa: E731
    entries, ids = {}, []
    for r in range(n_rows):
        hi = 1 - px(GAP) - r * px(ROW_HEIGHT + GAP)
        lo = hi - px(ROW_HEIGHT)
        a, b = ("", "2") if r == 0 else (str(1 + 2 * r), str(2 + 2 * r))
        last = r == n_rows - 1
        for sfx, dom in ((a, [0, 0.46]), (b, [0.54, 1])):
            entries[f"xaxis{sfx}"] = dict(domain=dom, anchor=f"y{sfx}", showticklabels=True,
                                          title=dict(text=_("shift s") if last else ""),
                                          **({} if sfx == "" else {"matches": "x"}))
            entries[f"yaxis{sfx}"] = dict(domain=[max(lo, 0.0), hi], anchor=f"x{sfx}")
        ids.append((a, b))
    return entries, ids


def _title(text: str, sfx: str) -> dict:
    return dict(text=text, xref=f"x{sfx} domain", yref=f"y{sfx} domain", x=0, y=1.0, xanchor="left",
                yanchor="bottom", showarrow=False, font=dict(size=font_size()))


def _hline(y: float, sfx: str, dash: str, col: str) -> dict:
    return dict(type="line", xref=f"x{sfx} domain", yref=f"y{sfx}", x0=0, x1=1, y0=y, y1=y,
                line=dict(color=col, width=1.5, dash=dash))


def _note(text: str, y: float, sfx: str) -> dict:
    return dict(text=text, xref=f"x{sfx} domain", yref=f"y{sfx}", x=0.99, y=y, xanchor="right",
                yanchor="bottom", showarrow=False, font=dict(size=font_size() - 2, color=palette()["muted"]))


def _readout(res: OverlapResult, values: list) -> str:
    """The values at one shift, as written in the animation: ``JSD 0.693 · Wasserstein 2.4``."""
    return "   ".join(f"{label(nm)} " + ("∞" if v == math.inf else "–" if v is None else f"{v:.3g}")
                       for nm, v in zip(res.names, values))


def _at(res: OverlapResult, k: int, i: int) -> float | None:
    """D of divergence ``k`` at swept shift ``i``: inf kept, Sinkhorn's subsample read off its line."""
    v = res.values[k, i]
    return math.inf if v == math.inf else _on_curve(res, k, i, res.values[k])


def animation_figure(res: OverlapResult) -> go.Figure:
    """Teacher and student at the page's shift; ▶ slides the student along the sweep, the values of
    the divergences written above the boxes. ▶ and the legend (it names the x axis too) sit under the
    picture, clear of Plotly's toolbar, which covers most of the top on a phone."""
    frames_at = np.linspace(0, len(res.shifts) - 1, min(MAX_FRAMES, len(res.shifts))).round().astype(int)
    ymax = 1.3 * max(res.p.max(), res.students.max(), res.q.max())
    line_shape = "hvh" if res.shape == "box" else "linear"
    x0 = float(res.x[0])
    now = [math.inf if v == math.inf else float(v) if np.isfinite(v) else None for v in res.value]
    data = [
        dict(type="scatter", x=res.x, y=res.p, name=_("teacher p, centred at 0"), mode="lines",
             fill="tozeroy", fillcolor=palette()["teacher_fill"],
             line=dict(color=palette()["teacher"], width=2, shape=line_shape)),
        dict(type="scatter", x=res.x, y=res.q, name=_("student q<sub>s</sub>, centred at the shift s"),
             mode="lines", fill="tozeroy", fillcolor=palette()["student_fill"],
             line=dict(color=palette()["student"], width=2, shape=line_shape)),
        dict(type="scatter", x=[x0], y=[0.93 * ymax], mode="text", textposition="middle right",
             text=[f"s = {res.shift:.2f}:   " + _readout(res, now)], showlegend=False, hoverinfo="skip",
             textfont=dict(size=font_size() + 1)),
    ]
    students = f32(res.students)
    frames = []
    for i in frames_at:
        s = float(res.shifts[i])
        text = f"s = {s:.2f}:   " + _readout(res, [_at(res, k, i) for k in range(len(res.names))])
        frames.append(dict(name=f"{s:.2f}", traces=[1, 2],
                           data=[dict(type="scatter", y=students[i]), dict(type="scatter", text=[text])]))
    controls = animation_controls([f["name"] for f in frames], duration_ms=80)
    play = controls["updatemenus"][0]
    size = font_size()
    play.update(y=0, pad=dict(t=size + 17, r=10))  # under the x axis' tick labels
    return figure(data, dict(
        template=TEMPLATE, height=ANIMATION_HEIGHT, font=dict(size=size),
        margin=dict(l=60, r=20, t=30, b=3 * size + 70),  # tick labels, ▶, the legend
        updatemenus=[play], hovermode="closest",
        legend=dict(orientation="h", x=0, xanchor="left", y=0, yanchor="bottom", yref="container",
                    font=dict(size=size)),
        xaxis=dict(range=[x0, float(res.x[-1])]),
        yaxis=dict(range=[0, float(ymax)], title=dict(text=_("probability per cell")))), frames)


def curves_figure(res: OverlapResult) -> go.Figure:
    """Per divergence, D(p, q_s) and |dD/ds| against the shift; markers, dotted lines at the page's shift."""
    K = len(res.names)
    plot_height = K * (ROW_HEIGHT + GAP)
    axes, ids = _axes(K, plot_height)
    data, shapes, notes = [], [], []
    span = [float(res.shifts[0]), float(res.shifts[-1])]
    for k, nm in enumerate(res.names):
        a, b = ids[k]
        col, lab = color(nm), label(nm)
        vals, grads = res.values[k], res.grads[k]
        done = ~np.isnan(vals)  # transport curves on a subsample: only the computed shifts
        mode = "lines+markers" if nm in SINKHORN_NAMES else "lines"
        data.append(dict(type="scatter", x=res.shifts[done], y=_finite(vals[done]), mode=mode,
                         line=dict(color=col, width=2.5), marker=dict(size=4), showlegend=False,
                         name=lab, xaxis=f"x{a}", yaxis=f"y{a}",
                         hovertemplate="s = %{x:.2f}<br>D = %{y:.4g}<extra>" + lab + "</extra>"))
        inf = vals == np.inf
        top = res.ceiling(k)
        if inf.any():
            data.append(dict(type="scatter", x=res.shifts[inf], y=[top] * int(inf.sum()), mode="markers",
                             marker=dict(symbol="triangle-up", size=6, color=col), showlegend=False,
                             name=f"{lab} = ∞", xaxis=f"x{a}", yaxis=f"y{a}",
                             hovertemplate="s = %{x:.2f}<br>" + _("D = ∞ (drawn at the ceiling)")
                             + "<extra></extra>"))
            shapes.append(_hline(top, a, "dot", palette()["muted"]))
            notes.append(_note(_("▲ = ∞ (drawn at {top:.3g})").format(top=top), top, a))
        dv = res.disjoint_value[k]
        if np.isfinite(dv):
            shapes.append(_hline(dv, a, "dash", palette()["teacher"]))
            notes.append(_note(_disjoint_text(dv), dv if not inf.any() else 0.5 * dv, a))
        finite_y = vals[np.isfinite(vals)]
        y_top = max(top if inf.any() else 0.0, float(finite_y.max()) if finite_y.size else 0.0,
                    dv if np.isfinite(dv) else 0.0)
        axes[f"yaxis{a}"]["range"] = [min(0.0, float(finite_y.min()) if finite_y.size else 0.0),
                                      1.12 * y_top or 1.0]
        axes[f"xaxis{a}"]["range"] = span
        g = np.abs(grads)
        data.append(dict(type="scatter", x=res.shifts[done], y=_finite(g[done]), mode=mode,
                         line=dict(color=col, width=2.5, dash="dot"), marker=dict(size=4), showlegend=False,
                         name=f"|d{lab}/ds|", xaxis=f"x{b}", yaxis=f"y{b}", connectgaps=False,
                         hovertemplate="s = %{x:.2f}<br>|dD/ds| = %{y:.3g}<extra>" + lab + "</extra>"))
        finite_g = g[np.isfinite(g)]
        g_top = float(finite_g.max()) if finite_g.size else 0.0
        # a panel of rounding-level gradients (1e-16) gets the range [0, 1]: it reads as "zero"
        axes[f"yaxis{b}"]["range"] = [0, 1.12 * g_top if g_top > 1e-9 else 1.0]
        undefined = done & np.isnan(grads)
        if undefined.any():
            notes.append(_note(_("undefined where D = ∞"), 0.0, b))
        notes += [_title(f"<b>{lab}</b>: D(p, q<sub>s</sub>)", a), _title(f"<b>{lab}</b>: |dD/ds|", b)]
        for sfx, y in ((a, top if res.value[k] == np.inf else res.value[k]), (b, abs(res.grad[k]))):
            data.append(dict(type="scatter", x=[res.shift], y=_finite([y]), mode="markers", showlegend=False,
                             marker=dict(size=11, color=col,
                                         line=dict(color=palette()["marker_edge"], width=1.5)),
                             hoverinfo="skip", xaxis=f"x{sfx}", yaxis=f"y{sfx}"))
            shapes.append(dict(type="line", xref=f"x{sfx}", yref=f"y{sfx} domain", x0=res.shift, x1=res.shift,
                               y0=0, y1=1, line=dict(color=palette()["muted"], width=1, dash="dot")))
    return figure(data, dict(
        template=TEMPLATE, height=plot_height + MARGIN_T + MARGIN_B, font=dict(size=font_size()),
        shapes=shapes,
        annotations=notes, margin=dict(l=60, r=20, t=MARGIN_T, b=MARGIN_B), hovermode="closest", **axes))
