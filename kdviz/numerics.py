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


class _Known:
    """What is known about one tensor object within a block: its :func:`exp` (None: not yet), where
    it is > -inf (``mask``, None: everywhere), and for constants a memo of :func:`cached` results."""

    __slots__ = ("x", "exp", "mask", "rows", "memo")

    def __init__(self, x, exp=None, mask=None, rows=None, memo=None):
        self.x, self.exp, self.mask, self.rows, self.memo = x, exp, mask, rows, memo


_KNOWN: dict[int, _Known] = {}  # id(x) -> what is known about x (a hit needs the very object)
_MISSING = object()


@contextlib.contextmanager
def constants(*tensors: torch.Tensor):
    """Within the block these tensors (a fit's teacher log-probabilities) and their :func:`exp` do not
    change: :func:`exp`, :func:`support` and :func:`cached` of them are computed once and returned by
    every call on the same tensor object. Safe across threads: a hit needs the very object, whose
    values are the same whichever thread computed them."""
    mine = {}
    for x in tensors:
        if id(x) not in _KNOWN and id(x) not in mine:
            e = _exp(x)
            mine[id(x)] = _Known(x, e, _mask_or_none(x), memo={})
            mine[id(e)] = _Known(e, None, None, memo={})  # probabilities: > -inf everywhere
    _KNOWN.update(mine)
    try:
        yield
    finally:
        for key in mine:
            _KNOWN.pop(key, None)


def _mask_or_none(log_x: torch.Tensor) -> torch.Tensor | None:
    mask = log_x > float("-inf")
    return None if bool(mask.all()) else mask


def cached(fn, x: torch.Tensor, *args):
    """``fn(x, *args)``, computed once per block when ``x`` is one of :func:`constants` (or its exp);
    ``args`` must be hashable. Do not modify the result in place."""
    k = _KNOWN.get(id(x)) if _KNOWN else None
    if k is None or k.x is not x or k.memo is None:
        return fn(x, *args)
    out = k.memo.get((fn, args), _MISSING)
    if out is _MISSING:
        out = k.memo[(fn, args)] = fn(x, *args)
    return out


def exp(x: torch.Tensor) -> torch.Tensor:
    """``exp(x)`` with arguments below the dtype's floor raised to it.

    ``exp(-inf)`` therefore gives ``exp(floor)`` (1e-304 in float64) instead of 0: zero for every
    purpose here (callers that need the exact support test the log-values: :func:`support`).
    Do not modify the result in place (it may be :func:`cached` or a :class:`StudentRows` buffer).
    """
    k = _KNOWN.get(id(x)) if _KNOWN else None
    if k is not None and k.x is x and k.exp is not None:
        return k.exp
    return cached(_exp, x)


def _exp(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    # clamp: avoids the slow underflow path of exp; the values it changes are < exp(floor)
    return torch.clamp(x, min=exp_floor(x.dtype), out=out).exp_()


def support(log_x: torch.Tensor) -> torch.Tensor | None:
    """Where the probabilities are positive, ``log_x > -inf`` ``(..., V)`` bool; ``None`` when they all
    are and that is known without looking: for :func:`constants` and :class:`StudentRows` (checked
    once per block or per step). Callers skip their ``0 log 0`` guards on ``None``."""
    k = _KNOWN.get(id(log_x)) if _KNOWN else None
    if k is None or k.x is not log_x:
        return log_x > float("-inf")
    return None if k.rows is not None and k.rows.full else k.mask


class StudentRows:
    """A fit's student log-probabilities ``(K, V)``, rewritten in place every step, and fixed views
    of groups of its rows. Inside ``with rows:`` :func:`exp` and :func:`support` of the buffer and
    of each view are looked up, not computed: :meth:`refresh` computes ``exp`` once per step for all
    rows and notes whether every probability is positive (the divergences then skip their guards)."""

    def __init__(self, k: int, v: int, dtype: torch.dtype):
        self.log = torch.empty(k, v, dtype=dtype)  # (K, V) written by the student family
        self.exp = torch.empty(k, v, dtype=dtype)  # (K, V) exp(log), by refresh()
        self.mask = torch.ones(k, v, dtype=torch.bool)  # (K, V) log > -inf, by refresh() when not full
        self.full = False
        self._known = [_Known(self.log, self.exp, self.mask, self)]

    def rows(self, index: slice) -> torch.Tensor:
        """The view ``log[index]`` (a slice: a view that stays valid across steps)."""
        view = self.log[index]
        self._known.append(_Known(view, self.exp[index], self.mask[index], self))
        return view

    def refresh(self) -> None:
        """After the student wrote :attr:`log`: its exp, and whether all of it is > -inf (NaN: no)."""
        _exp(self.log, out=self.exp)
        self.full = float(self.log.amin()) > float("-inf")  # amin: the faster full reduction here
        if not self.full:
            torch.gt(self.log, float("-inf"), out=self.mask)

    def __enter__(self):
        _KNOWN.update({id(k.x): k for k in self._known})
        return self

    def __exit__(self, *exc):
        for k in self._known:
            _KNOWN.pop(id(k.x), None)


def logsumexp(x: torch.Tensor, dim: int, keepdim: bool = False) -> torch.Tensor:
    """``log sum exp x`` along ``dim``; terms more than |floor| below the maximum are dropped
    exactly as float arithmetic would drop them, without the slow underflowing exp."""
    # clamp: a row of -inf only (an empty distribution) would give -inf - -inf = NaN
    floor = max(-1e300, torch.finfo(x.dtype).min)  # float32: -3.4e38
    mx = x.detach().amax(dim=dim, keepdim=True).clamp(min=floor)
    out = torch.log(exp(x - mx).sum(dim=dim, keepdim=True)) + mx
    return out if keepdim else out.squeeze(dim)


def logaddexp(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``log(exp a + exp b)`` elementwise; ``-inf`` allowed in either or both arguments, with a
    gradient that is never NaN (``torch.logaddexp``'s is NaN where both are ``-inf``: used when no
    gradient is asked for)."""
    if not (a.requires_grad or b.requires_grad):
        return torch.logaddexp(a, b)
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
