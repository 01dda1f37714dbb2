"""Home: what a KD loss is, the catalogue of divergences (from the registry), the map of lessons."""

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

import ui
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
ui.downloads("kdviz_divergences", key="home_dl", csv={c: catalogue[c].tolist() for c in catalogue.columns})
st.caption("The CSV includes each divergence's LaTeX formula.")

with st.expander("Formulas", expanded=False):
    for spec in DIVERGENCES.values():
        st.markdown(f"<span style='color:{spec.color};font-size:1.3em'>■</span> "
                    f"**{spec.label}** (`{spec.name}`): {spec.behaviour}.", unsafe_allow_html=True)
        st.latex(spec.latex)

st.header("The lessons")
LESSONS = [  # (page file, what it shows); titles and icons come from the navigation in app.py
    ("pages/mode_seeking.py",
     "one Gaussian fitted to a Gaussian mixture: forward KL spreads over every mode, "
                              "reverse KL locks onto one (MiniLLM's Figure 2); the loss landscape over (μ, "
                              "σ) "
                              "shows why the start matters."),
    ("pages/head_tail.py",
     "free softmax students on a discrete teacher: all reach p, but forward KL spends its "
                           "early progress on the head and reverse KL on the tail (AKL's Figure 2)."),
    ("pages/gradients.py",
     "each loss's per-token gradient coefficient as the student's probability of a token "
                           "goes to 0, and which classes of a real student get the largest push."),
    ("pages/outliers.py",
     "a teacher with a small bump far away: forward KL stretches to cover it, TVD and skew "
                          "KL give it up; robustness curves over the bump's weight."),
    ("pages/overlap.py", "the student slid away from the teacher: JSD climbs to log 2 and goes flat once the "
                         "supports stop overlapping, Wasserstein keeps growing with the distance."),
    ("pages/optimal_transport.py", "the exact and the entropic transport plan, Sinkhorn's ε, the bias "
                                   "W_ε(p, p) > 0 and the two ways to remove it."),
    ("pages/llm_logits.py", "the same divergences as kd_loss on a batch of LLM-shaped logits, with a mask and a "
                            "temperature: per-token values side by side."),
    ("pages/paper_results.py", "the AKL, DistiLLM and SinKD tables as charts, with the seed's conclusions."),
    ("pages/playground.py", "every control of every lesson on one page: your teacher, your student, any "
                            "divergences and parameters."),
]
for path, what in LESSONS:
    c1, c2 = st.columns([1, 2], vertical_alignment="center")
    try:
        c1.page_link(path)
    except StreamlitPageNotFoundError:  # this file run on its own, without app.py's navigation (tests)
        c1.markdown(f"`{path}`")
    c2.markdown(what)
