"""The lab's SQLite run store: a finished run reads back as written, a run cut by its process stopping is
marked interrupted (killed, or exiting), a failing write leaves nothing half-written, KDVIZ_DATA moves it."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing

import pytest

from kdviz.lab import store as S


def fake_result(students=("fkl", "rkl")) -> dict:
    """A run_lab-shaped result with distinct numbers everywhere."""
    res = {}
    for k, name in enumerate(students):
        res[name] = {"divergence": name, "params": {}, "samples": [f"{name} sample {i}" for i in range(3)],
                     "metrics": {"ce": 4.0 + k, "fkl": 0.5 + k, "ce_se": 0.01},
                     "curve": {"step": [0, 10, 20], "fkl": [2.0 + k, 1.0 + k, 0.5 + k],
                               "ce": [7.0, 6.0, 5.0 - k]}}
    return {"config": {"students": list(students), "steps": 20}, "results": res, "device": "cpu",
            "teacher": {"metrics": {"ce": 3.0}, "samples": ["t"], "n_params": 10},
            "untrained": {"metrics": {"ce": 7.6}, "n_params": 5}, "prompts": ["p"], "tokens_per_s": 123.0}


def test_data_folder_is_kdviz_data_when_set(tmp_path, monkeypatch):
    monkeypatch.setenv("KDVIZ_DATA", str(tmp_path / "elsewhere"))
    with S.RunStore() as st:
        assert st.path == tmp_path / "elsewhere" / "lab.sqlite3" and st.path.exists()


def test_finished_run_reads_back_with_its_config_metrics_curves_and_samples(tmp_path):
    result = fake_result()
    with S.RunStore(tmp_path / "db.sqlite3") as st:
        rid = st.start(result["config"], label="mine")
        st.finish(rid, result)
        back = st.load(rid)
        assert [r["id"] for r in st.list_runs("done")] == [rid]
    assert back["status"] == "done" and back["label"] == "mine" and back["config"] == result["config"]
    assert json.loads(json.dumps(back["results"])) == result["results"]
    assert back["teacher"] == result["teacher"] and back["tokens_per_s"] == 123.0


def test_running_run_of_a_killed_process_is_marked_interrupted_on_the_next_open(tmp_path):
    db = tmp_path / "db.sqlite3"
    code = textwrap.dedent(f"""
        import os, signal, sys
        from kdviz.lab.store import RunStore
        st = RunStore({str(db)!r})
        st.start({{"students": ["fkl"]}})
        os.kill(os.getpid(), signal.SIGKILL)  # no atexit, no cleanup: a server killed mid-run
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=os.getcwd(), capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with S.RunStore(db) as st:
        runs = st.list_runs()
        assert [r["status"] for r in runs] == ["interrupted"]
        assert st.load(runs[0]["id"])["results"] == {}


def test_a_process_that_exits_mid_run_marks_its_run_interrupted(tmp_path):
    db = tmp_path / "db.sqlite3"
    code = f"from kdviz.lab.store import RunStore; RunStore({str(db)!r}).start({{'students': ['fkl']}})"
    subprocess.run([sys.executable, "-c", code], cwd=os.getcwd(), check=True)
    assert raw_statuses(db) == [("interrupted",)]


def raw_statuses(db) -> list[tuple]:
    """The statuses as stored, read without RunStore (whose opening would itself recover runs)."""
    with closing(sqlite3.connect(db)) as con:
        return con.execute("SELECT status FROM runs").fetchall()


def test_runs_of_this_live_process_are_left_running(tmp_path):
    with S.RunStore(tmp_path / "db.sqlite3") as st:
        rid = st.start({"students": ["fkl"]})
        assert st.recover() == [] and st.list_runs()[0]["status"] == "running"
        st.fail(rid, "interrupted", "test")
        assert st.list_runs()[0]["status"] == "interrupted"


def test_a_write_failing_halfway_leaves_no_metrics_curves_or_samples(tmp_path):
    result = fake_result()
    result["results"]["rkl"]["metrics"]["ce"] = object()  # sqlite cannot store it: fails after fkl's rows
    with S.RunStore(tmp_path / "db.sqlite3") as st:
        rid = st.start(result["config"])
        with pytest.raises(Exception):
            st.finish(rid, result)
        for table in ("metrics", "curves", "samples", "students"):
            assert st.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,), table
        assert st.load(rid)["status"] == "running"
        st.fail(rid, "failed", "write failed")


def test_finishing_a_run_twice_or_marking_a_bad_status_is_refused(tmp_path):
    with S.RunStore(tmp_path / "db.sqlite3") as st:
        rid = st.start({})
        st.finish(rid, fake_result())
        with pytest.raises(ValueError, match="not running"):
            st.finish(rid, fake_result())
        with pytest.raises(ValueError, match="interrupted or failed"):
            st.fail(rid, "done")
        with pytest.raises(ValueError, match="no run"):
            st.load(rid + 1)
