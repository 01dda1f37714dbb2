"""What the lab measures, held-out, for a student next to the teacher.

Every divergence value comes from the registry (:mod:`kdviz.divergences`): ``fkl`` is
KL(teacher || student), ``rkl`` is KL(student || teacher), and AKL's head and tail errors are
:func:`kdviz.akl.akl_split`'s ``g_head`` and ``g_tail``. Each metric is averaged per
held-out window first, so its standard error over windows (``*_se``) comes with it; the takeaway
claims a difference only beyond two of those.

Everything that depends on the teacher alone (its log-probabilities, top-1 tokens and AKL's
head/tail split, a top-k of every row) is made once per held-out set (:class:`HeldOut`) and reused
for every student and step; the errors are then AKL's gaps ``g_head = sum_head |p - q|`` and
``g_tail = sum_tail |p - q|`` (``tests/test_lab_metrics.py`` checks them against ``akl_split``'s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kdviz.akl import akl_split
from kdviz.divergences import DIVERGENCES

HELD_OUT_METRICS = ("ce", "fkl", "rkl", "top1", "entropy", "head_err", "tail_err")
SAMPLE_METRICS = ("distinct2", "distinct3", "teacher_nll")


def _mean_se(per_window: torch.Tensor) -> tuple[float, float]:
    """Mean and standard error over windows of a (W,) tensor."""
    n = per_window.numel()
    sd = per_window.std(unbiased=True).item() if n > 1 else 0.0
    return per_window.mean().item(), sd / math.sqrt(n)


@dataclass(frozen=True)
class HeldOut:
    """Held-out windows seen through the teacher: what every evaluation of a student compares with."""
    targets: torch.Tensor  # (W, T) the real next tokens
    log_p: torch.Tensor  # (W, T, V) the teacher's log-probabilities, float32
    p: torch.Tensor  # (W, T, V) their exp
    top1: torch.Tensor  # (W, T) the teacher's most likely next token
    head: torch.Tensor  # (W, T, V) bool: AKL's head of every teacher row (akl_split's head_mask)

    @classmethod
    @torch.no_grad()
    def of(cls, teacher_logits: torch.Tensor, targets: torch.Tensor, mu: float = 0.5) -> "HeldOut":
        """From the teacher's logits ``(W, T, V)`` on the windows and their next tokens ``(W, T)``."""
        log_p = torch.log_softmax(teacher_logits.float(), -1)
        p = log_p.exp()
        return cls(targets, log_p, p, log_p.argmax(-1), akl_split(p, p, mu)["head_mask"])


@torch.no_grad()
def held_out_metrics(student_logits: torch.Tensor, ref: HeldOut) -> dict[str, float]:
    """The held-out metrics of one student's logits ``(W, T, V)`` on ``ref``'s windows and their
    standard errors over windows (``name_se``)."""
    log_q = torch.log_softmax(student_logits.float(), -1)  # (W, T, V), finite for finite logits
    q = log_q.exp()
    gap = (ref.p - q).abs()  # (W, T, V)
    head_err = torch.where(ref.head, gap, 0.0).sum(-1)  # (W, T)
    per_token = {
        "ce": -log_q.gather(-1, ref.targets[..., None])[..., 0],  # (W, T)
        "fkl": DIVERGENCES["fkl"].fn(ref.log_p, log_q),
        "rkl": DIVERGENCES["rkl"].fn(ref.log_p, log_q),
        "top1": (log_q.argmax(-1) == ref.top1).float(),
        "entropy": -(q * log_q).sum(-1),  # log q is finite: no 0 log 0 to special-case
        "head_err": head_err,
        "tail_err": gap.sum(-1) - head_err,  # akl_split's g_tail
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
