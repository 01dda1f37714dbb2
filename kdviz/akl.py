"""AKL's head/tail split of the teacher (Wu et al. 2024, ``AKL.py``): which classes are the head, and
the adaptive weights of forward and reverse KL. :func:`kdviz.divergences.adaptive_kl` combines them;
the head/tail lessons, the lab's metrics and the fit engine's error curves read the head."""

from __future__ import annotations

import torch

from kdviz import numerics as nx

AKL_TOPK = 64  # AKL's head/tail split looks at the 64 largest teacher probabilities first


def akl_split(p: torch.Tensor, q: torch.Tensor, mu: float = 0.5):
    """AKL's head/tail split of the teacher and its adaptive weights (Wu et al. 2024, ``AKL.py``).

    Sort the teacher descending; the head is the positions whose cumulative teacher mass is
    ``<= mu`` (the top-1 class is always head), the tail is the rest. With errors
    ``|p - q|``, ``g_head`` and ``g_tail`` sum them over head and tail, and
    ``w_head = g_head / (g_head + g_tail)``, ``w_tail = 1 - w_head``. ``q`` is detached.
    When ``p == q`` both gaps are 0: the weights are defined as (0.5, 0.5) there, and the AKL
    value is 0 anyway.

    Args:
        p: teacher probabilities ``(..., V)``; q: student probabilities ``(..., V)``.

    Returns:
        dict of tensors: ``head_mask`` (..., V) bool in the original class order,
        ``g_head``, ``g_tail``, ``w_head``, ``w_tail`` (...).
    """
    head_mask = nx.cached(_akl_head, p, mu)  # the teacher's alone: once per fit (nx.constants)
    g_head, total, w_head = akl_weights(p, q.detach(), mu)
    return {"head_mask": head_mask.expand(torch.broadcast_shapes(p.shape, q.shape)), "g_head": g_head,
            "g_tail": total - g_head, "w_head": w_head, "w_tail": 1.0 - w_head}


def akl_weights(p: torch.Tensor, q: torch.Tensor, mu: float):
    """``(g_head, g_head + g_tail, w_head)`` of :func:`akl_split`, ``(...)`` each (``q`` as given:
    the callers detach it)."""
    gap = (p - q).abs()  # (..., V)
    g_head = torch.linalg.vecdot(gap, nx.cached(_akl_head_weights, p, mu))  # the sum over the head
    total = gap.sum(-1)
    # p == q: both gaps vanish and the paper's ratio is 0/0 (NaN); any weights give AKL = 0 there.
    return g_head, total, torch.nan_to_num(g_head / total, nan=0.5)


def _akl_head_weights(p: torch.Tensor, mu: float) -> torch.Tensor:
    """AKL's head as 1.0 and its tail as 0.0, in ``p``'s dtype ``(..., V)``."""
    return nx.cached(_akl_head, p, mu).to(p.dtype)


def _akl_head(p: torch.Tensor, mu: float) -> torch.Tensor:
    """AKL's head ``(..., V)`` bool in class order: the classes holding the first ``mu`` of ``p``'s
    mass sorted in descending order (ties by class index, a stable sort), the top-1 class always.

    Found without sorting every row: the cumulative mass of the ``top-k`` values (k = 64, more than
    any head of a peaked teacher; all V when some row's head may be longer) gives the head's size n
    and its smallest value; the head is every class above that value and, of the classes equal to
    it, the first by index. The same classes as the sort's, which costs several times more."""
    n_classes = p.shape[-1]
    k = min(n_classes, AKL_TOPK)
    while True:
        top = torch.topk(p, k, dim=-1).values  # (..., k) descending
        n = (torch.cumsum(top, dim=-1) <= mu).sum(-1, keepdim=True)  # (..., 1): "<= mu" is a prefix
        if k == n_classes or not bool((n == k).any()):
            break
        k = n_classes  # a head may reach past the top k: take every class
    smallest = top.gather(-1, n.clamp_(min=1) - 1)  # (..., 1): the top-1 class is always head
    head = p >= smallest  # (..., V)
    if bool((head.sum(-1, keepdim=True) > n).any()):  # ties at the smallest value: keep the first
        tied = p == smallest
        n_tied_in = n - (head.sum(-1, keepdim=True) - tied.sum(-1, keepdim=True))
        head &= ~tied | (torch.cumsum(tied, dim=-1) <= n_tied_in)
    return head
