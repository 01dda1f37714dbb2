"""Lesson: overlap, JSD saturation and Wasserstein. Widgets -> one cached sweep -> one animated figure."""

import math

import numpy as np
import streamlit as st

import ui
from kdviz.divergences import get_spec
from kdviz.experiments import SLOW_TO_FIT
from kdviz.experiments import overlap as ov
from kdviz.i18n import N_, _
from kdviz.plots import overlap as plots
from kdviz.plots.common import label

EPSILONS = (0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)  # Sinkhorn regularisation, in cost units


@ui.cached(entry_mb=1, budget_mb=32, spinner=N_("Sliding the student..."))
def run(shape, width, shift, max_shift, names, order, epsilon):
    res = ov.overlap_sweep(shape, width, shift, max_shift, names, order, epsilon)
    return res, {"animation": plots.animation_figure(res), "curves": plots.curves_figure(res)}


def table_rows(res) -> list[dict]:
    """The table at the page's shift: value, derivative and the value at disjoint supports."""
    rows = []
    for k, nm in enumerate(res.names):
        v, g, disjoint = res.value[k], res.grad[k], res.disjoint_value[k]
        rows.append({_("divergence"): label(nm),
                     "D(p, q_s)": "∞" if v == math.inf else f"{v:.4g}",
                     "dD/ds": _("undefined") if not np.isfinite(g) else "0" if abs(g) < 1e-12 else f"{g:.3g}",
                     _("at disjoint supports"): f"{disjoint:.4g}" if np.isfinite(disjoint)
                     else (_("grows with s") if get_spec(nm).needs_support else "∞")})
    return rows


with st.sidebar:
    st.subheader(_("Teacher and student"))
    shape = ui.url.choice(_("Shape"), list(ov.SHAPES), key="ov_shape", format_func=lambda s: _(ov.SHAPES[s]))
    width = ui.url.slider(_("Width w (box: full width; Gaussian: σ)"), 0.2, 4.0, 1.0, 0.1, key="ov_width")
    max_shift = ui.url.slider(_("Sweep the shift from 0 to"), 2.0, 40.0, 8.0, 1.0, key="ov_range")
    st.subheader(_("Transport costs"))
    order = ui.url.choice(_("Ground cost |x - y|^r, r ="), [1, 2], key="ov_order", horizontal=True,
                          help=_("Wasserstein and Sinkhorn; r = 2 gives W₂², which grows like s²"))

top = st.container()  # header and guide, written once the main controls are read (the formulas follow them)
picker, slide = ui.main_controls(2)
with picker:
    names = ui.divergence_picker("ov_divs", ov.DIVERGENCE_OPTIONS, ov.DEFAULT_DIVERGENCES)
with slide:
    shift = ui.url.slider(_("Shift s of the student"), 0.0, 40.0, 3.0, 0.1, key="ov_shift",
                          help=_("the student is the teacher moved right by s"))
epsilon = 1.0
if any(nm in SLOW_TO_FIT for nm in names):
    epsilon = ui.url.choice(_("Sinkhorn ε (cost units)"), EPSILONS, key="ov_eps",
                            widget=st.sidebar.select_slider, value=1.0)
with top:
    ui.lesson_header(
        _("Overlap, JSD saturation and Wasserstein"),
        _("The student is the teacher slid to the right by **s**. **Look at** each divergence as a "
          "function of s and at the size of its gradient dD/ds: the JSD climbs to **log 2** and goes flat, "
          "with a zero gradient, as soon as the supports stop overlapping, while the Wasserstein distance "
          "keeps growing with the distance. Press ▶ to slide the student; the slider sets the shift of the "
          "table and the dotted lines."),
        formulas=names or ov.DEFAULT_DIVERGENCES)
    ui.guide("overlap")
if not names:
    st.warning(_("Pick at least one divergence."))
    st.stop()
config = dict(shape=shape, width=width, shift=shift, max_shift=max_shift, names=names, order=order,
              epsilon=epsilon)
res, figs = run(**config)

if shift > max_shift:
    st.warning(_("The shift {shift:g} is beyond the sweep range {range:g}: the sweep was extended to "
                 "{shift:g}.").format(shift=shift, range=max_shift))
if shape == "box" and ov.box_cells(res) < ov.MIN_BOX_CELLS:
    st.warning(_("A box of width {width:g} covers only {cells:.1f} grid cells over a sweep to {end:g}: the "
                 "'boxes' are spikes and the curves are coarse. Use a wider box or a shorter sweep.").format(
        width=width, cells=ov.box_cells(res), end=res.shifts[-1]))
ui.main_chart(figs["animation"], key="ov_anim")
infinite = [label(nm) for k, nm in enumerate(res.names) if np.isinf(res.values[k]).any()]
if infinite:
    st.caption(_("**{divergences} = ∞** as soon as the student puts no mass where the teacher has some (for "
                 "reverse KL: where the student has some): drawn as ▲ on a dotted ceiling, gradient "
                 "undefined.").format(divergences=", ".join(infinite)))

with ui.secondary(_("Each divergence and its gradient along the sweep")):
    st.plotly_chart(figs["curves"], key="ov_fig")
    if shape == "box":
        how = _("Boxes: the grid's cells ({cell:.3g} wide) fit each box exactly and the shifts are whole "
                "cells, so the values are those of the true boxes and dD/ds is the slope between "
                "neighbouring shifts (at s = w, where the JSD's slope drops from log 2 / w to 0, it shows "
                "the average of the two).").format(cell=res.step)
    else:
        how = _("Curves: the slope between neighbouring shifts; table: the exact derivative.")
    if any(nm in SLOW_TO_FIT for nm in names):
        how += " " + _("Sinkhorn curves: every 4th shift (each point solves one transport problem per "
                       "shift).")
    st.caption(_("**Which gradient?** dD/ds: how fast D(p, q_s) changes when the student moves; what a "
                 "student that can only move would feel.") + " " + how)

with ui.secondary(_("At shift s = {shift:.2f}").format(shift=res.shift)):
    shared = float(np.minimum(res.p, res.q).sum())
    st.markdown((_("Shared mass Σ min(p, q) = **{shared:.3g}** (disjoint supports).") if shared == 0 else
                 _("Shared mass Σ min(p, q) = **{shared:.3g}**.")).format(shared=shared))
    st.dataframe(table_rows(res), hide_index=True, key="ov_table")
    if shape == "gaussian" and "jsd" in res.names:
        k = res.index("jsd")
        st.markdown(_("**Gaussians never have disjoint supports.** Here log 2 − JSD = {gap:.2e} and "
                      "dJSD/ds = {grad:.2e}: the overlap decays like exp(−s²/8σ²), so a few σ apart the JSD "
                      "is log 2 to plotting precision and its gradient is tiny but not zero.").format(
            gap=math.log(2) - res.value[k], grad=res.grad[k]))
ui.takeaway(ov.takeaway(res))

csv, data = res.export()
ui.downloads("kdviz_overlap", key="ov_dl", csv=csv, data=data, config=config)
