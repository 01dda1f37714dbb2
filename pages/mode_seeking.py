"""Lesson: mode seeking vs mean seeking (MiniLLM Fig. 2). Widgets -> one cached fit -> figures."""

import streamlit as st

import ui
from kdviz.divergences import DIVERGENCES
from kdviz.experiments import GRID, MU_MAX, SIGMA_RANGE
from kdviz.experiments import mode_seeking as ms
from kdviz.plots import mode_seeking as plots

LRS = (0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0, 3.0)
LARGE_LR = {"adam": 0.3, "sgd": 1.0}  # above these the fits oscillate or blow up on these toys
STD_MIN, SIGMA0_MIN = 0.25, 0.2  # slider minima (at the grid's spacing: 5-6 points per std)


@ui.cached(entry_mb=6, budget_mb=360, spinner="Fitting the students...")
def run(weights, means, stds, mu0, sigma0, names, steps, lr, optimizer, fixed_sigma, landscape_name):
    res = ms.mode_seeking(weights, means, stds, mu0, sigma0, names, steps=steps, lr=lr, optimizer=optimizer,
                          fixed_sigma=fixed_sigma, landscape_name=landscape_name)
    return res, {"anim": plots.fit_animation(res), "final": plots.final_fits(res),
                 "loss_log": plots.loss_curves(res),
                 "loss_normalised": plots.loss_curves(res, normalised=True),
                 "params": plots.parameter_paths(res),
                 "landscape": plots.landscape_figure(res),
                 "landscape_many": plots.landscape_figure(res, many=True)}


@st.fragment
def loss_section(figs):
    """The loss-axis switch reruns only this part of the page."""
    scale = ui.url.choice("Loss axis", ["log", "normalised"], key="ms_loss_scale", horizontal=True,
                          format_func={
        "log": "D(p, q) on a log axis", "normalised": "gap to the minimum, normalised"}.get)
    st.plotly_chart(figs[f"loss_{scale}"], key="ms_loss")


with st.sidebar:
    st.subheader("Teacher: a Gaussian mixture")
    weights, means, stds = ui.mixture_teacher("ms", max_components=ms.MAX_COMPONENTS, means=(-8.0, 8.0),
                                              stds=(STD_MIN, 3.0), presets=ms.PRESETS)
    st.subheader("Student: one Gaussian")
    mu0 = ui.url.slider("start mean μ₀", -8.0, 8.0, ms.DEFAULT_START[0], 0.1, key="ms_mu0")
    sigma0 = ui.url.slider("start std σ₀", SIGMA0_MIN, 6.0, ms.DEFAULT_START[1], 0.1, key="ms_sigma0")
    fixed = ui.url.checkbox("Fixed variance (fit the mean only)", key="ms_fixed")
    names = ui.divergence_picker("ms_divs", ms.CHOICES, ms.DEFAULT_NAMES)
    st.caption(f"Sinkhorn and the Sinkhorn divergence are left out: their inner loop makes fits on the "
               f"{GRID.n}-point grid take minutes (see the optimal-transport lesson).")
    st.subheader("Optimiser")
    optimizer, lr, steps = ui.optimiser("ms", lrs=LRS, steps=(50, 1000, 200, 50))

ui.lesson_header(
    "Mode seeking vs mean seeking",
    "One Gaussian student is fitted to a Gaussian-mixture teacher under each divergence, all from the same "
    "start (MiniLLM's Fig. 2; the paper gives no parameters, the presets are ours). **Look at** where each "
    "student ends: forward KL must put mass wherever the teacher has some, so it spreads over all modes; "
    "reverse KL is punished for mass where the teacher has none, so it locks onto one mode. The loss "
    "landscape at the bottom shows why the start matters: switch on *many starts* to see where "
    f"{ms.N_STARTS} random starts end.",
    formulas=names or ms.DEFAULT_NAMES)
ui.guide("mode_seeking")
if not names:
    st.warning("Pick at least one divergence in the sidebar.")
    st.stop()
if sum(weights) <= 0:
    st.error("The teacher needs a positive weight on at least one component (all weights are 0).")
    st.stop()
