"""Playground: every control of every lesson on one page. Widgets -> one cached fit -> figures."""

import numpy as np
import streamlit as st

import ui
from kdviz.divergences import DIVERGENCES
from kdviz.experiments import playground as pg
from kdviz.experiments.head_tail import KIND_OPTIONS, parse_teacher_file, sample_csv
from kdviz.families import DISCRETE_PRESETS, MAX_CLASSES, MAX_COMPONENTS
from kdviz.fitting import OPTIMIZERS
from kdviz.plots import playground as plots

LRS = tuple(float(f"{m * 10.0 ** e:g}") for e in range(-4, 3) for m in (1, 2, 5) if m * 10.0 ** e <= 100)
COMPONENTS = [(0.5, -3.0, 1.0), (0.5, 3.0, 1.0), (0.3, 0.0, 1.0), (0.2, 6.0, 0.5), (0.2, -6.0, 0.5)]
BUDGET_S = 20.0  # estimated fits longer than this wait for a click on "Run anyway"
TEACHERS = {"gmm": "Gaussian mixture", "preset": "Discrete preset", "upload": "Upload a vector"}
STUDENTS = {"gaussian": "Gaussian N(μ, σ²)", "softmax": "Softmax (free logits)"}


@st.cache_data(max_entries=ui.CACHE_ENTRIES, show_spinner="Fitting the students...")
def run(**kwargs):
    return pg.playground(**kwargs)


@st.cache_resource(max_entries=ui.CACHE_ENTRIES, show_spinner=False)
def figures(run_key: str, _res) -> dict:
    """The figures that depend on the run only, built once per configuration and shared read-only
    by all sessions (as the lessons' ``ui.ship``). ``run_key`` identifies the run; ``_res`` (its
    result) is not hashed."""
    figs = {"anim": plots.fit_animation(_res), "final": plots.final_fits(_res)}
    if _res.mu is not None:
        figs["params"] = plots.parameter_paths(_res)
    if _res.fit.head_error is not None:
        figs["headtail"] = plots.head_tail_errors(_res)
    return ui.ship(figs)


@st.cache_data(max_entries=ui.CACHE_ENTRIES, show_spinner="Timing three steps...")
def seconds_per_step(**kwargs):
    return pg.seconds_per_step(**kwargs)


def param_widget(name: str, prm, container):
    """One widget for one registry Param, from its range alone (choices, decades or a plain interval)."""
    key, text = f"pg_{name}_{prm.name}", f"{prm.name} ({DIVERGENCES[name].label})"
    if prm.choices:
        return container.radio(text, list(prm.choices), index=list(prm.choices).index(prm.default), key=key,
                               bind="query-params", horizontal=True, help=prm.help)
    if pg.is_wide(prm):
        return container.select_slider(text, pg.log_ladder(prm), value=float(prm.default), key=key,
                                       bind="query-params", help=prm.help, format_func=lambda v: f"{float(v):g}")
    return container.slider(text, float(prm.low), float(prm.high), float(prm.default),
                            (prm.high - prm.low) / 100, key=key, bind="query-params", help=prm.help)


