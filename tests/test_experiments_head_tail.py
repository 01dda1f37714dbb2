"""kdviz.experiments.head_tail: AKL's head/tail lesson (fits, head share, takeaway, uploads)."""

import copy
import io
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kdviz.akl import akl_split
from kdviz.experiments import head_tail as ht
from kdviz.families import MAX_CLASSES, discrete_teacher
from kdviz.i18n import Display, displayed


@pytest.fixture(scope="module")
def sgd_uniform():
    """The bimodal toy from a uniform start under plain SGD (references.md: share 0.42 vs 0.34)."""
    return ht.head_tail("akl_bimodal", ("fkl", "rkl", "akl"),
                        init="uniform", optimizer="sgd", lr=1.0, steps=20)


@pytest.fixture(scope="module")
def adam_default():
    return ht.head_tail(steps=30, optimizer="adam", lr=0.1)


@pytest.fixture(scope="module")
def paper():
    """AKL's Fig. 2 settings: bimodal toy, random start (seed 1), Adam, lr 0.1, 200 steps."""
    return ht.head_tail(init="random", optimizer="adam", lr=0.1)


# --------------------------------------------------------------------------- the phenomenon
def test_fkl_puts_a_larger_share_of_its_early_progress_on_the_head_than_rkl_under_sgd(sgd_uniform):
    share = dict(zip(sgd_uniform.names, sgd_uniform.fit.head_share(10)))
    assert share["fkl"] > share["rkl"] + 0.03


def test_adam_hides_most_of_the_head_share_gap_that_sgd_shows_after_one_step(sgd_uniform):
    adam = ht.head_tail("akl_bimodal", ("fkl", "rkl"), init="uniform", optimizer="adam", lr=0.1, steps=2)
    gap_sgd = np.subtract(*sgd_uniform.fit.head_share(1)[:2])
    gap_adam = np.subtract(*adam.fit.head_share(1))
    assert gap_sgd > 5 * abs(gap_adam)


def test_all_students_converge_to_the_teacher_with_the_papers_settings(paper):
    res = paper
    assert (res.tvd[:, -1] < ht.CONVERGED_TVD).all()
    assert (res.tvd[:, -1] < 0.05 * res.tvd[:, 0]).all()


# --------------------------------------------------------------------------- shapes and teacher
def test_result_shapes_and_every_step_kept_as_a_frame_for_the_default_size(adam_default):
    res = adam_default
    K, S, V = 3, 30, 50
    assert res.names == ["fkl", "rkl", "akl"]
    assert res.x.shape == res.p.shape == res.head_mask.shape == (V,)
    assert res.fit.frames.shape == (K, S + 1, V)
    assert res.fit.head_error.shape == res.fit.tail_error.shape == res.fit.w_head.shape == (K, S + 1)
    assert res.tvd.shape == (K, S + 1)
    np.testing.assert_array_equal(res.fit.frame_steps, np.arange(S + 1))


def test_head_mask_is_akls_split_of_the_teacher_and_the_threshold_its_smallest_head_probability():
    res = ht.head_tail("zipf", ("fkl",), n_classes=40, zipf_exponent=1.5, steps=2, mu=0.3)
    x, p = discrete_teacher("zipf", 40, exponent=1.5)
    np.testing.assert_allclose(res.p, p)
    expected = akl_split(torch.as_tensor(p), torch.as_tensor(p), 0.3)["head_mask"].numpy()
    np.testing.assert_array_equal(res.head_mask, expected)
    assert res.head_threshold == pytest.approx(p[expected].min())
    assert p[~expected].max() <= res.head_threshold


def test_tvd_is_half_the_sum_of_head_and_tail_errors_computed_from_the_frames(adam_default):
    res = adam_default
    direct = 0.5 * np.abs(res.fit.frames - res.p).sum(-1)  # (K, F)
    np.testing.assert_allclose(res.tvd[:, res.fit.frame_steps], direct, atol=1e-12)


def test_big_teachers_keep_evenly_spaced_frames_within_the_budget_and_snap_to_the_nearest():
    res = ht.head_tail("zipf", ("fkl", "rkl"), n_classes=MAX_CLASSES, steps=300)
    F = len(res.fit.frame_steps)
    assert ht.MIN_FRAMES <= F < 301
    assert 2 * F * MAX_CLASSES <= ht.FRAME_BUDGET
    assert res.fit.frame_steps[0] == 0 and res.fit.frame_steps[-1] == 300
    step = 133
    nearest = res.fit.frame_steps[res.frame_index(step)]
    assert abs(nearest - step) == np.abs(res.fit.frame_steps - step).min()


