"""Home: what a KD loss is, in a picture (forward vs reverse KL at a glance), the lessons, and the
divergences in plain words with the call that uses each one as a loss."""

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

import ui
from kdviz.divergences import DIVERGENCES
from kdviz.experiments import mode_seeking as ms
from kdviz.i18n import N_, _
from kdviz.losses import call_example
from kdviz.plots import mode_seeking as plots
from kdviz.plots.common import color

LESSONS = [  # (page file, what it shows); titles and icons come from the navigation in app.py
    ("pages/mode_seeking.py", N_("forward KL spreads over every bump of the teacher, reverse KL locks "
                                 "onto one (MiniLLM's Figure 2), and where the student starts decides which "
                                 "one.")),
    ("pages/head_tail.py", N_("students over 50 tokens: all reach the teacher, but forward KL spends more of "
                              "its early progress on the likely tokens (the head), reverse KL on the rare "
                              "ones (the tail) (AKL's Figure 2).")),
    ("pages/gradients.py", N_("how hard each loss pushes on one token as the student's probability goes to 0 "
                              "or 1, and which tokens of a whole student get the largest push.")),
    ("pages/outliers.py", N_("a teacher with a small far-away bump: forward KL stretches to cover it, TVD "
                             "stays on the main mass.")),
    ("pages/overlap.py", N_("the student slid away from the teacher: JSD stops at log 2 and gives no more "
                            "signal once they no longer overlap; Wasserstein keeps counting the distance.")),
    ("pages/optimal_transport.py", N_("how mass is moved from p to q (the transport plan), how Sinkhorn "
                                      "blurs it, and the bias that blur adds.")),
    ("pages/llm_logits.py", N_("the same divergences as the loss of a real training step: a batch of "
                               "LLM-shaped logits with a mask and a temperature, per-token values side by "
                               "side.")),
    ("pages/paper_results.py", N_("the AKL, DistiLLM and SinKD tables as charts.")),
    ("pages/playground.py", N_("every control on one page: your teacher, your student, any divergences.")),
    ("pages/lab.py", N_("a tiny real language model distilled under each loss: perplexity, agreement with "
                        "the teacher, the students' samples side by side.")),
]


@ui.cached(entry_mb=6, budget_mb=6, spinner=N_("Fitting two students..."))
def at_a_glance():
    """The mode-seeking lesson at its defaults, forward and reverse KL only: the picture of Home."""
    res = ms.mode_seeking(names=("fkl", "rkl"))
    fig = plots.final_fits(res)
    fig.update_layout(height=300, margin=dict(t=30, b=30))
    return None, {"fit": fig}


def page_link(path: str, **kw) -> None:
    """A link to a lesson (its path as code when this file runs without app.py's navigation: tests)."""
    try:
        st.page_link(path, **kw)
    except StreamlitPageNotFoundError:
        st.markdown(f"`{path}`")


def parameters(spec) -> str:
    """The parameters in words: name, default and allowed values."""
    parts = [_("{name} = {default:g} (one of {values})").format(
                name=prm.name, default=prm.default, values=", ".join(f"{c:g}" for c in prm.choices))
             if prm.choices else
             _("{name} = {default:g} (from {low:g} to {high:g})").format(
                name=prm.name, default=prm.default, low=prm.low, high=prm.high)
             for prm in spec.params]
    parts += [_("{flag} (on or off)").format(flag=flag) for flag in sorted(spec.flags)]
    return "; ".join(parts) or "—"


st.title(_("kdviz: divergences as distillation losses"))
picture, words = st.columns([3, 2], vertical_alignment="center")
with picture:
    ui.main_chart(at_a_glance()[1]["fit"], key="home_fit")
    page_link("pages/mode_seeking.py", label=_("See it move: Mode seeking vs mean seeking"),
              icon=":material/play_circle:")
words.markdown(_("In knowledge distillation a small **student** learns from a large **teacher**: at every "
                 "token the teacher gives a distribution $p$ over the vocabulary, the student gives $q$, and "
                 "training makes a divergence $D(p, q)$ small.\n\n"
                 "The picture is the whole story in one glance: a single-bump student fitted to a two-bump "
                 "teacher. **Forward KL** (punished for missing anything the teacher likes) spreads over "
                 "both bumps; **reverse KL** (punished for putting mass where the teacher has none) picks "
                 "one."))

st.subheader(_("The lessons"))
st.caption(_("Each lesson has a guided path under its title: a few steps that set the controls for you, ask "
             "you to predict, then show the answer."))
for path, what in LESSONS:
    c1, c2 = st.columns([1, 2], vertical_alignment="center")
    with c1:
        page_link(path)
    c2.markdown(_(what))

catalogue = pd.DataFrame([{
    _("divergence"): spec.display_label, _("what it does"): spec.display_behaviour,
    _("parameters"): parameters(spec), _("symmetric"): _("yes") if spec.symmetric else _("no"),
    _("bounded"): spec.bounded or _("no"), _("from"): _(spec.source) if spec.source else "",
    _("as a KD loss"): call_example(spec.name), _("name"): spec.name, _("formula (LaTeX)"): spec.latex,
} for spec in DIVERGENCES.values()])
with ui.secondary(_("The divergences")):
    st.caption(_("Symmetric: D(p, q) = D(q, p). Bounded: the largest value it can take. The last column is "
                 "the call that uses it as a loss on a model's logits (`kdviz.losses`)."))
    # A static table: every cell wraps and is readable without scrolling (formulas in the expander below).
    st.table(catalogue.drop(columns=[_("name"), _("formula (LaTeX)")]).set_index(_("divergence")))
    ui.downloads("kdviz_divergences", key="home_dl", csv=catalogue.to_dict("list"))
with st.expander(_("Formulas"), expanded=False):  # after the panel: an expander in presentation mode
    for spec in DIVERGENCES.values():
        st.markdown(f"<span style='color:{color(spec.name)};font-size:1.3em'>■</span> "
                    f"**{spec.display_label}**: {spec.display_behaviour}.", unsafe_allow_html=True)
        st.latex(spec.latex)
        st.code(call_example(spec.name), language="python")
