"""The plain reference for :func:`kdviz.fitting.fit`: one row after the other, autograd through the
registry's value functions (:func:`kdviz.divergences.divergence_from_log`) and ``torch.optim``.

Slow on purpose. The equivalence tests hold the fit engine to it, and ``benchmarks/fit_speed.py``
uses it as the baseline.
"""

from __future__ import annotations

import numpy as np
import torch

from kdviz import numerics as nx
from kdviz.akl import akl_split
from kdviz.divergences import divergence_from_log
from kdviz.fitting import MAX_PARAM_TRACE, FitConfig, FitResult, _freeze, frame_steps, resolve_params


def make_optimizer(config: FitConfig, theta: torch.Tensor):
    """``torch.optim``'s Adam or SGD for ``config``, with its cosine schedule when ``lr_final < 1``."""
    cls = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[config.optimizer]
    opt = cls([theta], lr=config.lr, foreach=False)
    sched = None
    if config.lr_final < 1.0:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(config.steps, 1),
                                                           eta_min=config.lr * config.lr_final)
    return opt, sched


def fit_one_at_a_time(log_p, student, start, names, config: FitConfig = FitConfig(), *, x=None,
                      params=None, stop=None) -> FitResult:
    """Same arguments and result as :func:`kdviz.fitting.fit`."""
    start = start.detach()
    log_p = torch.as_tensor(log_p, dtype=start.dtype)
    keep = frame_steps(config.steps, config.n_frames)
    mask = student.grad_mask(start.dtype)
    rows = []
    with nx.torch_threads(1):
        for k, (name, kw) in enumerate(zip(names, resolve_params(names, params))):
            teacher = log_p if log_p.ndim == 1 else log_p[k]
            theta = (start if start.ndim == 1 else start[k]).clone()[None].requires_grad_(True)  # (1, P)
            opt, sched = make_optimizer(config, theta)
            trace = {"loss": [], "grad_norm": [], "params": [], "q": []}
            for t in range(config.steps + 1):
                log_q = student.log_prob(theta)[0]  # (V,)
                loss = divergence_from_log(name, teacher, log_q, x=x, **kw)
                opt.zero_grad()
                if loss.requires_grad:
                    loss.backward()
                else:
                    theta.grad = torch.zeros_like(theta)
                theta.grad.mul_(mask)
                trace["loss"].append(loss.item())
                trace["grad_norm"].append(theta.grad.norm().item())
                trace["params"].append(theta.detach()[0].clone())
                trace["q"].append(log_q.detach().exp())
                if t < config.steps:
                    opt.step()
                    if sched is not None:
                        sched.step()
            rows.append(trace)
    q = torch.stack([torch.stack(r["q"]) for r in rows]).numpy()  # (K, S+1, V)
    params_all = torch.stack([torch.stack(r["params"]) for r in rows]).numpy()  # (K, S+1, P)
    small = params_all.shape[-1] <= MAX_PARAM_TRACE
    result = FitResult(
        names=list(names), loss=np.array([r["loss"] for r in rows]),
        grad_norm=np.array([r["grad_norm"] for r in rows]), frame_steps=keep, frames=q[:, keep],
        params=params_all if small else None, final_params=params_all[:, -1])
    if student.kind == "softmax":
        p = log_p.exp()
        head = akl_split(p, p, config.mu)["head_mask"].numpy()
        gap = np.abs(p.numpy()[..., None, :] - q if p.ndim == 2 else p.numpy() - q)  # (K, S+1, V)
        head = head[:, None] if head.ndim == 2 else head
        result.head_error, result.tail_error = (gap * head).sum(-1), (gap * ~head).sum(-1)
        total = result.head_error + result.tail_error
        with np.errstate(invalid="ignore", divide="ignore"):
            result.w_head = np.where(total > 0, result.head_error / np.where(total > 0, total, 1.0), 0.5)
    bad = ~(np.isfinite(result.loss) & np.isfinite(result.grad_norm))
    if stop is not None:
        bad |= np.asarray(stop(params_all), dtype=bool)
    _freeze(result, np.where(bad.any(1), bad.argmax(1), -1))
    return result
