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
        self.is_akl = torch.zeros(K, dtype=dtype)  # (K,) 1 on AKL rows
        self.akl_head = torch.zeros(K, log_p.shape[-1], dtype=dtype)  # (K, V) AKL's head classes on its rows
        for k, mu in akl:
            self.is_akl[k] = 1.0
            self.akl_head[k] = akl_split(self.p, self.p, mu)["head_mask"].to(dtype)
        self.uses["akl"] = bool(akl)
        self.pairs = self._pair_table(pairs, K, dtype)
        self.fused = len(self.other) < K  # some row is scored here (possibly as exactly 0, e.g. JSD at beta = 0)
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
    def _pair_table(pairs, K: int, dtype):
        """The mixture-KL pairs (``0 < a < 1``) as index/weight tensors. ``f``/``g`` index rows of
        ``cat([log_q, log_p[None]])``: row ``k < K`` is student k, row ``K`` the teacher."""
        if not pairs:
            return None
        a = torch.tensor([a for _, _, a, _ in pairs], dtype=dtype)[:, None]  # (P, 1)
        rows = torch.tensor([k for k, *_ in pairs], dtype=torch.long)
        f_is_q = torch.tensor([f for _, f, *_ in pairs], dtype=torch.bool)
        return dict(rows=rows, f=torch.where(f_is_q, rows, K), g=torch.where(f_is_q, K, rows),
                    f_is_q=f_is_q[:, None].to(dtype), log_a=a.log(), log_1ma=(-a).log1p(),
                    coef=torch.tensor([c for *_, c in pairs], dtype=dtype))

    def akl_weights(self, gap: torch.Tensor, total: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-row weights of the FKL and RKL pieces, AKL's adaptive ones included: ``(K,)`` each.

        ``gap = |q - p|`` ``(K, V)`` and its row sums ``total``, from a detached q (no gradient
        flows through AKL's weights)."""
        # p == q: both gaps vanish; any weights give AKL = 0, take 1/2 as akl_split does. The tiny
        # epsilon gives exactly 1/2 there and changes the ratio by < 1e-290 anywhere else.
        eps = torch.finfo(total.dtype).tiny
        w = ((gap * self.akl_head).sum(-1) + 0.5 * eps) / (total + eps)
        return self.coef["fkl"] + self.is_akl * w, self.coef["rkl"] + self.is_akl * (1.0 - w)

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
    * ``W1 = sum_i |C_i| dx_i`` with ``C = cumsum(q - p)``: ``g_j = q_j sum_{i >= j} sign(C_i) dx_i``;
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
        uses = loss.uses
        if uses["tvd"] or uses["akl"] or uses["w1"]:
            diff = q - p  # (K, V)
            if uses["tvd"] or uses["akl"]:
                gap = diff.abs()
                total = gap.sum(-1)  # (K,) = 2 TVD
        if uses["fkl"] or uses["rkl"]:
            c_fkl, c_rkl = loss.akl_weights(gap, total) if uses["akl"] else (loss.coef["fkl"], loss.coef["rkl"])
            d = log_q - loss.log_p
            out = out + c_fkl * -(p * d).sum(-1) + c_rkl * (q * d).sum(-1)
            saved.update(d=d, c_fkl=c_fkl, c_rkl=c_rkl)
        if uses["tvd"]:
            out = out + loss.coef["tvd"] * 0.5 * total
            saved["sign_qp"] = diff.sign()
        if uses["w1"]:
            cdf_gap = torch.cumsum(diff, -1)[:, :-1]  # (K, V-1) F_q - F_p at the first V-1 points
            out = out + loss.coef["w1"] * (cdf_gap.abs() * loss.dx).sum(-1)
            saved["sign_cdf"] = cdf_gap.sign()
        grp = loss.pairs
        if grp is not None:
            table = torch.cat([log_q, loss.log_p[None]])  # (K+1, V)
            log_f, log_g = table[grp["f"]], table[grp["g"]]  # (P, V)
            u, v = log_f + grp["log_a"], log_g + grp["log_1ma"]
            hi = torch.maximum(u, v)
            log_m = hi + torch.log1p(nx.exp(torch.minimum(u, v) - hi))  # logaddexp; the teacher is finite
            f = nx.exp(log_f)
            log_ratio = log_f - log_m
            out = out.index_add(0, grp["rows"], grp["coef"] * (f * log_ratio).sum(-1))
            saved["pairs"] = (f, log_ratio, u - log_m, v - log_m)
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
            step = s["sign_cdf"] * loss.dx  # (K, V-1)
            tail = step.sum(-1, keepdim=True) - torch.cumsum(step, -1) + step  # sum_{i >= j} step_i
            grad[:, :-1] += q[:, :-1] * tail * (loss.coef["w1"][:, None] * g_rows)
        if "pairs" in s:
            grp = loss.pairs
            f, log_ratio, u_rel, v_rel = s["pairs"]
            # log q is log f (f_is_q = 1) or log g (f_is_q = 0) of the pair
            d_log_q = grp["f_is_q"] * f * (log_ratio + 1.0 - nx.exp(u_rel)) - (1.0 - grp["f_is_q"]) * f * nx.exp(v_rel)
            grad = grad.index_add(0, grp["rows"], d_log_q * (grp["coef"] * grad_out[grp["rows"]])[:, None])
        return grad, None
