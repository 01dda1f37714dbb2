"""From toys to LLM logits: the lessons' divergences as kd_loss on one batch of real-shaped logits."""

import numpy as np
import streamlit as st

import ui
from kdviz.divergences import get_spec
from kdviz.experiments import llm_logits as ll
from kdviz.i18n import N_, _
from kdviz.plots import llm_logits as plots


@ui.cached(entry_mb=2, budget_mb=16, spinner=N_("Computing every divergence..."))
def run(positions, vocab, temperature, padding, noise, seed):
    res = ll.llm_logits_batch(positions, vocab, temperature, padding, noise, seed)
    return res, {"heatmap": plots.heatmap(res)}


# the header (and its notes about the link's values) is drawn once every control has read the URL:
# a control that corrects its URL value reruns the page, which would lose the notes already shown
header = st.container()
with st.sidebar:
    st.subheader(_("The batch"))
    vocab = ui.url.choice(_("Vocabulary size V"), ll.VOCABS, key="ll_vocab", widget=st.select_slider,
                          value=8000)
    positions = ui.url.slider(_("Positions"), 8, 128, 48, 8, key="ll_len")
    padding = ui.url.slider(_("Masked positions at the end"), 0, 32, 8, key="ll_pad",
                            help=_("padding or prompt tokens: mask = False, ignored by every reduction"))
    seed = ui.url.number(_("Seed"), 0, 10_000, 0, key="ll_seed")

left, right = ui.main_controls(2)
with left:
    temperature = ui.url.choice(_("Temperature T"), (0.25, 0.5, 1.0, 2.0, 4.0), key="ll_T",
                                widget=st.select_slider, value=1.0)
with right:
    noise = ui.url.slider(_("Student = teacher + noise of std"), 0.0, 4.0, 1.5, 0.25, key="ll_noise")
with header:
    ui.lesson_header(
        _("From toys to LLM logits"),
        _("The lessons' divergences are the functions that `kdviz.losses.kd_loss` applies to every token "
          "of a real batch: teacher and student logits of shape (positions, V), a mask, a temperature. "
          "**Look at** how differently they weight the same tokens: the KLs spike where the student misses "
          "the teacher's favourite token, TVD and JSD stay bounded, AKL moves between FKL and RKL. Each row "
          "is scaled to its own maximum; hover for the values."))

if padding >= positions:
    st.warning(_("{padding} masked positions leave none of the {positions}: showing {shown} masked.").format(
        padding=padding, positions=positions, shown=positions - 8))
    padding = positions - 8
config = (positions, vocab, temperature, padding, noise, int(seed))
res, figs = run(*config)

ui.main_chart(figs["heatmap"], key="ll_heatmap")
st.caption(_("Teacher's top-1 probability at T = {T:g}: median {top1:.2f}. Masked positions are "
             "blank.").format(T=temperature, top1=float(np.median(res.teacher_top))))

with ui.secondary(_("The loss of this batch, and the call that gives it")):
    st.dataframe([{_("divergence"): get_spec(n).display_label, _("mean over valid tokens"): f"{m:.4g}",
                   _("call"): c} for n, m, c in zip(res.names, res.means, res.calls)],
                 hide_index=True, key="ll_table")
    st.code("from kdviz.losses import FusedLinearKDLoss, kd_loss\n\n"
            f"loss = {res.calls[0]}\n"
            "# the LM head fused in, without the (N, V) logits:\n"
            "loss = FusedLinearKDLoss(\"jsd\")(student_hidden, student_weight, teacher_hidden,\n"
            "                                  teacher_weight, labels)",
            language="python")
ui.takeaway(_("The toy lessons and a trainer use the same function: pick the divergence on the toys, then "
              "pass its name and parameters to kd_loss."))
