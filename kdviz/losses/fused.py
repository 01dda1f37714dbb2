"""The KD loss fused with the LM head: logits are made ``chunk_size`` rows at a time and never all at once."""

from __future__ import annotations

import torch

from kdviz.losses.tokens import (
    check_chunk_size,
    check_temperature,
    math_dtype,
    resolve,
    row_values_and_grads,
    valid_rows,
)

# Rows per chunk, from the sweep at N = 1024, V = 128256 (fp32 CPU, H = 256, one thread, 2026-11-29,
# benchmarks/kd_loss_memory.py --sweep-only): peak MB above the inputs / CPU s of one forward + backward
# 64: 325 / 14.9, 128: 645 / 12.5, 256: 1287 / 13.6, 512: 2330 / 12.8, 1024 (one chunk): 4180 / 13.7.
# The time is flat within the noise from 128 rows up, the memory grows with the chunk: 128.
DEFAULT_CHUNK_SIZE = 128


def _linear(hidden, weight, bias):
    return hidden @ weight.T if bias is None else torch.addmm(bias, hidden, weight.T)  # (c, V)


class _FusedLinearKD(torch.autograd.Function):
    """Loss and the student's gradients computed together, chunk by chunk, in the forward: each chunk's
    student logits are made once, and the registry's closed-form logit gradient goes straight into
    ``mm`` / ``addmm_`` on preallocated gradients."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, t_hidden, t_weight, t_bias, labels, valid, cfg):
        spec, kw, temperature, chunk_size, w_hard, w_soft = cfg
        dtype = math_dtype(hidden.dtype, weight.dtype, t_hidden.dtype, t_weight.dtype)
        w32, tw32 = weight.to(dtype), t_weight.to(dtype)
        b32 = None if bias is None else bias.to(dtype)
        tb32 = None if t_bias is None else t_bias.to(dtype)
        rows = valid.nonzero()[:, 0]  # (n,) the valid tokens, gathered once: chunks are then row slices
        every = rows.numel() == valid.numel()
        h_all = (hidden if every else hidden[rows]).to(dtype)  # (n, Hs)
        th_all = (t_hidden if every else t_hidden[rows]).to(dtype)  # (n, Ht)
        n = max(rows.numel(), 1)  # the number of valid tokens; none: every sum below is 0
        loss = torch.zeros((), dtype=dtype)
        grad_h = torch.empty(h_all.shape, dtype=dtype)  # (n, Hs), every row written below
        grad_w = torch.zeros(weight.shape, dtype=dtype)  # (V, Hs)
        grad_b = None if bias is None else torch.zeros(bias.shape, dtype=dtype)
        for i in range(0, rows.numel(), chunk_size):
            sel = slice(i, i + chunk_size)
            h = h_all[sel]  # (c, Hs)
            logits = _linear(h, w32, b32)  # (c, V)
            soft, g = row_values_and_grads(spec, kw, logits, _linear(th_all[sel], tw32, tb32), temperature,
                                           dtype, scale=w_soft / n)  # (c,), (c, V)
            loss += w_soft * soft.sum() / n
            if w_hard:
                # cross-entropy on the raw (T = 1) logits; its logit gradient is softmax - one-hot
                log_q = torch.log_softmax(logits, dim=-1)  # (c, V)
                target = labels[rows[sel]][:, None]  # (c, 1)
                loss -= w_hard * log_q.gather(1, target).sum() / n
                minus_one = torch.full_like(target, -1, dtype=dtype)
                g += (w_hard / n) * log_q.exp_().scatter_add_(1, target, minus_one)
            del logits
            torch.mm(g, w32, out=grad_h[sel])
            grad_w.addmm_(g.T, h)
            if grad_b is not None:
                grad_b += g.sum(0)
        if not every:
            grad_h = torch.zeros(hidden.shape, dtype=dtype).index_copy_(0, rows, grad_h)  # (N, Hs)
        ctx.save_for_backward(grad_h, grad_w, grad_b)
        ctx.dtypes = (hidden.dtype, weight.dtype, None if bias is None else bias.dtype)
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_loss):
        grads = [None if g is None else (g * grad_loss).to(d) for g, d in zip(ctx.saved_tensors, ctx.dtypes)]
        return (*grads, None, None, None, None, None, None)


class FusedLinearKDLoss(torch.nn.Module):
    r"""``weight_soft_loss * kd_loss(student, teacher) + weight_hard_loss * CE(student, labels)`` from
    the hidden states and the LM heads, without the ``(N, V)`` logits.

    Called as Liger's ``LigerFusedLinearJSDLoss``: ``loss_fn(student_hidden (N, Hs), student_weight (V, Hs),
    teacher_hidden (N, Ht), teacher_weight (V, Ht), labels (N,), student_bias=None, teacher_bias=None)``
    (leading dims ``(..., H)`` are flattened). Both terms are sums over the valid tokens
    (``labels != ignore_index``) divided by their number; the soft term is the registry's ``D(p, q)`` at
    temperature T, the hard term the cross-entropy of the raw logits. Gradients flow to the student's
    hidden states, weight and bias, computed in the forward pass ``chunk_size`` rows at a time (extra
    memory O(chunk_size x V) plus one gradient per input); the teacher gets none. First-order only.
    """

    def __init__(self, divergence="jsd", *, temperature=1.0, ignore_index=-100, chunk_size=DEFAULT_CHUNK_SIZE,
                 weight_hard_loss=0.0, weight_soft_loss=1.0, **params):
        super().__init__()
        self.spec, self.params = resolve(divergence, params)
        self.temperature = check_temperature(temperature)
        check_chunk_size(chunk_size)
        for what, w in (("weight_hard_loss", weight_hard_loss), ("weight_soft_loss", weight_soft_loss)):
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0 or w == float("inf"):
                raise ValueError(f"{what} must be a finite number >= 0, got {w!r}")
        self.divergence, self.ignore_index, self.chunk_size = divergence, ignore_index, chunk_size
        self.weight_hard_loss, self.weight_soft_loss = float(weight_hard_loss), float(weight_soft_loss)

    def extra_repr(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return (f"{self.divergence!r}{params}, temperature={self.temperature}, chunk_size={self.chunk_size}, "
                f"weight_hard_loss={self.weight_hard_loss}, weight_soft_loss={self.weight_soft_loss}")

    def forward(self, student_hidden, student_weight, teacher_hidden, teacher_weight, labels=None,
                student_bias=None, teacher_bias=None) -> torch.Tensor:
        hidden = student_hidden.reshape(-1, student_hidden.shape[-1])  # (N, Hs)
        t_hidden = teacher_hidden.reshape(-1, teacher_hidden.shape[-1])  # (N, Ht)
        for what, h, w in (("student", hidden, student_weight), ("teacher", t_hidden, teacher_weight)):
            if w.ndim != 2 or w.shape[1] != h.shape[1]:
                raise ValueError(f"{what}_weight must have shape (V, {h.shape[1]}) to match {what}_hidden, "
                                 f"got {tuple(w.shape)}")
        if student_weight.shape[0] != teacher_weight.shape[0]:
            raise ValueError("student and teacher vocabularies differ: student_weight has "
                             f"{student_weight.shape[0]} rows, teacher_weight {teacher_weight.shape[0]}")
        if hidden.shape[0] != t_hidden.shape[0]:
            raise ValueError("student and teacher must have the same number of tokens, got "
                             f"{hidden.shape[0]} and {t_hidden.shape[0]}")
        for what, b, w in (("student_bias", student_bias, student_weight), ("teacher_bias", teacher_bias,
                                                                            teacher_weight)):
            if b is not None and tuple(b.shape) != (w.shape[0],):
                raise ValueError(f"{what} must have shape ({w.shape[0]},), got {tuple(b.shape)}")
        if labels is None and self.weight_hard_loss:
            raise ValueError(f"weight_hard_loss={self.weight_hard_loss} needs labels for the cross-entropy, "
                             "got None")
        flat_labels = None if labels is None else labels.reshape(-1)
        valid = valid_rows(hidden.shape[:1], flat_labels, self.ignore_index, None)
        cfg = (self.spec, self.params, self.temperature, self.chunk_size, self.weight_hard_loss,
               self.weight_soft_loss)
        t_bias = None if teacher_bias is None else teacher_bias.detach()
        return _FusedLinearKD.apply(hidden, student_weight, student_bias, t_hidden.detach(),
                                    teacher_weight.detach(), t_bias, flat_labels, valid, cfg)
