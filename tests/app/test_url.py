"""URL state a person can type: options by key or label, unknown values and bad numbers noted on
the page (never a traceback, never silence), on every page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[2] / "pages"
TIMEOUT = 300


def page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def notes(at: AppTest) -> str:
    return " ".join(i.value for i in at.info if i.value.startswith("Link:"))


# page: (an integer input, a float slider, a radio or selectbox, its key-named value, the label it shows)
PAGE_KEYS = {
    "mode_seeking": ("ms_k", "ms_mu0", "ms_opt", "sgd", "sgd"),
    "head_tail": ("ht_seed", "ht_mu", "ht_opt", "sgd", "sgd"),
    "gradients": ("gr_seed", "gr_alpha", "gr_preset", "akl_unimodal", "akl_unimodal"),
    "outliers": ("ol_steps", "ol_w", "ol_lr", "0.2", 0.2),
    "overlap": ("ov_range", "ov_width", "ov_shape", "gaussian", "gaussian"),
    "optimal_transport": ("ot_n", "ot_n", "ot_preset", "bimodal", "bimodal"),
    "playground": ("pg_seed", "pg_mu0", "pg_opt", "sgd", "sgd"),
    "llm_logits": ("ll_seed", "ll_noise", "ll_T", "0.5", 0.5),
    "lab": ("lab_seed", "lab_akl_mu", "lab_source", "on_policy", "on_policy"),
}


def widget_value(at: AppTest, key: str):
    for kind in ("radio", "selectbox", "select_slider", "slider", "number_input", "multiselect", "checkbox"):
        found = [w for w in at.get(kind) if getattr(w, "key", None) == key]
        if found:
            return found[0].value
    raise AssertionError(f"no widget {key}")


@pytest.mark.parametrize("name", list(PAGE_KEYS))
@pytest.mark.parametrize("bad", ["inf", "-inf", "nan", "1e400", "abc"])
def test_a_non_finite_or_non_numeric_number_in_the_url_is_ignored_with_a_note_on_every_page(name, bad):
    integer, slider, *_ = PAGE_KEYS[name]
    query = {"pg_student": "softmax"} if name == "playground" and integer == "pg_seed" else {}
    at = page(name, **query, **{integer: bad, slider: bad})
    assert not at.exception, at.exception
    assert f"{integer}={bad}" in notes(at) and "not a finite number" in notes(at)
    assert integer not in at.query_params


@pytest.mark.parametrize("name", list(PAGE_KEYS))
def test_an_out_of_range_number_is_clamped_to_the_widgets_range_with_a_note(name):
    integer, *_ = PAGE_KEYS[name]
    query = {"pg_student": "softmax"} if name == "playground" else {}
    at = page(name, **query, **{integer: "99999999999999999999"})
    assert not at.exception and "is outside" in notes(at)
    value = widget_value(at, integer)
    assert at.query_params[integer] == str(value) and value < 99999999999999999999


@pytest.mark.parametrize("name", list(PAGE_KEYS))
def test_an_option_given_by_its_key_is_selected_like_its_label(name):
    _, _, key, value, want = PAGE_KEYS[name]
    at = page(name, **{key: value})
    assert not at.exception and not notes(at)
    assert widget_value(at, key) == want


@pytest.mark.parametrize("name", list(PAGE_KEYS))
def test_an_unknown_option_gets_a_visible_note_naming_it_and_the_options(name):
    _, _, key, *_ = PAGE_KEYS[name]
    at = page(name, **{key: "no_such_option"})
    assert not at.exception
    assert f"`{key}`: 'no_such_option' is not an option" in notes(at)


def test_divergences_may_be_named_by_key_or_label_and_unknown_ones_are_noted():
    at = page("head_tail", ht_divs=["fkl", "Reverse KL", "bogus"])
    assert at.multiselect(key="ht_divs").value == ["fkl", "rkl"]
    assert "'bogus' is not an option" in notes(at)
    assert at.query_params["ht_divs"] == ["Forward KL", "Reverse KL"]


def test_a_link_copied_from_a_chinese_page_names_its_options_by_their_chinese_labels_on_an_english_page():
    at = page("head_tail", ht_divs=["正向KL", "反向KL"])
    assert not at.exception and not notes(at)
    assert at.multiselect(key="ht_divs").value == ["fkl", "rkl"]
    assert at.query_params["ht_divs"] == ["Forward KL", "Reverse KL"]


def test_a_box_accepts_one_and_yes_and_notes_anything_else():
    assert page("mode_seeking", ms_fixed="1").checkbox(key="ms_fixed").value is True
    at = page("mode_seeking", ms_fixed="maybe")
    assert at.checkbox(key="ms_fixed").value is False and "not true or false" in notes(at)


def test_the_notes_show_once_and_leave_with_the_next_interaction():
    at = page("gradients", gr_seed="inf")
    assert notes(at)
    at.slider(key="gr_mu").set_value(0.6).run()
    assert not notes(at) and not at.exception


def test_slider_values_are_every_step_of_the_slider_nearest_first_and_equal_what_the_slider_returns():
    from ui.url import slider_values

    values = slider_values(-8.0, 8.0, 0.1, around=1.5)
    assert sorted(values) == [k / 10 for k in range(-80, 81)]  # the decimal steps, without float noise
    assert values[0] == 1.5 and {abs(v - 1.5) for v in values[1:3]} == {abs(1.4 - 1.5), abs(1.6 - 1.5)}
    at = AppTest.from_string("import ui\nst_value = ui.url.slider('x', -8.0, 8.0, 0.0, 0.1, key='x')\n"
                             "import streamlit as st\nst.write(repr(st_value))")
    at.run()
    for position in (-8 + 95 * 0.1, 0.30000000000000004):  # the float noise of a browser's steps
        at.slider(key="x").set_value(position).run()
        assert at.markdown[-1].value in {repr(v) for v in values}
