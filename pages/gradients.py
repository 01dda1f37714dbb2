"""Lesson: gradients, which tokens push hardest under each divergence. Widgets -> one cached call -> figures
(the single-token coefficients and the per-logit gradients of a whole student)."""

import streamlit as st

import ui
from kdviz.divergences import get_spec
from kdviz.experiments import gradients as gr
from kdviz.plots import gradients as plots

P_STARS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.5, 0.9, 1.0)
LRS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


@ui.cached(entry_mb=0.5, budget_mb=16, spinner="Computing gradients...")
def run(p_star, alpha, names, preset, n_classes, zipf_exponent, dirichlet_seed, student, fit_divergence,
        fit_steps, lr, seed, mu, focus):
    res = gr.gradients(p_star, alpha, names, preset=preset, n_classes=n_classes, zipf_exponent=zipf_exponent,
                       dirichlet_seed=dirichlet_seed, student=student, fit_divergence=fit_divergence,
                       fit_steps=fit_steps, lr=lr, seed=seed, mu=mu)
    return res, {"coef": plots.coefficient_figure(res), "logits": plots.logit_figure(res),
                 "link": plots.link_figure(res, focus if focus in res.names else res.names[0])}


with st.sidebar:
    names = ui.divergence_picker("gr_divs", gr.DIVERGENCE_OPTIONS, gr.DEFAULT_NAMES)
    st.subheader("One token")
    p_star = ui.url.choice("Teacher's probability p(y*)", P_STARS, key="gr_p", widget=st.select_slider,
                           value=0.1)
    alpha = ui.url.slider("Skew α (SKL, SRKL)", 0.0, 1.0, 0.1, 0.05, key="gr_alpha")
    st.subheader("A whole student")
    teacher = ui.discrete_teacher("gr", label="Teacher", default="zipf", classes=(5, 200, 5))
    student = ui.url.choice("Student", ["random", "fit"], key="gr_student",
                            format_func={"random": "random softmax", "fit": "a step of a fit"}.get)
    seed = int(ui.url.number("Student seed", 0, 10_000, 1, key="gr_seed"))
    fit_divergence, fit_steps, lr = "fkl", 20, 0.1
    if student == "fit":
        fit_divergence = ui.url.choice("Fitted under", gr.DIVERGENCE_OPTIONS, key="gr_fit_div",
                                       widget=st.selectbox,
                                       format_func=lambda n: get_spec(n).label)
        fit_steps = ui.url.slider("Adam steps", 1, 500, 20, key="gr_fit_steps")
        lr = ui.url.choice("Learning rate", LRS, key="gr_lr", widget=st.select_slider, value=0.1)
    mu = ui.url.slider("Head mass μ_AKL", 0.05, 0.95, 0.5, 0.05, key="gr_mu",
                       help="head = the most likely classes holding the first μ_AKL of the teacher's mass")

ui.lesson_header(
    "Gradients",
    "Why do some losses chase tokens that are *rare under the student*? Each divergence's gradient is a sum "
    "over tokens of a **coefficient** times ∇q(y\\*). **Look at** how the coefficient grows as the student's "
    "probability q(y\\*) of a token the teacher produces goes to 0 (top), then, for one student, at the "
    "coefficient of every class next to the push on its logit once the softmax is included (middle), and "
    "at every divergence's push (bottom: classes sorted by teacher probability, head shaded).",
    formulas=names or gr.DEFAULT_NAMES)
ui.guide("gradients")
if not names:
    st.warning("Pick at least one divergence in the sidebar.")
    st.stop()
if alpha in (0.0, 1.0):
    skl = 'plain forward KL' if alpha == 0 else 'KL(p‖p) = 0, with no gradient'
    st.warning(f"α = {alpha:g}: skew KL is {skl}"
               f" and skew reverse KL is {'plain reverse KL' if alpha == 0 else 'KL(q‖q) = 0'}.")
if student == "fit":
    ui.warn_lr(lr, "adam", {"adam": 1.0})

focus = ui.url.choice("Look closely at", names, key="gr_focus", widget=st.sidebar.selectbox,
                      format_func=lambda n: get_spec(n).label) if names else None
config = dict(p_star=p_star, alpha=alpha, names=names, **teacher, student=student,
              fit_divergence=fit_divergence, fit_steps=fit_steps, lr=lr, seed=seed, mu=mu, focus=focus)
res, figs = run(**config)
if res.diverged:
    st.warning(f"The fit under {get_spec(fit_divergence).label} hit a non-finite loss; the student is its "
               "last finite step.")

st.subheader("One token: the coefficient of ∇q(y*)")
if res.coef_names:
    rows = [rf"\textcolor{{{get_spec(nm).color}}}{{\text{{{get_spec(nm).label}}}}} &: \quad "
            rf"{get_spec(nm).grad_latex}" for nm in res.coef_names]
    st.latex(r"\nabla_\theta D \approx c\,\nabla_\theta q_\theta(y^*),\qquad y^*\sim p,\qquad c =")
    st.latex(r"\begin{aligned}" + r"\\[2pt]".join(rows) + r"\end{aligned}")
    st.plotly_chart(figs["coef"], key="gr_coef")
    st.caption("The y axis is sign(c)·log₁₀(1 + |c|): linear near 0, logarithmic beyond ±1, so KL's "
               "−1/q and the bounded coefficients fit on one chart (tick labels are the true values).")
    st.info(gr.SEED_NOTE)
else:
    st.info("The seed's single-token formulas exist for Forward KL, Reverse KL, TVD, Skew KL and Skew "
            "reverse "
            "KL; pick one of them to see the curves. The per-class gradients below cover every selection.")

st.subheader("One student: the coefficient ∂D/∂q next to the push on the logit ∂D/∂z")
st.caption(f"Student: {res.student}; teacher and student as in the chart below. Gradient descent raises "
           "the logits with negative ∂D/∂z and lowers the others.")
st.plotly_chart(figs["link"], key="gr_link")
st.markdown(gr.link_text(res, focus if focus in res.names else res.names[0]))
st.subheader("Every divergence: which classes get the largest push")
st.plotly_chart(figs["logits"], key="gr_logits")
ui.takeaway(gr.takeaway(res))
csv, data = res.export()
ui.downloads("kdviz_gradients", key="gr_dl", csv=csv, data=data, config=config)
