"""Playground: every control of every lesson on one page. Widgets -> one cached fit -> figures."""

import streamlit as st

import ui
import ui.jobs
from kdviz.divergences import DIVERGENCES
from kdviz.experiments import playground as pg
from kdviz.families import MAX_CLASSES, MAX_COMPONENTS
from kdviz.i18n import _
from kdviz.jobs import Budget
from kdviz.plots import playground as plots

LRS = tuple(float(f"{m * 10.0 ** e:g}") for e in range(-4, 3) for m in (1, 2, 5) if m * 10.0 ** e <= 100)
BUDGET_S = 10.0  # CPU seconds a fit may take; past it (or projected past it) it stops with a message


@ui.cached(entry_mb=12, budget_mb=96)  # runs in the queue's worker: ui.jobs shows the progress
def run(_token=None, **config):
    """The fit and its figures, or (the message, {}) when the budget stopped it (cached: asking
    again costs nothing). A cancelled run raises FitStopped and caches nothing."""
    res = pg.within_budget(Budget(BUDGET_S, config["steps"], token=_token), **config)
    return res, ({} if isinstance(res, str) else plots.figures(res))


def param_widget(name: str, prm):
    """One widget for one registry Param, from its range alone (choices, decades or a plain interval)."""
    key, text = f"pg_{name}_{prm.name}", f"{prm.name} ({DIVERGENCES[name].display_label})"
    helps = _(prm.help) if prm.help else None
    if prm.choices:
        return ui.url.choice(text, list(prm.choices), key=key, index=list(prm.choices).index(prm.default),
                             horizontal=True, help=helps)
    if pg.is_wide(prm):
        return ui.url.choice(text, pg.log_ladder(prm), key=key, widget=st.select_slider,
                             value=float(prm.default), help=helps, format_func=lambda v: f"{float(v):g}")
    return ui.url.slider(text, float(prm.low), float(prm.high), float(prm.default),
                         (prm.high - prm.low) / 100, key=key, help=helps)


header = st.container()
left, right = ui.main_controls(2)
with left:
    teacher = ui.url.choice(_("Teacher p"), list(pg.TEACHERS), key="pg_teacher", widget=st.selectbox,
                            format_func=lambda k: _(pg.TEACHERS[k]))
    upload = ui.teacher_upload("pg") if teacher == "upload" else None
with right:
    names = ui.divergence_picker("pg_divs", list(DIVERGENCES), ("fkl", "rkl"))

with st.sidebar:
    if teacher != "upload":
        st.subheader(_("Teacher p"))
    if teacher == "gmm":
        weights, means, stds = ui.mixture_teacher("pg", max_components=MAX_COMPONENTS, means=(-9.0, 9.0),
                                                  stds=(0.05, 5.0))
        grid_n = ui.url.choice(_("Grid points on [-10, 10]"), pg.GRID_SIZES, key="pg_grid",
                               widget=st.select_slider, value=256)
        targs = dict(teacher="gmm", weights=weights, means=means, stds=stds, grid_n=grid_n)
    elif teacher == "preset":
        targs = dict(teacher="preset", **ui.discrete_teacher("pg", classes=(2, 1000, 1)))
    else:
        targs = dict(teacher="values", values=upload)

    st.subheader(_("Student q"))
    student = ui.url.choice(_("Family"), list(pg.STUDENTS), key="pg_student",
                            format_func=lambda k: _(pg.STUDENTS[k]))
    sargs, start = dict(student=student), None
    if student == "gaussian":
        if teacher == "gmm":
            sargs["mu0"] = ui.url.slider(_("start mean μ₀"), -10.0, 10.0, 1.5, 0.1, key="pg_mu0")
            sargs["sigma0"] = ui.url.slider(_("start std σ₀"), 0.05, 10.0, 1.0, 0.05, key="pg_sigma0")
        else:  # discrete supports differ in length: the start is given relative to the support
            start = (ui.url.slider(_("start mean μ₀ (0 = first class, 1 = last)"), 0.0, 1.0, 0.5, 0.01,
                                   key="pg_dmu0"),
                     ui.url.slider(_("start std σ₀ (fraction of the support's width)"), 0.01, 1.0, 0.1, 0.01,
                                   key="pg_dsigma0"))
        sargs["fixed_sigma"] = ui.url.checkbox(_("Fixed variance (fit μ only)"), key="pg_fixed")
    else:
        sargs["init"] = ui.url.choice(_("Start logits"), list(pg.INITS), key="pg_init", horizontal=True,
                                      format_func=lambda k: _(pg.INITS[k]),
                                      help=_("random: uniform in [0, 1) from the seed (AKL's toy)"))
        sargs["seed"] = int(ui.url.number(_("Seed"), 0, 10**6, 1, key="pg_seed"))

    if any(DIVERGENCES[n].params or DIVERGENCES[n].flags for n in names):
        st.subheader(_("Divergence parameters"))
    params = {n: {prm.name: param_widget(n, prm) for prm in DIVERGENCES[n].params}
              | {flag: ui.url.checkbox(f"{flag} ({DIVERGENCES[n].display_label})", key=f"pg_{n}_{flag}")
                 for flag in sorted(DIVERGENCES[n].flags)} for n in names}
    st.subheader(_("Optimiser"))
    optimizer, lr, steps = ui.optimiser("pg", lrs=LRS, steps=(*pg.STEPS_RANGE, 300, 10))

