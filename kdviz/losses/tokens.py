"""Per-token KD losses on logits ``(..., V)``: validation, the per-row value and gradient, :func:`kd_loss`."""

from __future__ import annotations

import math
from typing import Iterator

import torch

from kdviz import divergences as dv
from kdviz.divergences import DIVERGENCES, get_spec
from kdviz.spec import DivergenceSpec

# Divergences with a per-token form on logits: the transport ones need a ground cost between
# vocabulary entries (V x V), which a vocabulary has not; sinkd_loss transports between rows instead.
PER_TOKEN = tuple(name for name, spec in DIVERGENCES.items() if not spec.needs_support)
REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------- validation
def resolve(divergence: str, params: dict) -> tuple[DivergenceSpec, dict]:
    """The registry entry and its validated parameters, or a ValueError naming what is wrong."""
    spec = get_spec(divergence)
    if spec.needs_support:
        raise ValueError(f"divergence {divergence!r} needs a ground cost between vocabulary entries; "
                         f"expected one of {list(PER_TOKEN)} (for transport use kdviz.losses.sinkd_loss)")
    return spec, spec.resolve(params)


def check_temperature(temperature) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return float(temperature)


def check_chunk_size(chunk_size) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer (rows per chunk), got {chunk_size!r}")


def math_dtype(*dtypes: torch.dtype) -> torch.dtype:
    """float32 or wider: bf16/fp16 inputs are computed in float32, float64 stays float64."""
    out = torch.float32
    for d in dtypes:
        out = torch.promote_types(out, d)
    return out


def valid_rows(lead: torch.Size, labels, ignore_index: int, mask) -> torch.Tensor:
    """Flat boolean ``(N,)``: ``labels != ignore_index`` (if given) and ``mask`` (if given)."""
    valid = torch.ones(lead.numel(), dtype=torch.bool)
    for what, t in (("labels", labels), ("mask", mask)):
        if t is None:
            continue
        if not isinstance(t, torch.Tensor) or t.shape != lead:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{what} must be a tensor of shape {tuple(lead)} (the logits without V), "
                             f"got {shape}")
        keep = (t != ignore_index) if what == "labels" else t.to(torch.bool)
        valid = valid.to(t.device) & keep.reshape(-1)
    return valid


def chunks(valid: torch.Tensor, size: int | None) -> Iterator[slice | torch.Tensor]:
    """Row selectors of at most ``size`` valid rows: slices (views) when every row is valid,
    index tensors otherwise. ``size=None``: all valid rows at once."""
    n = valid.numel()
    if bool(valid.all()):
        step = size or max(n, 1)
        yield from (slice(i, min(i + step, n)) for i in range(0, n, step))
        return
    idx = valid.nonzero()[:, 0]  # (n_valid,)
    step = size or max(idx.numel(), 1)
    # no valid row: one empty selector, so that the result is still computed from (connected to) the logits
    yield from (idx[i:i + step] for i in range(0, max(idx.numel(), 1), step))


# --------------------------------------------------------------------------- one block of rows
def log_probs(logits: torch.Tensor, temperature: float, dtype: torch.dtype) -> torch.Tensor:
    logits = logits.to(dtype)
    return torch.log_softmax(logits if temperature == 1.0 else logits / temperature, dim=-1)


def row_values(spec, kw, student, teacher, temperature, dtype) -> torch.Tensor:
    """Per-row ``D(p, q)`` of the registry function (the forward of a student that needs no gradient)."""
    log_p = log_probs(teacher.detach(), temperature, dtype)
    return spec.fn(log_p, log_probs(student, temperature, dtype), **kw)


def row_values_and_grads(spec, kw, student, teacher, temperature, dtype, scale=1.0):
    """Per-row values ``(n,)`` and ``scale`` x their gradients w.r.t. the student logits ``(n, V)``,
    no graph kept.

    The gradient w.r.t. ``log q`` is the registry's closed form where it has one (one
    ``spec.fn(..., with_grad=True)`` call: value and gradient from shared intermediates), autograd
    through ``spec.fn`` on this block only where it has none (:func:`kdviz.divergences.spec_value_and_grad`);
    the logit gradient is then ``logit_grad(grad, log q) / T``.
    """
    with torch.no_grad():
        log_p = log_probs(teacher, temperature, dtype)
        del teacher  # its logits are free (when the caller keeps no reference) before log q exists
        log_q = log_probs(student, temperature, dtype)
    values, grad = dv.spec_value_and_grad(spec, log_p, log_q, kw)
    del log_p
    return values, dv.logit_grad(grad, log_q).mul_(scale / temperature)


class _ChunkedRows(torch.autograd.Function):
    """Per-row values computed ``chunk_size`` rows at a time (all at once for ``None``) with their
    gradients; the backward scales those gradients (a row's value depends on its own logits only)."""

    @staticmethod
    def forward(ctx, student, teacher, valid, spec, kw, temperature, chunk_size):
        dtype = math_dtype(student.dtype, teacher.dtype)
        values = torch.zeros(valid.numel(), dtype=dtype, device=student.device)  # (N,), 0 where invalid
        grads, every_row = None, slice(0, valid.numel())
        for sel in chunks(valid, chunk_size):
            values[sel], g = row_values_and_grads(spec, kw, student[sel], teacher[sel], temperature, dtype)
            if isinstance(sel, slice) and sel == every_row:  # one block of every row: no copy
                grads = g
                continue
            if grads is None:
                grads = torch.zeros(student.shape, dtype=dtype, device=student.device)  # (N, V)
            grads[sel] = g
        ctx.save_for_backward(grads)
        ctx.student_dtype = student.dtype
        return values

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_values):
        (grads,) = ctx.saved_tensors
        return (grads * grad_values[:, None]).to(ctx.student_dtype), None, None, None, None, None, None


