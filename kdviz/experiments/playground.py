"""The playground: any teacher, any student, any divergences with any parameters, one batched fit.

Teachers: a Gaussian mixture on a grid over [-10, 10], a discrete preset, or a given probability
vector (an upload). Students: one Gaussian ``N(mu, sigma^2)`` on the teacher's support (which must
be evenly spaced) or free softmax logits. Every requested divergence gets its own student, all
from the same start, fitted at once by :func:`kdviz.fitting.fit`.

:func:`risks` lists what can go wrong with a configuration *before* fitting (the page shows them
as warnings); :func:`run_notes` what went wrong in a run. Nothing is clamped silently: a divergence
that cannot be fitted at this size is dropped with a message that says so.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch

from kdviz.akl import akl_split
from kdviz.divergences import get_spec
from kdviz.experiments import SLOW_TO_FIT as ENTROPIC
from kdviz.experiments.head_tail import AKL_PRESETS
from kdviz.families import (
    GaussianMixture,
    GaussianStudent,
    Grid,
    SoftmaxStudent,
    discrete_teacher,
    teacher_from_array,
)
from kdviz.fitting import FitConfig, FitResult, FitStopped, fit
from kdviz.i18n import N_, _, ngettext
from kdviz.jobs import CANCELLED, PROJECTED, Budget

GMM_RANGE = (-10.0, 10.0)  # the grid of a Gaussian-mixture teacher
GRID_SIZES = (64, 128, 256, 512)
# Divergences with an inner Sinkhorn loop (their parameters include epsilon): every step solves an
# entropic OT problem on a V x V cost matrix, up to 1000 iterations. Beyond this many support
# points a live fit takes minutes: they are dropped (with a message).
MAX_ENTROPIC_POINTS = 128
FRAME_BUDGET = 600_000  # K * F * V student probabilities kept (the animation JSON stays under ~10 MB)
MAX_FRAMES, MIN_FRAMES = 100, 10
STEPS_RANGE = (10, 2000)
TEACHERS = {"gmm": N_("Gaussian mixture"), "preset": N_("Discrete preset"), "upload": N_("Upload a vector")}
STUDENTS = {"gaussian": N_("Gaussian N(μ, σ²)"), "softmax": N_("Softmax (free logits)")}
INITS = {"random": N_("random"), "uniform": N_("uniform")}  # a softmax student's start logits
# A Gaussian wider than this many support widths is flat on the support to ~1e-12: its sigma
# curve stops there (a huge learning rate can push log sigma past float range, exp(710) = inf).
FLAT_SIGMA = 1e6


@dataclass
class PlaygroundResult:
    """One fit per divergence (row k is ``names[k]``), with what the figures need."""

    names: list[str]
    params: dict[str, dict]  # resolved parameters of each divergence
    teacher_kind: str  # "gmm" or "discrete"
    student_kind: str  # "gaussian" or "softmax"
    x: np.ndarray  # (V,) support
    p: np.ndarray  # (V,) teacher probabilities
    step: float  # spacing of the support (density = probability / step)
    fit: FitResult
    head_mask: np.ndarray  # (V,) AKL's head of p (mu of AKL if fitted, else 0.5)
    mu_split: float
    optimizer: str
    lr: float
    seconds: float  # wall time of the fit
    dropped: list[str] = field(default_factory=list)  # requested but not fitted (see risks)
    # A Gaussian student is fitted in student coordinates u on GMM_RANGE (whatever the support),
    # so that one learning rate suits mu and log sigma: x = x[0] + (u - GMM_RANGE[0]) * scale.
    scale: float = 1.0

    @property
    def steps(self) -> int:
        return self.fit.loss.shape[1] - 1

    @property
    def mu(self) -> np.ndarray | None:  # (K, S+1) Gaussian student's mean, in the units of x
        if self.student_kind != "gaussian":
            return None
        return self.x[0] + (self.fit.params[..., 0] - GMM_RANGE[0]) * self.scale

    @property
    def sigma(self) -> np.ndarray | None:  # (K, S+1) ... std, in the units of x (inf past float range)
        if self.student_kind != "gaussian":
            return None
        with np.errstate(over="ignore"):  # exp(> 709) = inf: such steps are past flat_from, never drawn
            return np.exp(self.fit.params[..., 1]) * self.scale

    @property
    def flat_from(self) -> np.ndarray:
        """(K,) first step at which the Gaussian's sigma exceeds FLAT_SIGMA support widths, -1 = never."""
        if self.student_kind != "gaussian":
            return np.full(len(self.names), -1)
        limit = np.log(FLAT_SIGMA * max(float(self.x[-1] - self.x[0]), 1e-12) / self.scale)
        flat = self.fit.params[..., 1] > limit  # compared in log space: no overflow
        return np.where(flat.any(1), flat.argmax(1), -1)

    @property
    def shown_until(self) -> np.ndarray:
        """(K,) number of leading steps whose parameters and loss are drawn (S+1 = all of them)."""
        out = np.full(len(self.names), self.steps + 1)
        for t in (self.fit.diverged_at, self.flat_from):
            out = np.where(t >= 0, np.minimum(out, t), out)
        return out

    @property
    def q_mean(self) -> np.ndarray:
        """(K,) mean of each final student on the support (what moment matching compares)."""
        return self.fit.final_q @ self.x

    @property
    def q_std(self) -> np.ndarray:
        """(K,) std of each final student on the support (a Gaussian cut to the support is
        narrower than its sigma parameter)."""
        return np.sqrt(np.maximum(self.fit.final_q @ self.x**2 - self.q_mean**2, 0.0))  # max: rounding only

    @property
    def final_tvd(self) -> np.ndarray:
        """(K,) TVD of each final student to the teacher."""
        return 0.5 * np.abs(self.fit.final_q - self.p[None, :]).sum(-1)

    @property
    def teacher_mean(self) -> float:
        return float((self.p * self.x).sum())

    @property
    def teacher_std(self) -> float:
        return float(np.sqrt((self.p * (self.x - self.teacher_mean) ** 2).sum()))

    def export(self) -> tuple[dict, dict]:
        """``(CSV columns, JSON data)`` of the page's downloads: teacher and final students on the
        support; every loss curve, final student and divergence step (and mu, sigma if Gaussian)."""
        csv = {"x": self.x, "teacher_p": self.p,
               **{f"q_{n}": self.fit.final_q[k] for k, n in enumerate(self.names)}}
        data = {"names": self.names, "loss": self.fit.loss, "final_q": self.fit.final_q,
                "diverged_at": self.fit.diverged_at}
        return csv, data | ({"mu": self.mu, "sigma": self.sigma} if self.mu is not None else {})


