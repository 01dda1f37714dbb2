"""Fuzzing the public entry points: random valid inputs give finite results, random invalid inputs
give a ValueError (library) or exit status 2 with a one-line message (CLI), never a crash or NaN."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kdviz import cli
from kdviz.divergences import DIVERGENCES, divergence, divergence_from_log

NAMES = sorted(DIVERGENCES)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _param_values(spec, draw):
    """A random allowed value for every parameter of ``spec`` (edges included)."""
    out = {}
    for prm in spec.params:
        if prm.choices:
            out[prm.name] = draw(st.sampled_from(prm.choices))
        elif prm.low_open:  # epsilon: keep it where Sinkhorn converges in a test's time
            out[prm.name] = draw(st.floats(0.05, 10.0))
        else:
            out[prm.name] = draw(st.floats(prm.low, prm.high))
    for flag in spec.flags:
        out[flag] = draw(st.booleans())
    return out


@st.composite
def valid_case(draw):
    name = draw(st.sampled_from(NAMES))
    v = draw(st.integers(2, 9))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    batch = draw(st.sampled_from([(), (2,), (2, 3)]))
    logits = st.floats(-50, 50, allow_nan=False)
    zp = torch.tensor(draw(st.lists(logits, min_size=v, max_size=v)), dtype=dtype)
    zq = torch.tensor(draw(st.lists(logits, min_size=v * max(1, math.prod(batch)),
                                    max_size=v * max(1, math.prod(batch)))), dtype=dtype).reshape(*batch, v)
    return name, zp, zq, _param_values(DIVERGENCES[name], draw)


@given(valid_case())
@FUZZ
def test_random_valid_logits_give_finite_values_and_gradients_for_every_divergence(case):
    name, zp, zq, params = case
    zq = zq.clone().requires_grad_(True)
    value = divergence_from_log(name, zp, zq, normalize=True, **params)
    assert value.shape == zq.shape[:-1]
    assert torch.isfinite(value).all(), (name, params, value)
    value.sum().backward()
    assert torch.isfinite(zq.grad).all(), (name, params, zq.grad)


@given(valid_case())
@FUZZ
def test_random_valid_probabilities_give_finite_non_negative_values(case):
    name, zp, zq, params = case
    p, q = torch.softmax(zp.double(), -1), torch.softmax(zq.double(), -1)
    value = divergence(name, p, q, **params)
    assert torch.isfinite(value).all(), (name, params, value)
    if name != "sinkhorn_div" or params.get("entropic"):  # the seed's linear debiasing may dip below 0
        assert (value >= -1e-9).all(), (name, params, value)


def _corrupt(p: np.ndarray, how: str) -> np.ndarray:
    p = p.copy()
    if how == "negative":
        p[0] = -0.1
        p[1] += 0.1
    elif how == "nan":
        p[0] = np.nan
    elif how == "inf":
        p[0] = np.inf
    elif how == "unnormalised":
        p = p * 1.5
    return p


@given(name=st.sampled_from(NAMES), how=st.sampled_from(["negative", "nan", "inf", "unnormalised"]),
       side=st.sampled_from(["p", "q"]), v=st.integers(2, 8))
@FUZZ
def test_random_invalid_distributions_raise_value_error_naming_the_side(name, how, side, v):
    p = np.full(v, 1.0 / v)
    q = np.linspace(1, 2, v) / np.linspace(1, 2, v).sum()
    args = {"p": p, "q": q}
    args[side] = _corrupt(args[side], how)
    with pytest.raises(ValueError, match=("p" if side == "p" else "q")):
        divergence(name, torch.as_tensor(args["p"]), torch.as_tensor(args["q"]))


@given(name=st.sampled_from(NAMES), data=st.data())
@FUZZ
def test_random_out_of_range_or_unknown_parameters_raise_value_error(name, data):
    spec = DIVERGENCES[name]
    p = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    q = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    choices = ["unknown"] + [prm.name for prm in spec.params]
    key = data.draw(st.sampled_from(choices))
    if key == "unknown":
        kwargs = {"gamma_not_a_param": 1.0}
    else:
        prm = next(prm for prm in spec.params if prm.name == key)
        bad = data.draw(st.sampled_from(
            [prm.low - 0.5, prm.high + 0.5, float("nan"), float("inf"), "x", True]))
        kwargs = {key: bad}
    with pytest.raises(ValueError, match=key if key != "unknown" else "unknown"):
        divergence(name, p, q, **kwargs)


def test_mismatched_shapes_and_unknown_names_raise_value_error():
    p = torch.tensor([0.5, 0.5])
    with pytest.raises(ValueError, match="classes"):
        divergence("fkl", p, torch.tensor([0.2, 0.3, 0.5]))
    with pytest.raises(ValueError, match="broadcastable"):
        divergence("fkl", torch.full((2, 2), 0.5), torch.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="unknown divergence"):
        divergence("kl_typo", p, p)


# --------------------------------------------------------------------------- the CLI
GOOD_TEACHERS = ["gmm:0.5,-3,1;0.5,3,1", "gmm:1,0,2", "discrete:1,2,3,4", "preset:akl_bimodal", "preset:zipf"]
BAD_TEACHERS = ["gmm:0.5,-3", "gmm:0.5,0,-1", "gmm:-1,0,1", "gmm:nan,0,1", "discrete:1,-2,3", "discrete:",
                "preset:nope", "uniform:3", "gmm:1,0,inf", "discrete:0,0,0"]
BAD_STUDENTS = ["gaussian:0", "gaussian:0,-1", "gaussian:0,nan", "softmax:weird", "cauchy:0,1"]


def _run_cli(argv, capsys):
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _continuous(teacher):
    return teacher.startswith("gmm")


@given(teacher=st.sampled_from(GOOD_TEACHERS), data=st.data())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_cli_random_valid_fits_print_finite_json(teacher, data, capsys):
    names = data.draw(st.lists(st.sampled_from(["fkl", "rkl", "jsd", "tvd", "skl", "srkl", "fkl_rkl", "akl"]),
                               min_size=1, max_size=4, unique=True))
    student = (data.draw(st.sampled_from(["gaussian:1,2", "gaussian:-2,0.5"])) if _continuous(teacher)
               else data.draw(st.sampled_from(["softmax", "softmax:uniform"])))
    argv = ["fit", "--teacher", teacher, "--student", student, "--divergences", ",".join(names),
            "--steps", str(data.draw(st.integers(1, 15))),
            "--lr", str(data.draw(st.sampled_from([0.01, 0.1, 1.0]))),
            "--optimizer", data.draw(st.sampled_from(["adam", "sgd"])), "--grid=-8,8,64", "--json"]
    if {"skl", "srkl"} & set(names) and data.draw(st.booleans()):  # the CLI rejects unused parameters
        argv += ["--alpha", str(data.draw(st.floats(0, 1)))]
    code, out, err = _run_cli(argv, capsys)
    assert code == 0, (argv, err)
    result = json.loads(out)
    assert set(result["results"]) == set(names)
    for name in names:
        losses = result["results"][name]["loss"]
        assert all(v is not None and math.isfinite(v) for v in losses), (argv, name, losses)


@given(bad=st.sampled_from(["teacher", "student", "divergence", "steps", "lr", "grid", "alpha"]),
       data=st.data())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_cli_random_invalid_arguments_exit_2_with_one_line_message_no_traceback(bad, data, capsys):
    args = {"--teacher": "gmm:0.5,-3,1;0.5,3,1", "--student": "gaussian:1,2", "--divergences": "fkl,rkl",
            "--steps": "5", "--lr": "0.05"}
    extra = []
    if bad == "teacher":
        args["--teacher"] = data.draw(st.sampled_from(BAD_TEACHERS))
    elif bad == "student":
        args["--student"] = data.draw(st.sampled_from(BAD_STUDENTS))
    elif bad == "divergence":
        args["--divergences"] = data.draw(st.sampled_from(["kl", ",", "", "fkl,FKL2"]))
    elif bad == "steps":
        args["--steps"] = data.draw(st.sampled_from(["0", "-3", "1.5", "many"]))
    elif bad == "lr":
        args["--lr"] = data.draw(st.sampled_from(["0", "-1", "nan", "inf", "fast"]))
    elif bad == "grid":
        extra = [data.draw(st.sampled_from(["--grid=5,-5,100", "--grid=0,1", "--grid=0,1,1", "--grid=a,b,c",
                                            "--grid=-inf,0,10"]))]
    elif bad == "alpha":
        extra = ["--alpha", data.draw(st.sampled_from(["-0.5", "1.5", "nan"]))]
    argv = ["fit"] + [x for kv in args.items() for x in kv] + extra + ["--json"]
    code, out, err = _run_cli(argv, capsys)
    assert code == 2, (argv, out, err)
    assert "Traceback" not in err
    assert "error:" in err.strip().splitlines()[-1], err
