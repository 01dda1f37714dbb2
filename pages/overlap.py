"""Lesson: overlap, JSD saturation and Wasserstein. Widgets -> one cached sweep -> one animated figure."""

import math

import numpy as np
import streamlit as st

import ui
from kdviz.divergences import get_spec
from kdviz.experiments import SLOW_TO_FIT
from kdviz.experiments import overlap as ov
from kdviz.plots import overlap as plots

EPSILONS = (0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)  # Sinkhorn regularisation, in cost units


@ui.cached(entry_mb=1, budget_mb=32, spinner="Sliding the student...")
def run(shape, width, shift, max_shift, names, order, epsilon):
    res = ov.overlap_sweep(shape, width, shift, max_shift, names, order, epsilon)
    return res, {"animation": plots.animation_figure(res), "curves": plots.curves_figure(res)}


with st.sidebar:
    st.subheader("Teacher and student")
    shape = ui.url.choice("Shape", list(ov.SHAPES), key="ov_shape", format_func=ov.SHAPES.get)
    width = ui.url.slider("Width w (box: full width; Gaussian: σ)", 0.2, 4.0, 1.0, 0.1, key="ov_width")
    max_shift = ui.url.slider("Sweep the shift from 0 to", 2.0, 40.0, 8.0, 1.0, key="ov_range")
    st.subheader("Divergences")
    names = ui.divergence_picker("ov_divs", ov.DIVERGENCE_OPTIONS, ov.DEFAULT_DIVERGENCES)
    order = ui.url.choice("Ground cost |x - y|^r, r =", [1, 2], key="ov_order", horizontal=True,
                          help="Wasserstein and Sinkhorn; r = 2 gives W₂², which grows like s²")
    epsilon = 1.0
    if any(nm in SLOW_TO_FIT for nm in names):
        epsilon = ui.url.choice("Sinkhorn ε (cost units)", EPSILONS, key="ov_eps", widget=st.select_slider,
                                value=1.0)

ui.lesson_header(
    "Overlap, JSD saturation and Wasserstein",
    "The student is the teacher slid to the right by **s**. **Look at** each divergence as a function "
    "of s and at the size of its gradient dD/ds: the JSD climbs to **log 2** and goes flat, with a zero "
    "gradient, as soon as the supports stop overlapping, while the Wasserstein distance keeps growing "
    "with the distance. Press ▶ to slide the student; the slider sets the shift of the table and the "
    "dotted lines.",
    formulas=names or ov.DEFAULT_DIVERGENCES)
ui.guide("overlap")

if not names:
    st.warning("Pick at least one divergence in the sidebar.")
    st.stop()
shift = ui.url.slider("Shift s of the student", 0.0, 40.0, 3.0, 0.1, key="ov_shift",
                      help="the student is the teacher moved right by s")
config = dict(shape=shape, width=width, shift=shift, max_shift=max_shift, names=names, order=order,
              epsilon=epsilon)
res, figs = run(**config)

if shift > max_shift:
    st.warning(f"The shift {shift:g} is beyond the sweep range {max_shift:g}: the sweep was extended to "
               f"{shift:g}.")
if shape == "box" and ov.box_cells(res) < ov.MIN_BOX_CELLS:
    st.warning(f"A box of width {width:g} covers only {ov.box_cells(res):.1f} grid cells over a sweep to "
               f"{res.shifts[-1]:g}: the 'boxes' are spikes and the curves are coarse. Use a wider box or a "
               "shorter sweep.")
st.plotly_chart(figs["animation"], key="ov_anim")
infinite = [get_spec(nm).label for k, nm in enumerate(res.names) if np.isinf(res.values[k]).any()]
if infinite:
    st.caption(f"**{', '.join(infinite)} = ∞** as soon as the student puts no mass where the teacher has "
               "some (for reverse KL: where the student has some): drawn as ▲ on a dotted ceiling, gradient "
               "undefined.")
st.plotly_chart(figs["curves"], key="ov_fig")
st.caption(
    "**Which gradient?** dD/ds: how fast D(p, q_s) changes when the student moves; what a student that can "
    "only move would feel. "
    + (f"Boxes: the grid's cells ({res.step:.3g} wide) fit each box exactly and the shifts are whole cells, "
       "so the values are those of the true boxes and dD/ds is the slope between neighbouring shifts (at "
       "s = w, where the JSD's slope drops from log 2 / w to 0, it shows the average of the two)."
       if shape == "box" else "Curves: the slope between neighbouring shifts; table: the exact derivative.")
    + (" Sinkhorn curves: every 4th shift (each point solves one transport problem per shift)."
       if any(nm in SLOW_TO_FIT for nm in names) else ""))

rows = []
for k, nm in enumerate(res.names):
    v, g = res.value[k], res.grad[k]
    rows.append({"divergence": get_spec(nm).label,
                 "D(p, q_s)": "∞" if v == math.inf else f"{v:.4g}",
                 "dD/ds": "undefined" if not np.isfinite(g) else "0" if abs(g) < 1e-12 else f"{g:.3g}",
                 "at disjoint supports": f"{res.disjoint_value[k]:.4g}" if np.isfinite(res.disjoint_value[k])
                 else ("grows with s" if get_spec(nm).needs_support else "∞")})
st.subheader(f"At shift s = {res.shift:.2f}")
shared = float(np.minimum(res.p, res.q).sum())
st.markdown(f"Shared mass Σ min(p, q) = **{shared:.3g}**" + (" (disjoint supports)." if shared == 0 else "."))
st.dataframe(rows, hide_index=True, key="ov_table")

if shape == "gaussian" and "jsd" in res.names:
    k = res.index("jsd")
    st.markdown(
        f"**Gaussians never have disjoint supports.** Here log 2 − JSD = {math.log(2) - res.value[k]:.2e} "
        f"and dJSD/ds = {res.grad[k]:.2e}: the overlap decays like exp(−s²/8σ²), so a few σ apart the JSD is "
        "log 2 to plotting precision and its gradient is tiny but not zero.")
ui.takeaway(ov.takeaway(res))

csv, data = res.export()
ui.downloads("kdviz_overlap", key="ov_dl", csv=csv, data=data, config=config)
