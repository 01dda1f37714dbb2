"""Cache memory is bounded in bytes: each page's cached run states the bytes of its largest entry,
and this test runs every page at the largest configuration a visitor can ask for (every divergence,
the most steps, classes and points; the largest upload) and checks the entry against that statement.
Together the caches' budgets stay within ui.cache.BUDGET_BYTES, so a script walking distinct URLs
fills the caches and no more."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from kdviz.experiments import FIT_CHOICES
from kdviz.experiments import head_tail as ht
from kdviz.families import MAX_CLASSES
from kdviz.lab import report, train
from kdviz.lab.store import RunStore
from ui import cache

PAGES = Path(__file__).resolve().parents[2] / "pages"
TIMEOUT = 900
LARGEST = {  # page: the URL of its largest entry
    "mode_seeking": {"ms_divs": list(FIT_CHOICES), "ms_steps": "1000", "ms_k": "4"},
    "head_tail": {"ht_preset": "zipf", "ht_classes": "500", "ht_divs": list(ht.DIVERGENCE_OPTIONS),
                  "ht_steps": "1000"},
    "gradients": {"gr_preset": "zipf", "gr_classes": "200", "gr_divs": list(ht.DIVERGENCE_OPTIONS),
                  "gr_student": "fit", "gr_fit_steps": "500"},
    "outliers": {"ol_divs": list(FIT_CHOICES), "ol_steps": "1000"},
    "overlap": {"ov_divs": ["fkl", "jsd", "tvd", "wasserstein", "sinkhorn", "sinkhorn_div"],
                "ov_range": "40"},
    "optimal_transport": {"ot_n": "60", "ot_eps": "0.001"},
    "llm_logits": {"ll_vocab": "32000", "ll_len": "128"},
    "playground": {"pg_divs": list(FIT_CHOICES), "pg_grid": "512", "pg_steps": "2000"},
}


def assert_within_stated_bytes(at: AppTest, page: str) -> None:
    assert not at.exception, at.exception
    entries = {name: size for name, size in cache.LARGEST.items() if name.startswith(f"{page}.")}
    assert entries, f"{page}: no cached run recorded"
    for name, size in entries.items():
        stated, _ = cache.BUDGETS[name]
        assert size <= stated, f"{name}: an entry of {size / 2**20:.1f} MB, stated {stated / 2**20:.1f} MB"


@pytest.mark.parametrize("page", list(LARGEST))
def test_the_largest_entry_a_url_can_ask_for_fits_the_size_the_cache_states(page):
    at = AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=TIMEOUT)
    at.query_params.update(LARGEST[page])
    assert_within_stated_bytes(at.run(), page)


def test_the_largest_upload_fits_the_size_the_head_tail_cache_states():
    data = "\n".join(f"{v:.6f}" for v in np.random.default_rng(0).random(MAX_CLASSES)).encode()
    at = AppTest.from_file(str(PAGES / "head_tail.py"), default_timeout=TIMEOUT)
    at.query_params.update({"ht_divs": list(ht.DIVERGENCE_OPTIONS), "ht_steps": "1000"})
    at.run()
    at.file_uploader(key="ht_upload").set_value(("big.csv", data, "text/csv")).run()
    assert not at.error and f"{MAX_CLASSES} classes" in at.success[0].value
    assert_within_stated_bytes(at, "head_tail")


def test_the_largest_lab_run_fits_the_size_the_lab_cache_states(tmp_path, monkeypatch):
    """The lab caches a stored run and its figures: the largest has every divergence the page offers
    and the page's most steps (a curve point every 30 steps)."""
    monkeypatch.setenv("KDVIZ_DATA", str(tmp_path))
    run = report.shipped_default_run()
    one = run["results"]["fkl"]
    steps = [0, *range(30, 1000, 30), 1000]
    curve = {k: steps if k == "step" else [v[-1]] * len(steps) for k, v in one["curve"].items()}
    run["results"] = {name: {**one, "divergence": name, "curve": curve} for name in train.LOGIT_DIVERGENCES}
    with RunStore() as store:
        store.finish(store.start({**run["config"], "students": list(run["results"]), "steps": 1000}), run)
    assert_within_stated_bytes(AppTest.from_file(str(PAGES / "lab.py"), default_timeout=TIMEOUT).run(), "lab")


def test_all_caches_together_stay_within_the_byte_budget_and_hold_budget_over_size_entries(tmp_path,
                                                                                            monkeypatch):
    monkeypatch.setenv("KDVIZ_DATA", str(tmp_path))  # the lab page opens its run store
    for page in [*LARGEST, "lab"]:  # each page registers its caches when it runs
        AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=TIMEOUT).run()
    pages = {path.stem for path in PAGES.glob("*.py")}
    budgets = {name: size for name, size in cache.BUDGETS.items() if name.split(".")[0] in pages}
    assert {name.split(".")[0] for name in budgets} >= set(LARGEST)
    total = sum(budget for _, budget in budgets.values())
    assert total <= cache.BUDGET_BYTES, (f"{total / 2**20:.0f} MB of caches "
                                         f"> {cache.BUDGET_BYTES / 2**20:.0f} MB")
    assert all(entry <= budget for entry, budget in budgets.values())
