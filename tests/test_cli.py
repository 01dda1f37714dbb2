"""The CLI: ``python -m kdviz`` as a user runs it (subprocess) and ``kdviz.cli.main`` in-process for the many
bad-argument cases (same parser, same exit status 2, without paying an interpreter start each)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kdviz import cli
from kdviz.cli import main
from kdviz.divergences import DIVERGENCES
from kdviz.families import GaussianMixture, discrete_teacher

ROOT = Path(__file__).resolve().parents[1]


def _run(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "kdviz", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


def _strict_json(text):
    def no_nan(c):
        raise ValueError(f"non-standard JSON constant {c}")
    return json.loads(text, parse_constant=no_nan)


def _main(argv, capsys):
    """Run the CLI in-process: (exit status, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- real runs (subprocess)
def test_gaussian_fit_json_with_negative_numbers_has_moment_matching_fkl_and_mode_seeking_rkl():
    teacher = "gmm:0.3,-3,1;0.7,3,1"
    proc = _run("fit", "--teacher", teacher, "--student", "gaussian:-2,1.5", "--divergences", "fkl,rkl",
                "--steps", "400", "--lr", "0.05", "--grid=-12,12,256", "--json")
    assert proc.returncode == 0, proc.stderr
    out = _strict_json(proc.stdout)
    mix = GaussianMixture((0.3, 0.7), (-3.0, 3.0), (1.0, 1.0))
    assert out["teacher"]["kind"] == "gmm" and out["teacher"]["mean"] == pytest.approx(mix.mean())
    assert out["config"]["grid"] == [-12.0, 12.0, 256] and out["config"]["steps"] == 400
    assert set(out["results"]) == {"fkl", "rkl"}
    for r in out["results"].values():
        assert len(r["loss"]) == 401 and set(r["final"]) >= {"mu", "sigma"}
        assert r["loss"][-1] < r["loss"][0]
    fkl, rkl = out["results"]["fkl"]["final"], out["results"]["rkl"]["final"]
    assert fkl["mu"] == pytest.approx(mix.mean(), abs=0.02)
    assert fkl["sigma"] == pytest.approx(math.sqrt(mix.variance()), abs=0.02)
    # the near, lighter mode
    assert rkl["mu"] == pytest.approx(-3.0, abs=0.1) and rkl["sigma"] == pytest.approx(1.0, abs=0.1)


def test_softmax_fit_json_on_the_akl_preset_reports_q_and_head_tail_errors():
    proc = _run("fit", "--teacher", "preset:akl_bimodal", "--student", "softmax",
                "--divergences", "fkl,rkl,akl", "--steps", "200", "--lr", "0.1", "--json")
    assert proc.returncode == 0, proc.stderr
    out = _strict_json(proc.stdout)
    _, p = discrete_teacher("akl_bimodal")
    np.testing.assert_allclose(out["teacher"]["p"], p)
    assert out["config"]["student"] == {"kind": "softmax", "init": "random"} and out["config"]["seed"] == 1
    for name, r in out["results"].items():
        q = np.array(r["final"]["q"])
        assert q.shape == (50,) and q.sum() == pytest.approx(1.0)
        assert 0.5 * np.abs(q - p).sum() < 1e-3, name  # 200 Adam steps reach p
        assert len(r["head_error"]) == len(r["tail_error"]) == 201
        assert r["head_error"][-1] + r["tail_error"][-1] < r["head_error"][0] + r["tail_error"][0]


def test_table_output_lists_each_divergence_with_its_errors():
    proc = _run("fit", "--teacher", "discrete:1,2,3,4", "--student", "softmax:uniform",
                "--divergences", "jsd,tvd", "--steps", "20")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert "divergence" in lines[0] and "head err" in lines[0] and "tail err" in lines[0]
    rows = {ln.split()[0]: ln.split() for ln in lines[2:]}
    assert set(rows) == {"jsd", "tvd"}
    assert all(math.isfinite(float(v)) for r in rows.values() for v in r[1:])
    with pytest.raises(json.JSONDecodeError):
        json.loads(proc.stdout)


def test_divergences_command_lists_the_registry_with_parameter_ranges(capsys):
    code, out, _ = _main(["divergences"], capsys)
    assert code == 0
    for name, spec in DIVERGENCES.items():
        assert any(line.startswith(name + " ") and spec.label in line for line in out.splitlines()), name
    assert "alpha=0.1 in [0, 1]" in out and "epsilon=1 in (0," in out and "order=1 in {1, 2}" in out


@pytest.mark.parametrize("args,needle", [
    (["--teacher", "gmm:0.5,-3"], "W,MU,SIGMA"),  # malformed component: caught while parsing
    (["--alpha", "1.5", "--divergences", "skl"], "alpha"),  # the registry's range check
    (["--teacher", "gmm:1,1e308,1"], "no mass on the grid"),  # overflowed into an OverflowError traceback
    (["--divergences", "sinkhorn", "--grid=-10,10,20000"], "the limit is 4096 points"),  # asked for 3.2 GB
], ids=["malformed_spec", "parameter_range", "overflowing_mean", "sinkhorn_size_limit"])
def test_bad_arguments_exit_2_with_exactly_one_stderr_line_and_no_traceback(args, needle):
    base = ["--teacher", "gmm:0.5,-3,1;0.5,3,1", "--student", "gaussian:0,1", "--steps", "5"]
    proc = _run("fit", *base, *args, timeout=120)  # a repeated option: the last one counts
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("python -m kdviz fit: error:") and needle in lines[0]
    assert proc.stdout == ""


def test_sinkhorn_at_small_epsilon_on_a_fine_grid_is_refused_at_once_with_the_time_limit():
    # ran for more than 300 s before the limit existed
    proc = _run("fit", "--teacher", "gmm:0.5,-3,1;0.5,3,1", "--student", "gaussian:0,1",
                "--divergences", "sinkhorn,sinkhorn_div", "--epsilon", "0.01", "--grid=-10,10,2000",
                "--steps", "2", timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert f"over the {cli.MAX_SECONDS:g} s limit" in line and "--steps" in line


# --------------------------------------------------------------------------- in-process
GOOD = ["fit", "--teacher", "gmm:0.5,-3,1;0.5,3,1", "--student", "gaussian:0,2", "--steps", "3",
        "--grid=-8,8,32"]
GAUSS = ["fit", "--teacher", "gmm:1,0,1", "--student", "gaussian:0,1"]


def _with(**changes):
    argv = list(GOOD)
    for flag, value in changes.items():
        flag = "--" + flag.replace("_", "-")
        if flag in argv:
            i = argv.index(flag)
            argv[i:i + 2] = [flag, value] if value is not None else []
        else:
            argv += [flag, value]
    return argv


BAD = {
    "malformed teacher": _with(teacher="gmm"),
    "teacher kind": _with(teacher="poisson:3"),
    "component arity": _with(teacher="gmm:0.5,-3,1;0.5,3"),
    "negative std": _with(teacher="gmm:1,0,-1"),
    "zero std": _with(teacher="gmm:1,0,0"),
    "negative weight": _with(teacher="gmm:-0.5,0,1;1.5,2,1"),
    "nan mean": _with(teacher="gmm:1,nan,1"),
    "inf weight": _with(teacher="gmm:inf,0,1"),
    "too many components": _with(teacher="gmm:" + ";".join(["1,0,1"] * 6)),
    "discrete negative": _with(teacher="discrete:0.5,-0.1,0.6", student="softmax"),
    "discrete nan": _with(teacher="discrete:0.5,nan", student="softmax"),
    "discrete text": _with(teacher="discrete:a,b", student="softmax"),
    "discrete all zero": _with(teacher="discrete:0,0", student="softmax"),
    "bad preset": _with(teacher="preset:nope", student="softmax"),
    "student kind": _with(student="poisson:1"),
    "student no start": _with(student="gaussian"),
    "student negative sigma": _with(student="gaussian:0,-1"),
    "student nan": _with(student="gaussian:nan,1"),
    "softmax init": _with(student="softmax:zeros"),
    "gaussian on discrete": _with(teacher="discrete:1,2", student="gaussian:0,1"),
    "unknown divergence": _with(divergences="fkl,nope"),
    "duplicate divergence": _with(divergences="fkl,fkl"),
    "empty divergences": _with(divergences=","),
    "steps zero": _with(steps="0"),
    "steps negative": _with(steps="-5"),
    "steps float": _with(steps="2.5"),
    "steps too many": _with(steps="1000000"),
    "lr zero": _with(lr="0"),
    "lr negative": _with(lr="-0.1"),
    "lr nan": _with(lr="nan"),
    "lr huge": _with(lr="1000"),
    "optimizer": _with(optimizer="rmsprop"),
    "grid low >= high": GAUSS + ["--grid=10,-10,64"],
    "grid arity": GAUSS + ["--grid=-10,10"],
    "grid size": GAUSS + ["--grid=-10,10,1"],
    "grid inf": GAUSS + ["--grid=-inf,10,64"],
    "alpha range": _with(divergences="skl", alpha="1.5"),
    "beta range": _with(divergences="jsd", beta="-0.2"),
    "mu range": _with(divergences="akl", mu="1.2"),
    "epsilon zero": _with(divergences="sinkhorn", epsilon="0"),
    "order three": _with(divergences="wasserstein", order="3"),
    "alpha unused": _with(divergences="fkl", alpha="0.2"),
    "alpha nan": _with(divergences="skl", alpha="nan"),
    "alpha overflow": _with(divergences="skl", alpha="1e309"),
    "mean overflow": _with(teacher="gmm:1,1e308,1"),
    "mean far off the grid": _with(teacher="gmm:1,1e200,1"),
    "std underflows on the grid": _with(teacher="gmm:1,0,1e-300"),
    "weight overflow": _with(teacher="gmm:1e309,0,1"),
    "student mean overflow": _with(student="gaussian:1e308,1"),
    "student std underflows": _with(student="gaussian:0,1e-300"),
    "discrete overflow": _with(teacher="discrete:1e309,1", student="softmax"),
    "grid width overflows": GAUSS + ["--grid=-1e308,1e308,64"],
    "grid size overflow": GAUSS + ["--grid=-10,10,1e309"],
    "steps overflow": _with(steps="1" + "0" * 400),
    "seed overflow": _with(teacher="preset:zipf", student="softmax", seed="99999999999999999999999"),
    "seed negative": _with(teacher="preset:zipf", student="softmax", seed="-1"),
    "seed float": _with(teacher="preset:zipf", student="softmax", seed="1.5"),
    "epsilon overflow": _with(divergences="sinkhorn", epsilon="1e309"),
    "sinkhorn grid over the size limit": _with(divergences="sinkhorn") + ["--grid=-10,10,20000"],
    "sinkhorn over the time limit": _with(divergences="sinkhorn,sinkhorn_div", epsilon="0.01", steps="2")
    + ["--grid=-10,10,2000"],
    "steps over the time limit": _with(divergences="fkl,rkl,jsd,tvd", steps="100000")
    + ["--grid=-10,10,20000"],
    "unknown option": _with(bogus="1"),
    "no subcommand": [],
    "unknown subcommand": ["plot"],
    "missing teacher": ["fit", "--student", "gaussian:0,1"],
}


@pytest.mark.parametrize("argv", list(BAD.values()), ids=list(BAD))
def test_every_bad_argument_exits_2_with_one_error_line_and_no_usage_block(argv, capsys):
    code, out, err = _main(argv, capsys)
    assert code == 2, (code, out, err)
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("python -m kdviz") and ": error: " in line
    assert "expected one argument" not in line  # a negative number read as an option: the case tests nothing


def test_overflowing_weights_are_normalised_without_overflow(capsys):
    # discrete:1e308,1e308 used to sum to inf and fit a teacher of [0, 0] with exit 0
    code, out, _ = _main(["fit", "--teacher", "discrete:1e308,1e308,5e307", "--student", "softmax",
                          "--steps", "1", "--json"], capsys)
    assert code == 0
    np.testing.assert_allclose(_strict_json(out)["teacher"]["p"], [0.4, 0.4, 0.2])
    code, out, _ = _main(_with(teacher="gmm:1e308,-3,1;1e308,3,1", steps="1") + ["--json"], capsys)
    assert code == 0
    teacher = _strict_json(out)["teacher"]
    mix = GaussianMixture((0.5, 0.5), (-3.0, 3.0), (1.0, 1.0))
    assert teacher["weights"] == [0.5, 0.5] and teacher["std"] == pytest.approx(math.sqrt(mix.variance()))


def test_json_writes_an_overflowing_teacher_std_as_null_with_a_note(capsys):
    # printed "std": Infinity, which is not JSON
    code, out, err = _main(_with(teacher="gmm:1,0,1e300") + ["--json"], capsys)
    assert code == 0 and err == ""
    doc = _strict_json(out)
    assert doc["teacher"]["std"] is None and doc["teacher"]["stds"] == [1e300]
    assert doc["notes"] == ["teacher.std: 1 non-finite value (inf) written as null"]


def test_json_has_no_notes_when_every_value_is_finite(capsys):
    code, out, _ = _main(GOOD + ["--json"], capsys)
    assert code == 0 and "notes" not in _strict_json(out)


def test_strict_json_nulls_every_non_finite_float_and_names_where():
    out = {"a": [1.0, math.nan, math.inf], "b": {"c": -math.inf, "d": 2}, "e": "x"}
    doc = _strict_json(cli.strict_json(out))
    assert doc["a"] == [1.0, None, None] and doc["b"] == {"c": None, "d": 2} and doc["e"] == "x"
    assert doc["notes"] == ["a: 2 non-finite values (inf, nan) written as null",
                            "b.c: 1 non-finite value (-inf) written as null"]


def test_time_estimate_grows_with_steps_divergences_grid_and_small_epsilon():
    x = np.linspace(-10, 10, 512)
    base = cli.estimate_seconds(["fkl"], 100, x, {})
    assert cli.estimate_seconds(["fkl"], 200, x, {}) == pytest.approx(2 * base)
    assert cli.estimate_seconds(["fkl", "rkl"], 100, x, {}) > base
    assert cli.estimate_seconds(["fkl"], 100, np.linspace(-10, 10, 4096), {}) > base
    sk = cli.estimate_seconds(["sinkhorn"], 100, x, {})
    assert sk > 100 * base
    assert cli.estimate_seconds(["sinkhorn"], 100, x, {"epsilon": 0.1}) > sk
    assert cli.estimate_seconds(["sinkhorn"], 100, x, {"epsilon": 100.0}) < sk


def test_the_readme_examples_are_well_inside_the_time_limit():
    x = np.linspace(-10, 10, 512)
    assert cli.estimate_seconds(["fkl", "rkl"], 500, x, {}) < cli.MAX_SECONDS / 10
    assert cli.estimate_seconds(["fkl", "rkl", "akl"], 200, np.arange(50.0), {}) < cli.MAX_SECONDS / 10


def test_help_states_the_size_and_time_limits(capsys):
    code, out, _ = _main(["fit", "--help"], capsys)
    text = " ".join(out.split())
    assert code == 0
    assert f"exceeds {cli.MAX_SECONDS:g} s" in text
    assert f"more than {cli.MAX_OT_POINTS} support points" in text
    assert "sinkhorn, sinkhorn_div" in text and "strict JSON" in text


def test_library_value_errors_become_one_line_errors_that_say_what_is_wrong(capsys):
    code, _, err = _main(_with(divergences="skl", alpha="1.5"), capsys)
    assert code == 2 and "parameter 'alpha' must be in [0, 1], got 1.5" in err
    code, _, err = _main(_with(lr="1000"), capsys)
    assert code == 2 and "learning rate" in err


def test_help_documents_defaults_and_the_equals_form_for_negative_numbers(capsys):
    code, out, _ = _main(["fit", "--help"], capsys)
    assert code == 0
    for text in ("--grid=-10,10,512", "default -10,10,512", "default 500", "0.05", "gaussian:-2,1"):
        assert text in " ".join(out.split()), text


def test_divergence_parameters_reach_every_divergence_that_takes_them(capsys):
    argv = ["fit", "--teacher", "discrete:1,2,3,4,10", "--student", "softmax:uniform", "--steps", "2",
            "--divergences", "skl,srkl,fkl", "--json"]
    _, out_default, _ = _main(argv, capsys)
    code, out_alpha, _ = _main(argv + ["--alpha", "0.6"], capsys)
    assert code == 0
    a, b = _strict_json(out_default), _strict_json(out_alpha)
    assert b["config"]["params"] == {"alpha": 0.6}
    for name in ("skl", "srkl"):
        assert abs(a["results"][name]["loss"][0] - b["results"][name]["loss"][0]) > 1e-3, name
    assert a["results"]["fkl"]["loss"] == b["results"]["fkl"]["loss"]


def test_json_stays_strict_when_a_fit_diverges(capsys):
    # class 3 is impossible for the teacher: reverse KL of any softmax student is infinite
    argv = ["fit", "--teacher", "discrete:0.5,0.3,0.2,0", "--student", "softmax", "--divergences", "rkl,fkl",
            "--steps", "3", "--json", "--seed", "7"]
    code, out, _ = _main(argv, capsys)
    assert code == 0
    res = _strict_json(out)["results"]
    assert res["rkl"]["diverged_at"] == 0 and res["rkl"]["loss"] == [None] * 4
    assert res["fkl"]["diverged_at"] == -1 and all(v is not None for v in res["fkl"]["loss"])
    code, table, _ = _main(argv[:-3], capsys)
    assert code == 0 and "diverged" in table


def test_fixed_sigma_and_seed_options_take_effect(capsys):
    code, out, _ = _main(GOOD + ["--fixed-sigma", "--json", "--steps", "10"], capsys)
    assert code == 0 and _strict_json(out)["results"]["fkl"]["final"]["sigma"] == pytest.approx(2.0)
    base = ["fit", "--teacher", "preset:zipf", "--student", "softmax", "--divergences", "fkl", "--steps", "1",
            "--json"]
    q = [_strict_json(_main(base + ["--seed", s], capsys)[1])["results"]["fkl"]["final"]["q"]
         for s in ("1", "1", "2")]
    assert q[0] == q[1] and q[0] != q[2]
