"""Command line interface: ``python -m kdviz divergences`` and ``python -m kdviz fit ...``.

Every bad input (a malformed spec, an unknown divergence, a negative std, NaN, a number that
overflows, a fit over the size or time limit, ...) ends with exit status 2 and one line on stderr,
``python -m kdviz fit: error: ...``: no usage block, no traceback. The library's ValueErrors and
arithmetic errors for the same reasons become that line too. ``--json`` prints strict JSON: a
non-finite number is written as null and named in a ``notes`` list.

Only what a command needs is imported: ``divergences`` reads the registry; ``fit`` adds the fit loop.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np
import torch

from kdviz.divergences import DIVERGENCES, get_spec
from kdviz.families import DISCRETE_PRESETS, GaussianMixture, Grid, teacher_from_array

DEFAULT_GRID = (-10.0, 10.0, 512)  # --grid LO,HI,N for continuous teachers
DEFAULT_STEPS = 500
DEFAULT_LR = {"gaussian": 0.05, "softmax": 0.1}  # softmax: AKL's toy uses Adam with lr 0.1
DIV_PARAMS = ("alpha", "beta", "mu", "epsilon", "order")  # shared parameters, see _params
MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes a 64-bit integer

# Limits of one fit. Its time is estimated before it runs from V, the steps and the divergences
# (estimate_seconds), with single-thread timings of this project's 2-core x86 machine at the upper
# end of what was measured (real fits took 0.3x-2x the estimate, the 2x on a machine at load 6).
MAX_SECONDS = 60.0  # refuse fits estimated to take longer
MAX_OT_POINTS = 4096  # entropic OT holds a few V x V float64 matrices: 128 MiB each at V = 4096
STEP_S = 2e-3  # one step of the batched fit loop: eager torch dispatch, whatever V
ROW_POINT_S = 150e-9  # one divergence row at one support point, per step
OT_ITER_S = 0.2e-3  # one Sinkhorn iteration, whatever V (dispatch)
OT_CELL_S = 30e-9  # one cell of the V x V cost in one Sinkhorn iteration (two logsumexps)
OT_CUBE_S = 1e-9  # the implicit gradient's V x V solve, per V^3, per step
OT_ITER_PER_RATIO = 15  # Sinkhorn iterations per unit of max cost / epsilon, up to the solver's cap
# entropic OT: the divergences that take epsilon run Sinkhorn on a V x V cost at every step
OT_NAMES = tuple(s.name for s in DIVERGENCES.values() if "epsilon" in {p.name for p in s.params})

FIT_EPILOG = f"""\
teacher specs:
  gmm:W,MU,SIGMA[;W,MU,SIGMA...]  Gaussian mixture on the grid (weights renormalised)
  discrete:P1,P2,...              probabilities (non-negative weights, normalised), classes at x = 0,1,...
  preset:NAME                     one of {', '.join(sorted(DISCRETE_PRESETS))}
