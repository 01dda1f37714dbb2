"""The playground: its experiment (risks, teachers, fits) and pages/playground.py under AppTest."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from figjson import arr, shipped, validated
from streamlit.testing.v1 import AppTest

from kdviz.divergences import DIVERGENCES
from kdviz.experiments import playground as pg
from kdviz.fitting import FitStopped
from kdviz.i18n import Display, displayed
from kdviz.jobs import CANCELLED, OVER_BUDGET, PROJECTED, Budget, Token
from kdviz.plots import playground as plots
from kdviz.plots.common import MAX_FRAMES as PLOT_FRAMES

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "playground.py")
TIMEOUT = 300  # s: a cold fit on a loaded 2-core machine


# --------------------------------------------------------------------------- the experiment
def test_narrow_mixture_component_keeps_finite_log_probabilities_so_reverse_kl_stays_finite():
    x, log_p = pg.teacher_distribution("gmm", weights=(1.0,), means=(0.0,), stds=(0.05,), grid_n=256)
    assert np.exp(log_p).min() == 0.0  # the probabilities underflow far from the spike...
    assert np.isfinite(log_p).all()  # ...but their logs do not
    res = pg.playground(weights=(1.0,), means=(0.0,), stds=(0.05,), names=("rkl",), steps=10)
    assert (res.fit.diverged_at == -1).all() and np.isfinite(res.fit.loss).all()


def test_risks_flag_identically_zero_divergences_from_their_kl_terms():
    x, log_p = pg.teacher_distribution()
    msgs = pg.risks(x, log_p, ["jsd", "skl", "srkl", "fkl"], {"jsd": {"beta": 0.0}, "skl": {"alpha": 1.0}},
                    student="gaussian", sigma0=1.0)
    flagged = {s.label for s in DIVERGENCES.values() if any(m.startswith(s.label + " with") for m in msgs)}
    assert flagged == {"JSD", "Skew KL"}  # SRKL at its default alpha and FKL are fine


def test_risks_name_exactly_the_divergences_made_infinite_by_teacher_zeros():
    x, log_p = pg.teacher_distribution("values", values=[0.5, 0.5, 0.0, 0.0])
    msgs = [m for m in pg.risks(x, log_p, list(DIVERGENCES), {"srkl": {"alpha": 0.0}}, student="softmax")
            if "probability 0" in m]
    assert len(msgs) == 1
    named = {n for n, s in DIVERGENCES.items()
             if s.label + "," in msgs[0] + "," or s.label + " contain" in msgs[0]}
    assert named == {"rkl", "fkl_rkl", "akl", "srkl"}
    res = pg.playground("values", values=[0.5, 0.5, 0.0, 0.0], student="softmax", names=("fkl", "rkl"),
                        steps=5)
    assert list(res.fit.diverged_at) == [-1, 0] and len(pg.run_notes(res)) == 1


def test_entropic_divergences_are_dropped_with_a_message_above_the_size_limit_and_kept_below():
    x, log_p = pg.teacher_distribution(grid_n=256)
    assert (pg.drops(["fkl", "sinkhorn", "sinkhorn_div", "wasserstein"], len(x))
            == ["sinkhorn", "sinkhorn_div"])
    assert any("Left out" in m for m in pg.risks(x, log_p, ["sinkhorn"], {}, student="gaussian", sigma0=1.0))
    res = pg.playground(grid_n=256, names=("fkl", "sinkhorn"), steps=2)
    assert res.names == ["fkl"] and res.dropped == ["sinkhorn"]
    small = pg.playground(grid_n=64, names=("sinkhorn",), params={"sinkhorn": {"epsilon": 5.0}}, steps=2)
    assert small.names == ["sinkhorn"] and np.isfinite(small.fit.loss).all()


def test_gaussian_student_on_a_discrete_preset_moves_to_the_teacher_mean_under_forward_kl():
    res = pg.playground("preset", preset="akl_unimodal", student="gaussian", mu0=20.0, sigma0=10.0,
                        names=("fkl",), steps=300, lr=0.1)
    # the start, in x units
    assert res.mu[0, 0] == pytest.approx(20.0) and res.sigma[0, 0] == pytest.approx(10.0)
    assert abs(res.mu[0, -1] - res.teacher_mean) < abs(20.0 - res.teacher_mean) / 10
    assert abs(res.q_std[0] - res.teacher_std) < 0.1 * res.teacher_std  # FKL: moment matching on the support


def test_risks_warn_when_adam_cannot_carry_a_gaussian_across_a_wide_support():
    x, log_p = pg.teacher_distribution("preset", preset="akl_unimodal")  # support 0..98
    slow = pg.risks(x, log_p, ["fkl"], {}, student="gaussian", sigma0=10.0, optimizer="adam", lr=0.01,
                    steps=300)
    fast = pg.risks(x, log_p, ["fkl"], {}, student="gaussian", sigma0=10.0, optimizer="adam", lr=0.1,
                    steps=300)
    assert any("learning rate" in m for m in slow) and not any("learning rate" in m for m in fast)


def test_frames_shrink_for_huge_students_but_never_below_the_minimum():
    assert pg.n_frames_for(2, 256, 300) == pg.MAX_FRAMES
    assert pg.n_frames_for(11, 5000, 300) == pg.MIN_FRAMES
    assert pg.n_frames_for(1, 50, 5) == 6  # never more frames than steps + 1


def test_takeaway_reports_the_final_students_moments_it_computed():
    res = pg.playground(steps=40)
    text = pg.takeaway(res)
    for k in range(len(res.names)):
        assert f"std {round(float(res.q_std[k]), 2) + 0.0:.2f}" in text
    assert "-0.00" not in text


def test_the_chinese_takeaway_and_warnings_are_translated_and_carry_the_same_numbers_as_the_english():
    numbers = re.compile(r"-?\d+(?:\.\d+)?")
    res = pg.playground(steps=40)
    x, log_p = pg.teacher_distribution("preset", preset="akl_unimodal")  # Adam too slow, a spike start

    def texts():
        return [pg.takeaway(res), *pg.risks(x, log_p, ["fkl"], {}, student="gaussian", sigma0=0.1, lr=0.01)]

    english = texts()
    with displayed(Display(lang="zh")):
        chinese = texts()
    assert len(english) == len(chinese) == 3
    for en, zh in zip(english, chinese):
        assert zh != en and sorted(numbers.findall(zh)) == sorted(numbers.findall(en)), (en, zh)


def test_forward_kl_matches_the_teachers_moments_on_the_support_even_when_sigma_does_not():
    res = pg.playground("preset", preset="akl_bimodal", student="gaussian", mu0=50.0, sigma0=10.0,
                        names=("fkl",), steps=600, lr=0.1)
    assert res.q_mean[0] == pytest.approx(res.teacher_mean, abs=0.05 * res.teacher_std)
    assert res.q_std[0] == pytest.approx(res.teacher_std, rel=0.05)
    assert res.sigma[0, -1] > 1.2 * res.q_std[0]  # the cut Gaussian is narrower than its parameter


def test_loss_curves_stop_at_a_divergence_and_contain_no_nan():
    res = pg.playground("values", values=[0.5, 0.5, 0.0, 0.0], student="softmax", names=("fkl", "rkl"),
                        steps=5)
    for relative in (False, True):
        for log_y in (False, True):
            traces = plots.loss_curves(res, relative=relative, log_y=log_y).to_dict()["data"]
            ys = np.concatenate([arr(t["y"]) for t in traces])
            assert np.isfinite(ys).all() and len(ys) > 0
            assert [t["name"].endswith("(stops at step 0)") for t in traces] == [False, True]


def test_log_ladder_covers_each_wide_parameter_range_and_includes_the_default():
    wide = [prm for s in DIVERGENCES.values() for prm in s.params if pg.is_wide(prm)]
    assert wide  # epsilon at least
    for prm in wide:
        ladder = pg.log_ladder(prm)
        assert prm.default in ladder and ladder == sorted(ladder)
        assert all(prm.check(v) == v for v in ladder)  # every option is a valid value
        assert ladder[-1] / ladder[0] >= 1e6  # spans the decades, not a sliver of them


# --------------------------------------------------------------------------- the page
def figure(at: AppTest, key: str) -> dict:
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert len(charts) == 1, f"no chart {key}"
    return json.loads(charts[0].proto.spec)


def charts(at: AppTest) -> set[str]:
    return {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}


def test_page_defaults_fit_a_gaussian_under_forward_and_reverse_kl():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception and not at.error
    assert charts(at) == {"pg_anim", "pg_final", "pg_loss", "pg_params"}
    names = [t["name"] for t in figure(at, "pg_loss")["data"]]
    assert names == [DIVERGENCES["fkl"].label, DIVERGENCES["rkl"].label]
    # the run keeps pg.MAX_FRAMES snapshots; the figure ships at most plots' MAX_FRAMES of them, ends included
    names = [f["name"] for f in figure(at, "pg_anim")["frames"]]
    assert len(names) == min(pg.MAX_FRAMES, PLOT_FRAMES) and names[0] == "0"
    assert names[-1] == str(at.slider(key="pg_steps").value)


def test_every_chart_as_shipped_passes_plotlys_validation():
    """The figures are built without plotly's validation: what the page ships must still pass it."""
    charts = shipped(AppTest.from_file(PAGE, default_timeout=TIMEOUT).run())
    assert len(charts) == 4
    for spec in charts.values():
        validated(spec)


