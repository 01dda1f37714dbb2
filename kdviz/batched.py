"""All requested divergences of one teacher against a batch of students, in one pass.

Every KL-type divergence of the registry is a weighted sum of *mixture KLs*
``KL(f || a f + (1 - a) g)`` with ``(f, g)`` = ``(p, q)`` or ``(q, p)`` (its ``kl_terms``): FKL is
``KL(p || q)``, SKL is ``KL(p || alpha p + (1 - alpha) q)``, JSD is two of them, AKL two with adaptive
weights. :class:`BatchedLoss` evaluates the few distinct mixture KLs needed by all rows at once,
``(J, K)``, and combines them with a ``(K, J)`` coefficient matrix: a fixed handful of tensor
operations per step whatever the number of divergences. Divergences that are not KL sums (TVD,
transport) are evaluated with their own registry function on their rows.
"""

from __future__ import annotations

import math
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
        dtype = log_p.dtype
        K = len(names)
        terms: dict[tuple[str, float], int] = {}  # (first, a) -> column
        coef: dict[tuple[int, int], float] = {}  # (row, column) -> static coefficient
        head_cols: list[tuple[int, int, int, float]] = []  # AKL rows: (row, head col, tail col, mu)
        self.other: list[tuple[int, object, dict]] = []  # rows scored by their own function
        # A teacher with exact zeros makes some mixture KLs infinite; in the shared tensors their
        # 0 * inf gradients would leak NaN into the other rows, so score each row on its own then.
        fuse = bool(torch.isfinite(log_p).all())
        for k, (name, kw) in enumerate(zip(names, kwargs)):
            spec = get_spec(name)
            if spec.kl_terms is None or not fuse:
                self.other.append((k, spec.fn, kw))
                continue
            adaptive = {}
            for first, a, c in spec.kl_terms(**kw):
                col = terms.setdefault((first, float(a)), len(terms))
                if isinstance(c, str):
                    adaptive[c] = col
                else:
                    coef[k, col] = coef.get((k, col), 0.0) + c
            if adaptive:
                head_cols.append((k, adaptive["w_head"], adaptive["w_tail"], kw["mu"]))
        J = len(terms)
        self.has_kl = J > 0
        self.first_is_q = torch.tensor([f == "q" for f, _ in terms], dtype=torch.bool)[:, None, None]  # (J,1,1)
        a = torch.tensor([a for _, a in terms], dtype=dtype)[:, None, None]  # (J,1,1)
        self.log_a = a.log()  # a = 0: -inf, the mixture is just `g`
        self.log_1ma = (-a).log1p()  # a = 1: -inf, the mixture is just `f`
        self.coef = torch.zeros(K, J, dtype=dtype)  # (K, J)
        for (k, col), c in coef.items():
            self.coef[k, col] = c
        # AKL: coef[k, head col] = w_head, coef[k, tail col] = 1 - w_head, from detached gaps.
        self.akl_rows = torch.tensor([k for k, *_ in head_cols], dtype=torch.long)
        self.akl_head = torch.zeros(len(head_cols), J, dtype=dtype)  # (A, J) one-hot head column
        self.akl_tail = torch.zeros(len(head_cols), J, dtype=dtype)
        masks = []
        for i, (_, ch, ct, mu) in enumerate(head_cols):
            self.akl_head[i, ch] = 1.0
            self.akl_tail[i, ct] = 1.0
            masks.append(akl_split(self.p, self.p, mu)["head_mask"])
        self.akl_mask = torch.stack(masks).to(dtype) if masks else None  # (A, V)
        self.other_rows = torch.tensor([k for k, *_ in self.other], dtype=torch.long)

    def _mixture_kls(self, log_q: torch.Tensor) -> torch.Tensor:
        """``KL(f || a f + (1-a) g)`` for every term and row: ``(J, K)``."""
        log_f = torch.where(self.first_is_q, log_q, self.log_p)  # (J, K, V)
        log_g = torch.where(self.first_is_q, self.log_p, log_q)  # (J, K, V)
        u, v = log_f + self.log_a, log_g + self.log_1ma
        hi = torch.maximum(u, v)
        log_m = hi + torch.log1p(nx.exp(torch.minimum(u, v) - hi))  # logaddexp; the teacher is finite here
        return (nx.exp(log_f) * (log_f - log_m)).sum(-1)

    def _coefficients(self, log_q: torch.Tensor) -> torch.Tensor:
        if self.akl_mask is None:
            return self.coef
        with torch.no_grad():  # AKL's weights see a detached student
            gap = (self.p - nx.exp(log_q[self.akl_rows])).abs()  # (A, V)
            g_head = (gap * self.akl_mask).sum(-1)
            total = gap.sum(-1)
            # p == q: both gaps vanish; any weights give AKL = 0, take 1/2 as akl_split does
            w = torch.where(total > 0, g_head / total.clamp(min=torch.finfo(total.dtype).tiny), 0.5)[:, None]
            extra = self.akl_head * w + self.akl_tail * (1.0 - w)  # (A, J)
        return self.coef.index_add(0, self.akl_rows, extra)

    def __call__(self, log_q: torch.Tensor) -> torch.Tensor:
        if self.has_kl:
            losses = (self._coefficients(log_q) * self._mixture_kls(log_q).T).sum(-1)  # (K,)
        else:
            losses = torch.zeros(log_q.shape[0], dtype=log_q.dtype)
        if self.other:
            extra = torch.stack([fn(self.log_p, log_q[k], **kw) for k, fn, kw in self.other])
            losses = losses.index_add(0, self.other_rows, extra)
        return losses
