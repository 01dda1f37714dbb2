"""Figure of the "Overlap, JSD saturation and Wasserstein" lesson from an :class:`OverlapResult`.

One animated figure: the teacher and the sliding student on top, then one row per divergence with
its value and the size of its shift-derivative along the sweep; markers sit at the current shift
and move when the animation plays. Built as a plain dict (``go.Figure(dict)``), which is much
faster than ``make_subplots`` for this many panels.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from kdviz.experiments.overlap import SINKHORN_NAMES, OverlapResult
from kdviz.plots.common import (FONT, STUDENT_COLOR, STUDENT_FILL, TEACHER_COLOR, TEACHER_FILL, TEMPLATE, animation_controls,
                                color, f32, figure, label)

TOP_HEIGHT = 260  # px of the density panel
ROW_HEIGHT = 175  # px of each divergence row
GAP = 70  # px between rows (room for the panel titles)
TOP_GAP = 100  # px between the density panel and the first row (its x-axis title)
MARGIN_T, MARGIN_B = 40, 120  # px; the bottom margin holds the play button and the slider
MAX_FRAMES = 61


def _finite(a: np.ndarray) -> list:
    """A JSON-safe list: non-finite entries become None (a gap in the line), never NaN."""
    return [float(v) if np.isfinite(v) else None for v in a]


def _disjoint_text(v: float) -> str:
    name = " = log 2" if math.isclose(v, math.log(2), rel_tol=1e-12) else ""
    return f"disjoint supports: {v:.3f}{name}"


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
    """Top panel spanning the width, then ``n_rows`` rows of (value, |gradient|) panels.

    ``plot_height``: pixels between the top and bottom margins (the unit of the axis domains)."""
    px = lambda v: v / plot_height  # noqa: E731
    entries = {}
    top_lo = 1 - px(TOP_HEIGHT)
    entries["xaxis"] = dict(domain=[0, 1], anchor="y", title=dict(text="x (teacher centred at 0, student at the shift)"))
    entries["yaxis"] = dict(domain=[top_lo, 1], anchor="x", title=dict(text="probability per cell"))
    ids = []
    for r in range(n_rows):
        hi = top_lo - px(TOP_GAP) - r * px(ROW_HEIGHT + GAP)
        lo = hi - px(ROW_HEIGHT)
        a, b = str(2 + 2 * r), str(3 + 2 * r)
        last = r == n_rows - 1
        for sfx, dom in ((a, [0, 0.46]), (b, [0.54, 1])):
            entries[f"xaxis{sfx}"] = dict(domain=dom, anchor=f"y{sfx}", showticklabels=True,
                                          title=dict(text="shift s" if last else ""),
                                          **({} if sfx == "2" else {"matches": "x2"}))
            entries[f"yaxis{sfx}"] = dict(domain=[max(lo, 0.0), hi], anchor=f"x{sfx}")
        ids.append((a, b))
    return entries, ids


def _title(text: str, sfx: str) -> dict:
    return dict(text=text, xref=f"x{sfx} domain", yref=f"y{sfx} domain", x=0, y=1.0, xanchor="left",
                yanchor="bottom", showarrow=False, font=dict(size=13))


def _hline(y: float, sfx: str, dash: str, col: str) -> dict:
    return dict(type="line", xref=f"x{sfx} domain", yref=f"y{sfx}", x0=0, x1=1, y0=y, y1=y,
                line=dict(color=col, width=1.5, dash=dash))


def _note(text: str, y: float, sfx: str, col: str = "#555555") -> dict:
    return dict(text=text, xref=f"x{sfx} domain", yref=f"y{sfx}", x=0.99, y=y, xanchor="right",
                yanchor="bottom", showarrow=False, font=dict(size=11, color=col))


def lesson_figure(res: OverlapResult) -> go.Figure:
    """Densities on top; per divergence D(p, q_s) and |dD/ds| against the shift; animated over s."""
    K = len(res.names)
    plot_height = TOP_HEIGHT + TOP_GAP + K * ROW_HEIGHT + (K - 1) * GAP
    height = plot_height + MARGIN_T + MARGIN_B
    axes, ids = _axes(K, plot_height)
    # swept frames, one place kept for the page's own shift (added below)
    frames_at = np.linspace(0, len(res.shifts) - 1, min(MAX_FRAMES - 1, len(res.shifts))).round().astype(int)
    ymax = 1.1 * max(res.p.max(), res.students.max(), res.q.max())
    axes["xaxis"]["range"] = [float(res.x[0]), float(res.x[-1])]
    axes["yaxis"]["range"] = [0, float(ymax)]
    line_shape = "hvh" if res.shape == "box" else "linear"
    data = [
        dict(type="scatter", x=res.x, y=res.p, name="teacher p", mode="lines", fill="tozeroy",
             fillcolor=TEACHER_FILL, line=dict(color=TEACHER_COLOR, width=2, shape=line_shape),
             xaxis="x", yaxis="y"),
        dict(type="scatter", x=res.x, y=res.q, name="student q<sub>s</sub>", mode="lines",
             fill="tozeroy", fillcolor=STUDENT_FILL,
             line=dict(color=STUDENT_COLOR, width=2, shape=line_shape), xaxis="x", yaxis="y"),
    ]
    shapes, notes, markers = [], [], []
    span = [float(res.shifts[0]), float(res.shifts[-1])]
    for k, nm in enumerate(res.names):
        a, b = ids[k]
        col, lab = color(nm), label(nm)
        vals, grads = res.values[k], res.grads[k]
        done = ~np.isnan(vals)  # transport curves on a subsample: only the computed shifts
        coarse = nm in SINKHORN_NAMES
        mode = "lines+markers" if coarse else "lines"
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
                             hovertemplate="s = %{x:.2f}<br>D = ∞ (drawn at the ceiling)<extra></extra>"))
            shapes.append(_hline(top, a, "dot", "#888888"))
            notes.append(_note(f"▲ = ∞, drawn at the ceiling {top:.3g}", top, a))
        dv = res.disjoint_value[k]
        if np.isfinite(dv):
            shapes.append(_hline(dv, a, "dash", "#444444"))
            notes.append(_note(_disjoint_text(dv), dv if not inf.any() else 0.5 * dv, a))
        finite_y = vals[np.isfinite(vals)]
        y_top = max(top if inf.any() else 0.0, float(finite_y.max()) if finite_y.size else 0.0,
                    dv if np.isfinite(dv) else 0.0)
        axes[f"yaxis{a}"]["range"] = [min(0.0, float(finite_y.min()) if finite_y.size else 0.0), 1.12 * y_top or 1.0]
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
            notes.append(_note(f"undefined where D = ∞ ({int(undefined.sum())} of {int(done.sum())} shifts)",
                               0.0, b))
        notes += [_title(f"<b>{lab}</b>: D(p, q<sub>s</sub>)", a), _title(f"<b>{lab}</b>: |dD/ds|", b)]
        markers.append((k, a, b))
    notes.append(_title("<b>Teacher p and student q<sub>s</sub></b>", ""))
    first_marker = len(data)
    for k, a, b in markers:
        col = color(res.names[k])
        v = res.value[k]
        data.append(dict(type="scatter", x=[res.shift], y=[res.ceiling(k) if v == np.inf else _finite([v])[0]],
                         mode="markers",
                         marker=dict(size=11, color=col, line=dict(color="white", width=1.5)),
                         showlegend=False, hoverinfo="skip", xaxis=f"x{a}", yaxis=f"y{a}"))
        data.append(dict(type="scatter", x=[res.shift], y=_finite(np.abs(res.grad[k:k + 1])), mode="markers",
                         marker=dict(size=11, color=col, line=dict(color="white", width=1.5)),
                         showlegend=False, hoverinfo="skip", xaxis=f"x{b}", yaxis=f"y{b}"))
    frames, labels = [], []
    students = f32(res.students)
    for i in frames_at:
        s = float(res.shifts[i])
        frame = [dict(type="scatter", y=students[i])]  # x stays that of trace 1
        for k, a, b in markers:
            frame.append(dict(type="scatter", x=[s], y=[_on_curve(res, k, i, res.values[k])]))
            frame.append(dict(type="scatter", x=[s], y=[_on_curve(res, k, i, np.abs(res.grads[k]))]))
        frames.append(frame)
        labels.append(f"{s:.2f}")
    # The page's own shift is a frame too (the slider starts on it and reads what the page says),
    # replacing a swept frame whose label would be the same.
    current = [dict(type="scatter", y=f32(res.q))]
    for m in range(1, len(data) - first_marker, 2):
        current += [dict(type="scatter", x=[res.shift], y=data[first_marker + m - 1]["y"]),
                    dict(type="scatter", x=[res.shift], y=data[first_marker + m]["y"])]
    label_now = f"{res.shift:.2f}"
    if label_now in labels:
        at = labels.index(label_now)
        frames[at] = current
    else:
        at = int(np.searchsorted(res.shifts[frames_at], res.shift))
        frames.insert(at, current)
        labels.insert(at, label_now)
    traces = [1] + list(range(first_marker, first_marker + 2 * K))
    controls = animation_controls(labels, prefix="shift s = ", duration_ms=80)
    controls["sliders"][0]["active"] = at
    # animation_controls() places its controls in paper units (-0.12): put them 50 px under the last row, and
    # the slider's "shift s = ..." readout at its right end, clear of the buttons
    controls["updatemenus"][0]["y"] = controls["sliders"][0]["y"] = -50 / plot_height
    controls["sliders"][0]["currentvalue"]["xanchor"] = "right"
    return figure(data, dict(
        template=TEMPLATE, height=height, font=FONT, shapes=shapes, annotations=notes,
        margin=dict(l=60, r=20, t=MARGIN_T, b=MARGIN_B), hovermode="closest",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="center", x=0.5),  # clear of the modebar
        **axes, **controls),
        [dict(data=fr, traces=traces, name=lab) for fr, lab in zip(frames, labels)])
