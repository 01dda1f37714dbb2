"""All requested divergences of one teacher against a batch of students, in one pass.

Row k of the student batch ``log_q (K, V)`` is scored by divergence ``names[k]``. Most divergences
of the registry are built from a few pieces that every row can share:

* every KL-type divergence is a weighted sum of *mixture KLs* ``KL(f || a f + (1 - a) g)`` with
  ``(f, g)`` = ``(p, q)`` or ``(q, p)`` (its ``kl_terms``). With ``a = 0`` they are just forward KL
  ``KL(p || q)`` and reverse KL ``KL(q || p)``: FKL, RKL, FKL+RKL and AKL (with its adaptive
  weights) are combinations of those two, computed for all rows at once. Terms with ``0 < a < 1``
  (JSD, skew KLs) are evaluated as one ``(pairs, V)`` tensor computation;
* TVD, ``sum |p - q| / 2``;
* W1 on an increasing support, the l1 distance of the CDFs (:func:`kdviz.transport.wasserstein`).

:class:`BatchedLoss` evaluates these as one autograd node (:class:`_FusedLoss`) whose backward is
the closed-form gradient with respect to ``log q``: a fixed handful of tensor operations per step,
whatever the number of divergences, instead of hundreds of recorded ops walked back one by one.
Anything else (Sinkhorn, W2, a teacher with exact zeros) is scored by its own registry function
through ordinary autograd. ``tests/test_batched.py`` checks values and gradients against the
registry functions for every divergence.
"""

from __future__ import annotations

from typing import Sequence

import torch

from kdviz import numerics as nx
from kdviz.divergences import akl_split, get_spec