main, bottom = st.container(), st.container()  # the landscape's selectbox must exist before the fit
with bottom:
    st.subheader("Loss landscape over (μ, σ)")
    landscape_name = ui.url.choice("Landscape of", ms.CHOICES, key="ms_land", widget=st.selectbox,
                                   index=ms.CHOICES.index("rkl"), format_func=lambda n: DIVERGENCES[n].label)
config = dict(weights=weights, means=means, stds=stds, mu0=mu0, sigma0=sigma0, names=names, steps=steps,
              lr=lr,
              optimizer=optimizer, fixed_sigma=fixed, landscape_name=landscape_name)
res, figs = run(**config)

with main:
    if res.mass_outside > 1e-3:
        st.warning(f"{res.mass_outside:.1%} of the teacher's mass lies outside the grid [{GRID.low:g}, "
                   f"{GRID.high:g}];"
                   " the grid teacher is cut there, so its moments differ from the mixture's.")
    if min(stds) <= STD_MIN:
        st.warning(f"A component std is at the minimum ({STD_MIN}): only about {STD_MIN / GRID.step:.0f} "
                   f"grid "
                   "points per std, the discretised densities are coarse.")
    if sigma0 <= SIGMA0_MIN:
        st.warning(f"The start std σ₀ = {sigma0} is at the minimum: very narrow students have huge "
                   f"reverse-KL "
                   "gradients at the first steps.")
    ui.warn_lr(lr, optimizer, LARGE_LR)
    bad = [f"{DIVERGENCES[n].label} (step {t})" for n, t in zip(res.names, res.diverged_at) if t >= 0]
    if bad:
        st.warning(f"Diverged (a non-finite loss, or the student left the grid: σ < {SIGMA_RANGE[0]:.2g}, "
                   f"σ > {SIGMA_RANGE[1]:g} or |μ| > {MU_MAX:g}); curves frozen from there: "
                   f"{', '.join(bad)}. "
                   "Lower the learning rate.")
    if moving := res.still_moving():
        st.caption(f"Still moving at the last step: {', '.join(DIVERGENCES[n].label for n in moving)}. "
                   "More steps (or a larger learning rate) would move them further.")

    st.subheader("The fit, step by step")
    st.plotly_chart(figs["anim"], key="ms_anim")
    left, right = st.columns([5, 4])
    left.plotly_chart(figs["final"], key="ms_final")
    with right:
        st.markdown("**Final students vs the teacher's moments**")
        rows = [{"": DIVERGENCES[n].label, "μ": ms._n(res.final_mu[k]), "σ": ms._n(res.final_sigma[k]),
                 "mean on the axis": ms._n(res.q_mean[k]), "std on the axis": ms._n(res.q_std[k])}
                for k, n in enumerate(res.names)]
        rows.append({"": "teacher", "μ": ms._n(res.mixture_mean), "σ": ms._n(res.mixture_std),
                     "mean on the axis": ms._n(res.grid_mean), "std on the axis": ms._n(res.grid_std)})
        st.dataframe(rows, hide_index=True)
        st.caption(f"μ, σ: the fitted parameters (teacher: the mixture's mean and std); mean and std on the "
                   f"axis: the moments of the density drawn, which stops at ±{GRID.high:g} and so cuts a "
                   "wide student. Forward KL's optimum matches the teacher's moments.")
    ui.takeaway(ms.takeaway(res, means))
    st.subheader("Loss and parameters")
    loss_section(figs)
    st.plotly_chart(figs["params"], key="ms_params")

with bottom:
    many = ui.url.checkbox(f"Many starts: {ms.N_STARTS} random starts and where each ends", key="ms_many",
                           value=True)
    st.plotly_chart(figs["landscape_many" if many else "landscape"], key="ms_landscape")
    st.caption(f"{DIVERGENCES[landscape_name].label} for every Gaussian N(μ, σ²) on a {len(res.land_mus)}×"
               f"{len(res.land_sigmas)} grid. Star: global minimum (every minimum tied with the lowest is a "
               "star); ×: other local minima (points lower than their 8 neighbours); line: this divergence's "
               f"own path from the start circle. {len(res.local_minima)} "
               f"minim{'um' if len(res.local_minima) == 1 else 'a'} found.")
    st.markdown(ms.many_starts_text(res))
csv, data = res.export()
ui.downloads("kdviz_mode_seeking", key="ms_dl", csv=csv, data=data, config=config)
