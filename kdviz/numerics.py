"""Small numerical helpers shared by the divergences, the families and the transport code.

Why they exist: on these CPUs torch's vectorised ``exp`` is ~50-100x slower when its result
underflows (arguments below about -708 in float64, -87 in float32) than on ordinary arguments,
and log-probabilities of a narrow Gaussian on a wide grid reach -20000. Every ``exp`` of a
log-probability or of a log-sum-exp difference therefore goes through :func:`exp`, which raises
its argument to a floor where ``exp`` is still fast. The floor changes results by at most
``exp(floor)`` (1e-304 in float64, 1e-37 in float32) per entry: far below the precision of
anything computed from them. Exact zeros are recognised from the log-values (``log_a > -inf``),
never from ``exp``'s result.
"""

from __future__ import annotations

import contextlib

import torch

_FLOORS = {torch.float64: -700.0, torch.float32: -85.0, torch.float16: -15.0, torch.bfloat16: -85.0}


def exp_floor(dtype: torch.dtype) -> float:
    return _FLOORS.get(dtype, -85.0)


_CONSTANTS: dict[int, tuple[torch.Tensor, dict]] = {}  # id(x) -> (x, {(fn, args): fn(x, *args)})


@contextlib.contextmanager
def constants(*tensors: torch.Tensor):
    """Within the block these tensors (a fit's teacher log-probabilities) and their :func:`exp` do not
    change: :func:`exp` and :func:`cached` of them are computed once and returned by every call on
    the same tensor object. Safe across threads: a hit needs the very object, whose values are the
    same whichever thread computed them."""
    mine = {}
    for x in tensors:
        if id(x) not in _CONSTANTS and id(x) not in mine:
            mine[id(x)] = (x, {})
            e = _exp(x)
            mine[id(x)][1][(_exp, ())] = e
            mine[id(e)] = (e, {})
    _CONSTANTS.update(mine)
    try:
        yield
    finally:
        for key in mine:
            _CONSTANTS.pop(key, None)


def cached(fn, x: torch.Tensor, *args):
    """``fn(x, *args)``, computed once per block when ``x`` is one of :func:`constants` (or its exp);
    ``args`` must be hashable. Do not modify the result in place."""
    entry = _CONSTANTS.get(id(x)) if _CONSTANTS else None
    if entry is None or entry[0] is not x:
        return fn(x, *args)
    memo = entry[1]
    if (fn, args) not in memo:
        memo[(fn, args)] = fn(x, *args)
    return memo[(fn, args)]


def exp(x: torch.Tensor) -> torch.Tensor:
    """``exp(x)`` with arguments below the dtype's floor raised to it.

    ``exp(-inf)`` therefore gives ``exp(floor)`` (1e-304 in float64) instead of 0: zero for every
    purpose here (callers that need the exact support test the log-values, ``log_a > -inf``).
    Do not modify the result in place (it may be :func:`cached`).
    """
    return cached(_exp, x)


def _exp(x: torch.Tensor) -> torch.Tensor:
    # clamp: avoids the slow underflow path of exp; the values it changes are < exp(floor)
    return torch.exp(x.clamp(min=exp_floor(x.dtype)))


def logsumexp(x: torch.Tensor, dim: int, keepdim: bool = False) -> torch.Tensor:
    """``log sum exp x`` along ``dim``; terms more than |floor| below the maximum are dropped
    exactly as float arithmetic would drop them, without the slow underflowing exp."""
    # clamp: a row of -inf only (an empty distribution) would give -inf - -inf = NaN
    floor = max(-1e300, torch.finfo(x.dtype).min)  # float32: -3.4e38
    mx = x.detach().amax(dim=dim, keepdim=True).clamp(min=floor)
    out = torch.log(exp(x - mx).sum(dim=dim, keepdim=True)) + mx
    return out if keepdim else out.squeeze(dim)


def logaddexp(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``log(exp a + exp b)`` elementwise; ``-inf`` allowed in either or both arguments."""
    mx = torch.maximum(a, b)
    both_zero = mx == float("-inf")
    diff = torch.where(both_zero, 0.0, torch.minimum(a, b) - mx)  # -inf - -inf would be NaN
    return torch.where(both_zero, mx, mx + torch.log1p(exp(diff)))


@contextlib.contextmanager
def torch_threads(n: int = 1):
    """Run torch ops with ``n`` intra-op threads, restoring the previous count afterwards.

    The fits are thousands of tiny ops: OpenMP's thread hand-offs cost more than they save
    (and collapse when other processes use the cores).
    """
    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
