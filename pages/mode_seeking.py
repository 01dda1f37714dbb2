"""Lesson: mode seeking vs mean seeking (MiniLLM Fig. 2). Widgets -> one cached fit -> figures."""

import streamlit as st

import ui
from kdviz.experiments import GRID
from kdviz.experiments import mode_seeking as ms
from kdviz.i18n import N_, _
from kdviz.plots import mode_seeking as plots
from kdviz.plots.common import label

LRS = (0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0, 3.0)
LARGE_LR = {"adam": 0.3, "sgd": 1.0}  # above these the fits oscillate or blow up on these toys
MU0 = (-8.0, 8.0, 0.1)  # the start mean's slider: lowest, highest, step


@ui.cached(entry_mb=6, budget_mb=360, spinner=N_("Fitting the students..."))
def run(weights, means, stds, mu0, sigma0, names, steps, lr, optimizer, fixed_sigma, landscape_name):
    res = ms.mode_seeking(weights, means, stds, mu0, sigma0, names, steps=steps, lr=lr, optimizer=optimizer,
                          fixed_sigma=fixed_sigma, landscape_name=landscape_name)
    return res, {"anim": plots.fit_animation(res, at_end=True),
                 "loss_log": plots.loss_curves(res),
                 "loss_normalised": plots.loss_curves(res, normalised=True),
                 "params": plots.parameter_paths(res),
                 "landscape": plots.landscape_figure(res),
                 "landscape_many": plots.landscape_figure(res, many=True)}


@st.fragment
def loss_section(figs):
    """The loss-axis switch reruns only this part of the page."""
    axes = {"log": _("D(p, q) on a log axis"), "normalised": _("gap to the minimum, normalised")}
    scale = ui.url.choice(_("Loss axis"), list(axes), key="ms_loss_scale", horizontal=True,
                          format_func=axes.get)
    st.plotly_chart(figs[f"loss_{scale}"], key="ms_loss")


with st.sidebar:
    st.subheader(_("Teacher: a Gaussian mixture"))
    weights, means, stds = ui.mixture_teacher("ms", max_components=ms.MAX_COMPONENTS, means=(-8.0, 8.0),
                                              stds=(ms.STD_MIN, 3.0), presets=ms.PRESETS)
    st.subheader(_("Student: one Gaussian"))
    sigma0 = ui.url.slider(_("start std σ₀"), ms.SIGMA0_MIN, 6.0, ms.DEFAULT_START[1], 0.1, key="ms_sigma0")
    fixed = ui.url.checkbox(_("Fixed variance (fit the mean only)"), key="ms_fixed")
    st.caption(_("Sinkhorn and the Sinkhorn divergence are left out of the divergences: their inner loop "
                 "makes fits on the {n}-point grid take minutes (see the optimal-transport lesson).").format(
        n=GRID.n))
    st.subheader(_("Optimiser"))
    optimizer, lr, steps = ui.optimiser("ms", lrs=LRS, steps=(50, 1000, 200, 50))

if sum(weights) <= 0:
    st.error(_("The teacher needs a positive weight on at least one component (all weights are 0)."))
    st.stop()


shown = tuple(st.session_state.get("ms_divs") or ms.DEFAULT_NAMES)  # the divergences picked last
ui.lesson_header(
    _("Mode seeking vs mean seeking"),
    _("One Gaussian student is fitted to a Gaussian-mixture teacher under each divergence, all from the "
      "same start (MiniLLM's Fig. 2; the paper gives no parameters, the presets are ours). **Look at** "
      "where each student ends: forward KL must put mass wherever the teacher has some, so it spreads "
      "over all modes; reverse KL is punished for mass where the teacher has none, so it locks onto one "
      "mode. The loss landscape at the bottom shows why the start matters: switch on *many starts* to "
      "see where {n} random starts end.").format(n=ms.N_STARTS),
    formulas=shown)
ui.guide("mode_seeking")


@st.fragment
def lesson(shown, **teacher_and_optimiser):
    """The main controls and everything they change: moving them reruns only this part of the page
    (picking other divergences reruns all of it: the header shows their formulas)."""
    start, picked = ui.main_controls(2)
    with start:
        mu0 = ui.url.slider(_("start mean μ₀"), MU0[0], MU0[1], ms.DEFAULT_START[0], MU0[2], key="ms_mu0")
    with picked:
        names = ui.divergence_picker("ms_divs", ms.CHOICES, ms.DEFAULT_NAMES)
    if (names or ms.DEFAULT_NAMES) != shown:
        st.rerun()
    if not names:
        st.warning(_("Pick at least one divergence."))
        return
    main = st.container()
    with ui.secondary(_("Loss landscape over (μ, σ)")):  # its controls must exist before the fit
        landscape_name = ui.url.choice(_("Landscape of"), ms.CHOICES, key="ms_land", widget=st.selectbox,
                                       index=ms.CHOICES.index("rkl"), format_func=label)
        many = ui.url.checkbox(_("Many starts: {n} random starts and where each ends").format(n=ms.N_STARTS),
                               key="ms_many", value=True)
        landscape = st.container()
    config = dict(**teacher_and_optimiser, mu0=mu0, names=names, landscape_name=landscape_name)
    res, figs = run(**config)
    run.prefetch(config, "mu0", ui.url.slider_values(*MU0, around=mu0))  # where the class slides next
    with main:
        ui.main_chart(figs["anim"], key="ms_anim")
        for text in ms.warnings(res, config["stds"], config["sigma0"]):
            st.warning(text)
        ui.warn_lr(config["lr"], config["optimizer"], LARGE_LR)
        if moving := ms.still_moving_text(res):
            st.caption(moving)
        ui.takeaway(ms.takeaway(res, config["means"]))
        with ui.secondary(_("Final students vs the teacher's moments")):
            st.dataframe(ms.table(res), hide_index=True)
            st.caption(ms.table_caption())
        with ui.secondary(_("Loss and parameters")):
            loss_section(figs)
            st.plotly_chart(figs["params"], key="ms_params")
    with landscape:
        st.plotly_chart(figs["landscape_many" if many else "landscape"], key="ms_landscape")
        st.caption(ms.landscape_caption(res))
    csv, data = res.export()
    ui.downloads("kdviz_mode_seeking", key="ms_dl", csv=csv, data=data, config=config)


lesson(shown, weights=weights, means=means, stds=stds, sigma0=sigma0, steps=steps, lr=lr, optimizer=optimizer,
       fixed_sigma=fixed)
