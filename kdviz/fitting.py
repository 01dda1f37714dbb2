"""The one fit loop: K independent students, each with its own divergence, teacher and start.

Row k of the parameter tensor ``(K, P)`` is fitted to teacher row k under divergence ``names[k]``
(its own parameters). Every step evaluates the student family once for all rows, then each
distinct (divergence, parameters) once on its slice of rows, with the registry's value and
closed-form gradient w.r.t. ``log q`` (:func:`kdviz.divergences.value_and_grad_fn`; autograd
only for the divergences without one), chains it through the family by hand
(``log_prob_and_vjp``) and takes one Adam or SGD step on the whole tensor. Adam and SGD act per
coordinate, so this is exactly K independent fits. A row whose loss or gradient stops being finite,
or that meets the optional stop rule (e.g. "the student left the grid"), is frozen from that step on.
Trajectories come back as numpy arrays (:class:`FitResult`).

The divergences find what every one of them needs already computed: the teacher's ``exp`` and
support once per fit (:func:`kdviz.numerics.constants`), the student's ``exp`` and support once per
step for all rows (:class:`kdviz.numerics.StudentRows`, whose fixed row views the groups get: the
rows are fitted in group order). Where nothing is zero, their ``0 log 0`` guards are skipped.

The optimizers are the few lines of :func:`adam_step` / SGD, equal to ``torch.optim``'s (tested to
1e-12): ``torch.optim`` imports ``torch._dynamo`` on first use, over a second per process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from kdviz import numerics as nx
from kdviz.akl import akl_split
from kdviz.divergences import get_spec, value_and_grad_fn
from kdviz.families import SoftmaxStudent
from kdviz.transport import support

OPTIMIZERS = ("adam", "sgd")
ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults
ADAM_EPS = 1e-8
MAX_PARAM_TRACE = 16  # record every step's parameters only for small students (the Gaussian's 2)


class FitStopped(Exception):
    """Raised by :func:`fit` when its ``should_stop`` callable says so (a deadline, a cancelled run);
    ``step`` is the number of steps taken. Not a ValueError: the configuration was valid."""

    def __init__(self, step: int, reason: str = "stopped"):
        super().__init__(f"{reason} after {step} steps")
        self.step, self.reason = step, reason


@dataclass(frozen=True)
class FitConfig:
    """How to optimise."""

    steps: int = 500  # optimizer steps
    lr: float = 0.05  # learning rate
    optimizer: str = "adam"  # "adam" or "sgd"
    n_frames: int = 100  # snapshots of q kept for animation (evenly spaced, incl. first and last)
    mu: float = 0.5  # AKL head/tail boundary used for the head/tail error curves
    lr_final: float = 1.0  # < 1: cosine decay of the learning rate to lr * lr_final over the steps

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        if not (isinstance(self.steps, int) and 0 <= self.steps <= 100_000):
            raise ValueError(f"steps must be an integer in [0, 100000], got {self.steps!r}")
        if not (np.isfinite(self.lr) and 0 < self.lr <= 100):
            raise ValueError(f"learning rate must be in (0, 100], got {self.lr!r}")
        if not (isinstance(self.n_frames, int) and self.n_frames >= 2):
            raise ValueError(f"n_frames must be an integer >= 2, got {self.n_frames!r}")
        if not (np.isfinite(self.lr_final) and 0 <= self.lr_final <= 1):
            raise ValueError(f"lr_final must be in [0, 1], got {self.lr_final!r}")

    def lr_at(self, t: int) -> float:
        """Learning rate of update t (0-based): cosine from lr to lr * lr_final (``CosineAnnealingLR``)."""
        if self.lr_final == 1.0:
            return self.lr
        low = self.lr * self.lr_final
        return low + (self.lr - low) * (1 + math.cos(math.pi * t / max(self.steps, 1))) / 2


@dataclass
class FitResult:
    """Trajectories of a batched fit; row k belongs to ``names[k]``. Steps run 0..S."""

    names: list[str]
    loss: np.ndarray  # (K, S+1) loss at each step's parameters (step 0 = the start)
    grad_norm: np.ndarray  # (K, S+1) l2 norm of the gradient w.r.t. the parameters
    frame_steps: np.ndarray  # (F,) steps at which q was kept
    frames: np.ndarray  # (K, F, V) student probabilities at those steps
    params: np.ndarray | None = None  # (K, S+1, P) every step's parameters (small students only)
    final_params: np.ndarray | None = None  # (K, P)
    head_error: np.ndarray | None = None  # (K, S+1) sum |p - q| over AKL's head (discrete students)
    tail_error: np.ndarray | None = None  # (K, S+1) ... over the tail
    w_head: np.ndarray | None = None  # (K, S+1) AKL's head weight g_head / (g_head + g_tail)
    diverged_at: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # (K,) first
    # step with a non-finite loss or gradient or meeting the stop rule, -1 = never; later steps are
    # frozen (NaN loss)

    @property
    def final_q(self) -> np.ndarray:
        return self.frames[:, -1]  # (K, V)

    def head_share(self, n_steps: int = 10) -> np.ndarray:
        """Share of the error reduction over the first ``n_steps`` that falls on the head, ``(K,)``.

        ``dH / (dH + dT)`` with ``dH = head_error[0] - head_error[n]`` (AKL's "head first" claim in
        the robust form measured in references.md). NaN where the total error did not decrease.
        """
        if self.head_error is None:
            raise ValueError("head/tail errors exist only for a discrete (softmax) student")
        n = min(n_steps, self.head_error.shape[1] - 1)
        dh = self.head_error[:, 0] - self.head_error[:, n]
        dt = self.tail_error[:, 0] - self.tail_error[:, n]
        total = dh + dt
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, dh / np.where(total > 0, total, 1.0), np.nan)


def frame_steps(steps: int, n_frames: int) -> np.ndarray:
    """Evenly spaced steps 0..steps (both ends included), at most ``n_frames`` of them."""
    return np.unique(np.linspace(0, steps, min(n_frames, steps + 1)).round().astype(int))


def resolve_params(names: Sequence[str], params: Mapping | Sequence[Mapping] | None = None) -> list[dict]:
    """Per-row parameters. ``params`` maps a divergence name to its own dict, or holds shared values
    (``{"alpha": 0.2}``) that go to every divergence that takes them; or it is a sequence with one
    dict per row."""
    if params is not None and not isinstance(params, Mapping):
        if len(params) != len(names):
            raise ValueError(f"give one parameter dict per row: {len(names)} rows, got {len(params)}")
        return [get_spec(n).resolve(dict(kw)) for n, kw in zip(names, params)]
    params = dict(params or {})
    out = []
    for name in names:
        spec = get_spec(name)
        own = params.get(name, {})
        shared = {k: v for k, v in params.items()
                  if not isinstance(v, Mapping) and (k in {p.name for p in spec.params} or k in spec.flags)}
        out.append(spec.resolve({**shared, **own}))
    return out


def adam_step(theta, grad, state: dict, lr: float, out: torch.Tensor | None = None) -> torch.Tensor:
    """One step of ``torch.optim.Adam`` (defaults, no weight decay) from ``theta``: the new parameters,
    written into ``out`` (``theta`` itself when None).

    ``lr / c1 * m / (sqrt(v) / c2 + eps)`` with the bias corrections ``c1 = 1 - b1^t`` and
    ``c2 = sqrt(1 - b2^t)``, taken as ``lr c2 / c1 * m / (sqrt(v) + eps c2)``: one op fewer."""
    b1, b2 = ADAM_BETAS
    state["t"] = t = state.get("t", 0) + 1
    if t == 1:  # the moments and the denominator's buffer, allocated once
        state["m"], state["v"], state["d"] = (torch.zeros_like(theta) for _ in range(3))
    m, v, denom = state["m"], state["v"], state["d"]
    m.lerp_(grad, 1 - b1)
    v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
    c2 = math.sqrt(1 - b2**t)
    torch.sqrt(v, out=denom).add_(ADAM_EPS * c2)
    return torch.addcdiv(theta, m, denom, value=-lr * c2 / (1 - b1**t), out=theta if out is None else out)


def _groups(names, kwargs) -> tuple[list[tuple], list[int]]:
    """``(value_and_grad, rows)`` per distinct (divergence, parameters), the function's parameters
    bound, and the order of the rows that makes each group's ``rows`` one slice of it."""
    by_key: dict = {}
    for k, (name, kw) in enumerate(zip(names, kwargs)):
        key = (name, tuple(sorted((a, v) for a, v in kw.items() if a != "x")))
        by_key.setdefault(key, (get_spec(name), kw, []))[2].append(k)
    groups, order = [], []
    for spec, kw, rows in by_key.values():
        groups.append((value_and_grad_fn(spec, kw), slice(len(order), len(order) + len(rows))))
        order += rows
    return groups, order


