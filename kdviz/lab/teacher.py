"""The lab's teacher: a ~1M-parameter GPT trained on the corpus by ``python -m kdviz lab build-teacher``.

Reproducible: the same :class:`TeacherTrainConfig` (seed included) on the same corpus and torch
build gives the same weights. The result ships as ``assets/teacher.safetensors`` next to
``assets/teacher.json`` (its configuration, training curve, held-out perplexity and time).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from kdviz.lab import data
from kdviz.lab.model import GPT, GPTConfig, load, save

TEACHER_PATH = data.ASSETS / "teacher.safetensors"
RECORD_PATH = data.ASSETS / "teacher.json"


@dataclass(frozen=True)
class TeacherTrainConfig:
    model: GPTConfig = field(default_factory=lambda: GPTConfig(dropout=0.1))  # 4 layers x 128: 1.06M params
    steps: int = 1500
    batch_size: int = 16  # windows of block_size tokens per step
    lr: float = 2e-3  # AdamW peak, linear warm-up then cosine decay to lr / 10
    warmup: int = 100
    weight_decay: float = 0.1
    eval_every: int = 100
    seed: int = 0


def lr_at(step: int, cfg: TeacherTrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


@torch.no_grad()
def held_out_ce(model: GPT, ids: torch.Tensor, device: str | torch.device = "cpu", batch: int = 64) -> float:
    """Mean next-token cross-entropy (nats) over every held-out token, in non-overlapping windows."""
    T = model.cfg.block_size
    n = (ids.numel() - 1) // T
    x = ids[:n * T].view(n, T)  # (n, T)
    y = ids[1:n * T + 1].view(n, T)
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, n, batch):
        logits = model(x[i:i + batch].to(device))  # (b, T, V)
        total += F.cross_entropy(logits.flatten(0, 1).float(), y[i:i + batch].to(device).flatten(),
                                 reduction="sum").item()
    model.train(was_training)
    return total / (n * T)


def train_teacher(cfg: TeacherTrainConfig = TeacherTrainConfig(), *, device: str | torch.device = "cpu",
                  on_step: Callable[[int, int, dict], None] | None = None) -> tuple[GPT, dict]:
    """Train the teacher from scratch; returns the model (eval mode) and its record.

    ``on_step(step, total, info)`` is called after every step (``info`` holds the training loss, and the
    held-out cross-entropy at evaluation steps).
    """
    corpus = data.load_corpus()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = GPT(cfg.model).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    curve = {"step": [], "train_ce": [], "held_out_ce": []}
    t0, running = time.perf_counter(), None
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        batch = data.random_windows(corpus.train, cfg.batch_size, cfg.model.block_size, gen).to(device)
        logits = model(batch[:, :-1])  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
        info = {"train_ce": running}
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            info["held_out_ce"] = held_out_ce(model, corpus.held_out, device)
            curve["step"].append(step + 1)
            curve["train_ce"].append(running)
            curve["held_out_ce"].append(info["held_out_ce"])
        if on_step is not None:
            on_step(step + 1, cfg.steps, info)
    seconds = time.perf_counter() - t0
    model.eval()
    ce = curve["held_out_ce"][-1]
    record = {"train_config": asdict(cfg), "n_params": model.n_params(), "held_out_ce": ce,
              "held_out_ppl": math.exp(ce), "held_out_tokens": corpus.held_out.numel(),
              "train_tokens": corpus.train.numel(), "curve": curve, "seconds": seconds,
              "tokens_per_s": cfg.steps * cfg.batch_size * cfg.model.block_size / seconds,
              "corpus_sha256": corpus.sha256, "torch": torch.__version__, "device": str(device)}
    return model, record


def write_teacher(model: GPT, record: dict, weights: Path = TEACHER_PATH,
                  record_path: Path = RECORD_PATH) -> None:
    save(model.cpu(), weights, held_out_ppl=record["held_out_ppl"])
    Path(record_path).write_text(json.dumps(record, indent=1) + "\n")


def load_teacher(device: str | torch.device = "cpu") -> GPT:
    """The shipped teacher (eval mode, no gradients needed)."""
    if not TEACHER_PATH.exists():
        raise FileNotFoundError(f"no teacher at {TEACHER_PATH}: run `python -m kdviz lab build-teacher`")
    model = load(TEACHER_PATH, device)
    model.requires_grad_(False)
    return model


def teacher_record() -> dict:
    return json.loads(RECORD_PATH.read_text())