student specs:
  gaussian:MU0,SIGMA0             a Gaussian on the grid (gmm teachers only)
  softmax | softmax:random        free logits, uniform in [0, 1) from --seed (AKL's toy)
  softmax:uniform                 free logits, all zero

negative numbers: write --grid=-10,10,512 (with '=') or put them inside a spec (gaussian:-2,1).

limits: a fit is refused (exit 2) when its estimated time exceeds {MAX_SECONDS:g} s, from
  steps x ({STEP_S * 1e3:g} ms + divergences x V x {ROW_POINT_S * 1e9:g} ns
           + for each Sinkhorn-family divergence
             (iterations x ({OT_ITER_S * 1e3:g} ms + V^2 x {OT_CELL_S * 1e9:g} ns)
              + V^3 x {OT_CUBE_S * 1e9:g} ns)),
  iterations = min(solver cap, {OT_ITER_PER_RATIO} x max cost / epsilon), or when a Sinkhorn-family
  divergence ({', '.join(OT_NAMES)}) gets more than {MAX_OT_POINTS} support points (V x V matrices).

--json prints strict JSON; a non-finite number (a diverged fit, an overflowing std) is written as
null and listed under "notes".

examples:
  python -m kdviz fit --teacher "gmm:0.5,-3,1;0.5,3,1" --student gaussian:1,2 \\
      --divergences fkl,rkl --grid=-10,10,512 --json
  python -m kdviz fit --teacher preset:akl_bimodal --student softmax --divergences fkl,rkl,akl \\
      --steps 200 --lr 0.1
"""


class UsageError(Exception):
    """A bad input: ``main`` prints ``<prog>: error: <message>`` as one line and exits with status 2."""

    def __init__(self, message: str, prog: str | None = None):
        super().__init__(message)
        self.prog = prog  # None: the command being run


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block) and is raised, not exited on."""

    def error(self, message):
        raise UsageError(message, self.prog)


# --------------------------------------------------------------------------- argument types
def _numbers(text: str, what: str, count: int | None = None) -> list[float]:
    """Comma-separated finite numbers, or an ArgumentTypeError saying what is wrong."""
    parts = [s.strip() for s in text.split(",")]
    try:
        vals = [float(s) for s in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not all(math.isfinite(v) for v in vals):
        raise argparse.ArgumentTypeError(f"{what} must be finite numbers, got {text!r}")
    if count is not None and len(vals) != count:
        raise argparse.ArgumentTypeError(f"{what} needs {count} numbers, got {len(vals)} in {text!r}")
    return vals


def _weights(vals) -> list[float]:
    """Non-negative weights divided by their largest, so that normalising them cannot overflow."""
    top = max(vals)
    return [v / top for v in vals] if top > 0 else list(vals)


def finite_float(text: str) -> float:
    return _numbers(text, "value", 1)[0]


def positive_float(text: str) -> float:
    v = finite_float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return v


def _integer(text: str, low: int, high: float, what: str) -> int:
    """An integer in [low, high], or an ArgumentTypeError ``"{what}, got {text!r}"``."""
    try:
        v = int(text)
    except ValueError:
        v = low - 1
    if not low <= v <= high:
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return v


def positive_int(text: str) -> int:
    return _integer(text, 1, math.inf, "must be a positive integer")


def seed_int(text: str) -> int:
    return _integer(text, 0, MAX_SEED, "seed must be an integer in [0, 2**63 - 1]")


def grid_spec(text: str) -> Grid:
    lo, hi, n = _numbers(text, "grid LO,HI,N", 3)
    if lo >= hi:
        raise argparse.ArgumentTypeError(f"grid needs LO < HI, got {text!r}")
    if not math.isfinite(hi - lo):
        raise argparse.ArgumentTypeError(f"grid width HI - LO overflows, got {text!r}")
    if n != int(n) or not 2 <= n <= 20000:
        raise argparse.ArgumentTypeError(f"grid size N must be an integer in [2, 20000], got {text!r}")
    return Grid(lo, hi, int(n))


def teacher_spec(text: str) -> tuple:
    """``("gmm", GaussianMixture)``, ``("discrete", probabilities)`` or ``("preset", name)``."""
    kind, sep, body = text.partition(":")
    if not sep or not body.strip():
        raise argparse.ArgumentTypeError(f"teacher must look like gmm:W,MU,SIGMA, discrete:P1,P2,... or "
                                         f"preset:NAME, got {text!r}")
    if kind == "gmm":
        comps = [_numbers(c, "each mixture component W,MU,SIGMA", 3) for c in body.split(";")]
        w, m, s = zip(*comps)
        if any(v < 0 for v in w):
            raise argparse.ArgumentTypeError(f"mixture weights must be >= 0, got {list(w)}")
        try:
            return ("gmm", GaussianMixture(tuple(_weights(w)), m, s))
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    if kind == "discrete":
        vals = _numbers(body, "discrete probabilities", None)
        if any(v < 0 for v in vals):
            raise argparse.ArgumentTypeError(f"discrete probabilities must be >= 0, got {body!r}")
        try:  # kind="probs": never read negative numbers as logits
            p = teacher_from_array(_weights(vals), kind="probs")
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        return ("discrete", tuple(float(v) for v in p))
    if kind == "preset":
        if body not in DISCRETE_PRESETS:
            raise argparse.ArgumentTypeError(
                f"unknown preset {body!r}; expected one of {sorted(DISCRETE_PRESETS)}")
        return ("preset", body)
    raise argparse.ArgumentTypeError(f"teacher kind must be gmm, discrete or preset, got {kind!r}")


def student_spec(text: str) -> tuple:
    kind, sep, body = text.partition(":")
    if kind == "gaussian":
        if not sep:
            raise argparse.ArgumentTypeError(
                f"gaussian student needs a start gaussian:MU0,SIGMA0, got {text!r}")
        mu, sigma = _numbers(body, "gaussian start MU0,SIGMA0", 2)
        if sigma <= 0:
            raise argparse.ArgumentTypeError(f"gaussian start needs SIGMA0 > 0, got {text!r}")
        return ("gaussian", mu, sigma)
    if kind == "softmax":
        init = body if sep else "random"
        if init not in ("random", "uniform"):
            raise argparse.ArgumentTypeError(f"softmax init must be random or uniform, got {text!r}")
        return ("softmax", init)
    raise argparse.ArgumentTypeError(
        f"student must be gaussian:MU0,SIGMA0, softmax or softmax:uniform, got {text!r}")


def divergence_list(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one divergence")
    for n in names:
        if n not in DIVERGENCES:
            raise argparse.ArgumentTypeError(
                f"unknown divergence {n!r}; expected some of {', '.join(DIVERGENCES)}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"divergences must be distinct, got {text!r}")
    return names


# --------------------------------------------------------------------------- the parser
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m kdviz",
                     description="Divergences as knowledge-distillation losses: list them, fit students.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{divergences,fit,lab}")
    sub.add_parser("divergences", help="list the registry (name, label, parameters with defaults and ranges)")
    f = sub.add_parser("fit", help="fit one student per divergence to a teacher",
                       description="Fit one student per divergence to the same teacher, from the same start.",
                       epilog=FIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("--teacher", type=teacher_spec, required=True, metavar="SPEC",
                   help="gmm:W,MU,SIGMA[;...], discrete:P1,P2,... or preset:NAME (see below)")
    f.add_argument("--student", type=student_spec, required=True, metavar="SPEC",
                   help="gaussian:MU0,SIGMA0, softmax (random logits from --seed) or softmax:uniform")
    f.add_argument("--divergences", type=divergence_list, default=["fkl", "rkl"], metavar="NAMES",
                   help=f"comma-separated registry names (default fkl,rkl; known: {','.join(DIVERGENCES)})")
    f.add_argument("--steps", type=positive_int, default=DEFAULT_STEPS,
                   help=f"optimizer steps (default {DEFAULT_STEPS})")
    f.add_argument("--lr", type=positive_float, default=None,
                   help=f"learning rate (default {DEFAULT_LR['gaussian']} for a gaussian student, "
                        f"{DEFAULT_LR['softmax']} for softmax)")
    f.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="default adam")
    f.add_argument("--grid", type=grid_spec, default=Grid(*DEFAULT_GRID), metavar="LO,HI,N",
                   help="grid for gmm teachers, write --grid=-10,10,512 (default -10,10,512)")
    for name in DIV_PARAMS:
        prm = next(p for s in DIVERGENCES.values() for p in s.params if p.name == name)
        users = ",".join(s.name for s in DIVERGENCES.values() if name in {p.name for p in s.params})
        f.add_argument(f"--{name}", type=finite_float, default=None, metavar=name[0].upper(),
                       help=f"{prm.help} (for {users}; default {prm.default:g})")
    f.add_argument("--entropic", action="store_true",
                   help="sinkhorn_div: Feydy et al.'s OT_eps with the entropy term")
    f.add_argument("--seed", type=seed_int, default=1,
                   help="seed of the random softmax start (default 1, as AKL)")
    f.add_argument("--fixed-sigma", action="store_true", help="gaussian student: fit the mean only")
    f.add_argument("--json", action="store_true", help="print one strict JSON object instead of a table")
    from kdviz.lab import cli as lab_cli  # the lab's own subcommands (imports torch only when run)

    lab_cli.add_parser(sub)
    return parser


# --------------------------------------------------------------------------- commands
def _range(p) -> str:
    """A parameter's valid values: ``{1, 2}``, ``[0, 1]`` or ``(0, 1e+06]``."""
    if p.choices:
        return "{" + ", ".join(f"{c:g}" for c in p.choices) + "}"
    return f"{'(' if p.low_open else '['}{p.low:g}, {p.high:g}]"


def _list_divergences() -> str:
    lines = []
    for s in DIVERGENCES.values():
        prms = ", ".join(f"{p.name}={p.default:g} in " + _range(p) for p in s.params)
        flags = [k for k, v in (("symmetric", s.symmetric), ("needs x", s.needs_support),
                                (f"bounded {s.bounded}", s.bounded)) if v]
        flags += [f"option {fl}" for fl in sorted(s.flags)]
        lines.append(f"{s.name:<13} {s.label:<20} {prms or '-'}")
        if flags:
            lines.append(f"{'':<13} {'; '.join(flags)}")
    return "\n".join(lines)


def _check_mass(log_p: torch.Tensor, grid: Grid, no_mass: str, use: tuple[str, str], got: str) -> None:
    """A UsageError ``no_mass`` (with advice) unless log-probabilities ``(..., V)`` sum to a finite mass."""
    if not torch.isfinite(torch.logsumexp(log_p, dim=-1)).all():
        raise UsageError(f"{no_mass}: use {use[0]} inside [{grid.low:g}, {grid.high:g}] and {use[1]} of at "
                         f"least about the grid step {grid.step:.3g}, got {got}")


def _teacher(args) -> tuple[torch.Tensor, np.ndarray, dict]:
    """Teacher log-probabilities (V,), support x (V,) and a JSON description."""
    kind, spec = args.teacher
    if kind == "gmm":
        mix = spec
        log_p = mix.log_prob(args.grid)
        _check_mass(log_p, args.grid, "the teacher mixture has no mass on the grid points (its density "
                    "underflows at every one of them)", ("means", "stds"),
                    f"means {list(mix.means)}, stds {list(mix.stds)}")
        try:
            with np.errstate(over="ignore"):
                std = math.sqrt(mix.variance())
        except OverflowError:  # a mean or std near float64's largest number: its square overflows
            std = math.inf
        info = {"kind": "gmm", "weights": mix.normalized_weights.tolist(), "means": list(mix.means),
                "stds": list(mix.stds), "mean": mix.mean(), "std": std}
        return log_p, args.grid.points().numpy(), info
    if kind == "discrete":
        p = np.asarray(spec)
        x, info = np.arange(len(p), dtype=float), {"kind": "discrete"}
    else:
        from kdviz.families import discrete_teacher
        x, p = discrete_teacher(spec)
        info = {"kind": "preset", "name": spec, "label": DISCRETE_PRESETS[spec][0]}
    info.update(p=p.tolist(), x=x.tolist())
    with np.errstate(divide="ignore"):  # exact zeros are allowed: log 0 = -inf means "impossible"
        return torch.as_tensor(np.log(p)), x, info


def _student(args, n_classes: int):
    from kdviz.families import GaussianStudent, SoftmaxStudent
    if args.student[0] == "gaussian":
        if args.teacher[0] != "gmm":
            raise UsageError("a gaussian student needs a gmm teacher (on the grid); use --student softmax")
        student = GaussianStudent(args.grid, fixed_sigma=args.fixed_sigma)
        start = student.init_params(args.student[1], args.student[2])
        _check_mass(student.log_prob(start[None]), args.grid, "the student's start puts no mass on the grid "
                    "points", ("MU0", "SIGMA0"), f"gaussian:{args.student[1]:g},{args.student[2]:g}")
        return student, start
    student = SoftmaxStudent(n_classes, init=args.student[1], seed=args.seed)
    return student, student.init_params()


def _params(args) -> dict:
    """The divergence parameters given, checked against the registry's ranges (order becomes an int)."""
    params = {k: getattr(args, k) for k in DIV_PARAMS if getattr(args, k) is not None}
    if args.entropic:
        params["entropic"] = True
    specs = [get_spec(n) for n in args.divergences]
    for k in params:
        if not any(k in {p.name for p in s.params} | set(s.flags) for s in specs):
            raise UsageError(f"--{k} is not a parameter of any of {','.join(args.divergences)}")
        prm = next((p for s in specs for p in s.params if p.name == k), None)
        if prm is not None:
            params[k] = prm.check(params[k])
    return params


def estimate_seconds(names, steps: int, x: np.ndarray, params: dict) -> float:
    """Upper-end estimate of a fit's time from the divergences, the steps and the support ``x`` (V,).

    Every divergence costs a row of V points per step; a Sinkhorn-family divergence (one that takes
    ``epsilon``) also runs log-domain Sinkhorn on the V x V cost ``|x_i - x_j|^order``, whose
    iterations grow with ``max cost / epsilon`` up to the solver's cap.
    """
    from kdviz.transport import MAX_ITER
    v = len(x)
    per_step = STEP_S + len(names) * v * ROW_POINT_S
    for name in set(names) & set(OT_NAMES):
        prm = {p.name: params.get(p.name, p.default) for p in get_spec(name).params}
        ratio = float(x.max() - x.min()) ** prm.get("order", 1) / prm["epsilon"]
        iters = min(MAX_ITER, OT_ITER_PER_RATIO * ratio)
        per_step += iters * (OT_ITER_S + v * v * OT_CELL_S) + v**3 * OT_CUBE_S
    return steps * per_step


def _check_limits(names, steps: int, x: np.ndarray, params: dict) -> None:
    ot_names = [n for n in names if n in OT_NAMES]
    if ot_names and len(x) > MAX_OT_POINTS:
        raise UsageError(f"{','.join(ot_names)} on {len(x)} support points would hold {len(x)} x {len(x)} "
                         f"matrices; the limit is {MAX_OT_POINTS} points: use a coarser --grid")
    est = estimate_seconds(names, steps, x, params)
    if est > MAX_SECONDS:
        raise UsageError(f"this fit is estimated at {est:.0f} s, over the {MAX_SECONDS:g} s limit "
                         f"(see --help): use fewer --steps, a coarser --grid, fewer divergences or a "
                         f"larger --epsilon")


def run_fit(args) -> dict:
    """The fit as a JSON-ready dict (floats may be non-finite; see ``strict_json``)."""
    from kdviz.fitting import FitConfig, fit
    log_p, x, teacher = _teacher(args)
    student, start = _student(args, log_p.shape[-1])
    lr = args.lr if args.lr is not None else DEFAULT_LR[student.kind]
    params = _params(args)
    cfg_kw = {"mu": params["mu"]} if "mu" in params else {}
    config = FitConfig(steps=args.steps, lr=lr, optimizer=args.optimizer, n_frames=2, **cfg_kw)
    _check_limits(args.divergences, args.steps, x, params)
    res = fit(log_p, student, start, args.divergences, config, x=torch.as_tensor(x), params=params)
    results = {}
    for k, name in enumerate(res.names):
        out = {"loss": res.loss[k].tolist(), "diverged_at": int(res.diverged_at[k])}
        if student.kind == "gaussian":
            d = student.describe(res.final_params[k])
            out["final"] = {"mu": float(d["mu"]), "sigma": float(d["sigma"]), "loss": float(res.loss[k, -1])}
        else:
            out["final"] = {"q": res.final_q[k].tolist(), "loss": float(res.loss[k, -1])}
            out["head_error"] = res.head_error[k].tolist()
            out["tail_error"] = res.tail_error[k].tolist()
            out["head_share_10"] = float(res.head_share(10)[k])
        results[name] = out
    config_out = {"steps": args.steps, "lr": lr, "optimizer": args.optimizer, "divergences": args.divergences,
                  "params": params, "seed": args.seed}
    if student.kind == "gaussian":
        config_out.update(grid=[args.grid.low, args.grid.high, args.grid.n], fixed_sigma=args.fixed_sigma,
                          student={"kind": "gaussian", "mu0": args.student[1], "sigma0": args.student[2]})
    else:
        config_out["student"] = {"kind": "softmax", "init": args.student[1]}
    return {"teacher": teacher, "config": config_out, "results": results}


def _finite_or_null(obj, path: str, notes: dict):
    """``obj`` with every non-finite float replaced by None; ``notes[path]`` counts them by kind."""
    if isinstance(obj, dict):
        return {k: _finite_or_null(v, f"{path}.{k}" if path else str(k), notes) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        if obj and all(isinstance(v, float) for v in obj):  # one note for a whole array
            bad = [repr(v) for v in obj if not math.isfinite(v)]
            if bad:
                notes[path] = bad
            return [v if math.isfinite(v) else None for v in obj]
        return [_finite_or_null(v, f"{path}[{i}]", notes) for i, v in enumerate(obj)]
    if isinstance(obj, float) and not math.isfinite(obj):
        notes[path] = [repr(obj)]
        return None
    return obj


def strict_json(out: dict) -> str:
    """One line of strict JSON (no NaN/Infinity); non-finite values become null, listed in ``notes``."""
    notes: dict[str, list[str]] = {}
    clean = _finite_or_null(out, "", notes)
    if notes:
        clean["notes"] = [f"{path}: {len(bad)} non-finite value{'s' * (len(bad) > 1)} "
                          f"({', '.join(sorted(set(bad)))}) written as null" for path, bad in notes.items()]
    return json.dumps(clean, allow_nan=False)


def _table(out: dict) -> str:
    gaussian = out["config"]["student"]["kind"] == "gaussian"
    head = f"{'divergence':<13} {'final loss':>12} " + (f"{'mu':>9} {'sigma':>9}" if gaussian
                                                         else f"{'head err':>9} {'tail err':>9}")
    rows = [head, "-" * len(head)]
    for name, r in out["results"].items():
        loss = r["final"]["loss"]
        loss_s = f"{'diverged':>12}" if r["diverged_at"] >= 0 else f"{loss:12.6g}"
        if gaussian:
            rows.append(f"{name:<13} {loss_s} {r['final']['mu']:9.4f} {r['final']['sigma']:9.4f}")
        else:
            rows.append(f"{name:<13} {loss_s} {r['head_error'][-1]:9.4f} {r['tail_error'][-1]:9.4f}")
    t = out["teacher"]
    if t["kind"] == "gmm":
        rows.append(f"teacher mixture: mean {t['mean']:.4f}, std {t['std']:.4f}")
    return "\n".join(rows)


def main(argv=None) -> int:
    """Run the CLI; returns the exit status (2 and one line on stderr for any bad input)."""
    parser = build_parser()
    prog = parser.prog
    try:
        args = parser.parse_args(argv)
        prog = f"{parser.prog} {args.command}"
        if args.command == "divergences":
            print(_list_divergences())
            return 0
        if args.command == "lab":
            from kdviz.lab import cli as lab_cli

            return lab_cli.handle(args)
        out = run_fit(args)
    except UsageError as err:
        message = f"{err.prog or prog}: error: {err}"
    except (ValueError, ArithmeticError) as err:  # the library's own checks (ranges, shapes, overflow)
        message = f"{prog}: error: {err}"
    else:
        print(strict_json(out) if args.json else _table(out))
        return 0
    print(" ".join(message.split()), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