def fit(log_p, student, start: torch.Tensor, names: Sequence[str], config: FitConfig = FitConfig(),
        *, x=None, params=None, stop: Callable | None = None,
        should_stop: Callable[[int], str | None] | None = None) -> FitResult:
    """Fit ``len(names)`` students of the family ``student``, row k under divergence ``names[k]``.

    Args:
        log_p: teacher log-probabilities ``(V,)`` shared by all rows, or ``(K, V)`` one per row
            (tensor or array; ``-inf`` = probability 0).
        student: a family from :mod:`kdviz.families` (``log_prob_and_vjp(params (K, P))``).
        start: initial parameters ``(P,)`` shared by all rows, or ``(K, P)``.
        names: divergence names (registry keys), one per row.
        config: optimisation settings. x: support for the transport divergences.
        params: divergence parameters (see :func:`resolve_params`).
        stop: optional rule ``stop(params (..., P) array) -> (...) bool array``, applied to every
            step's parameters: a row is frozen from the first step where it holds, like a non-finite
            one. Needs a small student (P <= 16, whose parameters are recorded).
        should_stop: optional ``should_stop(steps_taken) -> reason or None``, called before every
            step (e.g. :class:`kdviz.jobs.Budget`, a deadline or a cancel flag): a reason ends the
            fit with :class:`FitStopped`, within one step.
    """
    names = list(names)
    if not names:
        raise ValueError("give at least one divergence to fit")
    kwargs = resolve_params(names, params)
    dtype = start.dtype
    K, S = len(names), config.steps
    log_p = torch.as_tensor(log_p, dtype=dtype)  # (V,) or (K, V)
    if log_p.ndim == 2 and log_p.shape[0] != K:
        raise ValueError(f"give one teacher row per divergence row: {K} rows, got {log_p.shape[0]} teachers")
    n_classes = log_p.shape[-1]
    for name, kw in zip(names, kwargs):
        if get_spec(name).needs_support:
            kw["x"] = support(x, n_classes, dtype)
    theta = start.detach().to(dtype).expand(K, -1)  # (K, P)
    if stop is not None and theta.shape[1] > MAX_PARAM_TRACE:
        raise ValueError(f"a stop rule needs a student of at most {MAX_PARAM_TRACE} parameters, "
                         f"got {theta.shape[1]}")
    mask = student.grad_mask(dtype)  # (P,)
    masked = bool((mask == 0).any())
    # rows are fitted in group order (each group one slice) and put back in the caller's order at the end
    groups, order = _groups(names, kwargs)
    theta = theta[order].clone()  # (K, P)
    if log_p.ndim == 2:
        log_p = log_p[order]
    rows = nx.StudentRows(K, n_classes, dtype)  # the step's log q, its exp and fixed views of groups
    calls = [(fn, log_p if log_p.ndim == 1 else log_p[sl], rows.rows(sl)) for fn, sl in groups]

    keep = frame_steps(S, config.n_frames)
    keep_set = {int(s): i for i, s in enumerate(keep)}
    # histories step-major, so that each step writes one contiguous row; transposed at the end
    loss_buf = torch.zeros(S + 1, K, dtype=dtype)
    frames = torch.zeros(len(keep), K, n_classes, dtype=dtype)
    small = theta.shape[1] <= MAX_PARAM_TRACE  # small: keep every step's parameters and gradient
    param_buf = torch.zeros(S + 1, K, theta.shape[1], dtype=dtype) if small else None
    if small:  # theta is always the current step's row of the history
        param_buf[0] = theta
        theta = param_buf[0]
    grad_buf = torch.zeros(S + 1, K, theta.shape[1], dtype=dtype) if small else None
    gnorm_buf = None if small else torch.zeros(S + 1, K, dtype=dtype)
    grad_q = torch.empty(K, n_classes, dtype=dtype)
    discrete = student.kind == "softmax"
    if discrete:
        p = nx.exp(log_p)
        head = akl_split(p, p, config.mu)["head_mask"]  # (V,) or (K, V): depends on p only
        parts = torch.stack([head, ~head], -1).to(dtype)  # (..., V, 2): sums over head and tail
        err_buf = torch.zeros(S + 1, K, 1, 2, dtype=dtype)
    state: dict = {}
    adam = config.optimizer == "adam"
    lrs = [config.lr_at(t) for t in range(S)]
    constants = [lp for _, lp, _ in calls] + [kw["x"] for kw in kwargs if "x" in kw]

    # inference mode: thousands of tiny ops, each cheaper without autograd's bookkeeping; one
    # thread: OpenMP's hand-offs cost more than they save on tensors this small; the teacher's
    # pieces (exp log p, where p > 0) computed once, the student's (exp log q, ...) once per step
    with nx.torch_threads(1), torch.inference_mode(), nx.constants(*constants), rows:
        for t in range(S + 1):
            if should_stop is not None and (reason := should_stop(t)):
                raise FitStopped(t, reason)
            _, vjp = student.log_prob_and_vjp(theta, out=rows.log)  # (K, V)
            rows.refresh()
            outs = [fn(lp, lq) for fn, lp, lq in calls]
            torch.cat([v for v, _ in outs], out=loss_buf[t])  # values (rows,): log q[rows] is 2-D
            torch.cat([g for _, g in outs], out=grad_q)
            grad = vjp(grad_q)  # (K, P)
            if masked:
                grad.mul_(mask)
            if small:
                grad_buf[t] = grad
            else:
                torch.linalg.vector_norm(grad, dim=-1, out=gnorm_buf[t])
            if t in keep_set:
                frames[keep_set[t]] = rows.exp
            if discrete:  # (K, 1, 2): sum |p - q| over the head and over the tail
                torch.matmul((p - rows.exp).abs_()[:, None, :], parts, out=err_buf[t])
            if t < S:  # small: the step writes the next parameters into their row of the history
                nxt = param_buf[t + 1] if small else theta
                if adam:
                    theta = adam_step(theta, grad, state, lrs[t], out=nxt)
                else:
                    theta = torch.add(theta, grad, alpha=-lrs[t], out=nxt)

    if small:
        gnorm_buf = torch.linalg.vector_norm(grad_buf, dim=-1)
    back = np.argsort(order)  # rows back in the caller's order
    step_major = lambda buf: np.ascontiguousarray(np.swapaxes(buf.numpy(), 0, 1)[back])  # noqa: E731
    result = FitResult(
        names=names, loss=step_major(loss_buf), grad_norm=step_major(gnorm_buf),
        frame_steps=keep, frames=step_major(frames), final_params=theta.numpy()[back],
        params=step_major(param_buf) if small else None)
    if discrete:
        result.head_error, result.tail_error = (step_major(err_buf[:, :, 0, i]) for i in range(2))
        total = result.head_error + result.tail_error
        with np.errstate(invalid="ignore", divide="ignore"):  # AKL's weights; p == q: 0.5 by definition
            result.w_head = np.where(total > 0, result.head_error / np.where(total > 0, total, 1.0), 0.5)
    bad = ~(np.isfinite(result.loss) & np.isfinite(result.grad_norm))  # (K, S+1)
    if stop is not None:
        bad |= np.asarray(stop(result.params), dtype=bool)
    _freeze(result, np.where(bad.any(1), bad.argmax(1), -1))
    return result