class BatchedLoss:
    """``loss(log_q (K, V)) -> (K,)`` with row k scored by divergence ``names[k]``.

    Args:
        log_p: teacher log-probabilities ``(V,)``.
        names: one divergence per row. kwargs: resolved parameters per row (``x`` included
            for the transport divergences).
    """

    def __init__(self, log_p: torch.Tensor, names: Sequence[str], kwargs: Sequence[dict]):
        self.log_p = log_p  # (V,)
        self.p = nx.exp(log_p)
        dtype, K = log_p.dtype, len(names)
        coef = {key: [0.0] * K for key in ("fkl", "rkl", "tvd", "w1")}  # per-row weights of the shared pieces
        pairs: list[tuple[int, bool, float, float]] = []  # (row, f is q, a, coefficient), 0 < a < 1
        akl: list[tuple[int, float]] = []  # (row, mu): FKL/RKL weights w_head/w_tail, set every step
        self.other: list[tuple[int, object, dict]] = []  # rows scored by their own function
        self.dx = None  # (V-1,) support steps of the W1 rows
        # A teacher with exact zeros makes some terms infinite; in the shared tensors their
        # 0 * inf gradients would leak NaN into the other rows, so score each row on its own then.
        fuse = bool(torch.isfinite(log_p).all())
        for k, (name, kw) in enumerate(zip(names, kwargs)):
            spec = get_spec(name)
            if fuse and spec.kl_terms is not None:
                for first, a, c in spec.kl_terms(**kw):
                    if isinstance(c, str):  # AKL's adaptive weights (FKL and RKL terms)
                        continue
                    if a == 0.0:
                        coef["rkl" if first == "q" else "fkl"][k] += float(c)
                    elif a < 1.0:  # a == 1: KL(f || f) = 0, nothing to add
                        pairs.append((k, first == "q", float(a), float(c)))
                if name == "akl":
                    akl.append((k, kw["mu"]))
            elif fuse and name == "tvd":
                coef["tvd"][k] = 1.0
            elif fuse and name == "wasserstein" and kw.get("order", 1) == 1 and self._w1_support(kw["x"]):
                coef["w1"][k] = 1.0
            else:
                self.other.append((k, spec.fn, kw))
        self.coef = {key: torch.tensor(c, dtype=dtype) for key, c in coef.items()}  # (K,) each
        self.uses = {key: bool(any(c)) for key, c in coef.items()}
        self.uses["fkl"] |= bool(akl)
        self.uses["rkl"] |= bool(akl)
        self.akl_rows = torch.tensor([k for k, _ in akl], dtype=torch.long)  # (A,)
        self.akl_mask = (torch.stack([akl_split(self.p, self.p, mu)["head_mask"] for _, mu in akl]).to(dtype)
                         if akl else None)  # (A, V)
        self.groups = [self._pair_group([t for t in pairs if t[1] == is_q], is_q, dtype) for is_q in (True, False)]
        self.groups = [g for g in self.groups if g is not None]
        self.fused = any(self.uses.values()) or bool(self.groups)
        self.other_rows = torch.tensor([k for k, *_ in self.other], dtype=torch.long)

    def _w1_support(self, x: torch.Tensor) -> bool:
        """W1 goes through the CDF identity when the support increases (one support for all rows)."""
        if not bool((x[1:] > x[:-1]).all()):
            return False
        dx = (x[1:] - x[:-1]).to(self.log_p.dtype)
        if self.dx is not None and not torch.equal(self.dx, dx):
            return False
        self.dx = dx
        return True

    @staticmethod
    def _pair_group(pairs, f_is_q: bool, dtype):
        """Mixture-KL pairs whose first argument is ``q`` (or ``p``): rows, log a, log(1-a), coefficients."""
        if not pairs:
            return None
        a = torch.tensor([a for _, _, a, _ in pairs], dtype=dtype)[:, None]  # (G, 1)
        return dict(f_is_q=f_is_q, rows=torch.tensor([k for k, *_ in pairs], dtype=torch.long),
                    log_a=a.log(), log_1ma=(-a).log1p(), coef=torch.tensor([c for *_, c in pairs], dtype=dtype))

    def akl_weights(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-row weights of the FKL and RKL pieces, AKL's adaptive ones included: ``(K,)`` each."""
        if self.akl_mask is None:
            return self.coef["fkl"], self.coef["rkl"]
        gap = (self.p - q[self.akl_rows]).abs()  # (A, V), q detached: no gradient through the weights
        total = gap.sum(-1)
        # p == q: both gaps vanish; any weights give AKL = 0, take 1/2 as akl_split does
        w = torch.where(total > 0, (gap * self.akl_mask).sum(-1) / total.clamp(min=torch.finfo(total.dtype).tiny), 0.5)
        return (self.coef["fkl"].index_add(0, self.akl_rows, w),
                self.coef["rkl"].index_add(0, self.akl_rows, 1.0 - w))

    def __call__(self, log_q: torch.Tensor) -> torch.Tensor:
        losses = _FusedLoss.apply(log_q, self) if self.fused else log_q.new_zeros(log_q.shape[0])
        if self.other:
            extra = torch.stack([fn(self.log_p, log_q[k], **kw) for k, fn, kw in self.other])
            losses = losses.index_add(0, self.other_rows, extra)
        return losses


class _FusedLoss(torch.autograd.Function):
    """The shared pieces of :class:`BatchedLoss` and their closed-form gradient (one autograd node).

    With ``d = log q - log p`` and ``g`` the gradient with respect to ``log q``:

    * ``KL(p || q) = -sum p d``: ``g = -p``;  ``KL(q || p) = sum q d``: ``g = q (d + 1)``;
    * ``TVD = sum |q - p| / 2``: ``g = q sign(q - p) / 2``;
    * ``W1 = sum_i |C_i| dx_i`` with ``C = cumsum(p - q)``: ``g_j = -q_j sum_{i >= j} sign(C_i) dx_i``;
    * ``KL(f || m)``, ``m = a f + (1 - a) g``, ``u = log a + log f``, ``v = log(1 - a) + log g``:
      ``d/d log f = f (log f - log m + 1 - e^(u - log m))``, ``d/d log g = -f e^(v - log m)``.

    AKL's weights see a detached ``q`` (as in the paper's code), so they are constants here.
    """

    @staticmethod
    def forward(ctx, log_q: torch.Tensor, loss: BatchedLoss) -> torch.Tensor:
        q = nx.exp(log_q)  # (K, V)
        p = loss.p
        out = log_q.new_zeros(log_q.shape[0])
        saved = {"q": q}
        if loss.uses["fkl"] or loss.uses["rkl"]:
            c_fkl, c_rkl = loss.akl_weights(q)
            d = log_q - loss.log_p
            out = out + c_fkl * -(p * d).sum(-1) + c_rkl * (q * d).sum(-1)
            saved.update(d=d, c_fkl=c_fkl, c_rkl=c_rkl)
        if loss.uses["tvd"]:
            diff = q - p
            out = out + loss.coef["tvd"] * (0.5 * diff.abs().sum(-1))
            saved["sign_qp"] = diff.sign()
        if loss.uses["w1"]:
            cdf_gap = torch.cumsum(p - q, -1)[:, :-1]  # (K, V-1)
            out = out + loss.coef["w1"] * (cdf_gap.abs() * loss.dx).sum(-1)
            saved["sign_cdf"] = cdf_gap.sign()
        for i, grp in enumerate(loss.groups):
            lq = log_q[grp["rows"]]  # (G, V)
            log_f, log_g = (lq, loss.log_p) if grp["f_is_q"] else (loss.log_p, lq)
            u, v = log_f + grp["log_a"], log_g + grp["log_1ma"]
            hi = torch.maximum(u, v)
            log_m = hi + torch.log1p(nx.exp(torch.minimum(u, v) - hi))  # logaddexp; the teacher is finite
            f = nx.exp(log_f)
            diff = log_f - log_m
            out = out.index_add(0, grp["rows"], grp["coef"] * (f * diff).sum(-1))
            saved[f"pair{i}"] = (f, diff, u - log_m, v - log_m)
        ctx.loss, ctx.saved = loss, saved
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        loss, s = ctx.loss, ctx.saved
        g_rows = grad_out[:, None]  # (K, 1)
        q = s["q"]
        grad = torch.zeros_like(q)
        if "d" in s:
            grad = grad - loss.p * (s["c_fkl"][:, None] * g_rows) + q * (s["d"] + 1.0) * (s["c_rkl"][:, None] * g_rows)
        if "sign_qp" in s:
            grad = grad + (0.5 * q * s["sign_qp"]) * (loss.coef["tvd"][:, None] * g_rows)
        if "sign_cdf" in s:
            tail = torch.flip(torch.cumsum(torch.flip(s["sign_cdf"] * loss.dx, [-1]), -1), [-1])  # sum_{i >= j}
            grad[:, :-1] -= q[:, :-1] * tail * (loss.coef["w1"][:, None] * g_rows)
        for i, grp in enumerate(loss.groups):
            f, diff, u_rel, v_rel = s[f"pair{i}"]
            d_log_q = f * (diff + 1.0 - nx.exp(u_rel)) if grp["f_is_q"] else -f * nx.exp(v_rel)  # (G, V)
            grad = grad.index_add(0, grp["rows"], d_log_q * (grp["coef"] * grad_out[grp["rows"]])[:, None])
        return grad, None
