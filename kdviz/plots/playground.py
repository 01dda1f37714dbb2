"""Figures of the playground, mostly the lessons' own figures fed from a :class:`PlaygroundResult`.

A Gaussian-mixture teacher is drawn like the mode-seeking lesson draws it (densities on the grid),
a discrete teacher like the head/tail lesson (bars, head dark and tail light). The loss curves and
the Gaussian's parameter paths are drawn here: in the playground a loss can be negative (the seed's
Sinkhorn divergence) or stop being finite, and a huge learning rate can throw σ past float range;
each curve stops where its run did (never a NaN or an inf in a figure).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go

from kdviz.experiments.head_tail import HeadTailResult
from kdviz.experiments.playground import PlaygroundResult
from kdviz.i18n import _
from kdviz.plots import head_tail as ht_plots
from kdviz.plots import mode_seeking as ms_plots
from kdviz.plots.common import color, figure, font_size, label, layout, palette, two_panels

MAX_LOSS_POINTS = 1000  # points per loss curve (longer runs are subsampled evenly, last step kept)


def continuous_view(res: PlaygroundResult) -> SimpleNamespace:
    """The fields the mode-seeking figures read, with probabilities turned into densities."""
    return SimpleNamespace(names=res.names, x=res.x, p=res.p / res.step, frames=res.fit.frames / res.step,
                           frame_steps=res.fit.frame_steps, mixture_mean=res.teacher_mean,
                           mixture_std=res.teacher_std)


def discrete_view(res: PlaygroundResult) -> HeadTailResult:
    """The head/tail lesson's result type around this run's fit."""
    return HeadTailResult(x=res.x, p=res.p, head_mask=res.head_mask, mu=res.mu_split, optimizer=res.optimizer,
                          lr=res.lr, fit=res.fit)


def fit_animation(res: PlaygroundResult) -> go.Figure:
    """Teacher and every student over the kept steps (play/pause + slider, fixed axes)."""
    if res.teacher_kind == "gmm":
        fig = ms_plots.fit_animation(continuous_view(res))
    else:
        fig = ht_plots.animation_figure(discrete_view(res))
    # the slider's "step n" label at its right end: clear of the Play/Pause buttons at any width
    slider = fig.layout.sliders[0]  # attribute by attribute: update() re-validates every step (3x slower)
    slider.x, slider.len, slider.currentvalue.xanchor = 0.2, 0.8, "right"
    return fig


def final_fits(res: PlaygroundResult) -> go.Figure:
    """The students at the first and the last step over the teacher."""
    if res.teacher_kind == "gmm":
        return ms_plots.final_fits(continuous_view(res))
    return ht_plots.bars_figure(discrete_view(res), 0, res.steps)


def parameter_paths(res: PlaygroundResult) -> go.Figure:
    """mu and sigma of each Gaussian student against the step, each drawn up to the step where it
    diverged or went flat (:attr:`PlaygroundResult.shown_until`); the teacher's moments dotted."""
    if res.mu is None:
        raise ValueError("parameter paths exist only for a Gaussian student")
    # Assembled as dicts, unvalidated: make_subplots + add_trace + add_hline cost ~20x more. float64 kept:
    # a huge learning rate throws σ past float32's range (it would ship as inf).
    data = []
    for k, n in enumerate(res.names):
        steps = _subsample(int(res.shown_until[k]))
        for ax, vals in (("", res.mu[k]), ("2", res.sigma[k])):
            data.append(dict(type="scatter", x=steps, y=vals[steps], name=label(n), mode="lines",
                             legendgroup=n, showlegend=ax == "", xaxis=f"x{ax}", yaxis=f"y{ax}",
                             line=dict(color=color(n), width=2)))
    lines, notes = [], []
    teacher, size = palette()["teacher"], font_size()
    for ax, v, text in (("", res.teacher_mean, _("teacher mean")), ("2", res.teacher_std, _("teacher std"))):
        lines.append(dict(type="line", xref=f"x{ax} domain", yref=f"y{ax}", x0=0, x1=1, y0=v, y1=v,
                          line=dict(color=teacher, dash="dot", width=1)))
        notes.append(dict(text=text, xref=f"x{ax} domain", yref=f"y{ax}", x=1, y=v, xanchor="right",
                          yanchor="top", showarrow=False, font=dict(size=size - 2, color=teacher)))
    for ax, title in (("", _("mean μ")), ("2", _("std σ"))):
        notes.append(dict(text=title, xref=f"x{ax} domain", yref=f"y{ax} domain", x=0.5, y=1.0,
                          xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=size + 1)))
    lay = layout(height=380, shapes=lines, annotations=notes)
    lay.update(two_panels(_("step"), "μ", "σ", range=[0, max(res.steps, 1)]))
    lay["legend"]["y"] = 1.14  # above the panel titles, not on them
    lay["margin"]["t"] = 80
    return figure(data, lay)


def _subsample(n: int) -> np.ndarray:
    """At most MAX_LOSS_POINTS evenly spaced step indices out of 0..n-1 (the last one kept)."""
    return (np.unique(np.linspace(0, n - 1, min(n, MAX_LOSS_POINTS)).round().astype(int)) if n > 0
            else np.zeros(0, int))


def loss_curves(res: PlaygroundResult, *, relative: bool = False, log_y: bool = False) -> go.Figure:
    """D(p, q_t) against the step, one curve per divergence, drawn up to its last finite step.

    ``relative``: ``D_t / D_0`` so that divergences of different scales share one axis (a
    divergence that starts at 0 or below has no ratio and is left out, with a note in the legend).
    ``log_y``: logarithmic axis; values <= 0 are not drawn on it (listed in the legend).
    """
    data = []
    S = res.steps
    for k, n in enumerate(res.names):
        y = res.fit.loss[k]
        stop = int(res.fit.diverged_at[k])
        keep = _subsample(stop if stop >= 0 else S + 1)
        notes = []
        if relative:
            if not (np.isfinite(y[0]) and y[0] > 0):
                keep = keep[:0]
                notes.append(_("starts at ≤ 0: no ratio"))
            else:
                y = y / y[0]
        if log_y and (y[keep] <= 0).any():
            notes = notes or [_("values ≤ 0 not on the log axis")]
            keep = keep[y[keep] > 0]
        if stop >= 0:
            notes.append(_("stops at step {step}").format(step=stop))
        name = label(n) + "".join(f" ({t})" for t in notes)
        data.append(dict(type="scatter", x=keep, y=y[keep], name=name, mode="lines",
                         line=dict(color=color(n), width=2.2)))
    lay = layout(x=_("step"), y="D(p, q_t) / D(p, q_0)" if relative else "D(p, q_t)", height=380)
    if log_y:
        lay["yaxis"].update(type="log", exponentformat="power")
    lay["xaxis"]["range"] = [0, max(S, 1)]
    return figure(data, lay)


def figures(res: PlaygroundResult) -> dict[str, go.Figure]:
    """Every figure of the page: the animation, the final fits, the loss curves in their four views
    (``loss_{relative}_{log_y}``) and the parameter paths or head/tail errors, whichever apply."""
    figs = {"anim": fit_animation(res), "final": final_fits(res)}
    figs |= {f"loss_{rel}_{log}": loss_curves(res, relative=rel, log_y=log)
             for rel in (False, True) for log in (False, True)}
    if res.mu is not None:
        figs["params"] = parameter_paths(res)
    if res.fit.head_error is not None:
        figs["headtail"] = ht_plots.error_curves(discrete_view(res))
    return figs
