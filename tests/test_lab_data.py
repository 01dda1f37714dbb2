"""The lab's corpus, tokenizer and split: shipped tokenizer = retrained one, a fixed disjoint split,
lossless byte-level round trips."""

import json

import pytest
import torch

from kdviz.lab import data


def test_shipped_tokenizer_is_what_the_build_script_trains_on_the_training_split():
    shipped = json.loads(data.TOKENIZER_PATH.read_text())
    retrained = json.loads(data.train_tokenizer().to_str())
    assert retrained["model"]["vocab"] == shipped["model"]["vocab"]
    assert retrained["model"]["merges"] == shipped["model"]["merges"]


def test_vocabulary_has_the_configured_size_and_one_special_token():
    tok = data.load_tokenizer()
    assert tok.get_vocab_size() == data.VOCAB_SIZE
    assert tok.token_to_id(data.EOT) is not None


@pytest.mark.parametrize("text", ["def f(x):\n    return x ** 2  # ünïcode ✓", "\t\x00 raw bytes \x7f", ""])
def test_byte_level_bpe_round_trips_any_text(text):
    tok = data.load_tokenizer()
    assert tok.decode(tok.encode(text).ids) == text


def test_split_cuts_every_topic_once_at_a_line_start_near_ninety_percent():
    train, held_out = data.split_texts()
    topics = list(data.topics().values())
    assert len(train) == len(held_out) == len(topics) > 50
    for a, b, full in zip(train, held_out, topics):
        assert a + b == full
        assert a == "" or a.endswith("\n") or not b
    frac = sum(map(len, held_out)) / sum(map(len, topics))
    assert 0.08 < frac < 0.12, frac


def test_held_out_tokens_are_fixed_and_not_a_copy_of_training_text():
    corpus = data.load_corpus()
    assert corpus.train.dtype == torch.long and corpus.train.numel() > 5 * corpus.held_out.numel() > 0
    assert int(corpus.train.max()) < data.VOCAB_SIZE
    train_text = "".join(data.split_texts()[0])
    held = data.decode(corpus.held_out[:200])
    assert held.split(data.EOT)[0][:120] not in train_text
    a = data.fixed_windows(corpus.held_out, 8, 64)
    assert torch.equal(a, data.fixed_windows(corpus.held_out, 8, 64)) and a.shape == (8, 65)


def test_random_windows_are_reproducible_from_the_generator_and_reject_a_short_stream():
    ids = torch.arange(1000)
    w1 = data.random_windows(ids, 4, 16, torch.Generator().manual_seed(3))
    w2 = data.random_windows(ids, 4, 16, torch.Generator().manual_seed(3))
    assert torch.equal(w1, w2) and torch.equal(w1[:, 1:] - w1[:, :-1], torch.ones(4, 16, dtype=torch.long))
    with pytest.raises(ValueError, match="need more than"):
        data.random_windows(torch.arange(10), 2, 16, torch.Generator())
