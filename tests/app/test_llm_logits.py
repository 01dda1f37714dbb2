"""pages/llm_logits.py under AppTest: defaults, controls -> heatmap JSON, masked positions, URL restore."""

from pathlib import Path

import numpy as np
from figjson import all_finite, arr, figure, validated
from streamlit.testing.v1 import AppTest

from kdviz.divergences import get_spec
from kdviz.experiments import llm_logits as ll
from kdviz.losses import PER_TOKEN, call_example

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "llm_logits.py")
TIMEOUT = 300  # s: a cold run on a loaded 2-core machine


def page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def heat(at: AppTest) -> dict:
    return figure(at, "ll_heatmap")["data"][0]


def z(at: AppTest) -> np.ndarray:
    h = heat(at)
    return np.array([arr(row) for row in h["z"]]) if isinstance(h["z"], list) else arr(h["z"])


def test_defaults_show_every_divergence_by_position_with_the_masked_tail_blank():
    at = page(ll_vocab="1000")
    assert not at.exception and not at.error
    h = heat(at)
    assert list(h["y"]) == [get_spec(n).label for n in PER_TOKEN]
    values = z(at)
    assert values.shape == (len(PER_TOKEN), 48)
    assert np.isnan(values[:, -8:]).all() and np.isfinite(values[:, :-8]).all()
    assert np.nanmax(values, axis=1).tolist() == [1.0] * len(PER_TOKEN)  # each row scaled to its max
    validated(figure(at, "ll_heatmap"))
    res = ll.llm_logits_batch(48, 1000)
    (table,) = [d.value for d in at.dataframe]
    assert list(table["call"]) == list(res.calls)


def test_changing_the_temperature_and_the_padding_changes_the_heatmap():
    at = page(ll_vocab="1000")
    before = z(at)
    at.select_slider(key="ll_T").set_value(4.0).run()
    assert not at.exception
    after = z(at)
    assert after.shape == before.shape and not np.allclose(np.nan_to_num(after), np.nan_to_num(before))
    at.slider(key="ll_pad").set_value(0).run()
    assert np.isfinite(z(at)).all() and all_finite(figure(at, "ll_heatmap")["layout"])


def test_query_params_restore_every_control_and_too_much_padding_warns():
    at = page(ll_vocab="1000", ll_len="16", ll_pad="24", ll_T="0.5", ll_noise="0.5", ll_seed="3")
    assert not at.exception
    assert at.select_slider(key="ll_vocab").value == 1000 and at.slider(key="ll_len").value == 16
    assert at.select_slider(key="ll_T").value == 0.5 and at.number_input(key="ll_seed").value == 3
    assert any("leave none" in w.value for w in at.warning)
    assert z(at).shape == (len(PER_TOKEN), 16)


def test_a_lessons_formulas_panel_shows_the_kd_loss_call_of_each_divergence_it_lists():
    """The lessons' Formulas panels end in the call that gives each listed divergence on real logits."""
    lesson = Path(PAGE).with_name("outliers.py")
    at = AppTest.from_file(str(lesson), default_timeout=TIMEOUT)
    at.query_params.update({"ol_divs": ["fkl", "skl"]})
    at.run()
    assert not at.exception
    calls = [c.value for c in at.code]
    assert calls == [call_example("fkl"), call_example("skl")]
    assert all("kd_loss(student_logits, teacher_logits" in c for c in calls)