def per_token_values(student_logits, teacher_logits, divergence="fkl", *, valid=None, temperature=1.0,
                     chunk_size=None, **params) -> torch.Tensor:
    """Flat per-token values ``(N,)`` (0 where ``valid`` is False), differentiable in the student."""
    spec, kw = resolve(divergence, params)
    temperature = check_temperature(temperature)
    for what, t in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim == 0:
            got = f"{t.dtype} of shape {tuple(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{what} must be a floating tensor of shape (..., V), got {got}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError("student and teacher logits must have the same shape (..., V), got "
                         f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}")
    student = student_logits.reshape(-1, student_logits.shape[-1])  # (N, V)
    teacher = teacher_logits.reshape(-1, teacher_logits.shape[-1]).detach()  # (N, V)
    if valid is None:
        valid = torch.ones(student.shape[0], dtype=torch.bool, device=student.device)
    dtype = math_dtype(student.dtype, teacher.dtype)
    if chunk_size is not None:
        check_chunk_size(chunk_size)
    if torch.is_grad_enabled() and student.requires_grad:  # the closed-form gradient, in the forward
        return _ChunkedRows.apply(student, teacher, valid, spec, kw, temperature, chunk_size)
    if chunk_size is None and bool(valid.all()):
        return row_values(spec, kw, student, teacher, temperature, dtype)
    values = student.new_zeros(student.shape[0], dtype=dtype)  # (N,), 0 where invalid
    rows = torch.arange(values.numel(), device=values.device)
    for sel in chunks(valid, chunk_size):
        block = row_values(spec, kw, student[sel], teacher[sel], temperature, dtype)
        values = values.index_put((rows[sel],), block)
    return values


def kd_loss(student_logits, teacher_logits, divergence="fkl", *, labels=None, ignore_index=-100, mask=None,
            temperature=1.0, reduction="mean", chunk_size=None, t2_scale=False, **params) -> torch.Tensor:
    r"""Knowledge-distillation loss ``D(p, q)`` between teacher and student logits ``(..., V)``.

    .. math:: p = \mathrm{softmax}(z_t / T), \quad q = \mathrm{softmax}(z_s / T), \quad
              \ell_i = D_{\text{name}}(p_i, q_i)

    with ``D`` the registry's function (``DIVERGENCES[divergence].fn``), computed in float32 or wider.

    Args:
        student_logits, teacher_logits: ``(..., V)``, any float dtype; the teacher gets no gradient.
        divergence: one of :data:`PER_TOKEN` (``fkl rkl jsd tvd skl srkl fkl_rkl akl``).
        labels: ``(...)``; positions with ``labels == ignore_index`` are ignored.
        mask: ``(...)`` bool; positions where it is False are ignored.
        temperature: T > 0, applied to both logits.
        reduction: ``"mean"`` (sum over valid tokens / their number; 0 if there are none),
            ``"sum"``, or ``"none"`` (per-token ``(...)``, 0 at ignored positions).
        chunk_size: rows per chunk; extra memory O(chunk_size x V), same values and gradients.
            The student's gradient is computed in the forward pass, from the registry's closed form
            (``spec.fn(..., with_grad=True)``; autograd per chunk only for a divergence without
            one), and kept until backward: it is first-order only (no double backward).
        t2_scale: multiply by T^2 (Hinton et al. 2015), keeping gradient magnitudes comparable across T.
        **params: the divergence's parameters (``beta``, ``alpha``, ``mu``), validated by the registry.

    Raises:
        ValueError: unknown or transport divergence, bad parameter, T <= 0, shape or vocabulary
            mismatch, unknown reduction, bad chunk size.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
    lead = student_logits.shape[:-1] if isinstance(student_logits, torch.Tensor) else None
    valid = valid_rows(lead, labels, ignore_index, mask) if lead is not None else None
    values = per_token_values(student_logits, teacher_logits, divergence, valid=valid,
                              temperature=temperature, chunk_size=chunk_size, **params)  # (N,)
    if t2_scale:
        values = values * float(temperature) ** 2
    if reduction == "none":
        return values.reshape(lead)
    total = values.sum()
    if reduction == "sum":
        return total
    return total / max(int(valid.sum()), 1)  # no valid token: the sum is a 0 that keeps the graph


def call_example(name: str, **params) -> str:
    """The call that gives divergence ``name`` (with ``params``) as a KD loss on real logits.

    >>> call_example("jsd", beta=0.1)
    'kd_loss(student_logits, teacher_logits, "jsd", beta=0.1, labels=labels, temperature=1.0)'
    """
    spec = get_spec(name)
    if spec.needs_support:
        return ("sinkd_loss(student_logits, teacher_logits, labels=labels, epsilon=0.1, iterations=20)"
                "  # SinKD: Sinkhorn between the batch's rows")
    kw = spec.resolve(params)
    args = "".join(f", {k}={v!r}" for k, v in kw.items())
    return f'kd_loss(student_logits, teacher_logits, "{name}"{args}, labels=labels, temperature=1.0)'
