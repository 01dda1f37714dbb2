"""Lesson: optimal transport and Sinkhorn. Widgets -> one cached computation -> plans, animation, sweeps."""

import streamlit as st

import ui
from kdviz.experiments import optimal_transport as otl
from kdviz.plots import optimal_transport as plots

EPSILONS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


@ui.cached(entry_mb=3, budget_mb=48, spinner="Solving the transport problems...")
def run(preset, n, epsilon, order):
    res = otl.transport_lesson(preset, n, epsilon, order)
    return res, {"exact": plots.plan_figure(res, "exact"), "sinkhorn": plots.plan_figure(res, "sinkhorn"),
                 "iters": plots.iterations_figure(res), "eps": plots.epsilon_figure(res),
                 "div": plots.divergence_figure(res)}


with st.sidebar:
    st.subheader("Teacher p and student q")
    preset = ui.url.choice("Histograms", list(otl.PRESETS), key="ot_preset", widget=st.selectbox,
                           format_func=lambda k: otl.PRESETS[k][0])
    n = ui.url.slider("Support points (on [0, 1])", 20, 60, 40, 5, key="ot_n")
    st.subheader("Transport")
    epsilon = ui.url.choice("ε = 1/λ (log scale; max cost = 1)", EPSILONS, key="ot_eps",
                            widget=st.select_slider,
                            value=otl.DEFAULT_EPSILON, format_func=lambda e: f"{e:g}")
    order = ui.url.choice("Ground cost |x − y|^r, r =", [1, 2], index=1, key="ot_order", horizontal=True,
                          help="r = 1: when all mass moves the same way, many plans are optimal (the "
                               "exact solver shows one of them) and ⟨Γ, C⟩ hardly depends on ε; r = 2: the "
                               "optimal plan is unique")

ui.lesson_header(
    "Optimal transport and Sinkhorn",
    "The exact plan moves the teacher's mass p onto the student's q at the least cost; Sinkhorn adds "
    "entropy, which **blurs** the plan and makes it fast and differentiable. **Look at** the plan as ε "
    "grows, at the Sinkhorn distance approaching the exact W as ε shrinks, at the **bias** W_ε(p, p) > 0, "
    "and at the two ways to remove it.",
    formulas=("wasserstein", "sinkhorn", "sinkhorn_div"))
ui.guide("optimal_transport")
st.markdown("The seed's Sinkhorn iteration (computed with logarithms of u and v, which stay finite even "
            "when e^(−C/ε) underflows for small ε):")
st.latex(r"u^{l+1}=\frac{P}{K v^{l}},\quad v^{l+1}=\frac{Q}{K^{\top}u^{l+1}},\quad K=e^{-\lambda C},\quad"
         r"\Gamma=\mathrm{diag}(u)\,K\,\mathrm{diag}(v),\quad W_\lambda(P,Q)=\langle\Gamma,C\rangle,\quad"
         r"\varepsilon=1/\lambda")

config = dict(preset=preset, n=n, epsilon=epsilon, order=order)
res, figs = run(**config)

if not res.converged:
    st.warning(f"At ε = {epsilon:g} Sinkhorn has not converged after {res.n_iter} iterations: the plan's "
               f"marginals are off by up to {res.errors.max():.1e} (l1): the numbers below are "
               "those of an unfinished plan; a larger ε converges faster.")

left, right = st.columns(2)
with left:
    st.plotly_chart(figs["exact"], key="ot_exact")
with right:
    st.plotly_chart(figs["sinkhorn"], key="ot_sinkhorn")

cols = st.columns(5)
cols[0].metric("Exact W(p, q)", f"{res.wasserstein:.4g}")
cols[1].metric("Sinkhorn W_ε(p, q)", f"{res.sinkhorn:.4g}", help="⟨Γ_ε, C⟩, the seed's Sinkhorn distance")
cols[2].metric("Bias W_ε(p, p)", f"{res.linear[1]:.3g}", help="> 0 although p = p")
cols[3].metric("Seed's debiased", f"{res.div_linear:.4g}")
cols[4].metric("Feydy's debiased", f"{res.div_entropic:.4g}")

st.subheader("The iterations")
st.plotly_chart(figs["iters"], key="ot_iters")
st.caption(f"{res.n_iter} iterations at ε = {epsilon:g}; the early iterations change most, so more frames "
           "show them. After each u-update the rows sum to p exactly; the bars on top are the columns' sums, "
           "converging to q (the line). Colours are scaled to the last plan: early plans, more concentrated, "
           "saturate.")

st.subheader("Sinkhorn against ε")
left, right = st.columns(2)
with left:
    st.plotly_chart(figs["eps"], key="ot_eps_fig")
with right:
    st.plotly_chart(figs["div"], key="ot_div_fig")
bad = int((~res.sweep_converged).sum())
st.caption(f"{len(res.eps_grid)} values of ε, each solving the pairs (p, q), (p, p) and (q, q) together. "
           f"Open markers: not converged within 1000 iterations ({bad} here; small ε converges slowly). "
           "Dotted line: the ε above.")
st.markdown(
    "**Two 'unbiased Sinkhorn divergences'.** The seed debiases the *linear* Sinkhorn distance: "
    "W_ε(p,q) − ½W_ε(p,p) − ½W_ε(q,q) with W_ε = ⟨Γ_ε, C⟩. "
    "Feydy et al. (2019) debias OT_ε = ⟨Γ_ε, C⟩ + ε KL(Γ_ε ‖ p⊗q), which includes the entropy term. "
    "Feydy's version is proven ≥ 0 and 0 only when p = q; "
    "the seed's comes with no such guarantee: it is 0 at p = q, but nothing prevents it from dipping "
    "slightly "
    f"below 0 (on these 1-D presets it stays ≥ 0; its minimum over the sweep here is "
    f"{otl.debias(res.sweep_linear).min():.3g}). "
    "Both tend to W as ε → 0; as ε grows they shrink towards a smooth comparison of the two histograms' "
    "overall shapes (a kernel distance), no longer a transport cost.")
st.markdown(
    "**SinKD** (Cui et al. 2024) distils with a Sinkhorn distance between the samples of a batch: a b×b cost "
    "of L1 distances between student and teacher probability vectors, 20 plain Sinkhorn normalisations at "
    "ε = 0.1, loss weight about 0.001, O(b²(d+T)) as in the seed's table.")
ui.takeaway(otl.takeaway(res))

csv, data = res.export()
ui.downloads("kdviz_optimal_transport", key="ot_dl", csv=csv, data=data, config=config)
