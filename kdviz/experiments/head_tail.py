"""Lesson "Head vs tail" (AKL, Wu et al. 2024, Fig. 2): FKL works on the head first, RKL on the tail.

A softmax student with free logits is fitted to a discrete teacher (AKL's toys, a Zipf tail, a
seeded Dirichlet draw, or an uploaded vector) under several divergences from the same start.
AKL's split (classes holding the first ``mu`` of the teacher's mass are the head) turns every
trajectory into a head error and a tail error, ``sum |p - q|`` over each part. The robust form of
the paper's claim (references.md) is the *share* of the early error reduction that falls on the
head: larger for FKL than for RKL, clearly under SGD, barely under Adam.

Everything here is plain values in, numpy arrays out (:func:`head_tail`); :func:`parse_teacher_file`
turns an uploaded CSV/NPY into a teacher or a ValueError that says what is wrong.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from kdviz.akl import akl_split
from kdviz.divergences import get_spec
from kdviz.families import MAX_CLASSES, SoftmaxStudent, discrete_teacher, teacher_from_array
from kdviz.fitting import FitConfig, FitResult, fit
from kdviz.i18n import _, listing, ngettext, sentences

DIVERGENCE_OPTIONS = ("fkl", "rkl", "jsd", "tvd", "skl", "srkl", "fkl_rkl", "akl")  # KL-type + TVD
DEFAULT_DIVERGENCES = ("fkl", "rkl", "akl")
AKL_PRESETS = ("akl_bimodal", "akl_unimodal")  # defined on the paper's 50 classes
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # 5 MB
FRAME_BUDGET = 2_000_000  # K * F * V student probabilities kept (16 MB of float64)
MIN_FRAMES = 101  # frames kept even for big uploads (the animation shows up to 100)
CONVERGED_TVD = 0.01  # "has converged" in the takeaway: TVD(p, q) below this
MARGIN = 0.03  # head shares closer than this are "too small to call"
N_TEACHERS = 20  # random long-tailed teachers of the robustness check
ZIPF_RANGE = (0.8, 1.6)  # their exponents: p ∝ rank^-s, the ranks shuffled over the classes
# The lesson's two settings, (optimiser, learning rate): the seed's claim, and AKL's own setting
SETTINGS = {"claim": ("sgd", 1.0), "contrast": ("adam", 0.1)}
KIND_OPTIONS = {"auto": "auto", "probabilities": "probs", "logits": "logits"}  # UI label -> kind


@dataclass
class HeadTailResult:
    """The teacher, AKL's split and one fit per divergence (``fit.names``)."""

    x: np.ndarray  # (V,) class positions (AKL's toys: 0, 2, ..., 98; otherwise 0..V-1)
    p: np.ndarray  # (V,) teacher probabilities
    head_mask: np.ndarray  # (V,) bool, AKL's head of p for boundary mu
    mu: float
    optimizer: str
    lr: float
    fit: FitResult  # head_error / tail_error / w_head (K, S+1), frames (K, F, V)

    @property
    def names(self) -> list[str]:
        return self.fit.names

    @property
    def steps(self) -> int:
        return self.fit.loss.shape[1] - 1

    @property
    def tvd(self) -> np.ndarray:
        """TVD(p, q_t) = (head error + tail error) / 2 at every step: ``(K, S+1)``."""
        return 0.5 * (self.fit.head_error + self.fit.tail_error)

    @property
    def head_threshold(self) -> float:
        """The smallest teacher probability in the head (the boundary drawn on the bars)."""
        return float(self.p[self.head_mask].min())

    def frame_index(self, step: int) -> int:
        """Index of the kept frame nearest to ``step`` (all steps are kept unless V*K*S is huge)."""
        return int(np.abs(self.fit.frame_steps - step).argmin())

    def initial_head_share(self) -> float:
        """Share of the *starting* error that sits on the head: what the head share would be if
        every class's error shrank at the same rate (the baseline drawn on the share chart)."""
        h, t = self.fit.head_error[0, 0], self.fit.tail_error[0, 0]
        return float(h / (h + t)) if h + t > 0 else math.nan

    def export(self, share_steps: int) -> tuple[dict, dict]:
        """``(CSV columns, JSON data)`` of the page's downloads: every curve per step; the teacher,
        the split, the head shares over the first ``share_steps`` steps and the final students."""
        csv = {"step": np.arange(self.steps + 1)}
        for k, nm in enumerate(self.names):
            csv |= {f"{nm}_head_error": self.fit.head_error[k], f"{nm}_tail_error": self.fit.tail_error[k],
                    f"{nm}_w_head": self.fit.w_head[k], f"{nm}_tvd": self.tvd[k],
                    f"{nm}_loss": self.fit.loss[k]}
        return csv, {"x": self.x, "p": self.p, "head_mask": self.head_mask,
                     "head_share": dict(zip(self.names, self.fit.head_share(share_steps))),
                     "final_q": dict(zip(self.names, self.fit.final_q)),
                     "diverged_at": dict(zip(self.names, self.fit.diverged_at)),
                     "takeaway": takeaway(self, share_steps)}


