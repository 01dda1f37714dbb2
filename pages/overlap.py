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
    return res, {"lesson": plots.lesson_figure(res)}


with st.sidebar:
    st.subheader("Teacher and student")
    shape = ui.url.choice("Shape", list(ov.SHAPES), key="ov_shape", format_func=ov.SHAPES.get)
    width = ui.url.slider("Width (box: full width; Gaussian: σ)", 0.2, 4.0, 1.0, 0.1, key="ov_width")
    shift = ui.url.slider("Shift s of the student", 0.0, 40.0, 3.0, 0.1, key="ov_shift",
                          help="the student is the teacher moved right by s")
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
    "of s (left column) and at the size of its gradient dD/ds (right column): the JSD climbs to "
    "**log 2** and goes flat, with a zero gradient, as soon as the supports stop overlapping, while "
    "the Wasserstein distance keeps growing with the distance. Forward KL is infinite as soon as the "
    "student puts no mass where the teacher has some. Press ▶ to slide the student.",
    formulas=names or ov.DEFAULT_DIVERGENCES)
ui.guide("overlap")

if not names:
    st.warning("Pick at least one divergence in the sidebar.")
    st.stop()

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
infinite = [(nm, int(np.isinf(res.values[k]).sum())) for k,
            nm in enumerate(res.names) if np.isinf(res.values[k]).any()]
if infinite:
    st.warning("Infinite values (the student has no mass where the teacher, or for reverse KL the student "
               "itself, has some): " + ", ".join(f"{get_spec(nm).label} at {n} of {len(res.shifts)} shifts"
                                                 for nm, n in infinite)
               + ". They are drawn as ▲ on a dotted ceiling line; their gradient is undefined (gap).")

st.plotly_chart(figs["lesson"], key="ov_fig")
st.caption(
    "**Which gradient?** dD/ds: the derivative of D(p, q_s) with respect to the student's location s, "
    "by autograd through kdviz (q_s is a differentiable function of s: a log-density for the Gaussian, "
    "the box's overlap with each grid cell for the box). It is what a student that can only move would "
    "feel."
    + (" On the grid a box moves one cell at a time, so dW₁/ds wobbles around 1 by about the cell width over "
       f"the box width ({res.step:.3f} / {width:g}). Just before two boxes separate, the last shared cell's "
       f"mass "
       "goes to 0 and the JSD's derivative (through q log q) spikes; from there on it is exactly 0."
       if shape == "box" else "")
    + (" Sinkhorn curves: a 40-cell grid and every 4th shift (each point is a batched log-domain solve)."
       if any(nm in SLOW_TO_FIT for nm in names) else ""))

rows = []
for k, nm in enumerate(res.names):
    v, g = res.value[k], res.grad[k]
    rows.append({"divergence": get_spec(nm).label,
                 "D(p, q_s)": "∞" if v == math.inf else f"{v:.6g}",
                 "dD/ds": "undefined" if not np.isfinite(g) else f"{g:.3g}",
                 "at disjoint supports": f"{res.disjoint_value[k]:.4g}" if np.isfinite(res.disjoint_value[k])
                 else ("grows with s" if get_spec(nm).needs_support else "∞")})
st.subheader(f"At shift s = {shift:g}")
shared = float(np.minimum(res.p, res.q).sum())
st.markdown(f"Shared mass Σ min(p, q) = **{shared:.3g}**"
            + (" (disjoint supports)." if shared == 0 else "."))
st.dataframe(rows, hide_index=True, key="ov_table")

if shape == "gaussian" and "jsd" in res.names:
    k = res.index("jsd")
    gap = math.log(2) - res.value[k]
    st.markdown(
        f"**Gaussians never have disjoint supports.** Here log 2 − JSD = {gap:.2e} and dJSD/ds = "
        f"{res.grad[k]:.2e}: the overlap mass decays like exp(−s²/8σ²), so a few σ apart the JSD is log 2 "
        "to plotting precision and its gradient is tiny but not zero; far enough, the difference drops below "
        "float64's resolution of log 2 (1e-16) and the plateau is exact in the computer.")
ui.takeaway(ov.takeaway(res))

csv, data = res.export()
ui.downloads("kdviz_overlap", key="ov_dl", csv=csv, data=data, config=config)
