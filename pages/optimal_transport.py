"""Lesson: optimal transport and Sinkhorn. Widgets -> one cached computation -> plans, animation, sweeps."""

import math

import streamlit as st

import ui
from kdviz.experiments import optimal_transport as otl
from kdviz.i18n import N_, _
from kdviz.plots import optimal_transport as plots

EPSILONS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


@ui.cached(entry_mb=3, budget_mb=48, spinner=N_("Solving the transport problems..."))
def run(preset, n, epsilon, order):
    res = otl.transport_lesson(preset, n, epsilon, order)
    return res, {"exact": plots.plan_figure(res, "exact"), "sinkhorn": plots.plan_figure(res, "sinkhorn"),
                 "iters": plots.iterations_figure(res), "eps": plots.epsilon_figure(res),
                 "div": plots.divergence_figure(res)}


with st.sidebar:
    st.subheader(_("Teacher p and student q"))
    n = ui.url.slider(_("Support points (on [0, 1])"), 20, 60, 40, 5, key="ot_n")
    st.subheader(_("Transport"))
    order = ui.url.choice(_("Ground cost |x − y|^r, r ="), [1, 2], index=1, key="ot_order", horizontal=True,
                          help=_("r = 1: when all mass moves the same way, many plans are optimal (the exact "
                                 "solver shows one of them) and ⟨Γ, C⟩ hardly depends on ε; r = 2: the "
                                 "optimal plan is unique"))

ui.lesson_header(
    _("Optimal transport and Sinkhorn"),
    _("The exact plan moves the teacher's mass p onto the student's q at the least cost; Sinkhorn adds "
      "entropy, which **blurs** the plan and makes it fast and differentiable. **Look at** the plan as "
      "ε grows, at the Sinkhorn distance approaching the exact W as ε shrinks, at the **bias** "
      "W_ε(p, p) > 0, and at the two ways to remove it."),
    formulas=("wasserstein", "sinkhorn", "sinkhorn_div"))
ui.guide("optimal_transport")


@st.fragment
def lesson(n, order):
    """The main controls and everything they change: moving them reruns only this part of the page."""
    left, right = ui.main_controls(2)
    with left:
        preset = ui.url.choice(_("Histograms"), list(otl.PRESETS), key="ot_preset", widget=st.selectbox,
                               format_func=lambda k: _(otl.PRESETS[k][0]))
    with right:
        epsilon = ui.url.choice(_("ε = 1/λ (log scale; max cost = 1)"), EPSILONS, key="ot_eps",
                                widget=st.select_slider, value=otl.DEFAULT_EPSILON,
                                format_func=lambda e: f"{e:g}")

    config = dict(preset=preset, n=n, epsilon=epsilon, order=order)
    res, figs = run(**config)
    run.prefetch(config, "epsilon", sorted(EPSILONS, key=lambda e: abs(math.log(e / epsilon))))  # next moves

    left, right = st.columns(2)
    with left:
        ui.main_chart(figs["sinkhorn"], key="ot_sinkhorn")
    with right:
        st.plotly_chart(figs["exact"], key="ot_exact")
    if not res.converged:
        st.warning(_("At ε = {eps:g} Sinkhorn has not converged after {n} iterations: the plan's marginals "
                     "are off by up to {error:.1e} (l1), so the numbers are those of an unfinished plan; a "
                     "larger ε converges faster.").format(eps=epsilon, n=res.n_iter, error=res.errors.max()))

    # the numbers in one row that wraps where it does not fit (a phone, presentation mode's large type):
    # each keeps its whole label, which five equal columns would cut
    with st.container(horizontal=True, horizontal_alignment="distribute", key="ot_numbers"):
        st.metric(_("Exact W(p, q)"), f"{res.wasserstein:.4g}", width="content")
        st.metric("Sinkhorn W_ε(p, q)", f"{res.sinkhorn:.4g}",
                  help=_("⟨Γ_ε, C⟩, the seed's Sinkhorn distance"), width="content")
        st.metric(_("Bias W_ε(p, p)"), f"{res.linear[1]:.3g}", help=_("> 0 although p = p"), width="content")
        st.metric(_("Seed's debiased"), f"{res.div_linear:.4g}", width="content")
        st.metric(_("Feydy's debiased"), f"{res.div_entropic:.4g}", width="content")

    with ui.secondary(_("Sinkhorn, iteration by iteration")):
        st.markdown(_("The seed's Sinkhorn iteration (computed with logarithms of u and v, which stay finite "
                      "even when e^(−C/ε) underflows for small ε):"))
        st.latex(r"\begin{gathered}u^{l+1}=\frac{P}{K v^{l}},\quad v^{l+1}=\frac{Q}{K^{\top}u^{l+1}},\\ "
                 r"K=e^{-\lambda C},\quad\Gamma=\mathrm{diag}(u)\,K\,\mathrm{diag}(v),\\ "
                 r"W_\lambda(P,Q)=\langle\Gamma,C\rangle,\quad\varepsilon=1/\lambda\end{gathered}")
        st.plotly_chart(figs["iters"], key="ot_iters")
        st.caption(_("{n} iterations at ε = {eps:g}; the early iterations change most, so more frames show "
                     "them. After each u-update the rows sum to p exactly; the bars on top are the columns' "
                     "sums, converging to q (the line); the slider shows each frame's iteration and l1 error "
                     "‖Γᵀ1 − q‖₁. Colours are scaled to the last plan: early plans, more concentrated, "
                     "saturate.").format(n=res.n_iter, eps=epsilon))

    with ui.secondary(_("Sinkhorn against ε")):
        left, right = st.columns(2)
        with left:
            st.plotly_chart(figs["eps"], key="ot_eps_fig")
        with right:
            st.plotly_chart(figs["div"], key="ot_div_fig")
        st.caption(_("{count} values of ε, each solving the pairs (p, q), (p, p) and (q, q) together. Open "
                     "markers: not converged within 1000 iterations ({bad} here; small ε converges slowly). "
                     "Dotted line: the ε above.").format(count=len(res.eps_grid),
                                                         bad=int((~res.sweep_converged).sum())))
        st.markdown(_(
            "**Two 'unbiased Sinkhorn divergences'.** The seed debiases the *linear* Sinkhorn distance: "
            "W_ε(p,q) − ½W_ε(p,p) − ½W_ε(q,q) with W_ε = ⟨Γ_ε, C⟩. Feydy et al. (2019) debias OT_ε = ⟨Γ_ε, "
            "C⟩ + ε KL(Γ_ε ‖ p⊗q), which includes the entropy term. Feydy's version is proven ≥ 0 and 0 only "
            "when p = q; the seed's comes with no such guarantee: it is 0 at p = q, but nothing prevents it "
            "from dipping slightly below 0 (on these 1-D presets it stays ≥ 0; its minimum over the sweep "
            "here is {minimum:.3g}). Both tend to W as ε → 0; as ε grows they shrink towards a smooth "
            "comparison of the two histograms' overall shapes (a kernel distance), no longer a transport "
            "cost.").format(minimum=otl.debias(res.sweep_linear).min()))
        st.markdown(_(
            "**SinKD** (Cui et al. 2024) distils with a Sinkhorn distance between the samples of a batch: a "
            "b×b cost of L1 distances between student and teacher probability vectors, 20 plain Sinkhorn "
            "normalisations at ε = 0.1, loss weight about 0.001, O(b²(d+T)) as in the seed's table."))
    ui.takeaway(otl.takeaway(res))

    csv, data = res.export()
    ui.downloads("kdviz_optimal_transport", key="ot_dl", csv=csv, data=data, config=config)


lesson(n, order)
