"""The lab CLI (kdviz.lab.cli, hooked into `python -m kdviz lab`): --json prints exactly the fixed keys on
stdout and stores the run; bad arguments exit 2 with one line; build-teacher reproduces its weights."""

import json
import subprocess
import sys

import pytest
from safetensors.torch import load_file

from kdviz.lab import cli
from kdviz.lab.store import RunStore

FIXED = {"ce", "fkl", "rkl", "top1", "entropy", "distinct2", "teacher_nll"}


def test_run_json_prints_only_the_fixed_keys_and_stores_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KDVIZ_DATA", str(tmp_path))
    assert cli.main(["lab", "run", "--divergences", "fkl,jsd:beta=0.9", "--steps", "4", "--eval-every", "2",
                     "--seed", "3", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert set(out) == {"teacher", "results"} and set(out["teacher"]) == FIXED
    assert list(out["results"]) == ["fkl", "jsd:beta=0.9"]
    for r in out["results"].values():
        assert set(r) == {"metrics", "curve", "samples"} and set(r["metrics"]) == FIXED
        assert set(r["curve"]) == {"step", "fkl"} and r["curve"]["step"] == [0, 2, 4]
        assert all(isinstance(s, str) for s in r["samples"])
    assert "tok/s" in captured.err and "tokens/s" in captured.err
    with RunStore() as st:
        (run,) = st.list_runs("done")
        assert run["config"]["seed"] == 3
        assert st.load(run["id"])["results"]["fkl"]["metrics"]["ce"] == out["results"]["fkl"]["metrics"]["ce"]


@pytest.mark.parametrize("argv, message", [
    (["--divergences", "fkl,nope"], "unknown divergence 'nope'"),
    (["--divergences", "jsd:beta=3"], "beta"),
    (["--steps", "0"], "positive integer"),
    (["--on-policy", "2"], "[0, 1]"),
    (["--lr", "nan"], "finite"),
    (["--device", "tpu"], "device"),
    (["--student-size", "huge"], "invalid choice"),
])
def test_bad_arguments_exit_2_with_one_error_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KDVIZ_DATA", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        cli.main(["lab", "run", *argv])  # every one fails before any training
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("python -m kdviz lab run: error:") and message in err[-1]
    assert not any("Traceback" in line for line in err)


def test_build_teacher_is_reproducible_for_a_seed(tmp_path):
    """Two short builds with the same seed write identical weights (the shipped one is 1500 steps)."""
    for out in ("a", "b"):
        proc = subprocess.run([sys.executable, "-m", "kdviz.lab.cli", "lab", "build-teacher", "--steps", "2",
                               "--device", "cpu", "--out", str(tmp_path / out)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "held-out perplexity" in proc.stdout and "teacher [" in proc.stderr
    a, b = (load_file(str(tmp_path / o / "teacher.safetensors")) for o in ("a", "b"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    record = json.loads((tmp_path / "a" / "teacher.json").read_text())
    assert record["train_config"]["steps"] == 2 and len(record["curve"]["held_out_ce"]) == 1
