"""Home: what a KD loss is, the catalogue of divergences (from the registry), the map of lessons."""

import pandas as pd
import streamlit as st

from kdviz.divergences import DIVERGENCES

st.title("kdviz: divergences as distillation losses")
st.markdown(
    r"""
In knowledge distillation (KD) a small **student** model learns from a large **teacher**. At every
position of a sequence the teacher gives a distribution $p$ over the vocabulary and the student
gives $q_\theta$; the loss is a divergence $D(p, q_\theta)$, teacher first and student second, and
training moves $\theta$ to make it small.

All divergences vanish when $q_\theta = p$, but a student is smaller than its teacher and rarely
gets there. *Which* mismatch a divergence tolerates decides what the student becomes: forward KL
punishes missing any token the teacher likes (the student spreads out over every mode), reverse KL
punishes putting mass where the teacher has none (the student picks one mode), JSD and TVD are
bounded and gentler on rare tokens, skew KL and AKL reshape the gradient, and optimal-transport
distances also look at *how far* the mass is from where it should be.

For LLMs these choices are not academic: vocabularies have tens of thousands of tokens with long
tails, training budgets are a few epochs, and the papers behind each divergence report different
winners. The lessons below make each claim visible on toy problems you can change.
""")

st.header("The divergences")
st.caption("Every page builds its selectors, formulas and colours from this one registry "
           "(`kdviz.divergences.DIVERGENCES`).")


def _params(spec) -> str:
    parts = []
    for prm in spec.params:
        rng = ("{" + ", ".join(f"{c:g}" for c in prm.choices) + "}" if prm.choices
               else f"{'(' if prm.low_open else '['}{prm.low:g}, {prm.high:g}]")
        parts.append(f"{prm.name} = {prm.default:g} in {rng}")
    parts += [f"{flag} (on/off)" for flag in sorted(spec.flags)]
    return "; ".join(parts) or "none"


catalogue = pd.DataFrame([{
    "name": spec.name, "label": spec.label, "parameters": _params(spec),
    "symmetric": "yes" if spec.symmetric else "no", "bounded": spec.bounded or "no",
    "behaviour": spec.behaviour, "source": spec.source, "formula (LaTeX)": spec.latex,
} for spec in DIVERGENCES.values()])
# A static table: every cell wraps and is readable without scrolling (formulas rendered below).
st.table(catalogue.drop(columns="formula (LaTeX)").set_index("name"))
st.download_button("Download the catalogue with the LaTeX formulas (CSV)", catalogue.to_csv(index=False),
                   "kdviz_divergences.csv",
                   "text/csv", key="home_csv")

with st.expander("Formulas", expanded=False):
    for spec in DIVERGENCES.values():
        st.markdown(f"<span style='color:{spec.color};font-size:1.3em'>■</span> "
                    f"**{spec.label}** (`{spec.name}`): {spec.behaviour}.", unsafe_allow_html=True)
        st.latex(spec.latex)

st.header("The lessons")
LESSONS = [  # (page file, what it shows); titles and icons come from the navigation in app.py
    ("pages/mode_seeking.py", "fit one Gaussian to a two-peaked teacher: forward KL covers both peaks, "
                              "reverse KL locks onto one (MiniLLM's Figure 2), live and animated."),
    ("pages/head_tail.py", "free softmax students on a long-tailed teacher: both KLs reach the same end, but "
                           "forward KL fixes the head first and reverse KL the tail; AKL weighs the two."),
    ("pages/gradients.py", "the per-token gradient coefficient of each loss (1/q for KL, 1/p and a cut-off for "
                           "TVD, the tamed skew KL): why rare tokens dominate some losses."),
    ("pages/outliers.py", "a teacher with a small far-away outlier: KL drags the student towards it, TVD "
                          "barely moves."),
    ("pages/overlap.py", "two distributions pulled apart: JSD saturates at log 2 and its gradient vanishes, "
                         "Wasserstein keeps growing with the distance."),
    ("pages/optimal_transport.py", "the transport plan, exact and entropic, Sinkhorn's iterations frame by "
                                   "frame, and the bias that the unbiased Sinkhorn divergence removes."),
    ("pages/paper_results.py", "the AKL, DistiLLM and SinKD tables as charts, with the seed's conclusions."),
    ("pages/playground.py", "every control of every lesson on one page: your teacher, your student, any "
                            "divergences and parameters."),
]
for path, what in LESSONS:
    c1, c2 = st.columns([1, 2], vertical_alignment="center")
    c1.page_link(path)
    c2.markdown(what)
