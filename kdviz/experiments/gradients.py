"""Lesson "Gradients": how hard each divergence pushes on a token, from the seed's slides.

Two views:

* the single-token coefficient ``c`` of ``grad q(y*)`` (seed: KL's ``-1/q`` explodes for rare tokens,
  TVD's is ``-1/p`` or 0, skew KL's is ``-(1-alpha)/q~``), as a function of ``q(y*)`` for a given
  ``p(y*)`` (:func:`kdviz.analysis.gradient_coefficient`, from the registry's gradients);
* for a whole student ``q = softmax(z)``, the gradient of each divergence w.r.t. every logit
  (:func:`kdviz.analysis.logit_gradients`), classes sorted by teacher probability so that head and
  tail (AKL's split) can be told apart.

:func:`gradients` takes plain values and returns a :class:`GradientsResult` of numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kdviz.akl import akl_split
from kdviz.analysis import COEFFICIENT_NAMES, gradient_coefficient, logit_gradients
from kdviz.divergences import get_spec, spec_value_and_grad
from kdviz.experiments.head_tail import DIVERGENCE_OPTIONS, MARGIN, teacher
from kdviz.families import SoftmaxStudent
from kdviz.fitting import FitConfig, fit, resolve_params
from kdviz.i18n import N_, _, listing, sentences

DEFAULT_NAMES = COEFFICIENT_NAMES  # fkl rkl tvd skl srkl: the seed's slides
Q_MIN = 1e-4  # left end of the q(y*) axis
N_POINTS = 400  # log-spaced q values
SEED_NOTE = N_(
    "The curves use the exact derivatives. The seed's slides differ in two places: reverse KL's bracket "
    "reads log(q/p) **− 1** instead of **+ 1**, and skew reverse KL's last term reads **α/p̃** instead of "
    "**αq/p̃**. RKL's two forms differ by 2/p(y\\*), whose expectation over y\\* ~ p is "
    "2 Σ_y ∇q(y) = 0: the typo cancels in the full gradient. SRKL's does not.")


@dataclass
class GradientsResult:
    """Single-token coefficients and the per-class logit gradients of one student."""

    q: np.ndarray  # (N,) log-spaced values of q(y*)
    p_star: float  # the teacher's probability of the token, p(y*)
    alpha: float  # skew of SKL / SRKL
    coef_names: list[str]  # divergences with a single-token coefficient (subset of the selection)
    coefficients: np.ndarray  # (Kc, N) coefficient of grad q(y*)
    names: list[str]  # divergences of the logit gradients
    x: np.ndarray  # (V,) class positions
    p: np.ndarray  # (V,) teacher
    q_student: np.ndarray  # (V,) the student's probabilities
    head_mask: np.ndarray  # (V,) AKL's head of p (boundary mu)
    grads: np.ndarray  # (K, V) dD/dz per class
    grads_q: np.ndarray  # (K, V) dD/dq per class (before the softmax): the per-class coefficient
    values: np.ndarray  # (K,) D(p, q) of the student
    logits: np.ndarray  # (V,) the student's logits z
    student: str  # what the student is, in words
    diverged: bool  # the fit that produced the student hit a non-finite loss

    @property
    def order(self) -> np.ndarray:
        """Class indices by descending teacher probability (stable: ties keep class order)."""
        return np.argsort(-self.p, kind="stable")

    def head_share_of_push(self) -> np.ndarray:
        """Share of each divergence's gradient magnitude that sits on the head: ``(K,)``."""
        mag = np.abs(self.grads)
        total = mag.sum(-1)
        return np.where(total > 0, (mag * self.head_mask).sum(-1) / np.where(total > 0, total, 1.0), np.nan)

    def export(self) -> tuple[dict, dict]:
        """``(CSV columns, JSON data)`` of the page's downloads: dD/dz per class (teacher order); the
        single-token coefficients, the head's share of the push and the takeaway."""
        order = self.order
        table = {"rank": np.arange(1, len(order) + 1), "class": self.x[order], "p": self.p[order],
                 "q": self.q_student[order], "head": self.head_mask[order].astype(int)}
        table |= {f"dD_dz_{nm}": g[order] for nm, g in zip(self.names, self.grads)}
        coefficients = {"q": self.q, **dict(zip(self.coef_names, self.coefficients))}
        return table, {"student": self.student, "coefficients": coefficients, "per_class": table,
                       "head_share_of_push": dict(zip(self.names, self.head_share_of_push())),
                       "takeaway": takeaway(self)}


