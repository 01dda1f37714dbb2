"""Lesson: gradients, which tokens push hardest under each divergence. Widgets -> one cached call -> figures
(the single-token coefficients and the per-logit gradients of a whole student)."""

import streamlit as st

import ui
from kdviz.divergences import get_spec
from kdviz.experiments import gradients as gr
from kdviz.i18n import N_, _
from kdviz.plots import gradients as plots
from kdviz.plots.common import color, label

P_STARS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.5, 0.9, 1.0)
LRS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
STUDENTS = {"random": N_("random softmax"), "fit": N_("a step of a fit")}


@ui.cached(entry_mb=0.5, budget_mb=16, spinner=N_("Computing gradients..."))
def run(p_star, alpha, names, preset, n_classes, zipf_exponent, dirichlet_seed, student, fit_divergence,
        fit_steps, lr, seed, mu, focus):
    res = gr.gradients(p_star, alpha, names, preset=preset, n_classes=n_classes, zipf_exponent=zipf_exponent,
                       dirichlet_seed=dirichlet_seed, student=student, fit_divergence=fit_divergence,
                       fit_steps=fit_steps, lr=lr, seed=seed, mu=mu)
    return res, {"coef": plots.coefficient_figure(res), "logits": plots.logit_figure(res),
                 "link": plots.link_figure(res, focus if focus in res.names else res.names[0])}


with st.sidebar:
    alpha = ui.url.slider(_("Skew α (SKL, SRKL)"), 0.0, 1.0, 0.1, 0.05, key="gr_alpha")
    st.subheader(_("A whole student"))
    teacher = ui.discrete_teacher("gr", label=_("Teacher"), default="zipf", classes=(5, 200, 5))
    student = ui.url.choice(_("Student"), list(STUDENTS), key="gr_student",
                            format_func=lambda s: _(STUDENTS[s]))
    seed = int(ui.url.number(_("Student seed"), 0, 10_000, 1, key="gr_seed"))
    fit_divergence, fit_steps, lr = "fkl", 20, 0.1
    if student == "fit":
        fit_divergence = ui.url.choice(_("Fitted under"), gr.DIVERGENCE_OPTIONS, key="gr_fit_div",
                                       widget=st.selectbox, format_func=label)
        fit_steps = ui.url.slider(_("Adam steps"), 1, 500, 20, key="gr_fit_steps")
        lr = ui.url.choice(_("Learning rate"), LRS, key="gr_lr", widget=st.select_slider, value=0.1)
    mu = ui.url.slider(_("Head mass μ_AKL"), 0.05, 0.95, 0.5, 0.05, key="gr_mu",
                       help=_("head = the most likely classes holding the first μ_AKL of the teacher's mass"))

top = st.container()  # header and guide, written once the main controls are read (the formulas follow them)
picker, token = ui.main_controls(2)
with picker:
    names = ui.divergence_picker("gr_divs", gr.DIVERGENCE_OPTIONS, gr.DEFAULT_NAMES)
with token:
    p_star = ui.url.choice(_("Teacher's probability p(y*)"), P_STARS, key="gr_p", widget=st.select_slider,
                           value=0.1)
with top:
    ui.lesson_header(
        _("Gradients"),
        _("Why do some losses chase tokens that are *rare under the student*? Each divergence's gradient "
          "is a sum over tokens of a **coefficient** times ∇q(y\\*). **Look at** how the coefficient grows "
          "as the student's probability q(y\\*) of a token the teacher produces goes to 0 (the chart "
          "below), then, for one student, at the coefficient of every class next to the push on its logit "
          "once the softmax is included, and at every divergence's push (classes sorted by teacher "
          "probability, head shaded)."),
        formulas=names or gr.DEFAULT_NAMES)
    ui.guide("gradients")
if not names:
    st.warning(_("Pick at least one divergence."))
    st.stop()
if alpha == 0.0:
    st.warning(_("α = 0: skew KL is plain forward KL and skew reverse KL is plain reverse KL."))
elif alpha == 1.0:
    st.warning(_("α = 1: skew KL is KL(p‖p) = 0, with no gradient, and skew reverse KL is KL(q‖q) = 0."))

main = st.container()
with ui.secondary(_("One student: the coefficient ∂D/∂q next to the push on the logit ∂D/∂z")):
    focus = ui.url.choice(_("Look closely at"), names, key="gr_focus", widget=st.selectbox, format_func=label)
    student_panel = st.container()
config = dict(p_star=p_star, alpha=alpha, names=names, **teacher, student=student,
              fit_divergence=fit_divergence, fit_steps=fit_steps, lr=lr, seed=seed, mu=mu, focus=focus)
res, figs = run(**config)

with main:
    if res.coef_names:
        ui.main_chart(figs["coef"], key="gr_coef")
        st.caption(_("The y axis is sign(c)·log₁₀(1 + |c|): linear near 0, logarithmic beyond ±1, so KL's "
                     "−1/q and the bounded coefficients fit on one chart (tick labels are the true values)."))
        rows = [rf"\textcolor{{{color(nm)}}}{{\text{{{label(nm)}}}}} &: \quad {get_spec(nm).grad_latex}"
                for nm in res.coef_names]
        st.latex(r"\nabla_\theta D \approx c\,\nabla_\theta q_\theta(y^*),\qquad y^*\sim p,\qquad c =")
        st.latex(r"\begin{aligned}" + r"\\[2pt]".join(rows) + r"\end{aligned}")
        st.info(_(gr.SEED_NOTE))
    else:
        st.info(_("The seed's single-token formulas exist for Forward KL, Reverse KL, TVD, Skew KL and Skew "
                  "reverse KL; pick one of them to see the curves. The per-class gradients below cover every "
                  "selection."))

with student_panel:
    if student == "fit":
        ui.warn_lr(lr, "adam", {"adam": 1.0})
    if res.diverged:
        st.warning(_("The fit under {divergence} hit a non-finite loss; the student is its last finite "
                     "step.").format(divergence=label(fit_divergence)))
    st.caption(_("Student: {student}; teacher and student as in the chart below. Gradient descent raises "
                 "the logits with negative ∂D/∂z and lowers the others.").format(student=res.student))
    st.plotly_chart(figs["link"], key="gr_link")
    st.markdown(gr.link_text(res, focus if focus in res.names else res.names[0]))
with ui.secondary(_("Every divergence: which classes get the largest push")):
    st.plotly_chart(figs["logits"], key="gr_logits")
ui.takeaway(gr.takeaway(res))
csv, data = res.export()
ui.downloads("kdviz_gradients", key="gr_dl", csv=csv, data=data, config=config)
