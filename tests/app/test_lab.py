"""pages/lab.py under AppTest: a first visit shows the shipped default run with no waiting; a short run
through the server queue is stored and then shown, its table and takeaway computed from its numbers; Stop
cancels a run."""

import re
import time
from pathlib import Path

import numpy as np
import pytest
from figjson import arr, shipped, validated
from streamlit.testing.v1 import AppTest

from kdviz.i18n import Display, displayed
from kdviz.lab import plots, report
from kdviz.lab.store import RunStore

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "lab.py")
TIMEOUT = 300


@pytest.fixture(autouse=True)
def data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KDVIZ_DATA", str(tmp_path))
    return tmp_path


def test_first_visit_shows_the_shipped_default_run_without_training_one_figure_a_metric():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception and not at.error
    shipped_run = report.shipped_default_run()
    assert at.selectbox(key="lab_shown").value == "shipped default run"
    assert at.info[-1].value.endswith(report.takeaway(shipped_run))
    table = at.dataframe[0].value
    assert list(table["model"]) == ["teacher", "untrained", *shipped_run["results"]]
    assert table["fkl"].iloc[2] == pytest.approx(shipped_run["results"]["fkl"]["metrics"]["fkl"])
    charts = shipped(at)
    pairs = {f"lab_{name}_{i}": metric for name, metrics in plots.PAIRS.items()
             for i, metric in enumerate(metrics)}
    assert sorted(charts) == sorted(pairs), "one figure a metric, two a pair"
    for key, metric in pairs.items():
        validated(charts[key])
        students = [t for t in charts[key]["data"] if t.get("name")]
        assert [t["name"] for t in students] == [report.student_label(n) for n in shipped_run["results"]]
        for trace, result in zip(students, shipped_run["results"].values()):
            assert np.allclose(arr(trace["y"]), result["curve"][metric], rtol=1e-6), (key, metric)


def test_the_chinese_takeaway_is_translated_and_carries_the_same_numbers_as_the_english():
    run = report.shipped_default_run()
    english = report.takeaway(run)
    with displayed(Display(lang="zh")):
        chinese = report.takeaway(run)
    numbers = re.compile(r"-?\d+(?:\.\d+)?")
    assert chinese != english and sorted(numbers.findall(chinese)) == sorted(numbers.findall(english))


def test_a_short_run_goes_through_the_queue_is_stored_and_shown(data_folder):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({"lab_steps": "20", "lab_seed": "5"})
    at.run()
    at.multiselect(key="lab_divs").set_value(["fkl", "rkl"])
    at.button(key="lab_run").click().run()
    assert not at.exception
    config, job = at.session_state["lab_job"]
    assert config.steps == 20 and config.students == ("fkl", "rkl") and config.seed == 5
    shown_while_running = [p.proto.text for p in at.get("progress")] + [i.value for i in at.info]
    assert any("Training step" in t or "Waiting" in t for t in shown_while_running), shown_while_running
    deadline = time.time() + TIMEOUT
    while not job.finished.wait(0.2) and time.time() < deadline:
        job.touch()  # what the page's live fragment does while the session is open
    assert job.status == "done", job.error
    at.run()
    assert not at.exception
    assert at.selectbox(key="lab_shown").value == job.result  # the run id; its label is format_func's
    with RunStore() as st:
        stored = st.load(job.result)
    table = at.dataframe[0].value
    assert list(table["model"]) == ["teacher", "untrained", "fkl", "rkl"]
    assert table["ce"].iloc[2] == pytest.approx(stored["results"]["fkl"]["metrics"]["ce"])
    assert at.info[-1].value.endswith(report.takeaway(stored))


def test_stop_cancels_the_run_and_the_page_says_so(data_folder):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({"lab_steps": "1000"})
    at.run()
    at.button(key="lab_run").click().run()
    _, job = at.session_state["lab_job"]
    deadline = time.time() + TIMEOUT
    while job.progress is None and time.time() < deadline:  # training started (the teacher's references
        job.touch()  # are computed before the first step, once per seed)
        time.sleep(0.1)
    at.button(key="lab_stop").click().run()
    assert not at.exception
    assert job.finished.wait(60) and job.status == "cancelled"
    at.run()
    assert any("Your run was stopped" in i.value for i in at.info)