def coefficient_curves(names, p_star: float, alpha: float, q_min: float = Q_MIN, n: int = N_POINTS):
    """``(q (N,), values (K, N))``: the coefficient of ``grad q(y*)`` for each name over ``q``."""
    if not (0 < p_star <= 1):
        raise ValueError(f"p(y*) must be in (0, 1], got {p_star!r}")
    if not (0 <= alpha <= 1):
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    q = np.logspace(np.log10(q_min), 0, n)
    return q, np.array([gradient_coefficient(nm, q, p_star, alpha) for nm in names]).reshape(len(names), n)


def gradients(p_star: float = 0.1, alpha: float = 0.1, names: tuple[str, ...] = DEFAULT_NAMES, *,
              preset: str = "zipf", n_classes: int = 50, zipf_exponent: float = 1.2, dirichlet_seed: int = 0,
              student: str = "random", fit_divergence: str = "fkl", fit_steps: int = 20, lr: float = 0.1,
              seed: int = 1, mu: float = 0.5) -> GradientsResult:
    """Coefficient curves for ``p_star`` and ``alpha``, and the logit gradients of a student.

    ``student``: ``"random"`` (logits uniform in [0, 1) from ``seed``, AKL's start) or ``"fit"``
    (that start after ``fit_steps`` Adam steps of ``fit_divergence`` at ``lr``).
    """
    names = tuple(names)
    if not names or any(n not in DIVERGENCE_OPTIONS for n in names):
        raise ValueError(f"pick one or more of {list(DIVERGENCE_OPTIONS)}, got {list(names)!r}")
    if student not in ("random", "fit"):
        raise ValueError(f"student must be 'random' or 'fit', got {student!r}")
    coef_names = [n for n in names if n in COEFFICIENT_NAMES]
    q, coefficients = coefficient_curves(coef_names, p_star, alpha)

    x, p = teacher(preset, n_classes, zipf_exponent, dirichlet_seed)
    family = SoftmaxStudent(len(p), "random", seed)
    logits = family.init_params()  # (V,)
    description, diverged = _("random logits in [0, 1) (seed {seed})").format(seed=seed), False
    if student == "fit":
        res = fit(np.log(p), family, logits, [fit_divergence],
                  FitConfig(steps=int(fit_steps), lr=float(lr), n_frames=2))
        logits = torch.as_tensor(res.final_params[0])
        diverged = bool(res.diverged_at[0] >= 0)
        description = _("after {steps} Adam steps of {divergence} (lr {lr:g}) from seed {seed}").format(
            steps=fit_steps, divergence=get_spec(fit_divergence).display_label, lr=lr, seed=seed)
    kwargs = {"alpha": float(alpha), "akl": {"mu": float(mu)}}
    grads = logit_gradients(p, logits.numpy(), names, kwargs)
    values, grads_q = probability_gradients(p, logits.numpy(), names, kwargs)
    p_t = torch.as_tensor(p)
    head = akl_split(p_t, p_t, mu)["head_mask"].numpy()
    return GradientsResult(q=q, p_star=float(p_star), alpha=float(alpha), coef_names=coef_names,
                           coefficients=coefficients, names=list(names), x=x, p=p,
                           q_student=torch.softmax(logits, -1).numpy(), head_mask=head, grads=grads,
                           grads_q=grads_q, values=values, logits=logits.numpy(), student=description,
                           diverged=diverged)


def probability_gradients(p, logits, names, params) -> tuple[np.ndarray, np.ndarray]:
    """``(D(p, q) (K,), dD/dq (K, V))`` at ``q = softmax(logits)``: the registry's gradient w.r.t.
    ``log q`` divided by ``q``. Through the softmax, ``dD/dz_y = q_y (dD/dq_y - sum_v q_v dD/dq_v)``:
    for forward KL, ``dD/dq_y = -p_y/q_y`` becomes ``q_y - p_y``."""
    log_p = torch.log(torch.as_tensor(p, dtype=torch.float64))
    log_q = torch.log_softmax(torch.as_tensor(logits, dtype=torch.float64), -1)
    values, grads = [], []
    for name, kw in zip(names, resolve_params(names, params)):
        v, g = spec_value_and_grad(get_spec(name), log_p, log_q, kw)
        values.append(float(v))
        grads.append((g / log_q.exp()).numpy())
    return np.array(values), np.stack(grads)


