"""The lab's corpus, tokenizer and fixed train / held-out split.

The text is the Python documentation that ships with every CPython (``pydoc_data.topics``, about
465 KB of English prose and code in 79 topics): nothing is downloaded. Each topic is cut at the
line boundary nearest to 90% of its length; the first parts are the training text, the last parts
the held-out text, so both cover every topic and the split never changes.

The tokenizer is a byte-level BPE (GPT-2's scheme, the ``tokenizers`` package) with
:data:`VOCAB_SIZE` tokens, trained on the training text by :func:`train_tokenizer`
(``scripts/build_lab_tokenizer.py`` writes ``assets/tokenizer.json``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

ASSETS = Path(__file__).resolve().parent / "assets"
TOKENIZER_PATH = ASSETS / "tokenizer.json"
VOCAB_SIZE = 2048  # byte-level BPE: 256 bytes + merges, an LLM-like long tail at laptop scale
EOT = "<|endoftext|>"  # separates topics; the only special token
HELD_OUT_FRACTION = 0.1


@dataclass(frozen=True)
class Corpus:
    """Training and held-out token ids of the corpus (1-D int64 tensors) and the text's digest."""
    train: torch.Tensor  # (N_train,)
    held_out: torch.Tensor  # (N_held_out,)
    sha256: str  # of the raw text, so a record can say which CPython's docs it was measured on


def topics() -> dict[str, str]:
    """CPython's documentation topics, name -> text, in sorted order."""
    from pydoc_data.topics import topics as all_topics

    return {name: all_topics[name] for name in sorted(all_topics)}


def split_texts(fraction: float = HELD_OUT_FRACTION) -> tuple[list[str], list[str]]:
    """Each topic cut at the line start nearest to ``1 - fraction`` of its length: (train, held-out)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"held-out fraction must be in (0, 1), got {fraction!r}")
    train, held_out = [], []
    for text in topics().values():
        target = int(len(text) * (1.0 - fraction))
        cut = text.rfind("\n", 0, target) + 1 or target  # a line start at or before the target
        train.append(text[:cut])
        held_out.append(text[cut:])
    return train, held_out


def corpus_sha256() -> str:
    return hashlib.sha256("".join(topics().values()).encode()).hexdigest()


def train_tokenizer(vocab_size: int = VOCAB_SIZE):
    """A byte-level BPE trained on the training texts only (deterministic for a given corpus)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=[EOT],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(split_texts()[0], trainer=trainer)
    return tok


@lru_cache(maxsize=1)
def load_tokenizer():
    """The shipped tokenizer (``assets/tokenizer.json``)."""
    from tokenizers import Tokenizer

    if not TOKENIZER_PATH.exists():
        raise FileNotFoundError(f"no tokenizer at {TOKENIZER_PATH}: run scripts/build_lab_tokenizer.py")
    return Tokenizer.from_file(str(TOKENIZER_PATH))


def _encode_docs(texts: list[str]) -> torch.Tensor:
    tok = load_tokenizer()
    eot = tok.token_to_id(EOT)
    ids: list[int] = []
    for enc in tok.encode_batch(texts):
        ids += enc.ids + [eot]
    return torch.tensor(ids, dtype=torch.long)


@lru_cache(maxsize=1)
def load_corpus() -> Corpus:
    """The corpus encoded with the shipped tokenizer (cached: about a second the first time)."""
    train, held_out = split_texts()
    return Corpus(_encode_docs(train), _encode_docs(held_out), corpus_sha256())


def decode(ids) -> str:
    return load_tokenizer().decode([int(i) for i in ids])


def random_windows(ids: torch.Tensor, batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """``batch`` windows of ``length + 1`` consecutive tokens at random offsets: (batch, length + 1)."""
    if ids.numel() <= length + 1:
        raise ValueError(f"need more than {length + 1} tokens for windows of {length}, got {ids.numel()}")
    starts = torch.randint(0, ids.numel() - length - 1, (batch,), generator=generator)
    return torch.stack([ids[s:s + length + 1] for s in starts.tolist()])


def fixed_windows(ids: torch.Tensor, count: int, length: int) -> torch.Tensor:
    """``count`` evenly spaced windows of ``length + 1`` tokens: the same held-out set every time."""
    if ids.numel() <= length + 1:
        raise ValueError(f"need more than {length + 1} tokens for windows of {length}, got {ids.numel()}")
    starts = torch.linspace(0, ids.numel() - length - 1, count).long()
    return torch.stack([ids[s:s + length + 1] for s in starts.tolist()])
