"""Shared plotting conventions: one colour per divergence (from the registry: Okabe–Ito's colour-blind-safe
palette, extended by Paul Tol's muted colours; every colour reads on the white plot background), one template,
and the play/pause + step-slider machinery for animations that play in the browser."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from kdviz.divergences import get_spec
from kdviz.i18n import _, display
from kdviz.plots._internals import encode_arrays, unvalidated_figure

# No template of ours: Streamlit's own plotly theme (``st.plotly_chart(theme="streamlit")``) gives
# every figure the page's background, font and grid colours, light or dark, in the browser. A
# registered empty template keeps plotly from deep-copying its large default into every figure.
pio.templates["kdviz"] = go.layout.Template(layout=dict(hovermode="closest", hoverlabel=dict(align="left")))
TEMPLATE = "kdviz"
# Dashes for students drawn in one panel: the k-th gets DASHES[k], so overlapping curves stay apart
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")

# The theme-aware palette: every colour a figure uses that is not a divergence's own. Each reads on
# its theme's background (Streamlit's white / #0e1117) at a contrast of at least 3:1.
PALETTES = {
    "light": dict(teacher="#333333", teacher_fill="rgba(120, 120, 120, 0.25)", student="#E69F00",
                  student_fill="rgba(230, 159, 0, 0.18)", grid="#E5ECF6", muted="#777777", text="#31333F",
                  marker_edge="white", heat="Viridis", diverging="RdBu"),
    "dark": dict(teacher="#E8E8E8", teacher_fill="rgba(200, 200, 200, 0.22)", student="#F5B83D",
                 student_fill="rgba(245, 184, 61, 0.22)", grid="#31333F", muted="#A0A0A0", text="#FAFAFA",
                 marker_edge="#0E1117", heat="Viridis", diverging="RdBu"),
}
# Registry colours too dark to read on a dark background, and their lighter stand-ins there.
DARK_STAND_INS = {"#882255": "#D46A9A", "#332288": "#8C7FE0"}


def palette() -> dict:
    """The colours of the viewer's theme (:func:`kdviz.i18n.display`)."""
    return PALETTES[display().theme]


def font_size() -> int:
    """Figure text size: 13 px, 18 px in presentation mode (ticks and legends at least 16 px)."""
    return 18 if display().present else 13


def chart_height(height: int) -> int:
    """A figure's height, at most 430 px in presentation mode: at 1024×768 the main chart and its
    control fit on the first screen."""
    return min(height, 430) if display().present else height


def color(name: str) -> str:
    """The fixed colour of divergence ``name`` (same on every page and figure; a lighter stand-in for
    the two darkest on a dark background)."""
    c = get_spec(name).color
    return DARK_STAND_INS.get(c, c) if display().theme == "dark" else c


def label(name: str) -> str:
    """Divergence ``name``'s label in the viewer's language."""
    return get_spec(name).display_label


def base_layout(fig: go.Figure, *, title: str | None = None, x: str = "", y: str = "",
                height: int = 420) -> go.Figure:
    """Template, axis titles, legend on top, compact margins."""
    fig.update_layout(layout(title=title, x=x, y=y, height=height))
    size = font_size()
    fig.update_xaxes(title_text=x, title_font_size=size, tickfont_size=size)
    fig.update_yaxes(title_text=y, title_font_size=size, tickfont_size=size)
    return fig


MAX_FRAMES = 50  # animation frames shipped per figure (each frame carries every moving curve)


def frame_indices(n: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """At most ``max_frames`` evenly spaced indices into ``n`` kept frames, first and last included."""
    return (np.unique(np.linspace(0, n - 1, min(n, max_frames)).round().astype(int)) if n > 0
            else np.zeros(0, int))


def f32(a) -> np.ndarray:
    """``a`` as a float32 array: plotly ships it as a base64 typed array (4 bytes a number), never
    as a list of Python floats; float32 keeps 7 significant digits, plenty on screen."""
    return np.asarray(a, dtype=np.float32)


def layout(*, title: str | None = None, x: str = "", y: str = "", height: int = 420, **extra) -> dict:
    """The dict form of :func:`base_layout` (template, font of the display, legend, margins) for
    :func:`figure`."""
    size = font_size()
    return dict(template=TEMPLATE, title=dict(text=title, font=dict(size=size + 3)) if title else None,
                height=chart_height(height), font=dict(size=size),
                margin=dict(l=60, r=20, t=60 if title else 30, b=50),
                legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0,
                            font=dict(size=size)),
                xaxis=dict(title=dict(text=x)), yaxis=dict(title=dict(text=y)), **extra)


def two_panels(x: str, y1: str, y2: str, *, spacing: float = 0.1, **xaxis) -> dict:
    """Layout axes of two side-by-side panels (what ``make_subplots(1, 2, horizontal_spacing=spacing)``
    builds, at a fraction of its cost), both x axes titled ``x`` and given ``xaxis``; traces of the
    right panel take ``xaxis="x2", yaxis="y2"``."""
    width = (1 - spacing) / 2
    return dict(xaxis=dict(domain=[0, width], anchor="y", title=dict(text=x), **xaxis),
                yaxis=dict(domain=[0, 1], anchor="x", title=dict(text=y1)),
                xaxis2=dict(domain=[1 - width, 1], anchor="y2", title=dict(text=x), **xaxis),
                yaxis2=dict(domain=[0, 1], anchor="x2", title=dict(text=y2)))


