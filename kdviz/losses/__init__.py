r"""The registry's divergences as knowledge-distillation losses on real LLM logits ``(..., V)``.

* :func:`kd_loss` -- per-token ``D(p, q)`` with ``p = softmax(teacher / T)`` (teacher first) and
  ``q = softmax(student / T)``, masks, reductions, and an optional chunked path whose extra memory is
  O(chunk x V). The per-token value is exactly ``DIVERGENCES[name].fn``: the function the lessons
  plot, in log space, in float32 or wider whatever the input dtype.
* :class:`FusedLinearKDLoss` -- the same loss fused with the LM head (Liger's argument order): the
  ``(N, V)`` logits never exist at once.
* :func:`sinkd_loss` -- SinKD's batch-wise log-domain Sinkhorn between the rows' distributions (a
  ``V x V`` ground cost is impossible at V = 150k; SinKD transports between the rows instead).
* :func:`call_example` -- the ``kd_loss(...)`` call that gives a registry divergence on real logits.

Defaults: ``reduction="mean"`` is the sum over valid tokens divided by their number (TRL with
labels, Liger); no T^2 factor unless ``t2_scale=True`` (Hinton et al. 2015).

How to reproduce the other codebases (p teacher, q student, both at temperature T):

============================================  ==============================================================
theirs                                        kdviz
============================================  ==============================================================
TRL ``generalized_jsd_loss(s, t, labels,      ``kd_loss(s, t, "jsd", beta=b, labels=labels, temperature=T)``
beta=b, temperature=T)``, 0 < b < 1           (same mixture ``m = b p + (1-b) q``, same token mean)
TRL, ``beta=0`` (special-cased)               ``kd_loss(s, t, "fkl", ...)``: TRL returns KL(p||q) there,
                                              while the formula (and kdviz's ``jsd``) is 0 at b = 0
TRL, ``beta=1`` (special-cased)               ``kd_loss(s, t, "rkl", ...)``; TRL's endpoints are
                                              discontinuous (TRL #6780)
TRL, no labels, ``reduction="batchmean"``     divides by the batch size B, not by the tokens (TRL #4105):
                                              ``kd_loss(..., reduction="sum") / B``
Liger ``LigerFusedLinearJSDLoss(w_hard,       ``FusedLinearKDLoss("jsd", beta=b, weight_hard_loss=w_hard,
w_soft, beta=b, temperature=T)``              weight_soft_loss=w_soft, temperature=T)``; hard loss = CE on
                                              the raw (T = 1) logits, both / number of valid tokens
Liger ``LigerFusedLinearJSDLoss(beta=0/1)``   ``"fkl"`` / ``"rkl"`` (the same special cases as TRL)
DistiLLM ``js_distance(lam)``                 ``kd_loss(s, t, "jsd", beta=1 - lam)``
DistiLLM ``skewed_forward_kl(lam)``           ``kd_loss(s, t, "skl", alpha=lam)`` + H(p): theirs is the
                                              cross-entropy form ``-sum p log(lam p + (1-lam) q)``;
                                              same gradient, value shifted by the teacher entropy
DistiLLM ``skewed_reverse_kl(lam)``           ``kd_loss(s, t, "srkl", alpha=lam)``
                                              (``KL(q || lam q + (1-lam) p)``, exactly)
MiniLLM / torchtune forward KL                ``kd_loss(s, t, "fkl")`` + H(p) (cross-entropy form)
AKL (``AKL.py``), ``mu``                      ``kd_loss(s, t, "akl", mu=mu)``: head = the fewest top
                                              teacher tokens whose cumulative mass is <= mu (the top token
                                              always), weights g_head, g_tail = sum |p - q| with q
                                              detached; weights (0.5, 0.5) when p == q (theirs: 0/0)
Hinton et al. 2015                            ``kd_loss(..., temperature=T, t2_scale=True)``
SinKD (``loss.py``)                           :func:`sinkd_loss`, see its docstring for the setting
============================================  ==============================================================
"""

from kdviz.losses.fused import FusedLinearKDLoss
from kdviz.losses.sinkd import sinkd_loss
from kdviz.losses.tokens import PER_TOKEN, call_example, kd_loss, per_token_values

__all__ = ["FusedLinearKDLoss", "PER_TOKEN", "call_example", "kd_loss", "per_token_values", "sinkd_loss"]