def teacher_distribution(teacher: str = "gmm", *, weights=(0.5, 0.5), means=(-3.0, 3.0), stds=(1.0, 1.0),
                         grid_n: int = 256, preset: str = "akl_bimodal", n_classes: int = 50,
                         zipf_exponent: float = 1.2, dirichlet_seed: int = 0,
                         values: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(x, log_p)`` of the teacher: ``"gmm"`` (mixture on a ``grid_n``-point grid over GMM_RANGE),
    ``"preset"`` (a :data:`kdviz.families.DISCRETE_PRESETS` entry; AKL's toys have 50 classes) or
    ``"values"`` (a probability or logit vector, classes at 0..V-1).

    Log-probabilities, because a narrow mixture component gives grid points whose probability
    underflows to 0 while its log is finite (-20000): reverse KL must see the finite value.
    ``-inf`` marks a class of probability exactly 0 (a discrete teacher).
    """
    if teacher == "gmm":
        if int(grid_n) not in GRID_SIZES:
            raise ValueError(f"grid size must be one of {GRID_SIZES}, got {grid_n!r}")
        mixture = GaussianMixture(tuple(map(float, weights)), tuple(map(float, means)),
                                  tuple(map(float, stds)))
        grid = Grid(*GMM_RANGE, int(grid_n))
        return grid.points().numpy(), mixture.log_prob(grid).numpy()
    if teacher == "preset":
        kwargs = {"zipf": {"exponent": float(zipf_exponent)},
                  "dirichlet": {"seed": int(dirichlet_seed)}}.get(preset, {})
        x, p = discrete_teacher(preset, 50 if preset in AKL_PRESETS else int(n_classes), **kwargs)
        return x, _log(p)
    if teacher == "values":
        if values is None:
            raise ValueError("teacher 'values' needs a vector of probabilities or logits")
        p = teacher_from_array(values, "auto")
        return np.arange(len(p), dtype=float), _log(p)
    raise ValueError(f"teacher must be 'gmm', 'preset' or 'values', got {teacher!r}")


def _log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):  # log 0 = -inf: how the engine reads a class of probability 0
        return np.log(p)


def _spacing(x: np.ndarray) -> float:
    d = np.diff(x)
    if len(d) == 0 or not np.allclose(d, d[0], rtol=1e-6, atol=0):
        raise ValueError("a Gaussian student needs an evenly spaced support")
    return float(d[0])


def resolve(names: Sequence[str], params: Mapping[str, Mapping] | None) -> dict[str, dict]:
    """Each divergence's validated parameters (defaults overridden by ``params[name]``)."""
    params = params or {}
    return {n: get_spec(n).resolve(dict(params.get(n, {}))) for n in names}


def drops(names: Sequence[str], n_points: int) -> list[str]:
    """The requested divergences that are not fitted at this support size (entropic OT, too slow)."""
    return [n for n in names if n in ENTROPIC and n_points > MAX_ENTROPIC_POINTS]


def _value_at(spec, kw, p, q) -> float:
    """The divergence of two small fixed histograms (``nan`` for the transport divergences)."""
    if spec.needs_support:
        return math.nan
    with np.errstate(divide="ignore"):
        log_p, log_q = torch.as_tensor(np.log(p)), torch.as_tensor(np.log(q))
    return float(spec.fn(log_p, log_q,
                         **{k: v for k, v in kw.items() if k in {prm.name for prm in spec.params}}))


def _zero_result(spec, kw) -> bool:
    """True when the divergence is identically 0 at these parameters (a mixture KL with weight 1)."""
    return _value_at(spec, kw, [0.7, 0.2, 0.1], [0.1, 0.3, 0.6]) == 0.0


def _has_plain_reverse_kl(spec, kw) -> bool:
    """True when the divergence contains KL(q || p) unmixed: infinite where p = 0 < q."""
    return math.isinf(_value_at(spec, kw, [1.0, 0.0], [0.5, 0.5]))


def _labels(names: Sequence[str]) -> str:
    """Divergence labels in the viewer's language, as a list in a sentence."""
    return _(", ").join(get_spec(n).display_label for n in names)


def risks(x: np.ndarray, log_p: np.ndarray, names: Sequence[str], params: Mapping[str, Mapping], *,
          student: str, sigma0: float | None = None, optimizer: str = "adam", lr: float = 0.1,
          steps: int = 300) -> list[str]:
    """Warnings about a configuration in plain words (the viewer's language), before fitting it."""
    out = []
    kw = resolve(names, params)
    p = np.exp(log_p)
    dropped = drops(names, len(p))
    if dropped:
        out.append(_("{names}: entropic OT solves a {n}×{n} transport problem at every step, too slow for a "
                     "live fit above {limit} points. Left out of this run: use a grid of {limit} points or "
                     "fewer (or fewer classes) to include it.").format(
            names=_labels(dropped), n=len(p), limit=MAX_ENTROPIC_POINTS))
    for n in names:
        spec = get_spec(n)
        if _zero_result(spec, kw[n]):
            shown = ", ".join(f"{k} = {v:g}" for k, v in kw[n].items() if not isinstance(v, bool))
            out.append(_("{name} with {params} is identically 0: its student will not move.").format(
                name=spec.display_label, params=shown))
    zeros = int(np.isneginf(log_p).sum())
    if zeros:
        bad = [n for n in names if _has_plain_reverse_kl(get_spec(n), kw[n])]
        if bad:
            out.append(ngettext(
                "The teacher has {zeros} class with probability 0 and the student puts mass everywhere: "
                "{names} contain KL(q‖p) and are infinite; those fits stop at step 0.",
                "The teacher has {zeros} classes with probability 0 and the student puts mass everywhere: "
                "{names} contain KL(q‖p) and are infinite; those fits stop at step 0.",
                zeros).format(zeros=zeros, names=_labels(bad)))
    span = float(x.max() - x.min())
    for n in names:
        if n in dropped or "epsilon" not in kw[n]:
            continue
        eps, scale = kw[n]["epsilon"], span ** kw[n].get("order", 1)
        if eps < 1e-3 * scale:
            out.append(_("{name}: epsilon = {eps:g} is tiny next to the cost scale ({scale:.3g}); Sinkhorn "
                         "may stop at its 1000-iteration cap before converging, so the loss and its gradient "
                         "are approximate.").format(name=get_spec(n).display_label, eps=eps, scale=scale))
        elif eps > 10 * scale:
            out.append(_("{name}: epsilon = {eps:g} is large next to the cost scale ({scale:.3g}); the plan "
                         "is almost p⊗q, so the loss barely depends on where the mass is.").format(
                name=get_spec(n).display_label, eps=eps, scale=scale))
    width = GMM_RANGE[1] - GMM_RANGE[0]
    if student == "gaussian" and optimizer == "adam" and lr * steps < 0.5 * width:
        out.append(_("Adam moves the student's μ by about the learning rate per step, in student units where "
                     "the support is {width:g} wide: {steps} steps of {lr:g} cover about {travel:.3g}, not "
                     "half the support. Raise the learning rate or the steps if the student should be able "
                     "to travel.").format(width=width, steps=steps, lr=lr, travel=lr * steps))
    if student == "gaussian" and sigma0 is not None and len(x) > 1 and sigma0 < 0.5 * _spacing(x):
        out.append(_("The start std σ₀ = {sigma0:g} is below half the grid spacing ({spacing:.3g}): the "
                     "start student is a spike on one point.").format(sigma0=sigma0, spacing=_spacing(x)))
    return out


def configure(*, teacher: Mapping, student: Mapping, names: Sequence[str], params: Mapping[str, Mapping],
              optimizer: str, lr: float, steps: int, start: tuple[float, float] | None = None
              ) -> tuple[dict, list[str]]:
    """The keyword arguments of :func:`playground` for the page's controls, and the warnings about
    them (:func:`risks`).

    ``teacher`` and ``student`` hold the keyword arguments of each side; ``start``, for a Gaussian
    student on a discrete teacher (whose supports differ in length), is its start mean and std as
    fractions of the support's width, turned here into ``mu0`` and ``sigma0``. Raises ValueError,
    with a message for the viewer, when there is nothing to fit.
    """
    if teacher.get("teacher") == "gmm" and sum(teacher["weights"]) <= 0:
        raise ValueError(_("The teacher needs a positive weight on at least one component (all weights "
                           "are 0)."))
    x, log_p = teacher_distribution(**teacher)
    student = dict(student)
    if student["student"] == "gaussian" and start is not None:
        width = float(x[-1] - x[0])
        student.update(mu0=float(x[0] + start[0] * width), sigma0=start[1] * width)
    warnings = risks(x, log_p, names, params, student=student["student"], sigma0=student.get("sigma0"),
                     optimizer=optimizer, lr=lr, steps=steps)
    if not [n for n in names if n not in drops(names, len(x))]:
        raise ValueError(_("Nothing left to fit: {names} solve an entropic OT problem at every step, too "
                           "slow for a live fit above {limit} points (this teacher has {n}). Use a smaller "
                           "grid or fewer classes, or add another divergence.").format(
            names=_labels(names), limit=MAX_ENTROPIC_POINTS, n=len(x)))
    params = {n: v for n, v in params.items() if v}  # only the divergences that have parameters
    return dict(**teacher, **student, names=list(names), params=params, optimizer=optimizer, lr=lr,
                steps=steps), warnings


def is_wide(prm) -> bool:
    """True when a parameter's range spans decades (epsilon): a log ladder suits it, not a slider."""
    return prm.low_open or (prm.low > 0 and prm.high / prm.low > 1e3)


def log_ladder(prm) -> list[float]:
    """A 1-2-5 ladder over a wide parameter's range, its default included (for a select slider)."""
    lo = prm.low if prm.low > 0 else prm.high * 1e-9  # an open 0 end: start nine decades below the top
    decades = range(math.floor(math.log10(lo)), math.floor(math.log10(prm.high)) + 1)
    ladder = [float(f"{m * 10.0 ** e:g}") for e in decades for m in (1, 2, 5)]
    return sorted({v for v in ladder if lo <= v <= prm.high} | {float(prm.default)})


def n_frames_for(n_names: int, n_points: int, steps: int) -> int:
    """Frames kept for the animation: MAX_FRAMES unless that exceeds FRAME_BUDGET."""
    return int(min(MAX_FRAMES, steps + 1, max(MIN_FRAMES, FRAME_BUDGET // max(1, n_names * n_points))))


def playground(teacher: str = "gmm", *, student: str = "gaussian", mu0: float = 1.5, sigma0: float = 1.0,
               fixed_sigma: bool = False, init: str = "random", seed: int = 1,
               names: Sequence[str] = ("fkl", "rkl"), params: Mapping[str, Mapping] | None = None,
               optimizer: str = "adam", lr: float = 0.1, steps: int = 300, should_stop=None,
               **teacher_kw) -> PlaygroundResult:
    """Fit one student per divergence in ``names`` (minus :func:`drops`) to the teacher.

    ``teacher`` and ``teacher_kw`` (weights, means, stds, grid_n, preset, n_classes, zipf_exponent,
    dirichlet_seed, values) go to :func:`teacher_distribution`;
    ``mu0``/``sigma0`` are in the units of the support (a Gaussian student); ``params`` maps a
    divergence to its parameters; ``should_stop`` goes to :func:`kdviz.fitting.fit` (a
    :class:`kdviz.jobs.Budget`: the fit raises FitStopped past it). Raises ValueError on invalid
    input (message for the user).
    """
    x, log_p = teacher_distribution(teacher, **teacher_kw)
    p = np.exp(log_p)
    names = list(dict.fromkeys(names))
    kw = resolve(names, params)
    dropped = drops(names, len(p))
    names = [n for n in names if n not in dropped]
    if not names:
        raise ValueError("no divergence left to fit (see the warnings)")
    scale = 1.0
    if student == "gaussian":
        step = _spacing(x)
        scale = float(x[-1] - x[0]) / (GMM_RANGE[1] - GMM_RANGE[0])
        fam = GaussianStudent(Grid(*GMM_RANGE, len(x)), fixed_sigma=bool(fixed_sigma))
        start = fam.init_params(GMM_RANGE[0] + (float(mu0) - float(x[0])) / scale, float(sigma0) / scale)
    elif student == "softmax":
        step = _spacing(x) if teacher == "gmm" else 1.0
        fam = SoftmaxStudent(len(p), init, int(seed))
        start = fam.init_params()
    else:
        raise ValueError(f"student must be 'gaussian' or 'softmax', got {student!r}")
    mu_split = float(kw["akl"]["mu"]) if "akl" in kw else 0.5
    config = FitConfig(steps=int(steps), lr=float(lr), optimizer=optimizer, mu=mu_split,
                       n_frames=n_frames_for(len(names), len(p), int(steps)))
    t0 = time.perf_counter()
    res = fit(log_p, fam, start, names, config, x=torch.as_tensor(x), params={n: kw[n] for n in names},
              should_stop=should_stop)
    seconds = time.perf_counter() - t0
    head = akl_split(torch.as_tensor(p), torch.as_tensor(p), mu_split)["head_mask"].numpy()
    return PlaygroundResult(names=names, params={n: kw[n] for n in names},
                            teacher_kind="gmm" if teacher == "gmm" else "discrete", student_kind=student,
                            x=x, p=p, step=step, fit=res, head_mask=head, mu_split=mu_split,
                            optimizer=optimizer, lr=float(lr), seconds=seconds, dropped=dropped, scale=scale)


def within_budget(budget: Budget, **config) -> PlaygroundResult | str:
    """:func:`playground` stopped by ``budget`` (``should_stop``): its result, or the message of
    :func:`over_budget` when the budget stopped it. A cancelled fit raises FitStopped."""
    try:
        return playground(**config, should_stop=budget)
    except FitStopped as stopped:
        if stopped.reason == CANCELLED:
            raise
        return over_budget(stopped, budget)


def run_notes(res: PlaygroundResult) -> list[str]:
    """What went wrong in a run, in plain words (empty when nothing did)."""
    out = []
    for n, t in zip(res.names, res.fit.diverged_at):
        if t > 0:
            out.append(_("{name}: the loss or its gradient stopped being finite at step {step}; its curves "
                         "stop there and its student stays at the last finite step. Lower the learning "
                         "rate.").format(name=get_spec(n).display_label, step=t))
        elif t == 0:
            out.append(_("{name}: the loss or its gradient stopped being finite at step 0; its curves stop "
                         "there and its student stays at the last finite step. It is infinite from the "
                         "start.").format(name=get_spec(n).display_label))
    for n, t in zip(res.names, res.flat_from):
        if t >= 0:
            out.append(_("{name}: at step {step} the student's σ passed {limit:g} times the support's width "
                         "(the learning rate is too large for it): the student is flat and its σ curve stops "
                         "there.").format(name=get_spec(n).display_label, step=t, limit=FLAT_SIGMA))
    return out


def captions(res: PlaygroundResult) -> list[str]:
    """The notes under the page's table: what its cells mean, the teacher's moments, the fit's time."""
    return [
        _("— : no value (a divergence without parameters; a loss that is not a number after the fit "
          "diverged). 0: zero to the fit's precision. ∞: infinite."),
        _("Teacher: mean {mean:g}, std {std:.4g} on the support. A Gaussian student is cut to the support "
          "and renormalised, so its std can be smaller than its σ parameter.").format(
            mean=round(res.teacher_mean, 4) + 0.0, std=res.teacher_std),
        _("Fit time: {seconds:.2f} s for {k} students × {steps} steps ({v} points).").format(
            seconds=res.seconds, k=len(res.names), steps=res.steps, v=len(res.x))]


def frames_note(res: PlaygroundResult) -> str:
    """Why the animation keeps fewer frames than steps ("" when it keeps them all)."""
    kept = len(res.fit.frame_steps)
    if kept >= min(MAX_FRAMES, res.steps + 1):
        return ""
    return _("{frames} frames kept ({k} students × {v} points would make a larger animation than a browser "
             "should receive).").format(frames=kept, k=len(res.names), v=len(res.x))


def _r(v: float) -> str:
    return f"{round(float(v), 2) + 0.0:.2f}"  # + 0.0 turns -0.0 into 0.0 (no "-0.00")


ZERO = 5e-6  # |value| below this is zero to the fit's float32 precision (~1e-7 relative, summed over points)
NOT_APPLICABLE = "—"


def human(value: float, missing: str = NOT_APPLICABLE) -> str:
    """A table cell a student can read: 4 significant digits, 0 for a value that is zero to the fit's
    precision (no "-4.217e-07"), ∞ for an infinite one and ``missing`` for NaN (no "None")."""
    value = float(value)
    if math.isnan(value):
        return missing
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return "0" if abs(value) < ZERO else f"{value:.4g}"


def summary(res: PlaygroundResult) -> dict[str, list[str]]:
    """The page's table, one row per divergence, every cell as text (see :func:`human`), columns
    and words in the viewer's language: its parameters, final loss, TVD to the teacher, moments of
    q, the step it diverged at (or "never") and, for a Gaussian student, the fitted μ and σ."""
    on_off = {True: _("on"), False: _("off")}
    table = {
        _("divergence"): [get_spec(n).display_label for n in res.names],
        _("parameters"): [", ".join(f"{k}={on_off[v] if isinstance(v, bool) else f'{v:g}'}"
                                    for k, v in res.params[n].items()) or NOT_APPLICABLE for n in res.names],
        _("final loss"): [human(v, _("— (diverged)")) for v in res.fit.loss[:, -1]],
        _("final TVD to p"): [human(v) for v in res.final_tvd],
        _("mean of q"): [human(v) for v in res.q_mean], _("std of q"): [human(v) for v in res.q_std],
        _("diverged at step"): [str(int(t)) if t >= 0 else _("never") for t in res.fit.diverged_at]}
    if res.mu is not None:
        table |= {_("parameter μ"): [human(v) for v in res.mu[:, -1]],
                  _("parameter σ"): [human(v) for v in res.sigma[:, -1]]}
    return table


def takeaway(res: PlaygroundResult) -> str:
    """One sentence per divergence on where its student ended, from the numbers of this run."""
    parts = []
    for k, n in enumerate(res.names):
        flat = res.mu is not None and res.flat_from[k] >= 0
        part = (_("{name}'s student has mean {mean} and std {std} (flat: σ beyond range), TVD {tvd:.3f} to "
                  "the teacher") if flat else
                _("{name}'s student has mean {mean} and std {std}, TVD {tvd:.3f} to the teacher"))
        parts.append(part.format(name=get_spec(n).display_label, mean=_r(res.q_mean[k]), std=_r(res.q_std[k]),
                                 tvd=res.final_tvd[k]))
    best = res.names[int(np.argmin(res.final_tvd))]
    return _("After {steps} steps: {students}. The teacher has mean {mean} and std {std}. Closest to the "
             "teacher in TVD: {best}.").format(steps=res.steps, students=_("; ").join(parts),
                                               mean=_r(res.teacher_mean), std=_r(res.teacher_std),
                                               best=get_spec(best).display_label)


def over_budget(stopped: FitStopped, budget: Budget) -> str:
    """Why a fit was stopped by its budget, and the cheaper configuration that would run."""
    fits = budget.affordable_steps()
    why = (_("Stopped after {step} of {steps} steps: this fit would run past (projected from its first "
             "steps) the budget of {seconds:g} s of CPU a run (a class shares this server).")
           if stopped.reason == PROJECTED else
           _("Stopped after {step} of {steps} steps: this fit ran past the budget of {seconds:g} s of CPU a "
             "run (a class shares this server)."))
    cheaper = (_("At the {ms:.3g} ms a step measured on this configuration, about {fits} steps fit in it: "
                 "lower the steps to {most} or fewer, or use fewer points, a larger epsilon or fewer "
                 "Sinkhorn divergences.") if fits < budget.steps else
               _("Lower the steps, or use fewer points, a larger epsilon or fewer Sinkhorn divergences."))
    return (why.format(step=stopped.step, steps=budget.steps, seconds=budget.seconds) + " "
            + cheaper.format(ms=1e3 * budget.per_step, fits=fits, most=max(fits, 1)))
