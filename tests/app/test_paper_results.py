"""The seed's result tables: transcription, derived views, and pages/paper_results.py under AppTest."""

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from kdviz.divergences import DIVERGENCES
from kdviz.experiments.paper_results import TABLES, long_format, paper_view

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "paper_results.py")
# The seed slides the app transcribes, copied verbatim into docs/ so that a fresh clone has them.
SEED_DIR = Path(os.environ.get("KDVIZ_SEED_DIR", ROOT / "docs"))
TIMEOUT = 120


# --------------------------------------------------------------------------- the seed, parsed
def seed_text() -> str:
    files = sorted(SEED_DIR.glob("seed*.txt"))
    assert files, f"no seed slides in {SEED_DIR} (set KDVIZ_SEED_DIR)"
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def seed_rows(header_start: str) -> dict[str, list[str]]:
    """Tab-separated rows under the first line starting with ``header_start``, up to the first line
    that is not a table row (no tab). Row name -> its cells."""
    lines = seed_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith(header_start))
    rows = {}
    for line in lines[i + 1:]:
        if "\t" not in line:
            break
        cells = line.split("\t")
        if cells[0]:
            rows[cells[0]] = cells[1:]
    return rows


def parse_cell(cell: str) -> list[tuple[float, float | None]]:
    """'26.98±0.27' -> [(26.98, 0.27)]; '23.52 (0.22) ●' -> [(23.52, 0.22)]; '82.9/83.4' -> two values."""
    cell = cell.replace("●", "").strip()
    if m := re.fullmatch(r"([\d.]+)±([\d.]+)", cell):
        return [(float(m[1]), float(m[2]))]
    if m := re.fullmatch(r"([\d.]+) \(([\d.]+)\)", cell):
        return [(float(m[1]), float(m[2]))]
    return [(float(v), None) for v in cell.split("/")]


def seed_numbers(header_start: str, skip: int = 0) -> dict[str, list[tuple[float, float | None]]]:
    return {name: [v for c in cells[skip:] for v in parse_cell(c)]
            for name, cells in seed_rows(header_start).items()}


@pytest.mark.parametrize("key, header, skip", [("akl", "Method\tGPT2", 0), ("distillm", "Loss Function\t", 0),
                                               ("sinkd", "Method\tComplexity", 1)])
def test_every_number_of_every_transcribed_table_matches_the_seed_slides(key, header, skip):
    seed = seed_numbers(header, skip)
    table = TABLES[key]
    assert list(seed) == list(table.methods)  # same rows, same order
    for row in table.rows:
        expected = seed[row.method]
        assert len(expected) == len(row.mean), row.method
        assert row.mean == tuple(m for m, _ in expected), row.method
        if table.has_std:
            assert row.std == tuple(s for _, s in expected), row.method
        else:
            assert all(s is None for _, s in expected)


def test_sinkd_complexity_column_and_distillm_marks_match_the_seed():
    sinkd = seed_rows("Method\tComplexity")
    for row in TABLES["sinkd"].rows:
        assert sinkd[row.method][0].strip("$") == row.note
    distillm = seed_rows("Loss Function\t")
    for row in TABLES["distillm"].rows:
        assert (row.note == "●") == ("●" in distillm[row.method][0])


def test_rows_name_existing_registry_divergences_or_none():
    for table in TABLES.values():
        for row in table.rows:
            assert row.divergence is None or row.divergence in DIVERGENCES
        assert any(r.divergence for r in table.rows)


# --------------------------------------------------------------------------- the takeaways' facts
def best_counts(key: str, setting: str | None = None) -> dict[str, int]:
    v = paper_view(key, setting)
    return {m: int(b.sum()) for m, b in zip(v.methods, v.best) if b.any()}


def test_akl_takeaway_facts_akl_best_everywhere_and_fkl_rkl_second_in_four_columns():
    t = TABLES["akl"]
    seconds = 0
    for s in t.settings:
        assert best_counts("akl", s) == {"AKL (Ours)": 3}
        v = paper_view("akl", s)
        students = np.array([d is not None for d in v.divergences])
        for j in range(len(v.benchmarks)):
            order = [v.methods[i] for i in np.argsort(-v.mean[:, j]) if students[i]]
            seconds += order[1] == "FKL+RKL"
    assert seconds == 4
    assert "all six columns" in t.takeaway and "second in four" in t.takeaway