def _freeze(r: FitResult, first: np.ndarray) -> None:
    """Freeze row k from step ``first[k]`` on (-1: never): the loss and gradient are NaN there (a gap
    in plots) and parameters and frames keep their last good value. Rows are independent, so a row
    that went bad cannot have disturbed the others; only its tail is hidden."""
    r.diverged_at = first
    for k, t in enumerate(first):
        if t < 0:
            continue
        last = max(t - 1, 0)  # the last good step
        r.loss[k, t:] = np.nan
        r.grad_norm[k, t:] = np.nan
        for arr in (r.params, r.head_error, r.tail_error, r.w_head):
            if arr is not None:
                arr[k, t:] = arr[k, last]
        if r.params is not None:
            r.final_params[k] = r.params[k, last]
        good_frames = np.flatnonzero(r.frame_steps < t)
        r.frames[k, r.frame_steps >= t] = r.frames[k, good_frames[-1] if len(good_frames) else 0]


def warm_up() -> None:
    """Pay the one-off costs of a process's first fit (the first calls of every op). The app runs
    this in a background thread at server start, so the first student does not wait for it."""
    student = SoftmaxStudent(4, "uniform")
    log_p = torch.log(torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64))
    fit(log_p, student, student.init_params(), ["fkl", "tvd", "jsd"], FitConfig(steps=2, n_frames=2))
