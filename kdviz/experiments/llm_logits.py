"""From toys to LLM logits: every per-token divergence on one batch of real-shaped random logits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kdviz.losses import PER_TOKEN, call_example, kd_loss

VOCABS = (1000, 8000, 32000)  # vocabulary sizes offered on the page


@dataclass(frozen=True)
class LogitsBatch:
    names: tuple[str, ...]  # the divergences, one heatmap row each
    values: np.ndarray  # (D, L) per-token values, NaN at masked positions
    means: np.ndarray  # (D,) kd_loss(..., reduction="mean"): the sum over valid tokens / their number
    valid: np.ndarray  # (L,) bool
    teacher_top: np.ndarray  # (L,) teacher's top-1 probability at temperature T
    calls: tuple[str, ...]  # the kd_loss call of each divergence


def random_logits(positions: int, vocab: int, seed: int, noise: float):
    """Teacher logits with an LLM's long tail (Zipf-like prior over the vocabulary plus a few
    position-specific favourites) and a student that is the teacher plus Gaussian noise."""
    g = torch.Generator().manual_seed(seed)
    rank = torch.arange(1, vocab + 1, dtype=torch.float64)
    prior = -1.1 * torch.log(rank)[torch.randperm(vocab, generator=g)]  # (V,) Zipf exponent 1.1
    teacher = prior + 2.0 * torch.randn(positions, vocab, generator=g, dtype=torch.float64)  # (L, V)
    favourites = torch.randint(0, vocab, (positions, 3), generator=g)
    teacher.scatter_add_(1, favourites, torch.full((positions, 3), 8.0, dtype=torch.float64))
    student = teacher + noise * torch.randn(positions, vocab, generator=g, dtype=torch.float64)
    return student, teacher


def llm_logits_batch(positions: int = 48, vocab: int = 8000, temperature: float = 1.0, padding: int = 8,
                     noise: float = 1.5, seed: int = 0, names: tuple[str, ...] = PER_TOKEN) -> LogitsBatch:
    """Per-token values of ``names`` on one sequence whose last ``padding`` positions are masked."""
    if not 0 <= padding < positions:
        raise ValueError(f"padding must be in [0, positions), got {padding!r} for {positions} positions")
    student, teacher = random_logits(positions, vocab, seed, noise)
    mask = torch.arange(positions) < positions - padding  # (L,)
    values = np.stack([kd_loss(student, teacher, n, mask=mask, temperature=temperature,
                               reduction="none").numpy() for n in names])  # (D, L)
    values[:, ~mask.numpy()] = np.nan
    means = np.nansum(values, axis=1) / max(int(mask.sum()), 1)  # kd_loss's reduction="mean"
    top = torch.softmax(teacher / temperature, -1).amax(-1).numpy()
    return LogitsBatch(tuple(names), values, means, mask.numpy(), top, tuple(call_example(n) for n in names))
