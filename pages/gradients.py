"""Lesson: gradients. Which tokens push hardest under each divergence. Widgets -> one cached call -> figures."""

import numpy as np
import streamlit as st

import ui

from kdviz.divergences import get_spec
from kdviz.experiments import gradients as gr
from kdviz.experiments.head_tail import AKL_PRESETS, DIVERGENCE_OPTIONS
from kdviz.families import DISCRETE_PRESETS
from kdviz.plots import gradients as plots

P_STARS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.5, 0.9, 1.0)
LRS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


@st.cache_data(max_entries=ui.CACHE_ENTRIES, show_spinner="Computing gradients...")
def run(p_star, alpha, names, preset, n_classes, zipf_exponent, dirichlet_seed, student, fit_divergence,
        fit_steps, lr, seed, mu):
    return gr.gradients(p_star, alpha, names, preset=preset, n_classes=n_classes, zipf_exponent=zipf_exponent,
                        dirichlet_seed=dirichlet_seed, student=student, fit_divergence=fit_divergence,
                        fit_steps=fit_steps, lr=lr, seed=seed, mu=mu)


with st.sidebar:
    names = tuple(ui.divergence_picker("gr_divs", DIVERGENCE_OPTIONS, gr.DEFAULT_NAMES))
    st.subheader("One token")
    p_star = st.select_slider("Teacher's probability p(y*)", P_STARS, value=0.1, key="gr_p", bind="query-params")
    alpha = st.slider("Skew α (SKL, SRKL)", 0.0, 1.0, 0.1, 0.05, key="gr_alpha", bind="query-params")
    st.subheader("A whole student")
    preset = st.selectbox("Teacher", list(DISCRETE_PRESETS), index=list(DISCRETE_PRESETS).index("zipf"),
                          format_func=lambda k: DISCRETE_PRESETS[k][0], key="gr_preset", bind="query-params")
    zipf_exponent, dirichlet_seed, n_classes = 1.2, 0, 50
    if preset == "zipf":
        zipf_exponent = st.slider("Zipf exponent", 0.0, 3.0, 1.2, 0.1, key="gr_zipf", bind="query-params")
    if preset == "dirichlet":
        dirichlet_seed = int(st.number_input("Dirichlet seed", 0, 10_000, 0, key="gr_dseed", bind="query-params"))
    if preset not in AKL_PRESETS:
        n_classes = st.slider("Classes", 5, 200, 50, 5, key="gr_classes", bind="query-params")
    student = st.radio("Student", ["random", "fit"], key="gr_student", bind="query-params",
                       format_func=lambda s: {"random": "random softmax", "fit": "a step of a fit"}[s])
    seed = int(st.number_input("Student seed", 0, 10_000, 1, key="gr_seed", bind="query-params"))
    fit_divergence, fit_steps, lr = "fkl", 20, 0.1
    if student == "fit":
        fit_divergence = st.selectbox("Fitted under", DIVERGENCE_OPTIONS, key="gr_fit_div", bind="query-params",
                                      format_func=lambda n: get_spec(n).label)
        fit_steps = st.slider("Adam steps", 1, 500, 20, key="gr_fit_steps", bind="query-params")
        lr = st.select_slider("Learning rate", LRS, value=0.1, key="gr_lr", bind="query-params")
    mu = st.slider("Head/tail boundary μ", 0.05, 0.95, 0.5, 0.05, key="gr_mu", bind="query-params")

ui.lesson_header(
    "Gradients",
    "Why do some losses chase rare tokens? Each divergence's gradient is a sum over tokens of a "
    "**coefficient** times ∇q(y\\*). **Look at** how the coefficient grows as the student's probability "
    "q(y\\*) of a token the teacher likes goes to 0 (top), then at which classes of a real student get the "
    "largest push (bottom: classes sorted by teacher probability, head shaded).",
    formulas=names or gr.DEFAULT_NAMES)

if not names:
    st.warning("Pick at least one divergence in the sidebar.")
    st.stop()
if alpha in (0.0, 1.0):
    st.warning(f"α = {alpha:g}: skew KL is {'plain forward KL' if alpha == 0 else 'KL(p‖p) = 0, with no gradient'}"
               f" and skew reverse KL is {'plain reverse KL' if alpha == 0 else 'KL(q‖q) = 0'}.")
if student == "fit" and lr > 1.0:
    st.warning(f"Learning rate {lr:g} is very large for Adam: the fit may oscillate or diverge.")

res = run(p_star, alpha, names, preset, n_classes, zipf_exponent, dirichlet_seed, student, fit_divergence,
          fit_steps, lr, seed, mu)
if res.diverged:
    st.warning(f"The fit under {get_spec(fit_divergence).label} hit a non-finite loss; the student is its "
               "last finite step.")

st.subheader("One token: the coefficient of ∇q(y*)")
if res.coef_names:
    rows = [rf"\textcolor{{{get_spec(nm).color}}}{{\text{{{get_spec(nm).label}}}}} &: \quad {get_spec(nm).grad_latex}"
            for nm in res.coef_names]
    st.latex(r"\nabla_\theta D \approx c\,\nabla_\theta q_\theta(y^*),\qquad y^*\sim p,\qquad c =")
    st.latex(r"\begin{aligned}" + r"\\[2pt]".join(rows) + r"\end{aligned}")
    st.plotly_chart(plots.coefficient_figure(res), key="gr_coef")
    st.caption("The y axis is sign(c)·log₁₀(1 + |c|): linear near 0, logarithmic beyond ±1, so KL's "
               "−1/q and the bounded coefficients fit on one chart (tick labels are the true values).")
    st.info(gr.SEED_NOTE)
else:
    st.info("The seed's single-token formulas exist for Forward KL, Reverse KL, TVD, Skew KL and Skew reverse "
            "KL; pick one of them to see the curves. The per-class gradients below cover every selection.")

st.subheader("A whole student: which tokens push hardest")
st.caption(f"Student: {res.student}. Bars are ∂D/∂z for every logit z (the softmax student's "
           "parameters); gradient descent raises the logits with negative bars and lowers the others.")
st.plotly_chart(plots.logit_figure(res), key="gr_logits")
summary = gr.takeaway(res)
ui.takeaway(summary)

order = res.order
table = {"rank": np.arange(1, len(order) + 1), "class": res.x[order], "p": res.p[order],
         "q": res.q_student[order], "head": res.head_mask[order].astype(int)}
table |= {f"dD_dz_{nm}": g[order] for nm, g in zip(res.names, res.grads)}
ui.downloads("kdviz_gradients", key="gr_dl", csv=table, data={
    "config": dict(divergences=names, p_star=p_star, alpha=alpha, preset=preset, n_classes=n_classes,
                   student=res.student, mu=mu),
    "coefficients": {"q": res.q, **dict(zip(res.coef_names, res.coefficients))},
    "per_class": table, "head_share_of_push": dict(zip(res.names, res.head_share_of_push())),
    "takeaway": summary})
