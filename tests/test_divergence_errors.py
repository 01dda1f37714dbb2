"""kdviz.divergences: bad input (distributions, names, parameters, supports) raises ValueError saying
what is wrong; every registry entry's metadata is consistent."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kdviz.divergences import DIVERGENCES, divergence, divergence_from_log, get_spec


def _t(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


GOOD = [0.2, 0.3, 0.5]


@pytest.mark.parametrize("p,q,match", [
    ([-0.1, 0.6, 0.5], GOOD, "non-negative"),
    (GOOD, [0.2, float("nan"), 0.8], "finite"),
    (GOOD, [0.2, float("inf"), 0.8], "finite"),
    ([0.2, 0.3, 0.6], GOOD, "sum to 1"),
    (GOOD, [0.5, 0.6, 0.1], "sum to 1"),
    (GOOD, [0.5, 0.5], "same number of classes"),
    ([[0.5, 0.5], [0.2, 0.8]], [[0.5, 0.5], [0.2, 0.8], [0.1, 0.9]], "broadcastable"),
    ([], [], "shape"),
])
def test_invalid_distributions_raise_value_errors_saying_what_is_wrong(p, q, match):
    with pytest.raises(ValueError, match=match):
        divergence("fkl", _t(p), _t(q))


@pytest.mark.parametrize("name,params,match", [
    ("kl", {}, "unknown divergence"),
    ("fkl", {"alpha": 0.1}, "unknown"),
    ("skl", {"alhpa": 0.1}, "unknown"),
    ("skl", {"alpha": 1.5}, r"alpha.*\[0, 1\]"),
    ("srkl", {"alpha": -0.1}, r"alpha.*\[0, 1\]"),
    ("jsd", {"beta": 1.01}, r"beta.*\[0, 1\]"),
    ("jsd", {"beta": -0.5}, r"beta.*\[0, 1\]"),
    ("akl", {"mu": 1.2}, r"mu.*\[0, 1\]"),
    ("akl", {"mu": -0.1}, r"mu.*\[0, 1\]"),
    ("sinkhorn", {"epsilon": 0.0}, r"epsilon.*\(0"),
    ("sinkhorn_div", {"epsilon": -1.0}, r"epsilon.*\(0"),
    ("sinkhorn", {"epsilon": float("nan")}, "epsilon"),
    ("wasserstein", {"order": 3}, r"order.*\[1, 2\]"),
    ("wasserstein", {"order": 1.5}, "order"),
    ("skl", {"alpha": True}, "must be a number"),
    ("wasserstein", {"order": True}, "must be a number"),
    ("jsd", {"beta": "0.5"}, "must be a number"),
    ("sinkhorn_div", {"entropic": 1}, "True or False"),
])
def test_bad_names_and_parameters_raise_value_errors(name, params, match):
    with pytest.raises(ValueError, match=match):
        divergence(name, _t(GOOD), _t(GOOD), **params)


def test_divergence_from_log_rejects_nan_plus_inf_and_integer_tensors():
    good = _t(GOOD).log()
    with pytest.raises(ValueError, match="NaN"):
        divergence_from_log("fkl", good, torch.tensor([0.0, float("nan"), 0.0], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\+inf"):
        divergence_from_log("fkl", torch.tensor([0.0, float("inf"), 0.0], dtype=torch.float64), good)
    with pytest.raises(ValueError, match="floating"):
        divergence_from_log("fkl", torch.tensor([0, 1, 2]), good)


def test_transport_support_of_wrong_length_raises():
    with pytest.raises(ValueError, match="support x"):
        divergence("wasserstein", _t(GOOD), _t(GOOD), x=[0.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        divergence("sinkhorn", _t(GOOD), _t(GOOD), x=[0.0, 1.0, float("inf")])


def test_get_spec_lists_known_names_and_every_spec_has_consistent_metadata():
    with pytest.raises(ValueError, match="expected one of"):
        get_spec("nope")
    for name, spec in DIVERGENCES.items():
        assert spec.name == name and spec.label and spec.latex and spec.color.startswith("#")
        for prm in spec.params:
            spec.resolve({prm.name: prm.default})  # every default is in its own range
    assert len({s.color for s in DIVERGENCES.values()}) == len(DIVERGENCES)
