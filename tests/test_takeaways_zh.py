"""The Chinese takeaways of the gradients, outliers and overlap lessons state the same numbers as the
English ones (a translation may reorder its placeholders, never drop or change one) and are Chinese."""

import re
from collections import Counter

import pytest

from kdviz.experiments import gradients as gr
from kdviz.experiments import outliers as ol
from kdviz.experiments import overlap as ov
from kdviz.i18n import Display, displayed

NUMBER = re.compile(r"[-+−]?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?%?")
CASES = {
    "gradients, a random student": (gr.takeaway, lambda: gr.gradients()),
    "gradients, a fitted student": (gr.takeaway, lambda: gr.gradients(student="fit", fit_divergence="rkl",
                                                                      fit_steps=7, seed=3)),
    "outliers": (ol.takeaway, lambda: ol.outliers(steps=100)),
    "overlap, boxes": (ov.takeaway, lambda: ov.overlap_sweep(names=("jsd", "fkl", "wasserstein"))),
    "overlap, Gaussians": (ov.takeaway, lambda: ov.overlap_sweep(shape="gaussian", order=2,
                                                                 names=("jsd", "wasserstein"))),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_chinese_takeaway_states_the_numbers_of_the_english_one(case):
    takeaway, run = CASES[case]
    res = run()
    english = takeaway(res)
    with displayed(Display(lang="zh")):
        chinese = takeaway(res)
    assert re.search(r"[\u4e00-\u9fff]", chinese) and chinese != english
    assert Counter(NUMBER.findall(chinese)) == Counter(NUMBER.findall(english))
