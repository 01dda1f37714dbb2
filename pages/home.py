"""Home: what a KD loss is, in a picture (forward vs reverse KL at a glance), the lessons, and the
divergences in plain words with the call that uses each one as a loss."""

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

import ui
from kdviz.divergences import DIVERGENCES
from kdviz.experiments import mode_seeking as ms
from kdviz.losses import call_example
from kdviz.plots import mode_seeking as plots


@ui.cached(entry_mb=6, budget_mb=6, spinner="Fitting two students...")
def at_a_glance():
    """The mode-seeking lesson at its defaults, forward and reverse KL only: the picture of Home."""
    res = ms.mode_seeking(names=("fkl", "rkl"))
    fig = plots.final_fits(res)
    fig.update_layout(height=300, margin=dict(t=30, b=30))
    return None, {"fit": fig}


st.title("kdviz: divergences as distillation losses")
picture, words = st.columns([3, 2], vertical_alignment="center")
picture.plotly_chart(at_a_glance()[1]["fit"], key="home_fit")
words.markdown(
    r"""
In knowledge distillation a small **student** learns from a large **teacher**: at every token the
teacher gives a distribution $p$ over the vocabulary, the student gives $q$, and training makes a
divergence $D(p, q)$ small.

The picture is the whole story in one glance: a single-bump student fitted to a two-bump teacher.
**Forward KL** (punished for missing anything the teacher likes) spreads over both bumps;
**reverse KL** (punished for putting mass where the teacher has none) picks one.
""")
try:
    words.page_link("pages/mode_seeking.py", label="See it move: Mode seeking vs mean seeking",
                    icon=":material/play_circle:")
except StreamlitPageNotFoundError:  # this file run on its own, without app.py's navigation (tests)
    pass

st.header("The lessons")
st.caption("Each lesson has a guided path under its title: a few steps that set the controls for you, "
           "ask you to predict, then show the answer.")
LESSONS = [  # (page file, what it shows); titles and icons come from the navigation in app.py
    ("pages/mode_seeking.py", "forward KL spreads over every bump of the teacher, reverse KL locks onto one "
                              "(MiniLLM's Figure 2), and where the student starts decides which one."),
    ("pages/head_tail.py", "students over 50 tokens: all reach the teacher, but forward KL spends more of "
                           "its early progress on the likely tokens (the head), reverse KL on the rare "
                           "ones (the tail) (AKL's Figure 2)."),
    ("pages/gradients.py", "how hard each loss pushes on one token as the student's probability goes to 0 "
                           "or 1, and which tokens of a whole student get the largest push."),
    ("pages/outliers.py", "a teacher with a small far-away bump: forward KL stretches to cover it, TVD "
                          "stays on the main mass."),
    ("pages/overlap.py", "the student slid away from the teacher: JSD stops at log 2 and gives no more "
                         "signal once they no longer overlap; Wasserstein keeps counting the distance."),
    ("pages/optimal_transport.py", "how mass is moved from p to q (the transport plan), how Sinkhorn blurs "
                                   "it, and the bias that blur adds."),
    ("pages/llm_logits.py", "the same divergences as the loss of a real training step: a batch of LLM-shaped "
                            "logits with a mask and a temperature, per-token values side by side."),
    ("pages/paper_results.py", "the AKL, DistiLLM and SinKD tables as charts."),
    ("pages/playground.py", "every control on one page: your teacher, your student, any divergences."),
    ("pages/lab.py", "a tiny real language model distilled under each loss: perplexity, agreement with the "
                     "teacher, the students' samples side by side."),
]
for path, what in LESSONS:
    c1, c2 = st.columns([1, 2], vertical_alignment="center")
    try:
        c1.page_link(path)
    except StreamlitPageNotFoundError:  # this file run on its own, without app.py's navigation (tests)
        c1.markdown(f"`{path}`")
    c2.markdown(what)

st.header("The divergences")
st.caption("Symmetric: D(p, q) = D(q, p). Bounded: the largest value it can take. The last column is the "
           "call that uses it as a loss on a model's logits (`kdviz.losses`).")


def _params(spec) -> str:
    """The parameters in words: name, default and allowed values."""
    parts = []
    for prm in spec.params:
        rng = (", ".join(f"{c:g}" for c in prm.choices) if prm.choices
               else f"{prm.low:g} to {prm.high:g}")
        parts.append(f"{prm.name} = {prm.default:g} (from {rng})" if not prm.choices
                     else f"{prm.name} = {prm.default:g} (one of {rng})")
    parts += [f"{flag} (on or off)" for flag in sorted(spec.flags)]
    return "; ".join(parts) or "—"


catalogue = pd.DataFrame([{
    "divergence": spec.label, "what it does": spec.behaviour, "parameters": _params(spec),
    "symmetric": "yes" if spec.symmetric else "no", "bounded": spec.bounded or "no", "from": spec.source,
    "as a KD loss": call_example(spec.name), "name": spec.name, "formula (LaTeX)": spec.latex,
} for spec in DIVERGENCES.values()])
# A static table: every cell wraps and is readable without scrolling (formulas in the expander below).
st.table(catalogue.drop(columns=["name", "formula (LaTeX)"]).set_index("divergence"))
ui.downloads("kdviz_divergences", key="home_dl", csv={c: catalogue[c].tolist() for c in catalogue.columns})

with st.expander("Formulas", expanded=False):
    for spec in DIVERGENCES.values():
        st.markdown(f"<span style='color:{spec.color};font-size:1.3em'>■</span> "
                    f"**{spec.label}**: {spec.behaviour}.", unsafe_allow_html=True)
        st.latex(spec.latex)
        st.code(call_example(spec.name), language="python")
