"""From toys to LLM logits: the lessons' divergences as kd_loss on one batch of real-shaped logits."""

import numpy as np
import streamlit as st

import ui
from kdviz.divergences import get_spec
from kdviz.experiments import llm_logits as ll
from kdviz.plots import llm_logits as plots


@ui.cached(entry_mb=2, budget_mb=16, spinner="Computing every divergence...")
def run(positions, vocab, temperature, padding, noise, seed):
    res = ll.llm_logits_batch(positions, vocab, temperature, padding, noise, seed)
    return res, {"heatmap": plots.heatmap(res)}


with st.sidebar:
    st.subheader("The batch")
    vocab = ui.url.choice("Vocabulary size V", ll.VOCABS, key="ll_vocab", widget=st.select_slider, value=8000)
    positions = ui.url.slider("Positions", 8, 128, 48, 8, key="ll_len")
    padding = ui.url.slider("Masked positions at the end", 0, 32, 8, key="ll_pad",
                            help="padding or prompt tokens: mask = False, ignored by every reduction")
    temperature = ui.url.choice("Temperature T", (0.25, 0.5, 1.0, 2.0, 4.0), key="ll_T",
                                widget=st.select_slider, value=1.0)
    noise = ui.url.slider("Student = teacher + noise of std", 0.0, 4.0, 1.5, 0.25, key="ll_noise")
    seed = ui.url.number("Seed", 0, 10_000, 0, key="ll_seed")

ui.lesson_header(
    "From toys to LLM logits",
    "The lessons' divergences are the functions that `kdviz.losses.kd_loss` applies to every token of "
    "a real batch: teacher and student logits of shape (positions, V), a mask, a temperature. **Look at** "
    "how differently they weight the same tokens: the KLs spike where the student misses the teacher's "
    "favourite token, TVD and JSD stay bounded, AKL moves between FKL and RKL. Each row is scaled to its own "
    "maximum; hover for the values.")

if padding >= positions:
    st.warning(f"{padding} masked positions leave none of the {positions}: showing {positions - 8} masked.")
    padding = positions - 8
config = (positions, vocab, temperature, padding, noise, int(seed))
res, figs = run(*config)

st.plotly_chart(figs["heatmap"], key="ll_heatmap")
top1 = float(np.median(res.teacher_top))
st.caption(f"Teacher's top-1 probability at T = {temperature:g}: median {top1:.2f}. "
           "Masked positions are blank.")

st.subheader("The loss of this batch, and the call that gives it")
st.dataframe([{"divergence": get_spec(n).label, "mean over valid tokens": f"{m:.4g}", "call": c}
              for n, m, c in zip(res.names, res.means, res.calls)], hide_index=True, key="ll_table")
st.code("from kdviz.losses import FusedLinearKDLoss, kd_loss\n\n"
        f"loss = {res.calls[0]}\n"
        "# the LM head fused in, without the (N, V) logits:\n"
        "loss = FusedLinearKDLoss(\"jsd\")(student_hidden, student_weight, teacher_hidden, teacher_weight,\n"
        "                                  labels)",
        language="python")
ui.takeaway("The toy lessons and a trainer use the same function: pick the divergence on the toys, "
            "then pass its name and parameters to kd_loss.")
