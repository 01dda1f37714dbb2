"""Results from the papers: the seed's AKL, DistiLLM and SinKD tables as charts and tables."""

import pandas as pd
import streamlit as st

import ui
from kdviz.divergences import DIVERGENCES
from kdviz.experiments.paper_results import TABLES, long_format, paper_view
from kdviz.plots.paper_results import bars

st.title("Results from the papers")
ui.url.show_notes()
st.markdown(
    "The three tables of the seed slides, as published: **AKL** (forward vs reverse KL and their "
    "combinations, two model pairs), **DistiLLM** (skew KL) and **SinKD** (Sinkhorn distance). "
    "Pick a table; compare the bars within a benchmark (the ★ marks the best distillation loss of the "
    "column) and switch to *difference to a baseline* to see the gains the papers claim at scale.")

key = ui.url.choice("Table", list(TABLES), key="pr_table", widget=st.segmented_control, required=True,
                    default=list(TABLES)[0], format_func=lambda k: TABLES[k].title.split(":")[0])
table = TABLES[key]
c2, c3, c4 = st.columns([1.3, 1.3, 1])
setting = table.settings[0]
if len(table.settings) > 1:
    with c2:
        setting = ui.url.choice("Teacher → student", table.settings, key=f"pr_{key}_model",
                                widget=st.selectbox)
with c3:
    view_kind = ui.url.choice("Show", ["scores", "difference to a baseline"], key="pr_view", horizontal=True)
baseline = None
if view_kind != "scores":
    first_div = next(r.method for r in table.rows if r.divergence)
    with c4:
        baseline = ui.url.choice("Baseline", table.methods, key=f"pr_{key}_base", widget=st.selectbox,
                                 index=table.methods.index(first_div))
benchmarks = ui.url.choices("Benchmarks", table.benchmarks, table.benchmarks, key=f"pr_{key}_bench",
                            widget=st.pills, selection_mode="multi")
methods = ui.url.choices("Methods", table.methods, table.methods, key=f"pr_{key}_methods", widget=st.pills,
                         selection_mode="multi")
# keep the table's order whatever the order of clicks
benchmarks = [b for b in table.benchmarks if b in benchmarks]
methods = [m for m in table.methods if m in methods]

st.subheader(table.title)
st.caption(f"Source: {table.source}. Numbers: {table.metric}.")
if not benchmarks or not methods:
    st.warning("Select at least one benchmark and one method.")
    st.stop()
view = paper_view(key, setting, benchmarks, methods, baseline)
# theme=None: the figure keeps its white template, so its colours stay legible when a visitor
# switches the app to the dark theme (the Streamlit chart theme would put dark greys on black).
st.plotly_chart(bars(view, metric="score"), key="pr_chart", theme=None)
if view.std is not None:
    st.caption("Error bars: ± the std the paper reports" +
               (" (differences: both stds combined as if the runs were independent)." if baseline else "."))
else:
    st.caption("This table reports no std, so there are no error bars.")
if baseline and any(d is None for d in view.divergences):
    st.caption("Tip: deselect the reference rows (Teacher, SFT, SeqKD) under *Methods* to zoom in on the "
               "losses.")

tab_table, tab_concl, tab_formulas = st.tabs(["Table", "What the seed concludes", "Formulas"])
with tab_table:
    cells = {}
    for j, b in enumerate(view.benchmarks):
        cells[b] = [f"{m:.2f} ± {s:.2f}" if view.std is not None else f"{m:.1f}"
                    for m, s in zip(view.mean[:, j], (view.std if view.std is not None else view.mean)[:, j])]
    frame = pd.DataFrame(cells, index=pd.Index(view.methods, name="method"))
    if table.note_header:
        frame.insert(0, table.note_header, view.notes)
    # dark text on yellow: legible in the light and the dark theme
    best_style = "font-weight: bold; background-color: #fff3b0; color: #111111"
    styled = frame.style.apply(lambda col: [best_style if col.name in view.benchmarks and
                                            view.best[i, view.benchmarks.index(col.name)] else ""
                                            for i in range(len(col))], axis=0)
    st.dataframe(styled, key="pr_dataframe", width="stretch")
    st.caption("Bold on yellow: best distillation loss of the column (Teacher, SFT and SeqKD are "
               "references).")
    long = long_format(key)
    ui.downloads(f"paper_results_{key}", key="pr_dl", csv=long, data=long, config={
        "table": key, "title": table.title, "source": table.source, "metric": table.metric})

with tab_concl:
    for sentence in table.conclusions:
        st.markdown(f"- {sentence}")
    full = paper_view(key, setting)
    students = [i for i, d in enumerate(full.divergences) if d]
    wins = {full.methods[i]: int(full.best[i].sum()) for i in students if full.best[i].any()}
    st.markdown("**Counted from the numbers** (" + (setting or "all columns") + "): best loss in "
                + ", ".join(f"{m} {n}/{len(full.benchmarks)}" for m, n in wins.items()) + ".")

with tab_formulas:
    for name in dict.fromkeys(d for d in view.divergences if d):
        spec = DIVERGENCES[name]
        rows = ", ".join(m for m, d in zip(view.methods, view.divergences) if d == name)
        st.markdown(f"**{rows}** → {spec.label} (`{name}`), *{spec.source}*")
        st.latex(spec.latex)

ui.takeaway(table.takeaway)
