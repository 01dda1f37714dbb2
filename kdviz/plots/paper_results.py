"""Grouped bar charts of the papers' tables (scores, or differences to a baseline, with error bars)."""

from __future__ import annotations

import plotly.graph_objects as go

from kdviz.experiments.paper_results import PaperView
from kdviz.i18n import _, display
from kdviz.plots.common import base_layout, color, palette

# Rows that are not divergences (Teacher, SFT, SeqKD): greys in table order, the first the most
# contrasted with the theme's background (darkest on light, lightest on dark).
REFERENCE_GREYS = {"light": ("#4d4d4d", "#8c8c8c", "#b3b3b3", "#d0d0d0"),
                   "dark": ("#e0e0e0", "#b0b0b0", "#8a8a8a", "#6e6e6e")}


def row_colors(view: PaperView) -> list[str]:
    """Registry colour for divergence rows, a grey of the theme for reference rows."""
    greys = iter(REFERENCE_GREYS[display().theme] * 4)
    return [color(d) if d else next(greys) for d in view.divergences]


def bars(view: PaperView, *, metric: str = "score", height: int = 460) -> go.Figure:
    """One group of bars per benchmark, one bar per method; ``metric`` names the y axis.

    Scores start at 0; with a baseline the bars are differences to it (the baseline's own bar is 0)
    and the error bars combine both stds as if the runs were independent.
    """
    fig = go.Figure()
    diff = view.baseline is not None
    values = view.diff if diff else view.mean
    errors = view.diff_std if diff else view.std
    ink = palette()["text"]
    for i, (method, col) in enumerate(zip(view.methods, row_colors(view))):
        err = None
        if errors is not None:
            err = dict(type="data", array=errors[i].tolist(), visible=True, thickness=1.2, width=3, color=ink)
        text = ["★" if b else "" for b in view.best[i]]  # values are in the hover and the table
        hover = [f"{method}<br>{bm}: {m:.2f}" + (f" ± {s:.2f}" if view.std is not None else "")
                 + ("<br>" + _("vs {baseline}: {diff:+.2f}").format(baseline=view.baseline, diff=d) if diff
                    else "")
                 for bm, m, s, d in zip(view.benchmarks, view.mean[i],
                                        view.std[i] if view.std is not None else view.mean[i],
                                        values[i])]
        fig.add_trace(go.Bar(x=view.benchmarks, y=values[i].tolist(), name=method, marker_color=col,
                             marker_line=dict(color=palette()["marker_edge"], width=0.5), error_y=err,
                             text=text, textposition="outside", textfont=dict(size=16, color=ink),
                             cliponaxis=False,
                             hovertext=hover, hoverinfo="text"))
    ytitle = f"{metric} − {view.baseline}" if diff else metric
    base_layout(fig, x=_("benchmark"), y=ytitle, height=height)
    # the legend below the plot: many methods need several rows, clear of the toolbar at the top right
    fig.update_layout(barmode="group", bargap=0.18, bargroupgap=0.04, legend_title_text="",
                      legend=dict(yanchor="top", y=-0.22, xanchor="left", x=0), margin=dict(t=30))
    if diff:
        fig.add_hline(y=0, line=dict(color=ink, width=1))
    else:
        fig.update_yaxes(rangemode="tozero")
    return fig