# --------------------------------------------------------------------------- the takeaway
def _at(res: GradientsResult, name: str, where: int) -> float:
    return float(res.coefficients[res.coef_names.index(name), where])


def _num(v: float) -> str:
    """-10000 as "-10,000", -59.077 as "-59.1", -0.0 as "0"."""
    if v == 0:
        return "0"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def link_text(res: GradientsResult, name: str) -> str:
    """The two views of one divergence linked: where its coefficient dD/dq is largest, where its push
    on the logits dD/dz is largest, stated with ranks (1 = the teacher's most likely class)."""
    k, rank = res.names.index(name), np.empty(len(res.p), dtype=int)
    rank[res.order] = np.arange(1, len(res.p) + 1)
    iq, iz = int(np.argmax(np.abs(res.grads_q[k]))), int(np.argmax(np.abs(res.grads[k])))
    text = _("{divergence}: the largest coefficient ∂D/∂q is {coef}, on the class of rank {rank_q} "
             "(teacher p = {p_q:.3g}, student q = {q_q:.3g}). The softmax multiplies each class's "
             "coefficient by its q (∂D/∂z_y = q_y (∂D/∂q_y − Σ_v q_v ∂D/∂q_v)), so the largest push on a "
             "logit, ∂D/∂z = {push}, is on rank {rank_z} (p = {p_z:.3g}, q = {q_z:.3g}).").format(
        divergence=get_spec(name).display_label, coef=_num(res.grads_q[k, iq]), rank_q=rank[iq],
        p_q=res.p[iq], q_q=res.q_student[iq], push=_num(res.grads[k, iz]), rank_z=rank[iz], p_z=res.p[iz],
        q_z=res.q_student[iz])
    if name == "fkl":
        text += " " + _("For forward KL, −p/q times q is −p: ∂D/∂z = q − p, bounded by the teacher's p, so "
                        "the head (large p) gets the largest pushes although the coefficient is largest "
                        "where q is small.")
    return text


def takeaway(res: GradientsResult) -> str:
    """The page's "what you should see", computed from ``res``."""
    parts = []
    have = set(res.coef_names)
    lab = {n: get_spec(n).display_label for n in res.names}
    if have:
        at = listing(f"{lab[n]} {_num(_at(res, n, 0))}" for n in res.coef_names)
        parts.append(_("For a token the student almost never produces (q(y*) = {q:.0e}) that the teacher "
                       "gives p(y*) = {p:g}, the coefficients of ∇q(y*) are: {values}.").format(
            q=res.q[0], p=res.p_star, values=at))
        if "fkl" in have and ({"tvd", "skl"} & have):
            tamed = [n for n in ("tvd", "skl") if n in have]
            ratio = listing(_("{ratio:.0f}× {divergence}'s").format(
                ratio=abs(_at(res, "fkl", 0) / _at(res, n, 0)), divergence=lab[n])
                for n in tamed if _at(res, n, 0) != 0)
            if ratio:
                parts.append(_("Forward KL's −1/q is {ratios} there: tokens rare *under the student* "
                               "(small q(y*)) that the teacher produces dominate its coefficient.").format(
                    ratios=ratio))
        if "tvd" in have:
            parts.append(_("TVD's coefficient is 0 wherever q ≥ p: an overestimated token gets no push."))
    share = res.head_share_of_push()
    ranked = sorted(zip(res.names, share), key=lambda t: -t[1] if np.isfinite(t[1]) else np.inf)
    listed = listing(f"{lab[n]} {s:.2f}" for n, s in ranked)
    gap = ranked[0][1] - ranked[-1][1] if len(ranked) > 1 else np.nan
    verdict = (_("{top} puts the largest share of its push on the head, {bottom} the smallest").format(
                   top=lab[ranked[0][0]], bottom=lab[ranked[-1][0]]) if gap > MARGIN else
               _("the shares differ by at most {margin:g}: too small to call").format(margin=MARGIN)
               if np.isfinite(gap) else "")
    if verdict:
        parts.append(_("For the student shown ({student}), the share of each gradient's magnitude ∂D/∂z on "
                       "the head classes is {shares}: {verdict}.").format(
            student=res.student, shares=listed, verdict=verdict))
    else:
        parts.append(_("For the student shown ({student}), the share of each gradient's magnitude ∂D/∂z on "
                       "the head classes is {shares}.").format(student=res.student, shares=listed))
    return sentences(parts)
