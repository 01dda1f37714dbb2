"""Playground: every control of every lesson on one page. Widgets -> one cached fit -> figures."""

import streamlit as st

import ui
import ui.jobs
from kdviz.divergences import DIVERGENCES
from kdviz.experiments import playground as pg
from kdviz.families import MAX_CLASSES, MAX_COMPONENTS
from kdviz.fitting import FitStopped
from kdviz.jobs import CANCELLED, Budget
from kdviz.plots import playground as plots

LRS = tuple(float(f"{m * 10.0 ** e:g}") for e in range(-4, 3) for m in (1, 2, 5) if m * 10.0 ** e <= 100)
BUDGET_S = 10.0  # CPU seconds a fit may take; past it (or projected past it) it stops with a message
TEACHERS = {"gmm": "Gaussian mixture", "preset": "Discrete preset", "upload": "Upload a vector"}
STUDENTS = {"gaussian": "Gaussian N(μ, σ²)", "softmax": "Softmax (free logits)"}
LOSS_VIEWS = [(rel, log) for rel in (False, True) for log in (False, True)]  # (relative, log axis)


@ui.cached(entry_mb=12, budget_mb=96)  # runs in the queue's worker: ui.jobs shows the progress
def run(_token=None, **config):
    """The fit and its figures, or (the message, {}) when the budget stopped it (cached: asking
    again costs nothing). A cancelled run raises FitStopped and caches nothing."""
    budget = Budget(BUDGET_S, config["steps"], token=_token)
    try:
        res = pg.playground(**config, should_stop=budget)
    except FitStopped as stopped:
        if stopped.reason == CANCELLED:
            raise
        return pg.over_budget(stopped, budget), {}
    figs = {"anim": plots.fit_animation(res), "final": plots.final_fits(res)}
    figs |= {f"loss_{rel}_{log}": plots.loss_curves(res, relative=rel, log_y=log) for rel, log in LOSS_VIEWS}
    if res.mu is not None:
        figs["params"] = plots.parameter_paths(res)
    if res.fit.head_error is not None:
        figs["headtail"] = plots.head_tail_errors(res)
    return res, figs


def param_widget(name: str, prm):
    """One widget for one registry Param, from its range alone (choices, decades or a plain interval)."""
    key, text = f"pg_{name}_{prm.name}", f"{prm.name} ({DIVERGENCES[name].label})"
    if prm.choices:
        return ui.url.choice(text, list(prm.choices), key=key, index=list(prm.choices).index(prm.default),
                             horizontal=True, help=prm.help)
    if pg.is_wide(prm):
        return ui.url.choice(text, pg.log_ladder(prm), key=key, widget=st.select_slider,
                             value=float(prm.default),
                             help=prm.help, format_func=lambda v: f"{float(v):g}")
    return ui.url.slider(text, float(prm.low), float(prm.high), float(prm.default),
                         (prm.high - prm.low) / 100,
                         key=key, help=prm.help)


with st.sidebar:
    st.subheader("Teacher p")
    teacher = ui.url.choice("Family", list(TEACHERS), key="pg_teacher", format_func=TEACHERS.get)
    if teacher == "gmm":
        weights, means, stds = ui.mixture_teacher("pg", max_components=MAX_COMPONENTS, means=(-9.0, 9.0),
                                                  stds=(0.05, 5.0))
        grid_n = ui.url.choice("Grid points on [-10, 10]", pg.GRID_SIZES, key="pg_grid",
                               widget=st.select_slider,
                               value=256)
        targs = dict(teacher="gmm", weights=weights, means=means, stds=stds, grid_n=grid_n)
    elif teacher == "preset":
        targs = dict(teacher="preset", **ui.discrete_teacher("pg", classes=(2, 1000, 1)))
    else:
        targs = dict(teacher="values", values=ui.teacher_upload("pg"))

    st.subheader("Student q")
    student = ui.url.choice("Family", list(STUDENTS), key="pg_student", format_func=STUDENTS.get)
    sargs = dict(student=student)
    if student == "gaussian":
        if teacher == "gmm":
            sargs["mu0"] = ui.url.slider("start mean μ₀", -10.0, 10.0, 1.5, 0.1, key="pg_mu0")
            sargs["sigma0"] = ui.url.slider("start std σ₀", 0.05, 10.0, 1.0, 0.05, key="pg_sigma0")
        else:  # discrete supports differ in length: the start is given relative to the support
            frac = (ui.url.slider("start mean μ₀ (0 = first class, 1 = last)", 0.0, 1.0, 0.5, 0.01,
                                  key="pg_dmu0"),
                    ui.url.slider("start std σ₀ (fraction of the support's width)", 0.01, 1.0, 0.1, 0.01,
                                  key="pg_dsigma0"))
        sargs["fixed_sigma"] = ui.url.checkbox("Fixed variance (fit μ only)", key="pg_fixed")
    else:
        sargs["init"] = ui.url.choice("Start logits", ["random", "uniform"], key="pg_init", horizontal=True,
                                      help="random: uniform in [0, 1) from the seed (AKL's toy)")
        sargs["seed"] = int(ui.url.number("Seed", 0, 10**6, 1, key="pg_seed"))

    st.subheader("Divergences")
    names = ui.divergence_picker("pg_divs", list(DIVERGENCES), ("fkl", "rkl"))
    params = {n: {prm.name: param_widget(n, prm) for prm in DIVERGENCES[n].params}
              | {flag: ui.url.checkbox(f"{flag} ({DIVERGENCES[n].label})", key=f"pg_{n}_{flag}")
                 for flag in sorted(DIVERGENCES[n].flags)} for n in names}
    params = {n: v for n, v in params.items() if v}
    st.subheader("Optimiser")
    optimizer, lr, steps = ui.optimiser("pg", lrs=LRS, steps=(*pg.STEPS_RANGE, 300, 10))

