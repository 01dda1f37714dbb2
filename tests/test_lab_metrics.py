"""The lab's metrics against independent references: scipy for the KLs and entropies, akl_split for the
head/tail errors, a hand count for distinct-n."""

import numpy as np
import pytest
import torch
from scipy.special import rel_entr
from scipy.stats import entropy

from kdviz.akl import akl_split
from kdviz.lab import metrics


@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(3, 5, 50, generator=g, dtype=torch.float64)
    t = 3 * torch.randn(3, 5, 50, generator=g, dtype=torch.float64)
    y = torch.randint(0, 50, (3, 5), generator=g)
    return s, t, y


def test_held_out_metrics_equal_scipy_per_token_then_window_means(logits):
    s, t, y = logits
    out = metrics.held_out_metrics(s, metrics.HeldOut.of(t, y))
    q, p = torch.softmax(s, -1).numpy(), torch.softmax(t, -1).numpy()
    assert out["fkl"] == pytest.approx(rel_entr(p, q).sum(-1).mean(), rel=1e-6)
    assert out["rkl"] == pytest.approx(rel_entr(q, p).sum(-1).mean(), rel=1e-6)
    assert out["entropy"] == pytest.approx(entropy(q, axis=-1).mean(), rel=1e-6)
    ce = -np.log(np.take_along_axis(q, y.numpy()[..., None], -1))[..., 0]
    assert out["ce"] == pytest.approx(ce.mean(), rel=1e-6)
    assert out["ce_se"] == pytest.approx(ce.mean(-1).std(ddof=1) / np.sqrt(3), rel=1e-5)
    assert out["top1"] == pytest.approx((q.argmax(-1) == p.argmax(-1)).mean())


def test_head_and_tail_errors_are_akl_splits_gaps(logits):
    s, t, y = logits
    out = metrics.held_out_metrics(s, metrics.HeldOut.of(t, y, 0.5))
    split = akl_split(torch.softmax(t, -1), torch.softmax(s, -1), 0.5)
    assert out["head_err"] == pytest.approx(split["g_head"].mean().item(), rel=1e-6)
    assert out["tail_err"] == pytest.approx(split["g_tail"].mean().item(), rel=1e-6)


def test_a_student_equal_to_the_teacher_has_zero_divergence_and_full_agreement(logits):
    _, t, y = logits
    out = metrics.held_out_metrics(t + 7.0, metrics.HeldOut.of(t, y))  # shifted logits: same q
    assert out["fkl"] == pytest.approx(0, abs=1e-6) and out["rkl"] == pytest.approx(0, abs=1e-6)  # float32
    assert out["top1"] == 1.0 and out["head_err"] == pytest.approx(0, abs=1e-6)


def test_distinct_n_counts_unique_ngrams_over_all_ngrams():
    seqs = [[1, 2, 1, 2], [1, 2, 3]]  # bigrams (1,2) (2,1) (1,2) | (1,2) (2,3): 3 unique of 5
    assert metrics.distinct_n(seqs, 2) == pytest.approx(3 / 5)
    assert metrics.distinct_n(seqs, 1) == pytest.approx(3 / 7)
    with pytest.raises(ValueError, match="no 3-grams"):
        metrics.distinct_n([[1, 2]], 3)
