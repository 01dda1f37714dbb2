"""Lesson: head vs tail (AKL, Wu et al. 2024, Fig. 2). Widgets -> one cached fit -> figures."""

import streamlit as st

import ui
from kdviz.experiments import head_tail as ht
from kdviz.i18n import N_, _
from kdviz.plots import head_tail as plots

LRS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
LARGE_LR = {"adam": 1.0, "sgd": 30.0}  # above these the fits oscillate or blow up on these toys


@ui.cached(entry_mb=45, budget_mb=360, spinner=N_("Fitting the students..."))
def run(**config):
    res = ht.head_tail(**config)
    return res, {"errors": plots.error_curves(res), "weights": plots.weights_figure(res),
                 "tvd": plots.tvd_figure(res), "anim": plots.animation_figure(res)}


@ui.cached(entry_mb=0.5, budget_mb=8, spinner=N_("Fitting 20 random teachers..."))
def many(init, seed, optimizer, lr, n, mu):
    res = ht.many_teachers(n, init=init, seed=seed, optimizer=optimizer, lr=lr, mu=mu)
    return res, {"teachers": plots.teachers_figure(res)}


def use_setting():
    """The setting switch's callback: its optimiser and learning rate go into the sidebar's controls."""
    if chosen := st.session_state.get("ht_setting"):
        st.session_state.update(zip(("ht_opt", "ht_lr"), ht.SETTINGS[chosen]))


@ui.cached(entry_mb=4, budget_mb=32)
def step_figure(config: dict, kind: str, step: int):
    """A figure of a cached run that also depends on a step slider: the bars at step 1 and ``step``,
    or the head share over the first ``step`` steps."""
    res, __ = run(**config)
    return None, {kind: plots.bars_figure(res, 1, step) if kind == "bars" else plots.share_figure(res, step)}


@st.fragment
def paper_panels(res, config):
    """The lesson's main chart, the paper's panels; its step-N slider reruns only this part of the page."""
    chart = st.container()  # above the slider that sets it
    compare = ui.url.slider(_("Compare step 1 with step"), 1, res.steps, res.steps, key="ht_compare")
    with chart:
        ui.main_chart(step_figure(config=config, kind="bars", step=compare)[1]["bars"], key="ht_bars")
    step_figure.prefetch(dict(config=config, kind="bars", step=compare), "step",
                         ui.url.slider_values(1, res.steps, 1, around=compare))  # the next moves
    shown = int(res.fit.frame_steps[res.frame_index(compare)])
    if shown != compare:
        st.caption(_("Only {n} snapshots are kept for this size; showing step {step}.").format(
            n=len(res.fit.frame_steps), step=shown))


with st.sidebar:
    st.subheader(_("Teacher"))
    teacher = ui.discrete_teacher("ht")
    with st.expander(_("Your own teacher (CSV / NPY)")):
        values = ui.teacher_upload("ht")
        if values is not None:
            st.success(_("Teacher: your file ({n} classes).").format(n=len(values)))
    st.subheader(_("Student and optimiser"))
    init = ui.url.choice(_("Student start"), ["random", "uniform"], key="ht_init", horizontal=True, index=1,
                         format_func={"random": _("random"), "uniform": _("uniform")}.get,
                         help=_("random: logits uniform in [0, 1) from the seed (the paper); uniform: all "
                                "logits 0"))
    seed = int(ui.url.number(_("Student seed"), 0, 10_000, 1, key="ht_seed"))
    optimizer, lr, steps = ui.optimiser("ht", lrs=LRS, steps=(10, 1000, 200, 10), choices=("sgd", "adam"),
                                        lr=1.0)
    mu = ui.url.slider(_("Head mass μ_AKL"), 0.05, 0.95, 0.5, 0.05, key="ht_mu",
                       help=_("head = the most likely classes holding the first μ_AKL of the teacher's mass"))

header = st.container()  # filled once the divergences are picked: the formulas are theirs
picked, setting = ui.main_controls(2)
with picked:
    names = ui.divergence_picker("ht_divs", ht.DIVERGENCE_OPTIONS, ht.DEFAULT_DIVERGENCES)
st.session_state["ht_setting"] = next((k for k, v in ht.SETTINGS.items() if v == (optimizer, lr)), None)
setting.segmented_control(
    _("The claim (SGD) or AKL's setting (Adam)"), list(ht.SETTINGS), key="ht_setting", on_change=use_setting,
    format_func=lambda k: ht.optimiser_words(*ht.SETTINGS[k]),
    help=_("SGD moves a logit in proportion to its gradient. Adam divides every logit's step by the size of "
           "its own gradient, so its first steps move all logits by about the learning rate whatever the "
           "divergence: the head/tail difference shrinks. The sidebar has every optimiser setting."))
with header:
    ui.lesson_header(
        _("Head vs tail (AKL)"),
        _("A softmax student with free logits learns a discrete teacher from the same start under each "
          "divergence (AKL's Fig. 2 toy: 50 classes, {optimiser}, {steps} steps). **Look at** the bars after "
          "1 step and after N steps, then at how the error splits between the teacher's **head** (the strong "
          "bars: the likely classes holding the first μ_AKL of the mass) and its **tail**: all reach p, but "
          "forward KL spends more of its early progress on the head and reverse KL on the tail.").format(
            optimiser=ht.optimiser_words(optimizer, lr), steps=steps),
        formulas=names or ht.DEFAULT_DIVERGENCES)
    ui.guide("head_tail")
if not names:
    st.warning(_("Pick at least one divergence."))
    st.stop()

config = dict(**teacher, names=names, values=values, init=init, seed=seed, optimizer=optimizer, lr=lr,
              steps=steps, mu=mu)
res, figs = run(**config)
paper_panels(res, config)
ui.warn_lr(lr, optimizer, LARGE_LR)
for text in ht.warnings(res):
    st.warning(text)

st.subheader(_("Where does the error go?"))
st.plotly_chart(figs["errors"], key="ht_errors")
share_n = ui.url.slider(_("Head share over the first n steps"), 1, min(steps, 100), min(10, steps),
                        key="ht_share_n")
chart, text = st.columns([3, 2])
chart.plotly_chart(step_figure(config=config, kind="share", step=share_n)[1]["share"], key="ht_share")
teachers, tfig = many(init, seed, optimizer, lr, share_n, mu)
text.plotly_chart(tfig["teachers"], key="ht_teachers")
ui.takeaway(ht.takeaway(res, share_n, teachers))

with ui.secondary(_("AKL's head weight and convergence")):
    left, right = st.columns(2)
    left.plotly_chart(figs["weights"], key="ht_weights")
    right.plotly_chart(figs["tvd"], key="ht_tvd")
with ui.secondary(_("Animation")):
    st.plotly_chart(figs["anim"], key="ht_anim")

csv, data = res.export(share_n)
ui.downloads("kdviz_head_tail", key="ht_dl", csv=csv, data=data,
             config=config | dict(preset=teacher["preset"] if values is None else "upload",
                                  share_steps=share_n))
