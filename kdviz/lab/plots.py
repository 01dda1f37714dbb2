"""Plotly figures of a lab run: metric curves over training steps, two metrics side by side."""

from __future__ import annotations

import plotly.graph_objects as go

from kdviz.i18n import _
from kdviz.lab.report import column_title, student_label
from kdviz.plots.common import color, f32, figure, layout, palette, two_panels

DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
PAIRS = {  # figure name -> the two metrics it shows
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


def pair_figure(curves: dict[str, dict], metrics: tuple[str, str], teacher: dict | None = None,
                height: int = 340) -> go.Figure:
    """``metrics[0]`` (left) and ``metrics[1]`` (right) over steps for every student's ``curves``;
    the teacher's value as a dotted line where it is a reference (entropy, CE). Words in the viewer's
    language."""
    styles = _styles(curves)
    step, teacher_name = _("step"), _("teacher")
    data = []
    for panel, metric in enumerate(metrics):
        axes = {} if panel == 0 else {"xaxis": "x2", "yaxis": "y2"}
        title = column_title(metric)
        for name, curve in curves.items():
            data.append(dict(type="scatter", mode="lines+markers", x=f32(curve["step"]), y=f32(curve[metric]),
                             name=student_label(name), legendgroup=name, showlegend=panel == 0,
                             line=dict(width=2, **styles[name]), marker=dict(size=5),
                             hovertemplate=f"{student_label(name)}<br>{step} %{{x}}<br>{title} %{{y:.4f}}"
                                           "<extra></extra>", **axes))
        if teacher is not None and metric in ("entropy", "ce") and curves:
            steps = [min(c["step"][0] for c in curves.values()), max(c["step"][-1] for c in curves.values())]
            data.append(dict(type="scatter", mode="lines", x=steps, y=[teacher[metric]] * 2,
                             name=teacher_name, legendgroup="teacher",
                             showlegend=panel == 0 or metrics[0] not in ("entropy", "ce"),
                             line=dict(color=palette()["teacher"], dash="dot", width=1.5),
                             hovertemplate=f"{teacher_name}<br>{title} %{{y:.4f}}<extra></extra>", **axes))
    lay = layout(height=height)
    lay.update(two_panels(step, *(column_title(m) for m in metrics)))
    return figure(data, lay)