with st.sidebar:
    st.subheader("Teacher p")
    teacher = st.radio("Family", list(TEACHERS), key="pg_teacher", bind="query-params", format_func=TEACHERS.get)
    targs, values = {}, None
    if teacher == "gmm":
        k = st.slider("Components", 1, MAX_COMPONENTS, 2, key="pg_k", bind="query-params")
        weights, means, stds = [], [], []
        for i in range(1, k + 1):
            w0, m0, s0 = COMPONENTS[i - 1]
            c1, c2, c3 = st.columns(3)
            weights.append(c1.number_input(f"weight {i}", 0.0, 1.0, w0, 0.05, key=f"pg_w{i}", bind="query-params"))
            means.append(c2.number_input(f"mean {i}", -9.0, 9.0, m0, 0.25, key=f"pg_m{i}", bind="query-params"))
            stds.append(c3.number_input(f"std {i}", 0.05, 5.0, s0, 0.05, key=f"pg_s{i}", bind="query-params"))
        grid_n = st.select_slider("Grid points on [-10, 10]", pg.GRID_SIZES, value=256, key="pg_grid",
                                  bind="query-params")
        targs = dict(teacher="gmm", weights=tuple(weights), means=tuple(means), stds=tuple(stds), grid_n=grid_n)
    elif teacher == "preset":
        preset = st.selectbox("Preset", list(DISCRETE_PRESETS), key="pg_preset", bind="query-params",
                              format_func=lambda n: DISCRETE_PRESETS[n][0])
        fixed50 = preset in pg.AKL_PRESETS
        n_classes = st.slider("Classes", 2, 1000, 50, key="pg_classes", bind="query-params", disabled=fixed50,
                              help="AKL's toys are defined on their 50 classes." if fixed50 else None)
        targs = dict(teacher="preset", preset=preset, n_classes=n_classes)
        if preset == "zipf":
            targs["zipf_exponent"] = st.slider("Zipf exponent", 0.0, 3.0, 1.2, 0.05, key="pg_zipf", bind="query-params")
        if preset == "dirichlet":
            targs["dirichlet_seed"] = st.number_input("Seed", 0, 10**6, 0, key="pg_dseed", bind="query-params")
    else:
        kind = st.radio("The numbers are", list(KIND_OPTIONS), key="pg_kind", bind="query-params", horizontal=True)
        up = st.file_uploader("Teacher (CSV/TXT: one column or row of numbers; or .npy)", ["csv", "txt", "npy"],
                              key="pg_upload")
        st.download_button("Example file (CSV)", sample_csv(), "teacher_example.csv", "text/csv", key="pg_example")
        if up is not None:
            try:
                values = tuple(float(v) for v in parse_teacher_file(up.name, up.getvalue(), KIND_OPTIONS[kind]))
            except ValueError as err:
                st.error(f"Cannot read {up.name}: {err}")
        targs = dict(teacher="values", values=values)

    st.subheader("Student q")
    student = st.radio("Family", list(STUDENTS), key="pg_student", bind="query-params", format_func=STUDENTS.get)
    sargs = dict(student=student)
    if student == "gaussian":
        if teacher == "gmm":
            sargs["mu0"] = st.slider("start mean μ₀", -10.0, 10.0, 1.5, 0.1, key="pg_mu0", bind="query-params")
            sargs["sigma0"] = st.slider("start std σ₀", 0.05, 10.0, 1.0, 0.05, key="pg_sigma0", bind="query-params")
        else:  # discrete supports differ in length: the start is given relative to the support
            frac_mu = st.slider("start mean μ₀ (0 = first class, 1 = last)", 0.0, 1.0, 0.5, 0.01, key="pg_dmu0",
                                bind="query-params")
            frac_sigma = st.slider("start std σ₀ (fraction of the support's width)", 0.01, 1.0, 0.1, 0.01,
                                   key="pg_dsigma0", bind="query-params")
            sargs["frac"] = (frac_mu, frac_sigma)
        sargs["fixed_sigma"] = st.checkbox("Fixed variance (fit μ only)", key="pg_fixed", bind="query-params")
    else:
        sargs["init"] = st.radio("Start logits", ["random", "uniform"], key="pg_init", bind="query-params",
                                 horizontal=True, help="random: uniform in [0, 1) from the seed (AKL's toy)")
        sargs["seed"] = st.number_input("Seed", 0, 10**6, 1, key="pg_seed", bind="query-params")

    st.subheader("Divergences")
    names = tuple(ui.divergence_picker("pg_divs", list(DIVERGENCES), ("fkl", "rkl")))
    params = {}
    for n in names:
        spec = DIVERGENCES[n]
        for prm in spec.params:
            params.setdefault(n, {})[prm.name] = param_widget(n, prm, st)
        for flag in sorted(spec.flags):
            params.setdefault(n, {})[flag] = st.checkbox(f"{flag} ({spec.label})", key=f"pg_{n}_{flag}",
                                                         bind="query-params")

    st.subheader("Optimiser")
    optimizer = st.radio("Optimiser", list(OPTIMIZERS), key="pg_opt", bind="query-params", horizontal=True,
                         format_func=str.upper)
    lr = st.select_slider("Learning rate", LRS, value=0.1, key="pg_lr", bind="query-params")
    steps = st.slider("Steps", *pg.STEPS_RANGE, 300, 10, key="pg_steps", bind="query-params")

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
if teacher == "upload" and values is None:
    st.info("Upload a teacher in the sidebar (one column of probabilities or logits; up to "
            f"{MAX_CLASSES} classes, 5 MB), or use the example file.")
    st.stop()
try:
    x, log_p = pg.teacher_distribution(**targs)
    if "frac" in sargs:
        fm, fs = sargs.pop("frac")
        width = float(x[-1] - x[0])
        sargs.update(mu0=float(x[0] + fm * width), sigma0=fs * width)
    risks = pg.risks(x, log_p, names, params, student=student, sigma0=sargs.get("sigma0"), optimizer=optimizer,
                     lr=float(lr), steps=int(steps))
except ValueError as err:
    st.error(f"Invalid configuration: {err}")
    st.stop()
for r in risks:
    st.warning(r)
