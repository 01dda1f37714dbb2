"""All requested divergences of one teacher against a batch of students, in one pass.

Every KL-type divergence of the registry is a weighted sum of *mixture KLs*
``KL(f || a f + (1 - a) g)`` with ``(f, g)`` = ``(p, q)`` or ``(q, p)`` (its ``kl_terms``): FKL is
``KL(p || q)``, SKL is ``KL(p || alpha p + (1 - alpha) q)``, JSD is two of them, AKL two with adaptive
weights. :class:`BatchedLoss` lists the (row, term) pairs that the rows need, evaluates all of
those mixture KLs as one ``(P, V)`` tensor computation and adds them into their rows with their
coefficients: a fixed handful of tensor operations per step whatever the number of divergences.
Divergences that are not KL sums (TVD, transport) are evaluated with their own registry function
on their rows.
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
        dtype = log_p.dtype
        pairs: list[tuple[int, bool, float, float | str]] = []  # (row, first is q, a, coefficient)
        akl: list[tuple[int, int, int, float]] = []  # (row, head pair, tail pair, mu)
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
                if isinstance(c, str):
                    adaptive[c] = len(pairs)
                pairs.append((k, first == "q", float(a), c))
            if adaptive:
                akl.append((k, adaptive["w_head"], adaptive["w_tail"], kw["mu"]))
        self.has_kl = bool(pairs)
        self.pair_rows = torch.tensor([r for r, *_ in pairs], dtype=torch.long)  # (P,)
        self.first_is_q = torch.tensor([f for _, f, *_ in pairs], dtype=torch.bool)[:, None]  # (P, 1)
        a = torch.tensor([a for _, _, a, _ in pairs], dtype=dtype)[:, None]  # (P, 1)
        self.log_a = a.log()  # a = 0: -inf, the mixture is just `g`
        self.log_1ma = (-a).log1p()  # a = 1: -inf, the mixture is just `f`
        self.coef = torch.tensor([c if not isinstance(c, str) else 0.0 for *_, c in pairs], dtype=dtype)  # (P,)
        # AKL: coef[head pair] = w_head, coef[tail pair] = 1 - w_head, from detached gaps.
        self.akl_rows = torch.tensor([k for k, *_ in akl], dtype=torch.long)  # (A,)
        self.akl_head = torch.tensor([h for _, h, _, _ in akl], dtype=torch.long)
        self.akl_tail = torch.tensor([t for _, _, t, _ in akl], dtype=torch.long)
        self.akl_mask = (torch.stack([akl_split(self.p, self.p, mu)["head_mask"] for *_, mu in akl]).to(dtype)
                         if akl else None)  # (A, V)
        self.other_rows = torch.tensor([k for k, *_ in self.other], dtype=torch.long)

    def _mixture_kls(self, log_q: torch.Tensor) -> torch.Tensor:
        """``KL(f || a f + (1-a) g)`` for every (row, term) pair: ``(P,)``."""
        log_q = log_q[self.pair_rows]  # (P, V)
        log_f = torch.where(self.first_is_q, log_q, self.log_p)  # (P, V)
        log_g = torch.where(self.first_is_q, self.log_p, log_q)  # (P, V)
        u, v = log_f + self.log_a, log_g + self.log_1ma
        hi = torch.maximum(u, v)
        log_m = hi + torch.log1p(nx.exp(torch.minimum(u, v) - hi))  # logaddexp; the teacher is finite here
        return (nx.exp(log_f) * (log_f - log_m)).sum(-1)

    def _coefficients(self, log_q: torch.Tensor) -> torch.Tensor:
        if self.akl_mask is None:
            return self.coef
        with torch.no_grad():  # AKL's weights see a detached student
            gap = (self.p - nx.exp(log_q[self.akl_rows])).abs()  # (A, V)
            total = gap.sum(-1)
            # p == q: both gaps vanish; any weights give AKL = 0, take 1/2 as akl_split does
            w = torch.where(total > 0, (gap * self.akl_mask).sum(-1) / total.clamp(min=torch.finfo(total.dtype).tiny), 0.5)
            coef = self.coef.clone()
            coef[self.akl_head] = w
            coef[self.akl_tail] = 1.0 - w
        return coef

    def __call__(self, log_q: torch.Tensor) -> torch.Tensor:
        losses = torch.zeros(log_q.shape[0], dtype=log_q.dtype)
        if self.has_kl:
            losses = losses.index_add(0, self.pair_rows, self._coefficients(log_q) * self._mixture_kls(log_q))
        if self.other:
            extra = torch.stack([fn(self.log_p, log_q[k], **kw) for k, fn, kw in self.other])
            losses = losses.index_add(0, self.other_rows, extra)
        return losses
