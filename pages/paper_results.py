"""Results from the papers: the seed's AKL, DistiLLM and SinKD tables as charts and tables."""

import pandas as pd
import streamlit as st

import ui
from kdviz.divergences import DIVERGENCES
from kdviz.experiments.paper_results import TABLES, long_format, paper_view
from kdviz.i18n import N_, _
from kdviz.plots.paper_results import bars

VIEWS = {"scores": N_("scores"), "difference to a baseline": N_("difference to a baseline")}

# the header (and its notes about the link's values) is drawn once every control has read the URL:
# a control that corrects its URL value reruns the page, which would lose the notes already shown
header = st.container()
left, middle, right = ui.main_controls(3)
with left:
    key = ui.url.choice(_("Table"), list(TABLES), key="pr_table", widget=st.segmented_control, required=True,
                        default=list(TABLES)[0], format_func=lambda k: TABLES[k].title.split(":")[0])
table = TABLES[key]
setting = table.settings[0]
if len(table.settings) > 1:
    with middle:
        setting = ui.url.choice(_("Teacher → student"), table.settings, key=f"pr_{key}_model",
                                widget=st.selectbox)
with right:
    view_kind = ui.url.choice(_("Show"), list(VIEWS), key="pr_view", horizontal=True,
                              format_func=lambda v: _(VIEWS[v]))
    baseline = None
    if view_kind != "scores":
        first_div = next(r.method for r in table.rows if r.divergence)
        baseline = ui.url.choice(_("Baseline"), table.methods, key=f"pr_{key}_base", widget=st.selectbox,
                                 index=table.methods.index(first_div))
with st.sidebar:
    st.subheader(_("Columns and rows"))
    benchmarks = ui.url.choices(_("Benchmarks"), table.benchmarks, table.benchmarks, key=f"pr_{key}_bench",
                                widget=st.pills, selection_mode="multi")
    methods = ui.url.choices(_("Methods"), table.methods, table.methods, key=f"pr_{key}_methods",
                             widget=st.pills, selection_mode="multi")
# keep the table's order whatever the order of clicks
benchmarks = [b for b in table.benchmarks if b in benchmarks]
methods = [m for m in table.methods if m in methods]

with header:
    ui.lesson_header(
        _("Results from the papers"),
        _("The three tables of the seed slides, as published: **AKL** (forward vs reverse KL and their "
          "combinations, two model pairs), **DistiLLM** (skew KL) and **SinKD** (Sinkhorn distance). Pick a "
          "table; compare the bars within a benchmark (the ★ marks the best distillation loss of the column) "
          "and switch to *difference to a baseline* to see the gains the papers claim at scale."))

if not benchmarks or not methods:
    st.warning(_("Select at least one benchmark and one method (sidebar)."))
    st.stop()
view = paper_view(key, setting, benchmarks, methods, baseline)
ui.main_chart(bars(view, metric=_("score")), key="pr_chart")
if view.std is None:
    bars_note = _("This table reports no std, so there are no error bars.")
elif baseline:
    bars_note = _("Error bars: ± the std the paper reports (differences: both stds combined as if the runs "
                  "were independent).")
else:
    bars_note = _("Error bars: ± the std the paper reports.")
st.caption(_("Source: {source}. Numbers: {metric}.").format(source=table.source, metric=_(table.metric))
           + " " + bars_note)
if baseline and any(d is None for d in view.divergences):
    st.caption(_("Tip: deselect the reference rows (Teacher, SFT, SeqKD) under *Methods* in the sidebar to "
                 "zoom in on the losses."))

with ui.secondary(_(table.title)):
    tab_table, tab_concl, tab_formulas = st.tabs([_("Table"), _("What the seed concludes"), _("Formulas")])
    with tab_table:
        std = view.std if view.std is not None else view.mean  # (M, B): not shown without a std
        cells = {b: [f"{m:.2f} ± {s:.2f}" if view.std is not None else f"{m:.1f}"
                     for m, s in zip(view.mean[:, j], std[:, j])] for j, b in enumerate(view.benchmarks)}
        frame = pd.DataFrame(cells, index=pd.Index(view.methods, name=_("method")))
        if table.note_header:
            frame.insert(0, _(table.note_header), view.notes)
        # dark text on yellow: legible in the light and the dark theme
        best_style = "font-weight: bold; background-color: #fff3b0; color: #111111"
        styled = frame.style.apply(lambda col: [best_style if col.name in view.benchmarks and
                                                view.best[i, view.benchmarks.index(col.name)] else ""
                                                for i in range(len(col))], axis=0)
        st.dataframe(styled, key="pr_dataframe", width="stretch")
        st.caption(_("Bold on yellow: best distillation loss of the column (Teacher, SFT and SeqKD are "
                     "references)."))
        long = long_format(key)
        ui.downloads(f"paper_results_{key}", key="pr_dl", csv=long, data=long, config={
            "table": key, "title": table.title, "source": table.source, "metric": table.metric})

    with tab_concl:
        for sentence in table.conclusions:
            st.markdown(f"- {_(sentence)}")
        full = paper_view(key, setting)
        students = [i for i, d in enumerate(full.divergences) if d]
        wins = {full.methods[i]: int(full.best[i].sum()) for i in students if full.best[i].any()}
        st.markdown(_("**Counted from the numbers** ({setting}): best loss in {wins}.").format(
            setting=setting or _("all columns"),
            wins=", ".join(f"{m} {n}/{len(full.benchmarks)}" for m, n in wins.items())))

    with tab_formulas:
        for name in dict.fromkeys(d for d in view.divergences if d):
            spec = DIVERGENCES[name]
            rows = ", ".join(m for m, d in zip(view.methods, view.divergences) if d == name)
            st.markdown(f"**{rows}** → {spec.display_label} (`{name}`), *{spec.display_source}*")
            st.latex(spec.latex)

ui.takeaway(_(table.takeaway))