def teacher(preset: str = "akl_bimodal", n_classes: int = 50, zipf_exponent: float = 1.2,
            dirichlet_seed: int = 0,
            values: tuple[float, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(x, p)`` of a discrete preset, or of ``values`` (already a probability vector) if given.

    AKL's two toys are defined on 50 classes and ignore ``n_classes``."""
    if values is not None:
        p = teacher_from_array(values, "probs")
        return np.arange(len(p), dtype=float), p
    kwargs = {"zipf": {"exponent": zipf_exponent}, "dirichlet": {"seed": int(dirichlet_seed)}}.get(preset, {})
    n = 50 if preset in AKL_PRESETS else n_classes
    __, p = discrete_teacher(preset, n, **kwargs)
    return np.arange(n, dtype=float), p  # classes 0..V-1 (AKL's toys place them at 0, 2, ..., 98)


def random_teachers(n_teachers: int = N_TEACHERS, n_classes: int = 50, seed: int = 0) -> np.ndarray:
    """``(T, V)`` random long-tailed teachers: ``p ∝ rank^-s`` with ``s`` uniform in ZIPF_RANGE and
    the ranks shuffled over the classes (so the head is not always the first classes)."""
    gen = np.random.default_rng(seed)
    ranks = np.stack([gen.permutation(n_classes) for __ in range(n_teachers)]) + 1.0  # (T, V)
    w = ranks ** -gen.uniform(*ZIPF_RANGE, (n_teachers, 1))
    return w / w.sum(-1, keepdims=True)


@dataclass
class TeachersResult:
    """FKL's and RKL's head shares on several random teachers, from the page's start and optimiser."""

    fkl: np.ndarray  # (T,) FKL's head share over the first ``steps`` steps
    rkl: np.ndarray  # (T,) RKL's
    steps: int

    def counts(self, margin: float = MARGIN) -> tuple[int, int, int]:
        """``(FKL's share larger by more than margin, RKL's larger by more, within margin)``."""
        d = self.fkl - self.rkl
        return int((d > margin).sum()), int((d < -margin).sum()), int((np.abs(d) <= margin).sum())


def many_teachers(n_steps: int = 10, *, init: str = "uniform", seed: int = 1, optimizer: str = "sgd",
                  lr: float = 1.0, mu: float = 0.5, n_teachers: int = N_TEACHERS) -> TeachersResult:
    """FKL and RKL on ``n_teachers`` random long-tailed teachers (50 classes): one batched fit of
    ``2 * n_teachers`` rows (row k has its own teacher), ``n_steps`` steps from the same start."""
    p = random_teachers(n_teachers)  # (T, V)
    log_p = np.log(np.concatenate([p, p]))  # (2T, V): the FKL rows, then the RKL rows
    student = SoftmaxStudent(p.shape[1], init, seed)
    config = FitConfig(steps=int(n_steps), lr=float(lr), optimizer=optimizer, n_frames=2, mu=float(mu))
    share = fit(log_p, student, student.init_params(), ["fkl"] * n_teachers + ["rkl"] * n_teachers,
                config).head_share(n_steps)
    return TeachersResult(fkl=share[:n_teachers], rkl=share[n_teachers:], steps=int(n_steps))


def head_tail(preset: str = "akl_bimodal", names: tuple[str, ...] = DEFAULT_DIVERGENCES, *,
              n_classes: int = 50, zipf_exponent: float = 1.2, dirichlet_seed: int = 0,
              values: tuple[float, ...] | None = None, init: str = "uniform", seed: int = 1,
              optimizer: str = "sgd", lr: float = 1.0, steps: int = 200, mu: float = 0.5) -> HeadTailResult:
    """Fit one softmax student per divergence to the teacher, all from the same start.

    Defaults show the seed's claim on AKL's Fig. 2 toy: bimodal teacher on 50 classes, uniform start
    (all logits 0), SGD, lr 1, 200 full-batch steps, head/tail boundary mu = 0.5. (AKL's own setting,
    logits uniform in [0, 1) and Adam at lr 0.1, is the page's contrast.) Every step's student is kept
    as a frame when ``K * (steps + 1) * V <= FRAME_BUDGET``; otherwise evenly spaced frames.
    """
    names = tuple(names)
    unknown = [n for n in names if n not in DIVERGENCE_OPTIONS]
    if not names or unknown:
        raise ValueError(f"pick one or more of {list(DIVERGENCE_OPTIONS)}, got {list(names)!r}")
    x, p = teacher(preset, n_classes, zipf_exponent, dirichlet_seed, values)
    student = SoftmaxStudent(len(p), init, seed)
    n_frames = min(steps + 1, max(MIN_FRAMES, FRAME_BUDGET // (len(names) * len(p))))
    config = FitConfig(steps=int(steps), lr=float(lr), optimizer=optimizer, n_frames=n_frames, mu=float(mu))
    with np.errstate(divide="ignore"):  # log 0 = -inf is how the engine reads a zero class
        log_p = np.log(p)
    result = fit(log_p, student, student.init_params(), names, config, params={"akl": {"mu": float(mu)}})
    head = akl_split(torch.as_tensor(p), torch.as_tensor(p), mu)["head_mask"].numpy()
    return HeadTailResult(x=x, p=p, head_mask=head, mu=float(mu), optimizer=optimizer, lr=float(lr),
                          fit=result)


# --------------------------------------------------------------------------- the page's text
def _fmt(v: float) -> str:
    return _("n/a") if not np.isfinite(v) else f"{v:.2f}"


def _labels(names) -> str:
    return listing(get_spec(k).display_label for k in names)


def optimiser_words(optimizer: str, lr: float) -> str:
    """"SGD, lr 1" / "Adam, lr 0.1": the words the page's text uses for the chosen optimiser."""
    return _("{optimizer}, lr {lr:g}").format(optimizer="Adam" if optimizer == "adam" else "SGD", lr=lr)


def compare(f: float, r: float, margin: float = MARGIN) -> str:
    """The verdict on FKL's head share ``f`` vs RKL's ``r``: a difference only beyond ``margin``."""
    if not (np.isfinite(f) and np.isfinite(r)):
        return _("the total error of FKL or RKL did not decrease, so there is no share to compare")
    if f - r > margin:
        return _("FKL puts more of its early progress on the head than RKL (by {diff:.2f}, more than "
                 "{margin:g})").format(diff=f - r, margin=margin)
    if r - f > margin:
        return _("here RKL, not FKL, puts more of its early progress on the head (by {diff:.2f})").format(
            diff=r - f)
    return _("the difference, {diff:.2f}, is within {margin:g}: too small to call").format(diff=abs(f - r),
                                                                                         margin=margin)


def takeaway(res: HeadTailResult, n: int, teachers: TeachersResult | None = None) -> str:
    """The page's "what you should see", computed from ``res`` (and the random ``teachers``) so that
    it matches the figures; a difference is asserted only beyond MARGIN."""
    share = dict(zip(res.names, res.fit.head_share(n)))
    n = min(n, res.steps)
    parts = []
    if "fkl" in share and "rkl" in share:
        f, r = share["fkl"], share["rkl"]
        parts.append(_("Over the first {n} steps ({optimiser}), FKL's head share is {f} and RKL's {r}: "
                       "{verdict}.").format(n=n, optimiser=optimiser_words(res.optimizer, res.lr), f=_fmt(f),
                                            r=_fmt(r), verdict=compare(f, r)))
    else:
        listed = listing(f"{get_spec(k).display_label} {_fmt(v)}" for k, v in share.items())
        parts.append(_("Head share over the first {n} steps: {listed} (add FKL and RKL to compare "
                       "them).").format(n=n, listed=listed))
    base = res.initial_head_share()
    if np.isfinite(base):
        above = [k for k, v in share.items() if v > base + MARGIN]
        below = [k for k, v in share.items() if v < base - MARGIN]
        said = [ngettext("{names} shrinks the head's error relatively faster than the tail's",
                         "{names} shrink the head's error relatively faster than the tail's",
                         len(above)).format(names=_labels(above))] if above else []
        said += [ngettext("{names} shrinks the tail's error relatively faster",
                          "{names} shrink the tail's error relatively faster",
                          len(below)).format(names=_labels(below))] if below else []
        verdict = "; ".join(said) if said else _("no share differs from it by more than {margin:g}").format(
            margin=MARGIN)
        parts.append(_("Against {base}, the head's part of the starting error (the share if both shrank at "
                       "the same rate): {verdict}.").format(base=_fmt(base), verdict=verdict))
    if teachers is not None:
        more, less, tie = teachers.counts()
        parts.append(_("On {n} random long-tailed teachers, FKL's head share exceeds RKL's by more than "
                       "{margin:g} on {more}, RKL's exceeds FKL's on {less}, and {tie} are too close to "
                       "call.").format(n=len(teachers.fkl), margin=MARGIN, more=more, less=less, tie=tie))
    final = res.tvd[:, -1]
    tvds = listing(f"{get_spec(k).display_label} {v:.3f}" for k, v in zip(res.names, final))
    if (final < CONVERGED_TVD).all():
        parts.append(_("After {steps} steps all of them reach p (TVD to p: {tvds}): the difference is only "
                       "in the early dynamics.").format(steps=res.steps, tvds=tvds))
    else:
        parts.append(_("After {steps} steps the TVD to p is {tvds}; with more steps (or a larger learning "
                       "rate) they all converge to p.").format(steps=res.steps, tvds=tvds))
    return sentences(parts)


def warnings(res: HeadTailResult) -> list[str]:
    """The page's warnings about this run: students whose loss stopped being finite, no tail."""
    out = []
    bad = [_("{name} (step {step})").format(name=get_spec(nm).display_label, step=t)
           for nm, t in zip(res.names, res.fit.diverged_at) if t >= 0]
    zeros = int((res.p == 0).sum())
    if bad and zeros:
        out.append(_("Non-finite loss, curves frozen from there: {names}. The teacher has {zeros} classes "
                     "with p = 0, where reverse-KL terms are infinite.").format(names=listing(bad),
                                                                                 zeros=zeros))
    elif bad:
        out.append(_("Non-finite loss, curves frozen from there: {names}.").format(names=listing(bad)))
    if res.head_mask.all():
        out.append(_("With μ_AKL = {mu:g} every class is head: there is no tail to compare.").format(
            mu=res.mu))
    return out


# --------------------------------------------------------------------------- uploads
_SPLIT = re.compile(r"[,;\s]+")


def _parse_number(token: str, line: int) -> float:
    try:
        return float(token)
    except ValueError:
        raise ValueError(_("line {line}: {token!r} is not a number").format(line=line,
                                                                           token=token[:30])) from None


def _parse_csv(data: bytes) -> np.ndarray:
    lines = data.count(b"\n")  # counted before any decoding or tokenising: a cheap bound on the classes
    if lines > MAX_CLASSES + 1:  # one class a line, plus a header
        raise ValueError(_("the file has {lines} lines; the limit is {max} classes, one a line").format(
            lines=lines, max=MAX_CLASSES))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(_("the file is neither text (CSV) nor a NumPy .npy file")) from None
    rows = [(i + 1, [t for t in _SPLIT.split(line.strip()) if t]) for i, line in enumerate(text.splitlines())]
    rows = [(i, r) for i, r in rows if r]
    if not rows:
        raise ValueError(_("the file is empty: expected one column (or one row) of numbers"))

    def numeric(tok: str) -> bool:
        try:
            float(tok)
            return True
        except ValueError:
            return False

    if not any(numeric(t) for t in rows[0][1]):  # a header line such as "probability"
        rows = rows[1:]
        if not rows:
            raise ValueError(_("the file has a header but no numbers"))
    n_numbers = sum(len(r) for __, r in rows)
    if n_numbers > MAX_CLASSES:
        raise ValueError(_("the file holds {n} numbers; the limit is {max} classes").format(n=n_numbers,
                                                                                      max=MAX_CLASSES))
    widths = {len(r) for __, r in rows}
    if len(rows) > 1 and widths != {1}:
        raise ValueError(_("expected one column (or one row) of numbers, got {rows} rows with {low} to "
                           "{high} columns").format(rows=len(rows), low=min(widths), high=max(widths)))
    return np.array([_parse_number(t, i) for i, r in rows for t in r])


def _parse_npy(data: bytes) -> np.ndarray:
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as err:  # np.load raises ValueError, OSError, EOFError... on damaged files
        raise ValueError(_("not a readable .npy file ({error})").format(error=type(err).__name__)) from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
        raise ValueError(_("the .npy file must hold numbers, got dtype {dtype}").format(
            dtype=getattr(arr, "dtype", type(arr))))
    return arr


def parse_teacher_file(name: str, data: bytes, kind: str = "auto") -> np.ndarray:
    """A teacher probability vector from an uploaded file, or a ValueError saying what is wrong.

    ``name`` decides the format (``.npy``: NumPy, anything else: CSV/text with one column or one
    row of numbers and an optional header line). ``kind`` is ``"auto"``, ``"probs"`` or
    ``"logits"`` (see :func:`kdviz.families.teacher_from_array`). Limits: 5 MB, 2 to
    ``MAX_CLASSES`` classes (a text file's lines are counted before it is parsed), finite values,
    probabilities >= 0 with a finite sum.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(_("the file is {size:.1f} MB; the limit is {max:.0f} MB").format(
            size=len(data) / 1e6, max=MAX_UPLOAD_BYTES / 2**20))
    if not data:
        raise ValueError(_("the file is empty: expected one column (or one row) of numbers"))
    is_npy = name.lower().endswith(".npy") or data[:6] == b"\x93NUMPY"
    arr = _parse_npy(data) if is_npy else _parse_csv(data)
    if np.squeeze(arr).ndim > 1:
        raise ValueError(_("expected one vector of numbers, got an array of shape {shape}").format(
            shape=arr.shape))
    if arr.size > MAX_CLASSES:
        raise ValueError(_("the teacher has {n} classes; the limit is {max}").format(n=arr.size,
                                                                                   max=MAX_CLASSES))
    arr = np.asarray(arr, dtype=float).ravel()
    as_probs = kind == "probs" or (kind == "auto" and (arr >= 0).all())
    with np.errstate(over="ignore"):
        overflows = as_probs and np.isfinite(arr).all() and not np.isfinite(arr.sum())
    if overflows:
        raise ValueError(_("the probabilities (up to {top:.3g}) sum past the largest float; divide them all "
                           "by a common factor").format(top=arr.max()))
    return teacher_from_array(arr, kind)


def sample_csv(n: int = 50) -> str:
    """The expected upload format: a header line and one probability per line (AKL's bimodal toy)."""
    __, p = discrete_teacher("akl_bimodal", n)
    return "probability\n" + "\n".join(f"{v:.8g}" for v in p) + "\n"
