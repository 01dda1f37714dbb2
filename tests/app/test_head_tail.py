"""pages/head_tail.py under AppTest: defaults, presets, controls -> figure JSON, URL, uploads, warnings."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from figjson import arr, figure, shipped, validated
from streamlit.testing.v1 import AppTest

from kdviz.akl import akl_split
from kdviz.divergences import get_spec
from kdviz.experiments import head_tail as ht
from kdviz.families import DISCRETE_PRESETS, discrete_teacher
from kdviz.plots.common import MAX_FRAMES

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "head_tail.py")
TIMEOUT = 300  # s: a cold fit on a loaded 2-core machine
CHARTS = ["ht_bars", "ht_errors", "ht_share", "ht_teachers", "ht_weights", "ht_tvd", "ht_anim"]


def intro(at: AppTest) -> str:
    """The lesson's introduction (the text naming the setting)."""
    return next(m.value for m in at.markdown if "AKL's Fig. 2 toy" in m.value)


def page(**query) -> AppTest:
    """The page with 20 steps (fast) unless the query says otherwise, run once. Query values are
    what the URL holds: the widgets' displayed labels (format_func), e.g. ``ht_opt="SGD"``."""
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({"ht_steps": "20", **query})
    return at.run()


def teacher_in_bars(at: AppTest) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, p, head) of the teacher as drawn in the first panel of the bar figure."""
    data = [t for t in figure(at, "ht_bars")["data"]
            if t.get("xaxis") == "x" and t["name"].startswith("teacher")]
    head, tail = data
    x = np.concatenate([arr(head["x"]), arr(tail["x"])])
    p = np.concatenate([arr(head["y"]), arr(tail["y"])])
    is_head = np.r_[np.ones(len(arr(head["x"])), bool), np.zeros(len(arr(tail["x"])), bool)]
    order = np.argsort(x)
    return x[order], p[order], is_head[order]


def no_nan_anywhere(spec: dict) -> bool:
    return "NaN" not in json.dumps(spec) and all(
        np.isfinite(arr(t["y"])).all() for t in spec["data"] if "y" in t and t["y"] is not None
        and not (isinstance(t["y"], list) and None in t["y"]))


# --------------------------------------------------------------------------- defaults and presets
def test_defaults_show_the_seeds_claim_and_the_takeaway_states_the_charts_numbers():
    """At the defaults (AKL's toy, uniform start, SGD lr 1) the takeaway's shares are the share
    chart's bars, FKL's lead over RKL is beyond the margin, and the random-teacher count is the
    number of dots above the margin band."""
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception and not at.error
    assert [c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")] == CHARTS
    text = at.info[0].value
    bars = figure(at, "ht_share")["data"][0]
    assert bars["x"] == ["Forward KL", "Reverse KL", "AKL"]
    f, r = arr(bars["y"])[:2]
    assert f"FKL's head share is {f:.2f} and RKL's {r:.2f}" in text and "(SGD, lr 1)" in text
    assert f - r > ht.MARGIN and "FKL puts more of its early progress on the head" in text
    dots = [t for t in figure(at, "ht_teachers")["data"] if t["name"] == "one random teacher"][0]
    more = int((arr(dots["y"]) - arr(dots["x"]) > ht.MARGIN).sum())
    assert f"by more than {ht.MARGIN:g} on {more}," in text and more > len(arr(dots["x"])) / 2
    assert "AKL's Fig. 2 toy: 50 classes, SGD, lr 1, 200 steps" in intro(at)


def test_the_contrast_setting_sets_adam_in_the_url_and_the_takeaway_calls_the_difference_too_small():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert at.button_group(key="ht_setting").value == "claim"  # the defaults are the claim's setting
    at.button_group(key="ht_setting").set_value("contrast").run()
    assert at.radio(key="ht_opt").value == "adam" and at.query_params["ht_opt"] in ("adam", "Adam")
    assert at.select_slider(key="ht_lr").value == 0.1
    text = at.info[0].value
    f, r = arr(figure(at, "ht_share")["data"][0]["y"])[:2]
    assert "(Adam, lr 0.1)" in text and abs(f - r) <= ht.MARGIN and "too small to call" in text
    assert "Adam, lr 0.1" in intro(at) and "SGD" not in intro(at)
    at.button_group(key="ht_setting").set_value("claim").run()
    assert at.radio(key="ht_opt").value == "sgd" and "(SGD, lr 1)" in at.info[0].value


def test_the_setting_switch_shows_none_selected_once_the_sidebar_leaves_both_settings():
    at = page()
    at.select_slider(key="ht_lr").set_value(0.3).run()
    assert at.button_group(key="ht_setting").value is None


@pytest.mark.parametrize("preset", list(DISCRETE_PRESETS))
def test_every_preset_runs_and_the_bars_draw_that_teacher_with_its_head_dark(preset):
    at = page(ht_preset=DISCRETE_PRESETS[preset][0])
    assert not at.exception
    x, p, head = teacher_in_bars(at)
    _, want = ht.teacher(preset)
    np.testing.assert_allclose(p, want, rtol=1e-12)
    want_head = akl_split(torch.as_tensor(want), torch.as_tensor(want), 0.5)["head_mask"].numpy()
    np.testing.assert_array_equal(head, want_head)


def test_animation_ships_at_most_50_frames_from_the_first_to_the_last_step():
    at = page(ht_steps="200")  # every step is kept: 201 snapshots
    spec = figure(at, "ht_anim")
    names = [f["name"] for f in spec["frames"]]
    assert len(names) == MAX_FRAMES and names[0] == "0" and names[-1] == "200"
    gaps = np.diff([int(n) for n in names])
    assert gaps.min() >= 1 and gaps.max() <= 2 * np.median(gaps)  # spread evenly over the kept steps
    assert [s["label"] for s in spec["layout"]["sliders"][0]["steps"]] == names  # the slider says the step
    # every frame carries the teacher bars (unchanged: without them plotly.js drops the bars while playing)
    assert all(f["traces"] == [0, 1, 2, 3, 4] and f["data"][:2] == [{"type": "bar"}] * 2
               for f in spec["frames"])
    res = ht.head_tail(steps=200)
    last = np.stack([arr(t["y"]) for t in spec["frames"][-1]["data"][2:]])
    np.testing.assert_allclose(last, res.fit.frames[:, -1], rtol=1e-6)  # float32 of the final students


def test_every_chart_as_shipped_passes_plotlys_validation():
    """The figures are built without plotly's validation: what the page ships must still pass it."""
    charts = shipped(page())
    assert len(charts) == len(CHARTS)
    for spec in charts.values():
        validated(spec)


# --------------------------------------------------------------------------- controls change the figures
def test_compare_step_slider_sets_the_right_hand_panels_step():
    at = page()
    at.slider(key="ht_compare").set_value(7).run()
    titles = [a["text"] for a in figure(at, "ht_bars")["layout"]["annotations"]]
    assert "Forward KL, step 7" in titles and "Forward KL, step 20" not in titles


def test_divergence_picker_sets_the_share_bars_and_their_registry_colours():
    at = page()
    at.multiselect(key="ht_divs").set_value(["fkl", "tvd", "jsd"]).run()
    bars = figure(at, "ht_share")["data"][0]
    assert bars["x"] == [get_spec(n).label for n in ("fkl", "tvd", "jsd")]
    assert bars["marker"]["color"] == [get_spec(n).color for n in ("fkl", "tvd", "jsd")]


def test_mu_moves_the_head_boundary_in_the_bars():
    at = page()
    at.slider(key="ht_mu").set_value(0.2).run()
    _, p, head = teacher_in_bars(at)
    want = akl_split(torch.as_tensor(p), torch.as_tensor(p), 0.2)["head_mask"].numpy()
    np.testing.assert_array_equal(head, want)
    assert head.sum() < akl_split(torch.as_tensor(p), torch.as_tensor(p), 0.5)["head_mask"].sum()


def test_switching_to_adam_changes_the_error_curves_and_the_takeaway():
    at = page()
    before = arr(figure(at, "ht_errors")["data"][0]["y"])
    at.radio(key="ht_opt").set_value("adam").run()
    after = arr(figure(at, "ht_errors")["data"][0]["y"])
    assert not np.allclose(before, after)
    assert "(Adam, lr 1)" in at.info[0].value and "SGD" not in at.info[0].value


def test_share_steps_slider_sets_the_share_figure_to_that_many_steps():
    at = page()
    at.slider(key="ht_share_n").set_value(3).run()
    spec = figure(at, "ht_share")
    assert "first 3 steps" in spec["layout"]["title"]["text"]
    res = ht.head_tail(steps=20)
    np.testing.assert_allclose(arr(spec["data"][0]["y"]), res.fit.head_share(3), atol=1e-12)


# --------------------------------------------------------------------------- the URL
def test_query_params_restore_the_controls_and_the_figures_follow_them():
    at = page(ht_steps="30", ht_opt="SGD", ht_lr="1.0", ht_divs=["Forward KL", "TVD"],
              ht_preset=DISCRETE_PRESETS["zipf"][0], ht_zipf="2.0")
    assert not at.exception
    assert at.slider(key="ht_steps").value == 30 and at.radio(key="ht_opt").value == "sgd"
    assert (at.select_slider(key="ht_lr").value == 1.0
            and at.multiselect(key="ht_divs").value == ["fkl", "tvd"])
    assert at.slider(key="ht_zipf").value == 2.0
    assert len(arr(figure(at, "ht_errors")["data"][0]["x"])) == 31
    np.testing.assert_allclose(teacher_in_bars(at)[1], discrete_teacher("zipf", 50, exponent=2.0)[1])


# --------------------------------------------------------------------------- uploads and warnings
BAD_FILES = [  # (name, bytes, the error must mention)
    ("two_columns.csv", b"0.5,0.5\n0.2,0.8\n", "one column"),
    ("words.csv", b"0.5\nhello\n", "'hello' is not a number"),
    ("empty.csv", b"", "empty"),
    ("nan.csv", b"0.5\nnan\n", "NaN"),
    ("matrix.npy", None, "shape (2, 3)"),
]


@pytest.mark.parametrize("name, data, message", BAD_FILES, ids=[f[0] for f in BAD_FILES])
def test_a_bad_upload_shows_an_error_and_the_page_keeps_the_preset_teacher(name, data, message):
    if data is None:
        import io
        buf = io.BytesIO()
        np.save(buf, np.ones((2, 3)))
        data = buf.getvalue()
    at = page()
    at.file_uploader(key="ht_upload").set_value((name, data, "text/csv")).run()
    assert not at.exception
    assert len(at.error) == 1 and message in at.error[0].value and name in at.error[0].value
    np.testing.assert_allclose(teacher_in_bars(at)[1], discrete_teacher("akl_bimodal")[1])


def test_negative_probabilities_are_an_error_when_the_file_is_declared_as_probabilities():
    at = page(ht_kind="probabilities")
    at.file_uploader(key="ht_upload").set_value(("neg.csv", b"0.5\n-0.1\n0.6\n", "text/csv")).run()
    assert not at.exception and "must be >= 0" in at.error[0].value


def test_a_good_upload_becomes_the_teacher():
    at = page()
    at.file_uploader(key="ht_upload").set_value(("mine.csv", b"probability\n4\n3\n2\n1\n", "text/csv")).run()
    assert not at.exception and not at.error
    x, p, _ = teacher_in_bars(at)
    np.testing.assert_allclose(p, [0.4, 0.3, 0.2, 0.1])
    np.testing.assert_array_equal(x, np.arange(4))


def test_a_teacher_with_a_zero_class_warns_that_reverse_kl_diverged_and_plots_no_nan():
    at = page()
    at.file_uploader(key="ht_upload").set_value(("zero.csv", b"0.5\n0.5\n0\n", "text/csv")).run()
    assert not at.exception
    assert any("p = 0" in w.value and "Reverse KL (step 0)" in w.value for w in at.warning)
    for key in ("ht_errors", "ht_tvd", "ht_weights"):
        assert no_nan_anywhere(figure(at, key))


def test_a_very_large_learning_rate_warns_and_still_plots_finite_curves():
    at = page(ht_lr="100.0")
    assert not at.exception
    assert any("very large" in w.value for w in at.warning)
    assert no_nan_anywhere(figure(at, "ht_errors"))


def test_no_divergence_selected_asks_for_one_instead_of_failing():
    at = page()
    at.multiselect(key="ht_divs").set_value([]).run()
    assert not at.exception and not at.get("plotly_chart")
    assert any("at least one divergence" in w.value for w in at.warning)


# --------------------------------------------------------------------------- pathological uploads
def test_probabilities_whose_sum_overflows_are_rejected_with_a_message_that_says_so():
    at = page()
    at.file_uploader(key="ht_upload").set_value(("big.csv", b"1e308\n1e308\n", "text/csv")).run()
    assert not at.exception and len(at.error) == 1
    assert "sum past the largest float" in at.error[0].value and "positive sum" not in at.error[0].value


def test_a_file_of_millions_of_lines_is_rejected_by_its_line_count_before_it_is_tokenised(monkeypatch):
    tokenised = []
    real = ht._parse_number
    monkeypatch.setattr(ht, "_parse_number", lambda *a: tokenised.append(1) or real(*a))
    at = page()
    at.file_uploader(key="ht_upload").set_value(("ones.csv", b"1\n" * 2_250_000, "text/csv")).run()
    assert not at.exception and "2250000 lines" in at.error[0].value and not tokenised


def test_an_upload_is_parsed_once_per_content_for_every_session(monkeypatch):
    calls = []
    real = ht.parse_teacher_file
    monkeypatch.setattr(ht, "parse_teacher_file", lambda *a: calls.append(1) or real(*a))
    content = b"probability\n5\n3\n2\n1\n0.5\n"  # a content no other test uploads
    for _ in range(2):
        at = page()
        at.file_uploader(key="ht_upload").set_value(("mine.csv", content, "text/csv")).run()
        at.slider(key="ht_mu").set_value(0.6).run()  # a rerun with the same file
        assert not at.exception and not at.error
    assert len(calls) == 1