def test_uploaded_values_replace_the_preset_with_positions_zero_to_v_minus_one():
    values = (0.5, 0.2, 0.2, 0.1)
    res = ht.head_tail("zipf", ("fkl",), values=values, steps=3)
    np.testing.assert_allclose(res.p, values)
    np.testing.assert_array_equal(res.x, np.arange(4))


def test_akl_presets_keep_the_papers_fifty_classes_whatever_n_classes():
    x, p = ht.teacher("akl_unimodal", n_classes=120)
    assert len(p) == 50 and list(x) == list(range(50))  # classes 0..V-1


def test_unknown_or_empty_divergence_lists_are_rejected():
    with pytest.raises(ValueError, match="pick one or more"):
        ht.head_tail(names=())
    with pytest.raises(ValueError, match="wasserstein"):
        ht.head_tail(names=("fkl", "wasserstein"))


# --------------------------------------------------------------------------- the takeaway
def _shares_in(text):
    m = re.search(r"FKL's head share is ([0-9.]+) and RKL's ([0-9.]+)", text)
    return float(m.group(1)), float(m.group(2))


def test_takeaway_quotes_the_head_shares_of_the_figure_and_names_the_optimiser(sgd_uniform):
    text = ht.takeaway(sgd_uniform, 10)
    f, r = _shares_in(text)
    share = sgd_uniform.fit.head_share(10)
    assert (f, r) == (round(share[0], 2), round(share[1], 2))
    assert "(SGD, lr 1)" in text and "FKL puts more of its early progress on the head" in text
    assert "Adam" not in text


def numbers(text: str) -> list[str]:
    return sorted(re.findall(r"\d+(?:\.\d+)?", text))


def test_the_chinese_takeaway_states_the_same_numbers_as_the_english_one(sgd_uniform):
    teachers = ht.many_teachers(10, n_teachers=5)
    english = ht.takeaway(sgd_uniform, 10, teachers)
    with displayed(Display(lang="zh")):
        chinese = ht.takeaway(sgd_uniform, 10, teachers)
    assert "头部占比" in chinese and "head share" not in chinese
    assert numbers(chinese) == numbers(english) and len(numbers(english)) > 10


def test_takeaway_says_so_when_rkl_leads_on_the_head(sgd_uniform):
    swapped = copy.deepcopy(sgd_uniform)
    for arr in (swapped.fit.head_error, swapped.fit.tail_error):
        arr[[0, 1]] = arr[[1, 0]]  # give FKL's trajectory to RKL and vice versa
    text = ht.takeaway(swapped, 10)
    f, r = _shares_in(text)
    assert f < r - ht.MARGIN and "RKL, not FKL" in text and "FKL puts more" not in text


@pytest.mark.parametrize("f, r, verdict", [(0.43, 0.36, "FKL puts more"), (0.42, 0.40, "too small to call"),
                                           (0.40, 0.42, "too small to call"), (0.30, 0.40, "RKL, not FKL")])
def test_takeaway_asserts_a_difference_only_beyond_the_margin(f, r, verdict):
    assert verdict in ht.compare(f, r)


def test_takeaway_under_adam_reports_convergence_and_names_adam(paper):
    text = ht.takeaway(paper, 10)
    assert "(Adam, lr 0.1)" in text and "all of them reach p" in text


def test_takeaway_asks_for_more_steps_when_the_fits_have_not_converged():
    res = ht.head_tail(optimizer="sgd", lr=0.01, steps=10)
    text = ht.takeaway(res, 5)
    assert "with more steps" in text and "all of them reach p" not in text


def test_random_teachers_are_distinct_long_tailed_distributions_fitted_one_row_each():
    p = ht.random_teachers(5)
    np.testing.assert_allclose(p.sum(-1), 1.0)
    assert len({tuple(np.round(row, 12)) for row in p}) == 5
    res = ht.many_teachers(4, n_teachers=5)
    for t in (0, 3):  # a row of the batched fit = the page's single fit on that teacher
        one = ht.head_tail(names=("fkl", "rkl"), values=tuple(p[t]), steps=4)
        np.testing.assert_allclose([res.fkl[t], res.rkl[t]], one.fit.head_share(4), rtol=1e-9)


