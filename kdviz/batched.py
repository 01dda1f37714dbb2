"""All requested divergences of one teacher against a batch of students, in one pass.

Every KL-type divergence of the registry is a weighted sum of *mixture KLs*
``KL(f || a f + (1 - a) g)`` with ``(f, g)`` = ``(p, q)`` or ``(q, p)`` (its ``kl_terms``): FKL is
``KL(p || q)``, SKL is ``KL(p || alpha p + (1 - alpha) q)``, JSD is two of them, AKL two with adaptive
weights. :class:`BatchedLoss` evaluates the few distinct mixture KLs needed by all rows at once,
``(J, K)``, and combines them with a ``(K, J)`` coefficient matrix: a handful of tensor operations
per step whatever the number of divergences. Divergences that are not KL sums (TVD, transport)
are evaluated with their own registry function on their rows.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

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
        self.p = log_p.exp()
        dtype = log_p.dtype
        K = len(names)
        terms: dict[tuple[str, float], int] = {}  # (first, a) -> column
        static: list[tuple[int, int, float]] = []  # (row, column, coefficient)
        adaptive: list[tuple[int, int, int, float]] = []  # AKL rows: (row, head col, tail col, mu)
        self.other: list[tuple[int, object, dict]] = []  # rows scored by their own function
        # A teacher with exact zeros makes some mixture KLs infinite; in the shared tensors their
        # 0 * inf gradients would leak NaN into the other rows, so score each row on its own then.
        fuse = bool(torch.isfinite(log_p).all())
        for k, (name, kw) in enumerate(zip(names, kwargs)):
            spec = get_spec(name)
            if spec.kl_terms is None or not fuse:
                self.other.append((k, spec.fn, kw))
                continue
            cols = {}
            for first, a, coef in spec.kl_terms(**kw):
                col = terms.setdefault((first, float(a)), len(terms))
                cols[coef if isinstance(coef, str) else col] = col
                if not isinstance(coef, str):
                    static.append((k, col, coef))
            if "w_head" in cols:
                adaptive.append((k, cols["w_head"], cols["w_tail"], kw["mu"]))
        J = len(terms)
        self.first_is_q = torch.tensor([f == "q" for f, _ in terms], dtype=torch.bool)[:, None, None]  # (J,1,1)
        a = [a for _, a in terms]
        # log a and log(1 - a) of each mixture; a = 0 gives -inf: the mixture is just `other`.
        self.log_a = torch.tensor([math.log(v) if v > 0 else -math.inf for v in a], dtype=dtype)[:, None, None]
        self.log_1ma = torch.tensor([math.log1p(-v) if v < 1 else -math.inf for v in a], dtype=dtype)[:, None, None]
        self.coef = torch.zeros(K, J, dtype=dtype)  # (K, J)
        for k, col, c in static:
            self.coef[k, col] = c
        self.adaptive = adaptive
        if adaptive:
            self.head_masks = {mu: akl_split(self.p, self.p, mu)["head_mask"] for *_, mu in adaptive}
        self.has_kl = J > 0

    def _mixture_kls(self, log_q: torch.Tensor) -> torch.Tensor:
        """``KL(f || a f + (1-a) g)`` for every term and row: ``(J, K)``."""
        log_p = self.log_p.expand_as(log_q)
        log_f = torch.where(self.first_is_q, log_q, log_p)  # (J, K, V)
        log_g = torch.where(self.first_is_q, log_p, log_q)  # (J, K, V)
        log_m = torch.logaddexp(log_f + self.log_a, log_g + self.log_1ma)  # (J, K, V)
        f = log_f.exp()
        support = f > 0
        diff = torch.where(support, log_f, 0.0) - torch.where(support, log_m, 0.0)
        return (f * diff).sum(-1)

    def __call__(self, log_q: torch.Tensor) -> torch.Tensor:
        losses = torch.zeros(log_q.shape[0], dtype=log_q.dtype)
        if self.has_kl:
            coef = self.coef
            if self.adaptive:
                coef = coef.clone()
                with torch.no_grad():
                    gap = (self.p - log_q.exp()).abs()  # (K, V), detached as in AKL's code
                for k, ch, ct, mu in self.adaptive:
                    head = self.head_masks[mu]
                    g_head, g_tail = gap[k][head].sum(), gap[k][~head].sum()
                    total = g_head + g_tail
                    w_head = g_head / total if total > 0 else torch.tensor(0.5, dtype=log_q.dtype)
                    coef[k, ch], coef[k, ct] = w_head, 1.0 - w_head
            losses = losses + (coef * self._mixture_kls(log_q).T).sum(-1)
        for k, fn, kw in self.other:
            losses = losses.index_add(0, torch.tensor([k]), fn(self.log_p, log_q[k], **kw)[None])
        return losses
