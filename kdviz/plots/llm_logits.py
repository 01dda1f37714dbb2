"""The per-token heatmap of the "From toys to LLM logits" page."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from kdviz.experiments.llm_logits import LogitsBatch
from kdviz.i18n import _
from kdviz.plots.common import TEMPLATE, axis_fonts, chart_height, font_size, label, palette


def heatmap(res: LogitsBatch) -> go.Figure:
    """Rows: divergences; columns: positions. Colour: the value over its row's maximum (the
    divergences live on different scales); hover: the value itself. Masked positions are gaps."""
    row_max = np.nanmax(res.values, axis=1, keepdims=True)  # (D, 1)
    scaled = res.values / np.where(row_max > 0, row_max, 1.0)
    masked = _("masked")
    text = [[(masked if np.isnan(v) else f"{v:.4g}") for v in row] for row in res.values]
    fig = go.Figure(go.Heatmap(
        z=scaled, x=np.arange(res.values.shape[1]), y=[label(n) for n in res.names], text=text,
        colorscale=palette()["heat"], zmin=0.0, zmax=1.0, hoverongaps=False,
        hovertemplate=_("%{y}, position %{x}: %{text}") + "<extra></extra>",
        colorbar=dict(title=dict(text=_("value / row max"), side="right"), thickness=14)))
    fig.update_layout(axis_fonts(dict(
        template=TEMPLATE, font=dict(size=font_size()), height=chart_height(120 + 34 * len(res.names)),
        margin=dict(l=10, r=10, t=30, b=40), xaxis=dict(title=dict(text=_("position"))),
        yaxis=dict(autorange="reversed"))))
    return fig