if not [n for n in names if n not in pg.drops(names, len(x))]:
    st.error("Nothing left to fit: choose a divergence that runs at this size (see the warning above).")
    st.stop()

args = dict(**targs, **sargs, names=names, params={n: dict(v) for n, v in params.items()}, optimizer=optimizer,
            lr=float(lr), steps=int(steps))
if any(n in pg.ENTROPIC for n in names):  # only the entropic-OT fits can take minutes
    try:
        estimate = seconds_per_step(**args) * steps
    except ValueError as err:
        st.error(f"Invalid configuration: {err}")
        st.stop()
    approved = st.session_state.setdefault("pg_approved", [])
    if estimate > BUDGET_S and repr(args) not in approved:
        st.warning(f"This fit would take about {estimate:.0f} s (measured on three steps). Fewer steps, fewer "
                   "points, a larger epsilon or fewer Sinkhorn divergences make it faster.")
        if not st.button(f"Run anyway (about {estimate:.0f} s)", key="pg_go"):
            st.stop()
        approved.append(repr(args))
try:
    res = run(**args)
except ValueError as err:
    st.error(f"Invalid configuration: {err}")
    st.stop()
for note in pg.run_notes(res):
    st.warning(note)
figs = figures(repr(sorted(args.items())), res)

st.subheader("The fit, step by step")
# theme=None on every chart: the white template keeps the teacher's dark grey legible in the dark theme.
st.plotly_chart(figs["anim"], key="pg_anim", theme=None)
if len(res.fit.frame_steps) < min(pg.MAX_FRAMES, res.steps + 1):
    st.caption(f"{len(res.fit.frame_steps)} frames kept ({len(res.names)} students × {len(res.x)} points would "
               "make a larger animation than a browser should receive).")
c1, c2 = st.columns(2)
with c1:
    st.subheader("Where the students end" if res.teacher_kind == "gmm" else "Start and end")
    st.plotly_chart(figs["final"], key="pg_final", theme=None)
with c2:
    st.subheader("Loss curves")
    o1, o2 = st.columns(2)
    relative = o1.checkbox("relative to the start, D_t / D_0", key="pg_rel", bind="query-params")
    log_y = o2.checkbox("log axis", key="pg_logy", bind="query-params")
    st.plotly_chart(plots.loss_curves(res, relative=relative, log_y=log_y), key="pg_loss", theme=None)
if "params" in figs:
    st.subheader("Student parameters")
    st.plotly_chart(figs["params"], key="pg_params", theme=None)
if "headtail" in figs:
    st.subheader(f"Head and tail error (AKL's split, μ = {res.mu_split:g})")
    st.plotly_chart(figs["headtail"], key="pg_headtail", theme=None)

final_tvd = 0.5 * np.abs(res.fit.final_q - res.p[None, :]).sum(-1)
summary = {"divergence": [DIVERGENCES[n].label for n in res.names],
           "parameters": [", ".join(f"{k}={v:g}" if not isinstance(v, bool) else f"{k}={v}"
                                    for k, v in res.params[n].items()) or "-" for n in res.names],
           "final loss": [float(v) if np.isfinite(v) else None for v in res.fit.loss[:, -1]],
           "final TVD to p": final_tvd, "mean of q": res.q_mean, "std of q": res.q_std,
           "diverged at step": [int(t) if t >= 0 else None for t in res.fit.diverged_at]}
if res.mu is not None:
    summary.update({"parameter μ": res.mu[:, -1], "parameter σ": res.sigma[:, -1]})
st.dataframe(summary, key="pg_summary", hide_index=True,
             column_config={c: st.column_config.NumberColumn(format="%.4g")
                            for c in ("final loss", "final TVD to p", "mean of q", "std of q", "parameter μ",
                                      "parameter σ")})
st.caption(f"Teacher: mean {round(res.teacher_mean, 4) + 0.0:g}, std {res.teacher_std:.4g} on the support. A Gaussian student "
           "is cut to the support and renormalised, so its std can be smaller than its σ parameter.")
st.caption(f"Fit time: {res.seconds:.2f} s for {len(res.names)} students × {res.steps} steps "
           f"({len(res.x)} points).")
ui.downloads("kdviz_playground", key="pg_dl",
             csv={"x": res.x, "teacher_p": res.p, **{f"q_{n}": res.fit.final_q[k] for k, n in enumerate(res.names)}},
             data={"config": {k: v for k, v in args.items() if k != "values"}, "names": res.names,
                   "loss": res.fit.loss, "final_q": res.fit.final_q, "diverged_at": res.fit.diverged_at,
                   **({"mu": res.mu, "sigma": res.sigma} if res.mu is not None else {})})
ui.takeaway(pg.takeaway(res))