def test_page_builds_one_widget_per_registry_parameter_and_flag_of_the_chosen_divergences():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({"pg_steps": "10", "pg_grid": "64",
                            "pg_divs": [s.label for s in DIVERGENCES.values() if s.params or s.flags]})
    at.run()
    assert not at.exception
    keys = {w.key for kind in (at.slider, at.select_slider, at.radio, at.checkbox) for w in kind}
    for n, spec in DIVERGENCES.items():
        for name in [p.name for p in spec.params] + sorted(spec.flags):
            if spec.params or spec.flags:
                assert f"pg_{n}_{name}" in keys, (n, name)


def test_page_softmax_student_on_a_preset_shows_head_tail_errors_instead_of_parameters():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({"pg_teacher": "Discrete preset", "pg_student": "Softmax (free logits)",
                            "pg_divs": ["Forward KL", "AKL", "TVD"], "pg_steps": "50"})
    at.run()
    assert not at.exception and not at.error
    assert charts(at) == {"pg_anim", "pg_final", "pg_loss", "pg_headtail"}
    assert [t["name"] for t in figure(at, "pg_loss")["data"]] == ["Forward KL", "AKL", "TVD"]


def test_page_url_restores_the_controls_and_the_fit_uses_them():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({"pg_opt": "SGD", "pg_lr": "0.5", "pg_steps": "40", "pg_divs": ["JSD"],
                            "pg_jsd_beta": "1.0"})
    at.run()
    assert not at.exception
    assert at.radio(key="pg_opt").value == "sgd" and at.select_slider(key="pg_lr").value == 0.5
    assert at.slider(key="pg_steps").value == 40 and at.slider(key="pg_jsd_beta").value == 1.0
    assert any("identically 0" in w.value for w in at.warning)
    loss = figure(at, "pg_loss")["data"][0]
    assert len(loss["x"] if not isinstance(loss["x"], dict) else np.frombuffer(
        __import__("base64").b64decode(loss["x"]["bdata"]), dtype=loss["x"]["dtype"])) == 41


