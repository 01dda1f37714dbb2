"""Fit one student per divergence to the same teacher, from the same start, all at once.

The students of all requested divergences are the rows of one parameter tensor ``(K, P)``; every
step evaluates all of them with one call to the student family, adds up the K losses (the rows are
independent, so the gradient of the sum is each row's own gradient) and takes one optimizer step.
Adam and SGD act per coordinate, so this is exactly K independent fits, with K times fewer Python
round trips. Trajectories come back as numpy arrays (:class:`FitResult`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch

from kdviz import numerics as nx
from kdviz.batched import BatchedLoss
from kdviz.divergences import akl_split, divergence_from_log, get_spec
from kdviz.families import SoftmaxStudent
from kdviz.transport import support

OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
# fused Adam is one kernel per step instead of a dozen small ops; plain SGD is already two
_OPTIMIZER_FLAGS = {"adam": {"fused": True}, "sgd": {"foreach": False}}


def make_optimizer(config: "FitConfig", theta: torch.Tensor) -> torch.optim.Optimizer:
    return OPTIMIZERS[config.optimizer]([theta], lr=config.lr, **_OPTIMIZER_FLAGS[config.optimizer])
MAX_PARAM_TRACE = 16  # record every step's parameters only for small students (the Gaussian's 2)


@dataclass(frozen=True)
class FitConfig:
    """How to optimise."""

    steps: int = 500  # optimizer steps
    lr: float = 0.05  # learning rate
    optimizer: str = "adam"  # "adam" or "sgd"
    n_frames: int = 100  # snapshots of q kept for animation (evenly spaced, incl. first and last)
    mu: float = 0.5  # AKL head/tail boundary used for the head/tail error curves

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}")
        if not (isinstance(self.steps, int) and 0 <= self.steps <= 100_000):
            raise ValueError(f"steps must be an integer in [0, 100000], got {self.steps!r}")
        if not (np.isfinite(self.lr) and 0 < self.lr <= 100):
            raise ValueError(f"learning rate must be in (0, 100], got {self.lr!r}")
        if not (isinstance(self.n_frames, int) and self.n_frames >= 2):
            raise ValueError(f"n_frames must be an integer >= 2, got {self.n_frames!r}")


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
    # step with a non-finite loss or gradient, -1 = never; later steps are frozen (NaN loss)

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


def resolve_params(names: Sequence[str], params: Mapping | None = None) -> list[dict]:
    """Per-divergence parameters. ``params`` maps a divergence name to its own dict, or holds
    shared values (``{"alpha": 0.2}``) that go to every divergence that takes them."""
    params = dict(params or {})
    out = []
    for name in names:
        spec = get_spec(name)
        own = params.get(name, {})
        shared = {k: v for k, v in params.items()
                  if not isinstance(v, Mapping) and (k in {p.name for p in spec.params} or k in spec.flags)}
        out.append(spec.resolve({**shared, **own}))
    return out


def fit(log_p, student, start: torch.Tensor, names: Sequence[str], config: FitConfig = FitConfig(),
        *, x=None, params: Mapping | None = None) -> FitResult:
    """Fit ``len(names)`` copies of ``student`` from ``start`` to the teacher ``log_p``.

    Args:
        log_p: teacher log-probabilities ``(V,)`` (tensor or array; ``-inf`` = probability 0).
        student: a family from :mod:`kdviz.families` (``log_prob(params (K, P)) -> (K, V)``).
        start: initial parameters ``(P,)``, shared by all rows.
        names: divergence names (registry keys), one fitted student each.
        config: optimisation settings. x: support for the transport divergences.
        params: divergence parameters (see :func:`resolve_params`).
    """
    names = list(names)
    if not names:
        raise ValueError("give at least one divergence to fit")
    specs = [get_spec(n) for n in names]
    kwargs = resolve_params(names, params)
    dtype = start.dtype
    log_p = torch.as_tensor(log_p, dtype=dtype)  # (V,)
    n_classes = log_p.shape[-1]
    for spec, kw in zip(specs, kwargs):
        if spec.needs_support:
            kw["x"] = support(x, n_classes, dtype)
    loss_fn = BatchedLoss(log_p, names, kwargs)
    K, S = len(names), config.steps
    theta = start.detach().to(dtype).expand(K, -1).clone().requires_grad_(True)  # (K, P)
    opt = make_optimizer(config, theta)
    mask = student.grad_mask(dtype)  # (P,)

    keep = frame_steps(S, config.n_frames)
    keep_set = {int(s): i for i, s in enumerate(keep)}
    loss_buf = torch.zeros(K, S + 1, dtype=dtype)
    gnorm_buf = torch.zeros(K, S + 1, dtype=dtype)
    frames = torch.zeros(K, len(keep), n_classes, dtype=dtype)
    small = theta.shape[1] <= MAX_PARAM_TRACE
    param_buf = torch.zeros(K, S + 1, theta.shape[1], dtype=dtype) if small else None
    discrete = student.kind == "softmax"
    if discrete:
        p = nx.exp(log_p)
        head = akl_split(p, p, config.mu)["head_mask"]  # (V,) depends on p only
        err_buf = torch.zeros(2, K, S + 1, dtype=dtype)
    masked = bool((mask == 0).any())

    with nx.torch_threads(1):  # thousands of tiny ops: one thread is faster
        for t in range(S + 1):
            log_q = student.log_prob(theta)  # (K, V)
            losses = loss_fn(log_q)  # (K,)
            opt.zero_grad(set_to_none=False)
            losses.sum().backward()  # rows are independent: each row gets its own gradient
            with torch.no_grad():
                if masked:
                    theta.grad.mul_(mask)
                loss_buf[:, t] = losses
                gnorm_buf[:, t] = theta.grad.norm(dim=-1)
                if small:
                    param_buf[:, t] = theta
                if t in keep_set or discrete:
                    q = nx.exp(log_q)
                    if t in keep_set:
                        frames[:, keep_set[t]] = q
                    if discrete:
                        gap = (p - q).abs()  # (K, V)
                        err_buf[0, :, t] = (gap * head).sum(-1)
                        err_buf[1, :, t] = (gap * ~head).sum(-1)
            if t < S:
                opt.step()

    result = FitResult(
        names=names, loss=loss_buf.numpy(), grad_norm=gnorm_buf.numpy(),
        frame_steps=keep, frames=frames.numpy(), final_params=theta.detach().numpy().copy(),
        params=param_buf.numpy() if small else None)
    if discrete:
        result.head_error, result.tail_error = err_buf[0].numpy(), err_buf[1].numpy()
        total = result.head_error + result.tail_error
        with np.errstate(invalid="ignore", divide="ignore"):  # AKL's weights; p == q: 0.5 by definition
            result.w_head = np.where(total > 0, result.head_error / np.where(total > 0, total, 1.0), 0.5)
    _freeze_after_divergence(result)
    return result


def _freeze_after_divergence(r: FitResult) -> None:
    """Rows are independent, so a fit whose loss or gradient stops being finite cannot disturb the
    others; we only hide its non-finite tail: from the first bad step on, the loss and gradient are
    NaN (a gap in plots) and parameters and frames keep their last finite value."""
    bad = ~(np.isfinite(r.loss) & np.isfinite(r.grad_norm))  # (K, S+1)
    first = np.where(bad.any(1), bad.argmax(1), -1)
    r.diverged_at = first
    for k, t in enumerate(first):
        if t < 0:
            continue
        last = max(t - 1, 0)  # the last step with finite values
        r.loss[k, t:] = np.nan
        r.grad_norm[k, t:] = np.nan
        for arr in (r.params, r.head_error, r.tail_error, r.w_head):
            if arr is not None:
                arr[k, t:] = arr[k, last]
        if r.params is not None:
            r.final_params[k] = r.params[k, last]
        good_frames = np.flatnonzero(r.frame_steps < t)
        r.frames[k, r.frame_steps >= t] = r.frames[k, good_frames[-1] if len(good_frames) else 0]


def fit_one_at_a_time(log_p, student, start, names, config: FitConfig = FitConfig(), *, x=None,
                      params=None) -> FitResult:
    """Reference implementation: a plain loop, one divergence after the other, each step scoring the
    student with the public :func:`kdviz.divergences.divergence_from_log`.

    Slow on purpose (no batching, no fused KL terms); :func:`fit` must reproduce its numbers. Used
    by the equivalence tests and as the baseline of ``benchmarks/fit_speed.py``.
    """
    log_p = torch.as_tensor(log_p, dtype=start.dtype)
    keep = frame_steps(config.steps, config.n_frames)
    mask = student.grad_mask(start.dtype)
    discrete = student.kind == "softmax"
    rows = []
    with nx.torch_threads(1):
        for name, kw in zip(names, resolve_params(names, params)):
            theta = start.detach().clone()[None].requires_grad_(True)  # (1, P)
            opt = make_optimizer(config, theta)
            trace = {"loss": [], "grad_norm": [], "params": [], "q": []}
            for t in range(config.steps + 1):
                log_q = student.log_prob(theta)[0]  # (V,)
                loss = divergence_from_log(name, log_p, log_q, x=x, **kw)
                opt.zero_grad()
                loss.backward()
                theta.grad.mul_(mask)
                trace["loss"].append(loss.item())
                trace["grad_norm"].append(theta.grad.norm().item())
                trace["params"].append(theta.detach()[0].clone())
                trace["q"].append(log_q.detach().exp())
                if t < config.steps:
                    opt.step()
            rows.append(trace)
    q = torch.stack([torch.stack(r["q"]) for r in rows]).numpy()  # (K, S+1, V)
    params_all = torch.stack([torch.stack(r["params"]) for r in rows]).numpy()  # (K, S+1, P)
    result = FitResult(
        names=list(names), loss=np.array([r["loss"] for r in rows]),
        grad_norm=np.array([r["grad_norm"] for r in rows]), frame_steps=keep, frames=q[:, keep],
        params=params_all if params_all.shape[-1] <= MAX_PARAM_TRACE else None,
        final_params=params_all[:, -1])
    if discrete:
        p = log_p.exp().numpy()
        split = akl_split(torch.as_tensor(p), torch.as_tensor(p), config.mu)
        head = split["head_mask"].numpy()
        gap = np.abs(p - q)  # (K, S+1, V)
        result.head_error, result.tail_error = (gap * head).sum(-1), (gap * ~head).sum(-1)
        total = result.head_error + result.tail_error
        with np.errstate(invalid="ignore", divide="ignore"):
            result.w_head = np.where(total > 0, result.head_error / np.where(total > 0, total, 1.0), 0.5)
    _freeze_after_divergence(result)
    return result


def warm_up() -> None:
    """Pay the one-off costs of a process's first fit: ``torch.optim`` imports ``torch._dynamo`` when
    the first optimizer is made (about 1.5 s here), plus the first calls of every op. The app runs
    this in a background thread at server start, so the first student does not wait for it."""
    student = SoftmaxStudent(4, "uniform")
    log_p = torch.log(torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64))
    fit(log_p, student, student.init_params(), ["fkl", "tvd", "jsd"], FitConfig(steps=2, n_frames=2))
