"""Lesson: mode seeking vs mean seeking (MiniLLM Fig. 2). Widgets -> one cached fit -> figures."""

import numpy as np
import streamlit as st

import ui
from kdviz.divergences import DIVERGENCES
from kdviz.experiments import mode_seeking as ms
from kdviz.plots import mode_seeking as plots

LRS = (0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0, 3.0)
LARGE_LR = {"adam": 0.3, "sgd": 1.0}  # above these the fits oscillate or blow up on these toys
STD_MIN, SIGMA0_MIN = 0.25, 0.2  # slider minima (at ~0.04 grid spacing: 5-6 points per std)
# Widget defaults of the four components: the bimodal preset, then two spare components.
COMPONENTS = [*zip(*ms.PRESETS["MiniLLM-style bimodal"]), (0.3, 0.0, 1.0), (0.2, 6.0, 0.5)]


@st.cache_resource(max_entries=ui.CACHE_ENTRIES, show_spinner="Fitting the students...")
def run(weights, means, stds, mu0, sigma0, names, steps, lr, optimizer, fixed_sigma, landscape_name):
    """The fit and every figure made from it, once per configuration, shared read-only by all
    sessions: a classroom moving the same slider to the same values builds each figure once."""
    res = ms.mode_seeking(weights, means, stds, mu0, sigma0, names, steps=steps, lr=lr, optimizer=optimizer,
                          fixed_sigma=fixed_sigma, landscape_name=landscape_name)
    return res, ui.ship({"anim": plots.fit_animation(res), "final": plots.final_fits(res),
                         "loss_log": plots.loss_curves(res), "loss_normalised": plots.loss_curves(res, normalised=True),
                         "params": plots.parameter_paths(res), "landscape": plots.landscape_figure(res)})


@st.fragment
def loss_section(figs):
    """The loss-axis switch reruns only this part of the page."""
    scale = st.radio("Loss axis", ["log", "normalised"], key="ms_loss_scale", bind="query-params", horizontal=True,
                     format_func={"log": "D(p, q) on a log axis", "normalised": "gap to the minimum, normalised"}.get)
    st.plotly_chart(figs[f"loss_{scale}"], key="ms_loss")


TEACHER_KEYS = ["ms_k", *(f"ms_{c}{i}" for c in "wms" for i in range(1, ms.MAX_COMPONENTS + 1))]


def apply_preset(name=None):
    """Fill the teacher controls from the chosen preset (runs before the widgets are created)."""
    weights, means, stds = ms.PRESETS[name or st.session_state.ms_preset]
    st.session_state.ms_k = len(weights)
    for i, (w, m, s) in enumerate(zip(weights, means, stds), 1):
        st.session_state[f"ms_w{i}"], st.session_state[f"ms_m{i}"], st.session_state[f"ms_s{i}"] = w, m, s


if "ms_started" not in st.session_state:  # first run: a URL naming only a preset gets that preset's teacher
    st.session_state.ms_started = True
    if st.query_params.get("ms_preset") in ms.PRESETS and not any(k in st.query_params for k in TEACHER_KEYS):
        apply_preset(st.query_params["ms_preset"])

with st.sidebar:
    st.subheader("Teacher: a Gaussian mixture")
    st.selectbox("Preset", list(ms.PRESETS), key="ms_preset", bind="query-params", on_change=apply_preset,
                 help="Fills the controls below. The MiniLLM paper gives no mixture parameters: these are ours.")
    k = st.slider("Components", 1, ms.MAX_COMPONENTS, 2, key="ms_k", bind="query-params")
    weights, means, stds = [], [], []
    for i in range(1, k + 1):
        w0, m0, s0 = COMPONENTS[i - 1]
        c1, c2, c3 = st.columns(3)
        weights.append(c1.number_input(f"weight {i}", 0.0, 1.0, w0, 0.05, key=f"ms_w{i}", bind="query-params"))
        means.append(c2.number_input(f"mean {i}", -8.0, 8.0, m0, 0.25, key=f"ms_m{i}", bind="query-params"))
        stds.append(c3.number_input(f"std {i}", STD_MIN, 3.0, s0, 0.05, key=f"ms_s{i}", bind="query-params"))
    st.subheader("Student: one Gaussian")
    mu0 = st.slider("start mean μ₀", -8.0, 8.0, ms.DEFAULT_START[0], 0.1, key="ms_mu0", bind="query-params")
    sigma0 = st.slider("start std σ₀", SIGMA0_MIN, 6.0, ms.DEFAULT_START[1], 0.1, key="ms_sigma0",
                       bind="query-params")
    fixed = st.checkbox("Fixed variance (fit the mean only)", key="ms_fixed", bind="query-params")
    names = tuple(ui.divergence_picker("ms_divs", ms.CHOICES, ms.DEFAULT_NAMES))
    st.caption("Sinkhorn and the Sinkhorn divergence are left out: their inner loop makes fits on the "
               "512-point grid take minutes (see the optimal-transport lesson).")
    st.subheader("Optimiser")
    optimizer = st.radio("Optimiser", ["adam", "sgd"], key="ms_opt", bind="query-params", horizontal=True,
                         format_func={"adam": "Adam", "sgd": "SGD"}.get)
    lr = st.select_slider("Learning rate", LRS, value=0.1, key="ms_lr", bind="query-params")
    steps = st.slider("Steps", 50, 1000, 200, 50, key="ms_steps", bind="query-params")

