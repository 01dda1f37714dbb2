"""The guided "predict, then reveal" path: every step's one click sets the page's controls, an
answer reveals the step's sentence (right or wrong), and each sentence's numbers hold for the state
the step sets, recomputed with the lesson's experiment."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from kdviz.experiments import gradients as gr
from kdviz.experiments import head_tail as ht
from kdviz.experiments import mode_seeking as ms
from kdviz.experiments import optimal_transport as otl
from kdviz.experiments import outliers as ol
from kdviz.experiments import overlap as ov
from kdviz.guides import GUIDES, MAIN_CHART, guide
from kdviz.i18n import Display, _, displayed
from ui.guide import md

PAGES = Path(__file__).resolve().parents[2] / "pages"
TIMEOUT = 300
KINDS = ("radio", "selectbox", "select_slider", "slider", "number_input", "multiselect", "checkbox")


def widget_value(at: AppTest, key: str):
    for kind in KINDS:
        found = [w for w in at.get(kind) if getattr(w, "key", None) == key]
        if found:
            return found[0].value
    raise AssertionError(f"the page has no widget {key!r}")


def same(value, expected) -> bool:
    if isinstance(expected, list):
        return list(value) == expected
    if isinstance(expected, float):
        return math.isclose(float(value), expected)
    return value == expected


@pytest.mark.parametrize("lesson", list(GUIDES))
def test_each_step_sets_the_pages_controls_in_one_click_and_an_answer_reveals_its_sentence(lesson):
    at = AppTest.from_file(str(PAGES / f"{lesson}.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    asked = [r for r in at.radio if r.key.startswith("guide_")]
    assert not asked, "the question shows before the controls are set"
    for i, step in enumerate(guide(lesson)):
        at.button(key=f"guide_{lesson}_{'apply' if i == 0 else 'next'}").click().run()
        assert not at.exception, (lesson, step.title, at.exception)
        values = {k: widget_value(at, k) for k in step.state}
        changed = {k: (values[k], v) for k, v in step.state.items() if not same(values[k], v)}
        assert not changed, (step.title, changed)
        question = at.radio(key=f"guide_{lesson}_answer_{i}")
        assert question.value is None, "an answer is preselected"
        reveal = md(step.reveal)
        assert not [s for s in at.success if reveal in s.value]
        wrong = (step.answer + 1) % len(step.options)
        question.set_value(wrong).run()
        assert any(reveal in e.value for e in at.error), "a wrong answer does not reveal the sentence"
        at.radio(key=f"guide_{lesson}_answer_{i}").set_value(step.answer).run()
        assert any(reveal in s.value and s.value.startswith("Right") for s in at.success)


def popovers(node) -> list[str]:
    """The labels of the popovers under ``node`` (AppTest has no accessor for them)."""
    found = []
    for child in getattr(node, "children", {}).values():
        proto = getattr(child, "proto", None)
        if getattr(getattr(proto, "DESCRIPTOR", None), "name", "") == "Block" and proto.HasField("popover"):
            found.append(proto.popover.label)
        found += popovers(child)
    return found


def _present_page(path: str):
    """The page at ``path`` as app.py runs it, with the display of the URL (``present=1``, ``lang=zh``)."""
    import runpy

    from ui.display import setup

    setup()
    runpy.run_path(path)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_in_presentation_mode_the_steps_are_slides_and_next_sets_the_controls_with_the_question_folded(lang):
    lesson, steps = "outliers", guide("outliers")
    at = AppTest.from_function(_present_page, args=(str(PAGES / f"{lesson}.py"),), default_timeout=TIMEOUT)
    at.query_params.update({"present": "1", "lang": lang})
    with displayed(Display(lang=lang)):  # AppTest formats the widgets' options in the test's thread
        at.run()
        assert not at.exception, at.exception
        title = _("Step {k} of {n}: {title}").format(k=1, n=len(steps), title=_(steps[0].title))
        assert popovers(at.main)[:1] == [_("About this lesson")]  # the intro and formulas are folded
        assert not [e for e in at.expander if e.label == _("Formulas")]
        assert at.button(key=f"guide_{lesson}_apply").label == title
        assert not [r for r in at.radio if r.key.startswith("guide_")], "a question before the step is set"
        at.button(key=f"guide_{lesson}_next").click().run()
        assert not at.exception
        assert at.multiselect(key="ol_divs").value == steps[1].state["ol_divs"]
        assert md(_(steps[1].question)) in [e.label for e in at.expander], "the question is not folded"
        at.radio(key=f"guide_{lesson}_answer_1").set_value(steps[1].answer).run()
        assert [s.value for s in at.success if md(_(steps[1].reveal)) in s.value]
        at.button(key=f"guide_{lesson}_prev").click().run()
        assert at.multiselect(key="ol_divs").value == steps[0].state["ol_divs"]


def shown_names(at: AppTest) -> tuple[set[str], list[str], bool]:
    """What a step can point to in the page's main area: the titles of its sections (headings, and the
    expanders they fold into in presentation mode) and the labels of its numbers (metrics); its charts'
    titles; whether it has a main chart (ui.main_chart's container)."""
    main = at.main
    sections = {e.value for kind in ("title", "header", "subheader") for e in main.get(kind)}
    sections |= {e.label for e in main.get("expander")} | {m.label for m in main.get("metric")}
    charts = [(json.loads(c.proto.spec)["layout"].get("title") or {}).get("text", "")
              for c in main.get("plotly_chart")]

    def blocks(node):
        for child in getattr(node, "children", {}).values():
            if getattr(getattr(child, "proto", None), "DESCRIPTOR", None) is not None:
                yield child.proto
            yield from blocks(child)
    has_main = any(getattr(b, "id", "").endswith("-main_chart") for b in blocks(main))
    return sections, charts, has_main


def missing_pointer(at: AppTest, look_at: str) -> str | None:
    """Why the page does not show what ``look_at`` names (None if it does), in the display's language."""
    sections, charts, has_main = shown_names(at)
    if look_at == MAIN_CHART:
        return None if has_main else "the page has no main chart"
    name = _(look_at)
    if name in sections or any(title.startswith(name) for title in charts):
        return None
    return f"no section, number or chart titled {name!r}; sections: {sorted(sections)}, charts: {charts}"


VIEWS = {"en": dict(lang="en"), "zh_present": dict(lang="zh", present="1")}


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("lesson", list(GUIDES))
def test_each_step_points_to_a_section_number_or_chart_the_page_shows_at_its_state(lesson, view):
    params = VIEWS[view]
    at = AppTest.from_function(_present_page, args=(str(PAGES / f"{lesson}.py"),), default_timeout=TIMEOUT)
    at.query_params.update(params)
    with displayed(Display(lang=params["lang"])):
        at.run()
        assert not at.exception, at.exception
        assert missing_pointer(at, "The fit, step by step"), "a heading the pages no longer show is found"
        for i, step in enumerate(guide(lesson)):
            at.button(key=f"guide_{lesson}_{'apply' if i == 0 else 'next'}").click().run()
            assert not at.exception, (lesson, step.title, at.exception)
            assert not missing_pointer(at, step.look_at), (step.title, missing_pointer(at, step.look_at))


def test_every_chinese_step_carries_the_numbers_of_its_english_text():
    number = re.compile(r"\d+(?:[.,]\d+)*")
    with displayed(Display(lang="zh")):
        for steps in GUIDES.values():
            for step in steps:
                for text in (step.title, step.question, step.reveal, step.look_at, *step.options):
                    assert sorted(number.findall(_(text))) == sorted(number.findall(text)), (text, _(text))


def test_every_lesson_has_three_to_five_steps_with_one_named_after_a_seed_slide():
    for lesson, steps in GUIDES.items():
        assert 3 <= len(steps) <= 5, lesson
        assert any(s.title.startswith("Seed:") for s in steps), lesson
        assert all(len(s.options) >= 2 for s in steps)


# --- the numbers of the reveal sentences, recomputed for the state each step sets -------------------

def _ms(state):
    k = state["ms_k"]
    weights, means, stds = (tuple(state[f"ms_{c}{i}"] for i in range(1, k + 1)) for c in "wms")
    return ms.mode_seeking(weights, means, stds, state["ms_mu0"], state["ms_sigma0"], tuple(state["ms_divs"]),
                           steps=state["ms_steps"], lr=state["ms_lr"], optimizer=state["ms_opt"],
                           fixed_sigma=state["ms_fixed"], landscape_name=state["ms_land"])


def _ht(state):
    return ht.head_tail(state["ht_preset"], tuple(state["ht_divs"]), init=state["ht_init"],
                        seed=state["ht_seed"], optimizer=state["ht_opt"], lr=state["ht_lr"],
                        steps=state["ht_steps"], mu=state["ht_mu"])


def _gr(state):
    return gr.gradients(state["gr_p"], state["gr_alpha"], tuple(state["gr_divs"]), preset=state["gr_preset"],
                        n_classes=state["gr_classes"], zipf_exponent=state["gr_zipf"], dirichlet_seed=0,
                        student=state["gr_student"], fit_divergence="fkl", fit_steps=20, lr=0.1,
                        seed=state["gr_seed"], mu=state["gr_mu"])


def _ol(state):
    return ol.outliers(state["ol_w"], state["ol_d"], state["ol_s"], tuple(state["ol_divs"]),
                       steps=state["ol_steps"], lr=state["ol_lr"])


def _ov(state):
    return ov.overlap_sweep(state["ov_shape"], state["ov_width"], state["ov_shift"], state["ov_range"],
                            tuple(state["ov_divs"]), state["ov_order"], 1.0)


def _ot(state):
    return otl.transport_lesson(state["ot_preset"], state["ot_n"], state["ot_eps"], state["ot_order"])


def ms_claims(i, r):
    mu, sigma = dict(zip(r.names, r.final_mu)), dict(zip(r.names, r.final_sigma))
    if i == 0:
        assert abs(mu["fkl"]) < 0.1 and abs(sigma["fkl"] - 3.2) < 0.1
    elif i == 1:
        assert abs(mu["rkl"] - 3) < 0.1 and abs(sigma["rkl"] - 1) < 0.1
    elif i == 2:
        assert abs(mu["rkl"] + 3) < 0.1
    else:
        for n in ("jsd", "tvd"):
            assert abs(mu[n]) < 0.1 and abs(sigma[n] - 3.2) < 0.1, n


def ht_claims(i, r):
    share = dict(zip(r.names, r.fit.head_share(10)))
    tvd = dict(zip(r.names, r.tvd[:, -1]))
    if i == 0:
        assert all(round(float(v), 2) == 0.30 for v in r.tvd[:, 1])
        assert all(round(float(v), 2) <= 0.02 for v in tvd.values())
    elif i == 1:
        shares = (round(share["fkl"], 2), round(share["rkl"], 2), round(r.initial_head_share(), 2))
        assert shares == (0.43, 0.36, 0.41)
    elif i == 2:
        assert (round(share["fkl"], 2), round(share["rkl"], 2)) == (0.42, 0.40)
        assert 0 < share["fkl"] - share["rkl"] < 0.03
    else:
        assert share["rkl"] < share["akl"] < share["fkl"] and round(share["akl"], 2) == 0.38


def gr_claims(i, r):
    c = dict(zip(r.coef_names, r.coefficients))
    if i == 0:
        assert r.q[0] == pytest.approx(1e-4) and c["fkl"][0] == pytest.approx(-1 / r.q[0])
        assert abs(c["fkl"][0]) > 100 * abs(c["rkl"][0]) and abs(c["fkl"][0]) > 100 * abs(c["tvd"][0])
    elif i == 1:
        assert r.q[-1] == pytest.approx(1.0)
        assert round(c["rkl"][-1]) == 33 and c["fkl"][-1] == pytest.approx(-1) and c["tvd"][-1] == 0
    else:
        push = dict(zip(r.names, np.round(r.head_share_of_push(), 2)))
        assert push == {"fkl": 0.35, "rkl": 0.12, "tvd": 0.09}


def ol_claims(i, r):
    mu = dict(zip(r.names, r.final_mu))
    if i == 0:
        assert round(mu["fkl"], 2) == round(r.weight * r.distance, 2) == 0.6 and abs(mu["tvd"]) < 0.05
    elif i == 1:
        assert round(mu["fkl"], 1) == 0.6 and all(abs(mu[n]) < 0.05 for n in ("rkl", "skl", "jsd"))
    else:
        jumps = {n: r.sweep_weights[np.argmax(np.diff(r.sweep_mu[k]))] + 0.025 for k, n in enumerate(r.names)}
        assert (round(jumps["skl"], 3), round(jumps["jsd"], 3)) == (0.125, 0.2)
        tvd = r.sweep_mu[r.names.index("tvd")]
        assert np.diff(tvd).max() < 0.05 and round(tvd[-1], 1) == 0.3


def ov_claims(i, r):
    v, g = dict(zip(r.names, r.value)), dict(zip(r.names, r.grad))
    if i == 0:
        assert v["jsd"] == pytest.approx(math.log(2)) and r.disjoint_from() <= r.shift
    elif i == 1:
        assert abs(g["jsd"]) < 1e-9 and round(g["wasserstein"], 1) == 1.0
    elif i == 2:
        assert round(v["wasserstein"], 2) == 3.00
    else:
        assert round(v["jsd"], 2) == 0.42 and v["jsd"] == pytest.approx(0.6 * math.log(2), rel=1e-6)


def ot_claims(i, r):
    if i == 0:
        nonzero = int((r.exact_plan > 0).sum())
        assert nonzero <= 2 * len(r.x) - 1 == 79 and r.exact_plan.size == 1600
    elif i == 1:
        base = _ot(dict(GUIDES["optimal_transport"][0].state))
        assert (base.n_iter, r.n_iter) == (21, 221)
    elif i == 2:
        assert (round(r.sinkhorn, 3), round(r.wasserstein, 3)) == (0.069, 0.042)
    else:
        assert round(float(r.linear[1]), 3) == 0.018 and r.linear[1] > 0


CHECKS = {"mode_seeking": (_ms, ms_claims), "head_tail": (_ht, ht_claims), "gradients": (_gr, gr_claims),
          "outliers": (_ol, ol_claims), "overlap": (_ov, ov_claims), "optimal_transport": (_ot, ot_claims)}


@pytest.mark.parametrize("lesson", list(GUIDES))
def test_each_reveal_sentence_states_the_numbers_of_the_experiment_at_its_steps_state(lesson):
    run, claims = CHECKS[lesson]
    for i, step in enumerate(guide(lesson)):
        claims(i, run(step.state))