ui.lesson_header(
    "Playground",
    "Every control of the lessons in one place: pick a teacher, a student family and any divergences with "
    "any parameters; every divergence gets its own student, all from the same start. **Look at** the "
    "animation first, then where each student ends and how fast its loss falls.",
    formulas=names)
if not names:
    st.warning("Pick at least one divergence in the sidebar.")
    st.stop()
if teacher == "gmm" and sum(targs["weights"]) <= 0:
    st.error("The teacher needs a positive weight on at least one component (all weights are 0).")
    st.stop()
if teacher == "upload" and targs["values"] is None:
    st.info(f"Upload a teacher in the sidebar (one column of probabilities or logits; up to {MAX_CLASSES} "
            "classes, 5 MB), or use the example file.")
    st.stop()
try:
    x, log_p = pg.teacher_distribution(**targs)
    if student == "gaussian" and teacher != "gmm":
        width = float(x[-1] - x[0])
        sargs.update(mu0=float(x[0] + frac[0] * width), sigma0=frac[1] * width)
    risks = pg.risks(x, log_p, names, params, student=student, sigma0=sargs.get("sigma0"),
                     optimizer=optimizer,
                     lr=lr, steps=steps)
except ValueError as err:
    st.error(f"Invalid configuration: {err}")
    st.stop()
for r in risks:
    st.warning(r)
if not [n for n in names if n not in pg.drops(names, len(x))]:
    st.error("Nothing left to fit: choose a divergence that runs at this size (see the warning above).")
    st.stop()

config = dict(**targs, **sargs, names=names, params=params, optimizer=optimizer, lr=lr, steps=steps)
try:  # every fit goes through the server's one queue: a class shares two cores
    done = ui.jobs.run(run, key="pg_job", **config)
except ValueError as err:
    st.error(f"Invalid configuration: {err}")
    st.stop()
if done is None:
    st.stop()
res, figs = done
if isinstance(res, str):
    st.warning(res)
    st.stop()
for note in pg.run_notes(res):
    st.warning(note)

st.subheader("The fit, step by step")
# theme=None on every chart: the white template keeps the teacher's dark grey legible in the dark theme.
st.plotly_chart(figs["anim"], key="pg_anim", theme=None)
if len(res.fit.frame_steps) < min(pg.MAX_FRAMES, res.steps + 1):
    st.caption(f"{len(res.fit.frame_steps)} frames kept ({len(res.names)} students × {len(res.x)} points "
               f"would "
               "make a larger animation than a browser should receive).")
c1, c2 = st.columns(2)
with c1:
    st.subheader("Where the students end" if res.teacher_kind == "gmm" else "Start and end")
    st.plotly_chart(figs["final"], key="pg_final", theme=None)
with c2:
    st.subheader("Loss curves")
    o1, o2 = st.columns(2)
    with o1:
        relative = ui.url.checkbox("relative to the start, D_t / D_0", key="pg_rel")
    with o2:
        log_y = ui.url.checkbox("log axis", key="pg_logy")
    st.plotly_chart(figs[f"loss_{relative}_{log_y}"], key="pg_loss", theme=None)
if "params" in figs:
    st.subheader("Student parameters")
    st.plotly_chart(figs["params"], key="pg_params", theme=None)
if "headtail" in figs:
    st.subheader(f"Head and tail error (AKL's split, μ = {res.mu_split:g})")
    st.plotly_chart(figs["headtail"], key="pg_headtail", theme=None)

st.dataframe(pg.summary(res), key="pg_summary", hide_index=True)
st.caption("— : no value (a divergence without parameters; a loss that is not a number after the fit "
           "diverged). 0: zero to the fit's precision. ∞: infinite.")
st.caption(f"Teacher: mean {round(res.teacher_mean, 4) + 0.0:g}, std {res.teacher_std:.4g} on the support. A "
           "Gaussian student is cut to the support and renormalised, so its std can be smaller than its σ "
           "parameter.")
st.caption(f"Fit time: {res.seconds:.2f} s for {len(res.names)} students × {res.steps} steps ({len(res.x)} "
           f"points).")
csv, data = res.export()
ui.downloads("kdviz_playground", key="pg_dl", csv=csv, data=data,
             config={k: v for k, v in config.items() if k != "values"})
ui.takeaway(pg.takeaway(res))
