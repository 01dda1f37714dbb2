"""Lesson: outliers and TVD (the seed's "KLD is sensitive to outliers while TVD is more robust").
Widgets -> one cached batched fit (fits + robustness sweep) -> figures."""

import streamlit as st

import ui
from kdviz.experiments import FIT_CHOICES, GRID
from kdviz.experiments import outliers as ol
from kdviz.i18n import N_, _
from kdviz.plots import outliers as plots
from kdviz.plots.common import label

LRS = (0.01, 0.03, 0.05, 0.1, 0.2, 0.3)
OUTLIER_STD_MIN = 0.2


@ui.cached(entry_mb=2.5, budget_mb=24, spinner=N_("Fitting the students for every outlier weight..."))
def run(weight, distance, outlier_std, names, steps, lr):
    res = ol.outliers(weight, distance, outlier_std, names, steps=steps, lr=lr)
    return res, {"fits": plots.fitted_students(res), "sweep": plots.robustness(res)}


with st.sidebar:
    st.subheader(_("Teacher: main mass + outlier"))
    distance = ui.url.slider(_("Outlier position d"), 2.0, 9.0, 6.0, 0.5, key="ol_d",
                             help=_("The main mass is N(0, 1); the outlier N(d, s²)."))
    outlier_std = ui.url.slider(_("Outlier std s"), OUTLIER_STD_MIN, 2.0, 0.5, 0.05, key="ol_s")
    with st.expander(_("Optimiser (Adam; its step size shrinks smoothly to 2% by the last step)")):
        lr = ui.url.choice(_("Learning rate"), LRS, key="ol_lr", widget=st.select_slider, value=0.1)
        steps = ui.url.slider(_("Steps"), 50, 1000, 200, 50, key="ol_steps",
                              help=_("Every fit starts from the main mass N(0, 1). 200 steps converge on the "
                                     "defaults."))
    st.caption(_("Sinkhorn and the Sinkhorn divergence are not offered: too slow to fit on the {n}-point "
                 "grid.").format(n=GRID.n))

top = st.container()  # header and guide, written once the main controls are read (the formulas follow them)
picker, outlier = ui.main_controls(2)
with picker:
    names = ui.divergence_picker("ol_divs", FIT_CHOICES, ol.DEFAULT_NAMES)
with outlier:
    weight = ui.url.slider(_("Outlier weight w"), 0.0, ol.SWEEP_MAX, 0.1, 0.01, key="ol_w",
                           help=_("Share of the teacher's mass in the outlier bump."))
with top:
    ui.lesson_header(
        _("Outliers and TVD"),
        _("The teacher is a main mass N(0, 1) plus a small bump far away, and one Gaussian student is fitted "
          "under each divergence, starting from the main mass. **Look at** how far each student is dragged "
          "toward the outlier: forward KL pays log(p/q) wherever p has mass, so it must stretch to cover the "
          "bump; TVD and skew KL have bounded penalties and simply give the bump up. The robustness curves "
          "repeat the fit for outlier weights from 0 to 30%. (Our own toy: the f-distill paper has no such "
          "experiment.)"),
        formulas=names or ol.DEFAULT_NAMES)
    ui.guide("outliers")
if not names:
    st.warning(_("Pick at least one divergence."))
    st.stop()
config = dict(weight=weight, distance=distance, outlier_std=outlier_std, names=names, steps=steps, lr=lr)
res, figs = run(**config)

if res.mass_outside > 1e-3:
    st.warning(_("{share:.1%} of the teacher's mass lies beyond the grid's end at x = {end:g}: the grid "
                 "teacher is cut there. Move the outlier closer or make it narrower.").format(
        share=res.mass_outside, end=GRID.high))
if outlier_std <= OUTLIER_STD_MIN:
    st.warning(_("Outlier std at the minimum ({std}): only about {points:.0f} grid points per std.").format(
        std=OUTLIER_STD_MIN, points=OUTLIER_STD_MIN / GRID.step))
if distance - 2 * outlier_std < 2.5:
    st.warning(_("The bump overlaps the main mass: it is no longer an outlier, and every divergence covers "
                 "it."))
bad = [_("{divergence} (step {step})").format(divergence=label(n), step=t)
       for n, t in zip(res.names, res.diverged_at) if t >= 0]
if bad or res.sweep_diverged.any():
    st.warning(_("Diverged (a non-finite loss, or the student left the grid), frozen from there: {fits}. "
                 "Lower the learning rate.").format(fits=", ".join(bad) or _("some fits of the sweep")))
if weight == 0:
    st.info(_("No outlier (w = 0): every student stays at the main mass N(0, 1)."))

ui.main_chart(figs["fits"], key="ol_fits")
if {"fkl", "tvd"} <= set(names):
    st.caption(_("Fitted students at w = {weight:.0%}. ▶ replays the {steps} steps of the fit from N(0, 1): "
                 "watch forward KL stretch toward the outlier while TVD stays on the main mass (thick lines, "
                 "drawn on top).").format(weight=weight, steps=steps))
else:
    st.caption(_("Fitted students at w = {weight:.0%}. ▶ replays the {steps} steps of the fit from "
                 "N(0, 1).").format(weight=weight, steps=steps))
with ui.secondary(_("Robustness: fitted mean and std as the outlier grows")):
    st.plotly_chart(figs["sweep"], key="ol_sweep")
    st.caption(_("{weights} outlier weights × {divergences} divergences, all fitted together from N(0, 1). "
                 "Dashed: the teacher's own mean and std, which forward KL matches.").format(
        weights=len(res.sweep_weights), divergences=len(res.names)))
    for group in res.coinciding():
        st.caption(_("{divergences} coincide here (within 0.02 everywhere): their curves lie on top of each "
                     "other.").format(divergences=", ".join(label(n) for n in group)))
ui.takeaway(ol.takeaway(res))
csv, data = res.export()
ui.downloads("kdviz_outliers", key="ol_dl", csv=csv, data=data, config=config)