with header:
    ui.lesson_header(
        _("Playground"),
        _("Every control of the lessons in one place: pick a teacher, a student family and any divergences "
          "with any parameters; every divergence gets its own student, all from the same start. **Look at** "
          "the animation first, then where each student ends and how fast its loss falls."),
        formulas=names)
if not names:
    st.warning(_("Pick at least one divergence above the chart."))
    st.stop()
if teacher == "upload" and upload is None:
    st.info(_("Upload a teacher above (one column of probabilities or logits; up to {limit} classes, 5 MB), "
              "or use the example file.").format(limit=MAX_CLASSES))
    st.stop()
try:  # every fit goes through the server's one queue: a class shares two cores
    config, risks = pg.configure(teacher=targs, student=sargs, names=names, params=params, start=start,
                                 optimizer=optimizer, lr=lr, steps=steps)
    done = ui.jobs.run(run, key="pg_job", **config)
except ValueError as err:
    st.error(_("Invalid configuration: {error}").format(error=err))
    st.stop()
if done is None:
    st.stop()
res, figs = done
if isinstance(res, str):
    st.warning(res)
    st.stop()

ui.main_chart(figs["anim"], key="pg_anim")
if note := pg.frames_note(res):
    st.caption(note)
for note in risks + pg.run_notes(res):
    st.warning(note)
c1, c2 = st.columns(2)
with c1, ui.secondary(_("Where the students end") if res.teacher_kind == "gmm" else _("Start and end")):
    st.plotly_chart(figs["final"], key="pg_final")
with c2, ui.secondary(_("Loss curves")):
    o1, o2 = st.columns(2)
    with o1:
        relative = ui.url.checkbox(_("relative to the start, D_t / D_0"), key="pg_rel")
    with o2:
        log_y = ui.url.checkbox(_("log axis"), key="pg_logy")
    st.plotly_chart(figs[f"loss_{relative}_{log_y}"], key="pg_loss")
if "params" in figs:
    with ui.secondary(_("Student parameters")):
        st.plotly_chart(figs["params"], key="pg_params")
if "headtail" in figs:
    with ui.secondary(_("Head and tail error (AKL's split, μ = {mu:g})").format(mu=res.mu_split)):
        st.plotly_chart(figs["headtail"], key="pg_headtail")

with ui.secondary(_("The numbers")):
    st.dataframe(pg.summary(res), key="pg_summary", hide_index=True)
    for text in pg.captions(res):
        st.caption(text)
    csv, data = res.export()
    ui.downloads("kdviz_playground", key="pg_dl", csv=csv, data=data,
                 config={k: v for k, v in config.items() if k != "values"})
ui.takeaway(pg.takeaway(res))