ui.lesson_header(
    "Mode seeking vs mean seeking",
    "One Gaussian student is fitted to a Gaussian-mixture teacher under each divergence, all from the same "
    "start (MiniLLM's Fig. 2; the paper gives no parameters, the presets are ours). **Look at** where each "
    "student ends: forward KL must put mass wherever the teacher has some, so it spreads over all modes; "
    "reverse KL is punished for mass where the teacher has none, so it locks onto one mode. The loss "
    "landscape at the bottom shows why the start matters.",
    formulas=names or ms.DEFAULT_NAMES)

if not names:
    st.warning("Pick at least one divergence in the sidebar.")
    st.stop()
if sum(weights) <= 0:
    st.error("The teacher needs a positive weight on at least one component (all weights are 0).")
    st.stop()
main, bottom = st.container(), st.container()  # the landscape's selectbox must exist before the fit
with bottom:
    st.subheader("Loss landscape over (μ, σ)")
    landscape_name = st.selectbox("Landscape of", ms.CHOICES, index=ms.CHOICES.index("rkl"), key="ms_land",
                                  bind="query-params", format_func=lambda n: DIVERGENCES[n].label)
res, figs = run(tuple(weights), tuple(means), tuple(stds), mu0, sigma0, names, steps, lr, optimizer, fixed,
                landscape_name)

with main:
    if res.mass_outside > 1e-3:
        st.warning(f"{res.mass_outside:.1%} of the teacher's mass lies outside the grid [−10, 10]; the grid "
                   "teacher is cut there, so its moments differ from the mixture's.")
    if min(stds) <= STD_MIN:
        st.warning(f"A component std is at the minimum ({STD_MIN}): only about {STD_MIN / 0.039:.0f} grid points "
                   "per std, the discretised densities are coarse.")
    if sigma0 <= SIGMA0_MIN:
        st.warning(f"The start std σ₀ = {sigma0} is at the minimum: very narrow students have huge reverse-KL "
                   "gradients at the first steps.")
    if lr > LARGE_LR[optimizer]:
        st.warning(f"Learning rate {lr:g} is large for {optimizer.upper()}: the fits may oscillate or diverge.")
    bad = [f"{DIVERGENCES[n].label} (step {t})" for n, t in zip(res.names, res.diverged_at) if t >= 0]
    if bad:
        st.warning(f"Diverged (a non-finite loss, or the student left the grid: σ < {ms.SIGMA_RANGE[0]:.2g}, "
                   f"σ > {ms.SIGMA_RANGE[1]:g} or |μ| > {ms.MU_MAX:g}); curves frozen from there: {', '.join(bad)}. "
                   "Lower the learning rate.")
    moving = res.still_moving()
    if moving:
        st.caption(f"Still moving at the last step: {', '.join(DIVERGENCES[n].label for n in moving)}. "
                   "More steps (or a larger learning rate) would move them further.")

    st.subheader("The fit, step by step")
    st.plotly_chart(figs["anim"], key="ms_anim")

    left, right = st.columns([5, 4])
    with left:
        st.plotly_chart(figs["final"], key="ms_final")
    with right:
        st.markdown("**Final students vs the teacher's moments**")
        rows = [{"": DIVERGENCES[n].label, "μ": res.final_mu[k], "σ": res.final_sigma[k],
                 "grid mean": res.q_mean[k], "grid std": res.q_std[k]} for k, n in enumerate(res.names)]
        rows.append({"": "teacher", "μ": res.mixture_mean, "σ": res.mixture_std,
                     "grid mean": res.grid_mean, "grid std": res.grid_std})
        st.dataframe(rows, hide_index=True, column_config={c: st.column_config.NumberColumn(format="%.2f")
                                                           for c in ("μ", "σ", "grid mean", "grid std")})
        st.caption("μ, σ: the fitted parameters (teacher: the mixture's mean and std); grid mean/std: the "
                   "moments of the distribution on the grid, which cuts a wide student at ±10. Forward KL's "
                   "optimum matches the teacher's moments.")
    ui.takeaway(ms.takeaway(res, means))

    st.subheader("Loss and parameters")
    loss_section(figs)
    st.plotly_chart(figs["params"], key="ms_params")

bottom.plotly_chart(figs["landscape"], key="ms_landscape")
bottom.caption(f"{DIVERGENCES[landscape_name].label} for every Gaussian N(μ, σ²) on a {len(res.land_mus)}×"
               f"{len(res.land_sigmas)} grid. Star: global minimum; ×: other local minima (grid points lower "
               f"than their 8 neighbours); line: this divergence's own optimisation path from the start circle. "
               f"{len(res.local_minima)} minim{'um' if len(res.local_minima) == 1 else 'a'} found.")

steps_axis = np.arange(res.loss.shape[1])
ui.downloads("kdviz_mode_seeking", key="ms_dl", csv={
    "divergence": res.names, "mu": res.final_mu, "sigma": res.final_sigma, "mean_on_grid": res.q_mean,
    "std_on_grid": res.q_std, "final_loss": res.loss[:, -1], "diverged_at": res.diverged_at}, data={
    "config": dict(weights=weights, means=means, stds=stds, mu0=mu0, sigma0=sigma0, divergences=names,
                   optimizer=optimizer, lr=lr, steps=steps, fixed_sigma=fixed, grid=[-10, 10, len(res.x)]),
    "teacher": dict(mean=res.mixture_mean, std=res.mixture_std, grid_mean=res.grid_mean, grid_std=res.grid_std),
    "trajectories": {n: dict(step=steps_axis, loss=res.loss[k], mu=res.mu[k], sigma=res.sigma[k])
                     for k, n in enumerate(res.names)},
    "landscape": dict(divergence=res.landscape_name, mus=res.land_mus, sigmas=res.land_sigmas,
                      values=res.land_values, local_minima=res.local_minima, global_min=res.global_min)})
