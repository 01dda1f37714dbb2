"""Lesson: head vs tail (AKL, Wu et al. 2024, Fig. 2). Widgets -> one cached fit -> figures."""

import streamlit as st

import ui
from kdviz.divergences import get_spec
from kdviz.experiments import head_tail as ht
from kdviz.plots import head_tail as plots

LRS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
LARGE_LR = {"adam": 1.0, "sgd": 30.0}  # above these the fits oscillate or blow up on these toys


@ui.cached(entry_mb=45, budget_mb=360, spinner="Fitting the students...")
def run(preset, names, n_classes, zipf_exponent, dirichlet_seed, values, init, seed, optimizer, lr, steps,
        mu):
    res = ht.head_tail(preset, names, n_classes=n_classes, zipf_exponent=zipf_exponent,
                       dirichlet_seed=dirichlet_seed, values=values, init=init, seed=seed,
                       optimizer=optimizer, lr=lr, steps=steps, mu=mu)
    return res, {"errors": plots.error_curves(res), "weights": plots.weights_figure(res),
                 "tvd": plots.tvd_figure(res), "anim": plots.animation_figure(res)}


@ui.cached(entry_mb=0.5, budget_mb=8, spinner="Fitting 20 random teachers...")
def many(init, seed, optimizer, lr, n, mu):
    res = ht.many_teachers(n, init=init, seed=seed, optimizer=optimizer, lr=lr, mu=mu)
    return res, {"teachers": plots.teachers_figure(res)}


def setting(optimizer, lr):
    """A button's callback: the optimiser and learning rate of one of the two settings."""
    st.session_state.update(ht_opt=optimizer, ht_lr=lr)


@ui.cached(entry_mb=4, budget_mb=32)
def step_figure(config: dict, kind: str, step: int):
    """A figure of a cached run that also depends on a step slider: the bars at step 1 and ``step``,
    or the head share over the first ``step`` steps."""
    res, _ = run(**config)
    return None, {kind: plots.bars_figure(res, 1, step) if kind == "bars" else plots.share_figure(res, step)}


@st.fragment
def paper_panels(res, config):
    """The step-N slider reruns only this part of the page."""
    compare = ui.url.slider("Compare step 1 with step", 1, res.steps, res.steps, key="ht_compare")
    shown = int(res.fit.frame_steps[res.frame_index(compare)])
    if shown != compare:
        st.caption(f"Only {len(res.fit.frame_steps)} snapshots are kept for this size; showing step {shown}.")
    st.plotly_chart(step_figure(config, "bars", compare)[1]["bars"], key="ht_bars")


with st.sidebar:
    st.subheader("Teacher")
    teacher = ui.discrete_teacher("ht")
    with st.expander("Your own teacher (CSV / NPY)"):
        values = ui.teacher_upload("ht")
    st.subheader("Student and optimiser")
    names = ui.divergence_picker("ht_divs", ht.DIVERGENCE_OPTIONS, ht.DEFAULT_DIVERGENCES)
    init = ui.url.choice("Student start", ["random", "uniform"], key="ht_init", horizontal=True, index=1,
                         help="random: logits uniform in [0, 1) from the seed (the paper); uniform: all "
                              "logits 0")
    seed = int(ui.url.number("Student seed", 0, 10_000, 1, key="ht_seed"))
    optimizer, lr, steps = ui.optimiser("ht", lrs=LRS, steps=(10, 1000, 200, 10), choices=("sgd", "adam"),
                                        lr=1.0)
    mu = ui.url.slider("Head mass μ_AKL", 0.05, 0.95, 0.5, 0.05, key="ht_mu",
                       help="head = the most likely classes holding the first μ_AKL of the teacher's mass")

ui.lesson_header(
    "Head vs tail (AKL)",
    "A softmax student with free logits learns a discrete teacher from the same start under each "
    f"divergence (AKL's Fig. 2 toy: 50 classes, {ht.optimiser_words(optimizer, lr)}, {steps} steps). **Look "
    "at** the bars after 1 step and after N steps, then at how the error splits between the teacher's "
    "**head** (dark bars: the likely classes holding the first μ_AKL of the mass) and its **tail**: all "
    "reach p, but forward KL spends more of its early progress on the head and reverse KL on the tail.",
    formulas=names or ht.DEFAULT_DIVERGENCES)
ui.guide("head_tail")
claim, contrast = st.columns(2)
claim.button("The claim: SGD, lr 1", on_click=setting, args=("sgd", 1.0), key="ht_claim",
             help="Plain gradient steps: a logit moves in proportion to its gradient.")
contrast.button("The contrast: Adam, lr 0.1 (AKL's optimiser)", on_click=setting, args=("adam", 0.1),
                key="ht_contrast", help="Adam divides each step by the gradient's running size.")
st.caption("Adam divides every logit's step by the size of its own gradient, so its first steps move all "
           "logits by about the learning rate whatever the divergence: the head/tail difference shrinks.")
if values is not None:
    st.success(f"Teacher: your file ({len(values)} classes).")
if not names:
    st.warning("Pick at least one divergence in the sidebar.")
    st.stop()
ui.warn_lr(lr, optimizer, LARGE_LR)

config = dict(**teacher, names=names, values=values, init=init, seed=seed, optimizer=optimizer, lr=lr,
              steps=steps, mu=mu)
res, figs = run(**config)
bad = [f"{get_spec(nm).label} (step {t})" for nm, t in zip(res.names, res.fit.diverged_at) if t >= 0]
if bad:
    zeros = int((res.p == 0).sum())
    why = f" The teacher has {zeros} classes with p = 0, where reverse-KL terms are infinite."
    st.warning(f"Non-finite loss, curves frozen from there: {', '.join(bad)}.{why if zeros else ''}")
if res.head_mask.all():
    st.warning(f"With μ_AKL = {mu:g} every class is head: there is no tail to compare.")

st.subheader("The paper's panels: step 1 vs step N")
paper_panels(res, config)

st.subheader("Where does the error go?")
st.plotly_chart(figs["errors"], key="ht_errors")
share_n = ui.url.slider("Head share over the first n steps", 1, min(steps, 100), min(10, steps),
                        key="ht_share_n")
chart, text = st.columns([3, 2])
chart.plotly_chart(step_figure(config, "share", share_n)[1]["share"], key="ht_share")
teachers, tfig = many(init, seed, optimizer, lr, share_n, mu)
text.plotly_chart(tfig["teachers"], key="ht_teachers")
ui.takeaway(ht.takeaway(res, share_n, teachers))

left, right = st.columns(2)
left.plotly_chart(figs["weights"], key="ht_weights")
right.plotly_chart(figs["tvd"], key="ht_tvd")
st.subheader("Animation")
st.plotly_chart(figs["anim"], key="ht_anim")

csv, data = res.export(share_n)
ui.downloads("kdviz_head_tail", key="ht_dl", csv=csv, data=data,
             config=config | dict(preset=teacher["preset"] if values is None else "upload",
                                  share_steps=share_n))