def grid_axes(rows: int, cols: int, *, vspace: float, hspace: float) -> tuple[dict, list[list[str]]]:
    """Axes of a ``rows x cols`` panel grid sharing x per column and y per row (what ``make_subplots``
    builds). Returns the layout entries and the axis suffix of each panel (``""``, ``"2"``, ...)."""
    entries, ids = {}, []
    height = (1 - vspace * (rows - 1)) / rows
    width = (1 - hspace * (cols - 1)) / cols
    for r in range(rows):
        ids.append([])
        for c in range(cols):
            n = r * cols + c + 1
            sfx = "" if n == 1 else str(n)
            top = 1 - r * (height + vspace)
            entries[f"xaxis{sfx}"] = dict(domain=[c * (width + hspace), c * (width + hspace) + width],
                                          anchor=f"y{sfx}", showticklabels=r == rows - 1,
                                          **({} if r == 0 else {"matches": f"x{c + 1 if c else ''}"}))
            # max(0, .): for 2 rows the bottom edge comes out as -5.6e-17, which plotly rejects
            entries[f"yaxis{sfx}"] = dict(domain=[max(0.0, top - height), top], anchor=f"x{sfx}",
                                          showticklabels=c == 0,
                                          **({} if c == 0 else {"matches": f"y{r * cols + 1 if r else ''}"}))
            ids[-1].append(sfx)
    return entries, ids


def axis_fonts(layout: dict) -> dict:
    """Give every axis (and colour bar) of ``layout`` the figure's font size for its ticks and title
    where it sets none (Streamlit's theme makes them 12-14 px whatever ``layout["font"]`` says;
    presentation mode needs at least 16 px). Replaces those entries by sized copies: an axis dict
    may be shared by several figures."""
    size = layout.get("font", {}).get("size") or font_size()

    def sized(axis: dict) -> dict:
        title = axis.get("title")
        title = dict(text=title) if isinstance(title, str) else dict(title or {})
        return dict(axis, tickfont=dict(size=size) | axis.get("tickfont", {}),
                    title=title | dict(font=dict(size=size) | title.get("font", {})))

    for key, value in list(layout.items()):
        if key[:5] in ("xaxis", "yaxis") and isinstance(value, dict):
            layout[key] = sized(value)
        elif key.startswith("coloraxis") and isinstance(value, dict) and "colorbar" in value:
            layout[key] = dict(value, colorbar=sized(dict(value["colorbar"])))
    return layout


def figure(data: list, layout: dict, frames: list | None = None) -> go.Figure:
    """``go.Figure`` from plain dicts, unvalidated, its numpy arrays encoded once as typed arrays (in
    place); see :mod:`kdviz.plots._internals` for why. The dicts use documented attributes only and the
    tests rebuild every such figure with validation. Read its frames through ``fig.to_dict()["frames"]``."""
    layout = dict(layout, template=pio.templates[layout.get("template", TEMPLATE)])  # the object, not a name
    axis_fonts(layout)
    encode_arrays(data)
    encode_arrays(frames or [])
    return unvalidated_figure(data, layout, frames or [])


def animation_controls(labels: Sequence[str], *, prefix: str | None = None, duration_ms: int = 60,
                       redraw: bool = False) -> dict:
    """Layout entries (``updatemenus``, ``sliders``) of a play/pause button pair and a step slider
    over the frames named ``labels``, in the viewer's language. ``prefix``: the slider's value label
    (translated by the caller; default "step "). ``redraw``: heatmaps only repaint with it (slower)."""
    prefix = _("step") + " " if prefix is None else prefix
    def frame(duration: int) -> dict:
        return dict(duration=duration, redraw=redraw)
    play = dict(label="▶ " + _("Play"), method="animate",
                args=[None, dict(frame=frame(duration_ms), fromcurrent=True, transition=dict(duration=0),
                                 mode="immediate")])
    pause = dict(label="❚❚ " + _("Pause"), method="animate",
                 args=[[None], dict(frame=frame(0), mode="immediate", transition=dict(duration=0))])
    return dict(
        updatemenus=[dict(type="buttons", direction="left", showactive=False, x=0, y=-0.12, xanchor="left",
                          yanchor="top", pad=dict(t=10, r=10), buttons=[play, pause])],
        sliders=[dict(active=0, x=0.16, y=-0.12, len=0.84, xanchor="left", yanchor="top", pad=dict(t=10),
                      currentvalue=dict(prefix=prefix, visible=True),
                      steps=[dict(label=str(lab), method="animate",
                                  args=[[str(lab)], dict(mode="immediate", frame=frame(0),
                                                         transition=dict(duration=0))])
                             for lab in labels])])


def below_axis(controls: dict) -> int:
    """Place :func:`animation_controls` in pixels under the x axis's tick labels and title, the
    slider's rail starting right of the play/pause buttons and its step label at its right end:
    nothing overlaps at any width (a phone's too) or font size (presentation mode's). Changes
    ``controls`` in place; returns the bottom margin they need."""
    size = font_size()
    top = 3 * size + 14  # tick labels and axis title
    controls["updatemenus"][0].update(y=0, yanchor="top", pad=dict(t=top, r=10))
    controls["sliders"][0].update(x=0, len=1, y=0, yanchor="top", pad=dict(t=top, l=11 * size + 10))
    controls["sliders"][0]["currentvalue"]["xanchor"] = "right"
    return int(top + 4.5 * size)
