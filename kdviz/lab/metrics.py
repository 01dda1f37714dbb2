"""What the lab measures, held-out, for a student next to the teacher.

Every divergence value comes from the registry (:mod:`kdviz.divergences`): ``fkl`` is
KL(teacher || student), ``rkl`` is KL(student || teacher), and AKL's head and tail errors are
:func:`kdviz.divergences.akl_split`'s ``g_head`` and ``g_tail``. Each metric is averaged per
held-out window first, so its standard error over windows (``*_se``) comes with it; the takeaway
claims a difference only beyond two of those.

The head/tail split depends on the teacher alone, so it is made once per held-out set
(:func:`teacher_head_mask`, a sort of every row) and reused for every student and step; the errors
are then AKL's gaps ``g_head = sum_head |p - q|`` and ``g_tail = sum_tail |p - q|``
(``tests/test_lab_metrics.py`` checks them against ``akl_split``'s).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from kdviz.divergences import akl_split, divergence_from_log

HELD_OUT_METRICS = ("ce", "fkl", "rkl", "top1", "entropy", "head_err", "tail_err")
SAMPLE_METRICS = ("distinct2", "distinct3", "teacher_nll")


def _mean_se(per_window: torch.Tensor) -> tuple[float, float]:
    """Mean and standard error over windows of a (W,) tensor."""
    n = per_window.numel()
    sd = per_window.std(unbiased=True).item() if n > 1 else 0.0
    return per_window.mean().item(), sd / math.sqrt(n)


@torch.no_grad()
def teacher_head_mask(teacher_logits: torch.Tensor, mu: float = 0.5) -> torch.Tensor:
    """AKL's head of every teacher row (``akl_split``'s ``head_mask``): (..., V) bool."""
    p = torch.softmax(teacher_logits.float(), -1)
    return akl_split(p, p, mu)["head_mask"]


@torch.no_grad()
def held_out_metrics(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
                     head_mask: torch.Tensor) -> dict[str, float]:
    """The held-out metrics of one student on windows (W, T) and their standard errors (``name_se``).

    Args:
        student_logits, teacher_logits: ``(W, T, V)``; targets: the real next tokens ``(W, T)``.
        head_mask: :func:`teacher_head_mask` of ``teacher_logits`` (W, T, V).
    """
    log_q = torch.log_softmax(student_logits.float(), -1)  # (W, T, V)
    log_p = torch.log_softmax(teacher_logits.float(), -1)
    gap = (log_p.exp() - log_q.exp()).abs()  # (W, T, V)
    per_token = {
        "ce": F.cross_entropy(log_q.transpose(1, 2), targets, reduction="none"),  # (W, T)
        "fkl": divergence_from_log("fkl", log_p, log_q),
        "rkl": divergence_from_log("rkl", log_p, log_q),
        "top1": (log_q.argmax(-1) == log_p.argmax(-1)).float(),
        "entropy": torch.special.entr(log_q.exp()).sum(-1),
        "head_err": torch.where(head_mask, gap, 0.0).sum(-1),
        "tail_err": torch.where(head_mask, 0.0, gap).sum(-1),
    }
    out = {}
    for name in HELD_OUT_METRICS:
        out[name], out[f"{name}_se"] = _mean_se(per_token[name].mean(-1))
    return out


def distinct_n(sequences: list[list[int]], n: int) -> float:
    """Distinct-n (Li et al. 2016): unique n-grams / all n-grams, pooled over the sequences."""
    grams = [tuple(s[i:i + n]) for s in sequences for i in range(len(s) - n + 1)]
    if not grams:
        raise ValueError(f"no {n}-grams in sequences of lengths {[len(s) for s in sequences]}")
    return len(set(grams)) / len(grams)


@torch.no_grad()
def sample_metrics(teacher, samples: torch.Tensor, prompt_len: int) -> dict[str, float]:
    """Diversity and quality of generated samples ``(S, prompt_len + n_new)`` (prompts included).

    ``teacher_nll``: the teacher's mean negative log-likelihood of the generated tokens (nats per
    token; lower = the teacher finds them more plausible, MiniLLM's quality proxy); its standard
    error is over samples. ``distinct2``/``distinct3`` count the generated tokens only.
    """
    generated = samples[:, prompt_len:]
    logits = teacher(samples[:, :-1])  # (S, L - 1, V)
    nll = F.cross_entropy(logits.transpose(1, 2).float(), samples[:, 1:], reduction="none")  # (S, L - 1)
    out = {"distinct2": distinct_n(generated.tolist(), 2), "distinct3": distinct_n(generated.tolist(), 3)}
    out["teacher_nll"], out["teacher_nll_se"] = _mean_se(nll[:, prompt_len - 1:].mean(-1))
    return out