def test_fkl_leads_rkl_beyond_the_margin_on_most_random_teachers_under_sgd_but_not_under_adam():
    more_sgd = ht.many_teachers(10).counts()[0]
    more_adam = ht.many_teachers(10, optimizer="adam", lr=0.1).counts()[0]
    assert more_sgd > 15 and more_adam < more_sgd


def test_takeaway_without_fkl_and_rkl_lists_the_shares_it_has():
    res = ht.head_tail(names=("akl", "tvd"), steps=12)
    text = ht.takeaway(res, 10)
    share = res.fit.head_share(10)
    assert f"AKL {share[0]:.2f}, TVD {share[1]:.2f}" in text and "add FKL and RKL" in text


# --------------------------------------------------------------------------- uploads
def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr))
    return buf.getvalue()


BAD_UPLOADS = [  # (file name, bytes, kind, part of the expected message)
    ("t.csv", b"", "auto", "empty"),
    ("t.csv", b"\n  \n", "auto", "empty"),
    ("t.csv", b"probability\n", "auto", "header but no numbers"),
    ("t.csv", b"0.5,0.3\n0.2,0.1\n", "auto", "one column"),
    ("t.csv", b"0.5\n0.3\nabc\n", "auto", "line 3: 'abc' is not a number"),
    ("t.csv", b"0.5\n-0.3\n0.8\n", "probs", "must be >= 0"),
    ("t.csv", b"0.5\nnan\n0.5\n", "auto", "NaN"),
    ("t.csv", b"0.5\ninf\n0.5\n", "logits", "NaN or infinite"),
    ("t.csv", b"0.7\n", "auto", "2 to"),
    ("t.csv", b"0\n0\n0\n", "probs", "positive sum"),
    ("t.csv", b"\xff\xfe\x00\x01binary", "auto", "neither text"),
    ("t.csv", b"1\n" * (MAX_CLASSES + 1), "auto", f"limit is {MAX_CLASSES}"),
    ("t.csv", b"0" * (ht.MAX_UPLOAD_BYTES + 1), "auto", "limit is 5 MB"),
    ("t.npy", _npy(np.ones((3, 4))), "auto", "shape (3, 4)"),
    ("t.npy", _npy(np.array(["a", "b"])), "auto", "must hold numbers"),
    ("t.npy", b"\x93NUMPY garbage", "auto", "not a readable .npy"),
    ("t.npy", _npy([0.2, np.nan]), "auto", "NaN"),
]


@pytest.mark.parametrize("name, data, kind, message", BAD_UPLOADS,
                         ids=[f"{c[0]}: {c[3]}" for c in BAD_UPLOADS])
def test_bad_uploads_raise_a_value_error_that_says_what_is_wrong(name, data, kind, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ht.parse_teacher_file(name, data, kind)


def test_a_csv_column_with_header_a_single_row_and_an_npy_vector_all_parse_to_the_same_teacher():
    want = np.array([0.5, 0.25, 0.125, 0.125])
    col = ht.parse_teacher_file("a.csv", b"probability\n0.5\n0.25\n0.125\n0.125\n")
    row = ht.parse_teacher_file("b.txt", b"4; 2; 1; 1")
    npy = ht.parse_teacher_file("c.npy", _npy(want * 8))
    for got in (col, row, npy):
        np.testing.assert_allclose(got, want)


def test_logits_are_softmaxed_and_auto_treats_negative_numbers_as_logits():
    z = np.array([2.0, -1.0, 0.5])
    want = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(ht.parse_teacher_file("z.csv", b"2\n-1\n0.5", "logits"), want)
    np.testing.assert_allclose(ht.parse_teacher_file("z.csv", b"2\n-1\n0.5", "auto"), want)


def test_the_sample_csv_parses_back_to_the_bimodal_toy():
    _, p = discrete_teacher("akl_bimodal")
    got = ht.parse_teacher_file("sample.csv", ht.sample_csv().encode(), "probs")
    np.testing.assert_allclose(got, p, rtol=1e-7)


@settings(deadline=None, max_examples=40)
@given(st.lists(st.floats(1e-6, 1e6, allow_nan=False), min_size=2, max_size=60),
       st.sampled_from(["\n", ",", "; ", "\t", " "]), st.booleans())
def test_any_positive_vector_written_as_text_parses_back_to_its_normalised_self(values, sep, header):
    text = ("probability\n" if header and sep == "\n" else "") + sep.join(repr(v) for v in values)
    got = ht.parse_teacher_file("t.csv", text.encode(), "probs")
    np.testing.assert_allclose(got, np.array(values) / np.sum(values), rtol=1e-12)