def test_page_all_weights_zero_gives_an_error_not_a_traceback():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({"pg_w1": "0.0", "pg_w2": "0.0"})
    at.run()
    assert not at.exception
    assert at.error and "weight" in at.error[0].value


def test_page_upload_without_a_file_asks_for_one():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({"pg_teacher": "Upload a vector"})
    at.run()
    assert not at.exception and at.info and "Upload" in at.info[0].value
    assert not at.get("plotly_chart")


def test_a_learning_rate_that_throws_sigma_past_float_range_stops_the_sigma_curve_with_a_note():
    res = pg.playground(optimizer="sgd", lr=100.0, steps=100, names=("fkl", "rkl"), grid_n=64)
    assert not np.isfinite(res.sigma[0]).all()  # exp(log sigma) overflowed for forward KL...
    t = int(res.flat_from[0])
    assert 0 < t <= 100 and res.shown_until[0] == t
    assert any(m.startswith("Forward KL: at step") for m in pg.run_notes(res))
    traces = plots.parameter_paths(res).to_dict()["data"]
    ys = np.concatenate([arr(tr["y"]) for tr in traces])
    assert np.isfinite(ys).all()  # ...but no inf reaches the figure
    assert len(arr(traces[0]["x"])) == t
    assert "flat" in pg.takeaway(res)


# --------------------------------------------------------------------------- the compute budget
EXPENSIVE = {"pg_divs": ["Sinkhorn", "Sinkhorn divergence"], "pg_grid": "128", "pg_steps": "2000",
             "pg_sinkhorn_epsilon": "0.01", "pg_sinkhorn_div_epsilon": "0.01"}


def test_an_expensive_url_is_stopped_by_the_budget_with_a_cheaper_suggestion_and_no_exception():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update(EXPENSIVE)
    at.run()
    assert not at.exception and not at.get("plotly_chart")
    stopped = [w.value for w in at.warning if w.value.startswith("Stopped after")]
    assert len(stopped) == 1 and "of 2000 steps" in stopped[0] and "lower the steps to" in stopped[0]
    assert not [b for b in at.button if "anyway" in b.label]  # nothing to click past the budget


def test_an_over_budget_stop_names_the_steps_that_would_fit_at_the_measured_rate():
    budget = Budget(0.2, steps=2000, probe_s=0.1)
    with pytest.raises(FitStopped) as info:
        pg.playground(grid_n=64, names=("sinkhorn",), params={"sinkhorn": {"epsilon": 0.01}}, steps=2000,
                      should_stop=budget)
    assert info.value.reason in (OVER_BUDGET, PROJECTED) and info.value.step < 2000
    fits = budget.affordable_steps()
    assert 0 < fits < 2000 and f"lower the steps to {fits} or fewer" in pg.over_budget(info.value, budget)


def test_a_cancelled_fit_raises_fit_stopped_at_once():
    token = Token()
    token.cancel()
    with pytest.raises(FitStopped) as info:
        pg.playground(grid_n=64, names=("fkl",), steps=50, should_stop=Budget(10.0, 50, token=token))
    assert info.value.reason == CANCELLED and info.value.step == 0
