"""The registry's building blocks: parameters with ranges, a divergence's description, and the
validation of probability tensors. :mod:`kdviz.divergences` fills the registry with them."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from kdviz.i18n import _


@dataclass(frozen=True)
class Param:
    """A numeric parameter of a divergence with its default and valid range."""

    name: str
    default: float
    low: float  # smallest valid value
    high: float  # largest valid value
    low_open: bool = False  # True: `low` itself is not allowed (epsilon > 0)
    choices: tuple = ()  # non-empty: only these values are allowed (order in {1, 2})
    help: str = ""  # one line for people (marked with N_; shown as display_help)

    @property
    def display_help(self) -> str:
        """:attr:`help` in the viewer's language (:mod:`kdviz.i18n`)."""
        return _(self.help) if self.help else ""

    def check(self, value) -> float:
        """``value`` as a float (int for ``choices``), or a ValueError. Python, numpy and 0-d torch
        numbers are accepted; booleans are not."""
        if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0 and value.dtype != bool \
                and value.dtype != torch.bool:
            value = value.item()
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise ValueError(f"parameter {self.name!r} must be a number, got {value!r}")
        v = float(value)
        if self.choices and v not in self.choices:
            raise ValueError(f"parameter {self.name!r} must be one of {list(self.choices)}, got {value!r}")
        too_low = v <= self.low if self.low_open else v < self.low
        if not math.isfinite(v) or too_low or v > self.high:
            lo = "(" if self.low_open else "["
            raise ValueError(
                f"parameter {self.name!r} must be in {lo}{self.low:g}, {self.high:g}], got {value!r}")
        return int(v) if self.choices else v


@dataclass(frozen=True)
class DivergenceSpec:
    """Everything the library, the CLI and the app need to know about one divergence."""

    name: str  # registry key, used in URLs and on the CLI
    label: str  # short display label, in English (marked with N_; shown as display_label)
    fn: Callable  # fn(log_p, log_q, [x,] **params) -> (...): the value D(p, q)
    # grad(log_p, log_q, [x,] **params) -> (..., V): the exact gradient of fn w.r.t. log q (entries of
    # log q independent, i.e. q * dD/dq); None: no closed form, autograd through fn gives it
    grad: Callable | None
    latex: str  # the definition, for st.latex
    params: tuple[Param, ...] = ()
    symmetric: bool = False  # D(p, q) == D(q, p)
    bounded: str = ""  # a human-readable bound, "" if unbounded
    needs_support: bool = False  # needs the support coordinates x (optimal transport)
    behaviour: str = ""  # one line on what it does to a student (marked with N_)
    source: str = ""  # the paper (marked with N_)
    color: str = "#444444"  # one fixed colour per divergence on every page (legible on light and dark)
    flags: frozenset = field(default_factory=frozenset)  # {"entropic"} boolean options
    # separable divergences (a sum of per-class terms): the seed's single-token coefficient c of
    # grad q(y*), c = (dD/dq(y*)) / p(y*), as LaTeX; "" when the Gradients lesson does not show it
    grad_latex: str = ""

    @property
    def display_label(self) -> str:
        """:attr:`label` in the viewer's language (:mod:`kdviz.i18n`)."""
        return _(self.label)

    @property
    def display_behaviour(self) -> str:
        """:attr:`behaviour` in the viewer's language."""
        return _(self.behaviour) if self.behaviour else ""

    @property
    def display_source(self) -> str:
        """:attr:`source` in the viewer's language."""
        return _(self.source) if self.source else ""

    def defaults(self) -> dict:
        return {prm.name: prm.default for prm in self.params}

    def resolve(self, params: dict) -> dict:
        """Validated parameters for this divergence: defaults overridden by ``params``."""
        known = {prm.name: prm for prm in self.params}
        unknown = set(params) - set(known) - set(self.flags)
        if unknown:
            raise ValueError(f"{self.name} takes parameters {sorted(known) + sorted(self.flags)}, "
                             f"got unknown {sorted(unknown)}")
        out = self.defaults()
        for k, v in params.items():
            if k in self.flags:
                if not isinstance(v, bool):
                    raise ValueError(f"option {k!r} must be True or False, got {v!r}")
                out[k] = v
            else:
                out[k] = known[k].check(v)
        return out


def _tolerance(dtype: torch.dtype) -> float:
    return 1e-6 if dtype == torch.float64 else 1e-4


def validate_distribution(t, what: str) -> torch.Tensor:
    """``t`` as a floating tensor of probability rows, or a ValueError saying what is wrong."""
    if not isinstance(t, torch.Tensor):
        try:
            t = torch.as_tensor(np.asarray(t, dtype=np.float64))
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be numbers, got {str(t)[:60]!r}") from None
    if t.is_complex():
        raise ValueError(f"{what} must be real numbers, got dtype {t.dtype}")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if t.ndim == 0 or t.shape[-1] == 0:
        raise ValueError(f"{what} must have shape (..., V) with V >= 1, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{what} is an empty batch, got shape {tuple(t.shape)}")
    with torch.no_grad():
        if torch.isnan(t).any() or torch.isinf(t).any():
            raise ValueError(f"{what} must be finite, got NaN or inf entries")
        if (t < 0).any():
            raise ValueError(f"{what} must be non-negative, got min {t.min().item():.3g}")
        worst = (t.sum(-1) - 1).abs().max().item()
        if worst > _tolerance(t.dtype):
            raise ValueError(f"{what} rows must sum to 1 (tolerance {_tolerance(t.dtype):g}), "
                             f"got a row summing to 1 {'+' if t.sum(-1).max() > 1 else '-'} {worst:.3g}")
    return t
