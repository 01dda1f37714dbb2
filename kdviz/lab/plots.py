"""Plotly figures of a lab run: metric curves over training steps, one metric a figure (the page
shows them in pairs)."""

from __future__ import annotations

import plotly.graph_objects as go

from kdviz.i18n import _
from kdviz.lab.report import column_title, student_label
from kdviz.plots.common import color, f32, figure, layout, palette

DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
PAIRS = {  # pair name -> the two metrics the page shows side by side
    "kl": ("fkl", "rkl"),
    "ce_top1": ("ce", "top1"),
    "entropy": ("entropy", "ce"),
    "head_tail": ("head_err", "tail_err"),
}


def _styles(names) -> dict[str, dict]:
    """Registry colour per divergence; repeated divergences (other parameters) get other dashes."""
    seen: dict[str, int] = {}
    out = {}
    for n in names:
        div = n.split(":")[0]
        out[n] = dict(color=color(div), dash=DASHES[seen.get(div, 0) % len(DASHES)])
        seen[div] = seen.get(div, 0) + 1
    return out


def metric_figure(curves: dict[str, dict], metric: str, teacher: dict | None = None,
                  height: int = 340) -> go.Figure:
    """``metric`` over steps for every student's ``curves``; the teacher's value as a dotted line,
    labelled on the chart, where it is a reference (entropy, CE). Words in the viewer's language.

    One panel a figure: the page puts a pair of them side by side, stacked on a phone. Every figure
    of a run has the same legend (the students), so a pair's plot areas line up."""
    styles = _styles(curves)
    step, title = _("step"), column_title(metric)
    data = [dict(type="scatter", mode="lines+markers", x=f32(curve["step"]), y=f32(curve[metric]),
                 name=student_label(name), line=dict(width=2, **styles[name]), marker=dict(size=5),
                 hovertemplate=f"{student_label(name)}<br>{step} %{{x}}<br>{title} %{{y:.4f}}<extra></extra>")
            for name, curve in curves.items()]
    notes = []
    if teacher is not None and metric in ("entropy", "ce") and curves:
        steps = [min(c["step"][0] for c in curves.values()), max(c["step"][-1] for c in curves.values())]
        muted, teacher_name = palette()["teacher"], _("teacher")
        data.append(dict(type="scatter", mode="lines", x=steps, y=[teacher[metric]] * 2, showlegend=False,
                         line=dict(color=muted, dash="dot", width=1.5),
                         hovertemplate=f"{teacher_name}<br>{title} %{{y:.4f}}<extra></extra>"))
        notes.append(dict(x=1, xref="x domain", y=teacher[metric], yref="y", text=teacher_name,
                          showarrow=False, xanchor="right", yanchor="bottom", font=dict(color=muted)))
    return figure(data, layout(x=step, y=title, height=height, annotations=notes))


def pair_figures(curves: dict[str, dict], metrics: tuple[str, str], teacher: dict | None = None,
                 height: int = 340) -> tuple[go.Figure, go.Figure]:
    """The :func:`metric_figure` of each of ``metrics``."""
    return tuple(metric_figure(curves, m, teacher, height) for m in metrics)