def test_distillm_takeaway_facts_skew_losses_beat_kl_and_split_the_wins():
    v = paper_view("distillm")
    m = dict(zip(v.methods, v.mean))
    plain = np.maximum(m["KLD"], m["RKLD"])
    assert (m["SKL"] > plain).sum() == 5 and (m["SRKL"] > plain).sum() == 4
    assert best_counts("distillm") == {"SKL": 2, "SRKL": 3}
    assert "SRKL 3, SKL 2" in TABLES["distillm"].takeaway


def test_sinkd_takeaway_facts_best_everywhere_wide_margin_only_on_cola():
    v = paper_view("sinkd")
    assert best_counts("sinkd") == {"SinKD": len(v.benchmarks)}
    margin = v.mean[-1] - v.mean[:-1].max(0)
    assert v.benchmarks[int(np.argmax(margin))].startswith("COLA") and margin.max() == pytest.approx(6.0)
    assert np.sort(margin)[-2] <= 1.1 + 1e-9


def test_difference_view_is_zero_for_the_baseline_and_combines_both_stds():
    v = paper_view("akl", baseline="FKL")
    i = v.methods.index("FKL")
    assert np.all(v.diff[i] == 0)
    j = v.methods.index("AKL (Ours)")
    assert np.allclose(v.diff[j], v.mean[j] - v.mean[i])
    assert np.allclose(v.diff_std[j], np.hypot(v.std[j], v.std[i]))
    assert paper_view("sinkd", baseline="RKL").diff_std is None  # no std reported, none invented


def test_long_format_holds_every_number_once():
    for key, t in TABLES.items():
        long = long_format(key)
        assert len(long["mean"]) == len(t.rows) * len(t.settings) * len(t.benchmarks)
        assert sorted(long["mean"]) == sorted(v for r in t.rows for v in r.mean)


def test_unknown_selections_raise_value_errors_that_name_the_options():
    with pytest.raises(ValueError, match="unknown table"):
        paper_view("nope")
    with pytest.raises(ValueError, match="unknown methods"):
        paper_view("akl", methods=["KLD"])
    with pytest.raises(ValueError, match="unknown column"):
        paper_view("akl", benchmarks=["Vicuna Eval"])


# --------------------------------------------------------------------------- the page
def chart(at: AppTest) -> dict:
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith("-pr_chart")]
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def bar_values(fig: dict, name: str) -> list[float]:
    import base64
    y = next(t for t in fig["data"] if t["name"] == name)["y"]
    if isinstance(y, dict):
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist()
    return list(y)


def test_page_model_selection_changes_the_bars_to_that_model_pairs_numbers():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    akl = TABLES["akl"]
    gpt2 = bar_values(chart(at), "AKL (Ours)")
    at.selectbox(key="pr_akl_model").set_value(akl.settings[1]).run()
    llama = bar_values(chart(at), "AKL (Ours)")
    row = next(r for r in akl.rows if r.method == "AKL (Ours)")
    assert gpt2 == pytest.approx(row.mean[:3]) and llama == pytest.approx(row.mean[3:])


def test_page_difference_view_plots_gains_over_the_chosen_baseline_with_an_axis_that_says_so():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({"pr_table": "DistiLLM", "pr_view": "difference to a baseline",
                            "pr_distillm_base": "RKLD"})
    at.run()
    assert not at.exception
    fig = chart(at)
    v = paper_view("distillm", baseline="RKLD")
    assert bar_values(fig, "SKL") == pytest.approx(v.diff[v.methods.index("SKL")].tolist())
    assert "RKLD" in fig["layout"]["yaxis"]["title"]["text"]


def test_page_with_no_method_selected_warns_instead_of_drawing_an_empty_chart():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    at.button_group(key="pr_akl_methods").set_value([]).run()
    assert not at.exception
    assert any("at least one" in w.value for w in at.warning)
    assert not [c for c in at.get("plotly_chart") if c.proto.id.endswith("-pr_chart")]
