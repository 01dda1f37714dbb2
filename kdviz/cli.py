"""Command line interface: ``python -m kdviz divergences`` and ``python -m kdviz fit ...``.

Every bad argument (a malformed spec, an unknown divergence, a negative std, NaN, ...) ends with
argparse's one-line ``error:`` message and exit status 2; a ValueError raised by the library for
the same reasons is turned into that message too, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass

import numpy as np
import torch

from kdviz.divergences import DIVERGENCES, get_spec
from kdviz.families import (DISCRETE_PRESETS, GaussianMixture, GaussianStudent, Grid, SoftmaxStudent,
                            discrete_teacher, teacher_from_array)
from kdviz.fitting import FitConfig, fit

DEFAULT_GRID = (-10.0, 10.0, 512)  # --grid LO,HI,N for continuous teachers
DEFAULT_STEPS = 500
DEFAULT_LR = {"gaussian": 0.05, "softmax": 0.1}  # softmax: AKL's toy uses Adam with lr 0.1
DIV_PARAMS = ("alpha", "beta", "mu", "epsilon", "order")  # shared parameters, see resolve_params

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

examples:
  python -m kdviz fit --teacher "gmm:0.5,-3,1;0.5,3,1" --student gaussian:1,2 \\
      --divergences fkl,rkl --grid=-10,10,512 --json
  python -m kdviz fit --teacher preset:akl_bimodal --student softmax --divergences fkl,rkl,akl \\
      --steps 200 --lr 0.1
"""


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


def finite_float(text: str) -> float:
    return _numbers(text, "value", 1)[0]


def positive_float(text: str) -> float:
    v = finite_float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return v


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return v


def grid_spec(text: str) -> Grid:
    lo, hi, n = _numbers(text, "grid LO,HI,N", 3)
    if lo >= hi:
        raise argparse.ArgumentTypeError(f"grid needs LO < HI, got {text!r}")
    if n != int(n) or not 2 <= n <= 20000:
        raise argparse.ArgumentTypeError(f"grid size N must be an integer in [2, 20000], got {text!r}")
    return Grid(lo, hi, int(n))


@dataclass(frozen=True)
class TeacherSpec:
    kind: str  # "gmm", "discrete" or "preset"
    mixture: GaussianMixture | None = None
    probs: tuple[float, ...] = ()
    preset: str = ""


def teacher_spec(text: str) -> TeacherSpec:
    kind, sep, body = text.partition(":")
    if not sep or not body.strip():
        raise argparse.ArgumentTypeError(f"teacher must look like gmm:W,MU,SIGMA, discrete:P1,P2,... or "
                                         f"preset:NAME, got {text!r}")
    if kind == "gmm":
        comps = [_numbers(c, "each mixture component W,MU,SIGMA", 3) for c in body.split(";")]
        w, m, s = zip(*comps)
        try:
            return TeacherSpec("gmm", mixture=GaussianMixture(w, m, s))
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    if kind == "discrete":
        vals = _numbers(body, "discrete probabilities", None)
        if any(v < 0 for v in vals):
            raise argparse.ArgumentTypeError(f"discrete probabilities must be >= 0, got {body!r}")
        try:  # kind="probs": never read negative numbers as logits
            p = teacher_from_array(vals, kind="probs")
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        return TeacherSpec("discrete", probs=tuple(float(v) for v in p))
    if kind == "preset":
        if body not in DISCRETE_PRESETS:
            raise argparse.ArgumentTypeError(f"unknown preset {body!r}; expected one of {sorted(DISCRETE_PRESETS)}")
        return TeacherSpec("preset", preset=body)
    raise argparse.ArgumentTypeError(f"teacher kind must be gmm, discrete or preset, got {kind!r}")


def student_spec(text: str) -> tuple:
    kind, sep, body = text.partition(":")
    if kind == "gaussian":
        if not sep:
            raise argparse.ArgumentTypeError(f"gaussian student needs a start gaussian:MU0,SIGMA0, got {text!r}")
        mu, sigma = _numbers(body, "gaussian start MU0,SIGMA0", 2)
        if sigma <= 0:
            raise argparse.ArgumentTypeError(f"gaussian start needs SIGMA0 > 0, got {text!r}")
        return ("gaussian", mu, sigma)
    if kind == "softmax":
        init = body if sep else "random"
        if init not in ("random", "uniform"):
            raise argparse.ArgumentTypeError(f"softmax init must be random or uniform, got {text!r}")
        return ("softmax", init)
    raise argparse.ArgumentTypeError(f"student must be gaussian:MU0,SIGMA0, softmax or softmax:uniform, got {text!r}")


def divergence_list(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one divergence")
    for n in names:
        if n not in DIVERGENCES:
            raise argparse.ArgumentTypeError(f"unknown divergence {n!r}; expected some of {', '.join(DIVERGENCES)}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"divergences must be distinct, got {text!r}")
    return names


# --------------------------------------------------------------------------- the parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kdviz",
                                     description="Divergences as knowledge-distillation losses: list them, fit students.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{divergences,fit}")
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
    f.add_argument("--steps", type=positive_int, default=DEFAULT_STEPS, help=f"optimizer steps (default {DEFAULT_STEPS})")
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
    f.add_argument("--seed", type=int, default=1, help="seed of the random softmax start (default 1, as AKL)")
    f.add_argument("--fixed-sigma", action="store_true", help="gaussian student: fit the mean only")
    f.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return parser


# --------------------------------------------------------------------------- commands
def _list_divergences() -> str:
    lines = []
    for s in DIVERGENCES.values():
        prms = ", ".join(f"{p.name}={p.default:g} in " + (f"{{{', '.join(f'{c:g}' for c in p.choices)}}}" if p.choices
                         else f"{'(' if p.low_open else '['}{p.low:g}, {p.high:g}]") for p in s.params)
        flags = [k for k, v in (("symmetric", s.symmetric), ("needs x", s.needs_support)) if v]
        if s.bounded:
            flags.append(f"bounded {s.bounded}")
        flags += [f"option {fl}" for fl in sorted(s.flags)]
        lines.append(f"{s.name:<13} {s.label:<20} {prms or '-'}")
        if flags:
            lines.append(f"{'':<13} {'; '.join(flags)}")
    return "\n".join(lines)


def _teacher(args) -> tuple[torch.Tensor, np.ndarray, dict]:
    """Teacher log-probabilities (V,), support x (V,) and a JSON description."""
    t = args.teacher
    if t.kind == "gmm":
        mix = t.mixture
        log_p = mix.log_prob(args.grid)
        info = {"kind": "gmm", "weights": mix.normalized_weights.tolist(), "means": list(mix.means),
                "stds": list(mix.stds), "mean": mix.mean(), "std": math.sqrt(mix.variance())}
        return log_p, args.grid.points().numpy(), info
    if t.kind == "discrete":
        p = np.asarray(t.probs)
        x, info = np.arange(len(p), dtype=float), {"kind": "discrete"}
    else:
        x, p = discrete_teacher(t.preset)
        info = {"kind": "preset", "name": t.preset, "label": DISCRETE_PRESETS[t.preset][0]}
    info.update(p=p.tolist(), x=x.tolist())
    with np.errstate(divide="ignore"):  # exact zeros are allowed: log 0 = -inf means "impossible"
        return torch.as_tensor(np.log(p)), x, info


def _student(args, parser, n_classes: int):
    if args.student[0] == "gaussian":
        if args.teacher.kind != "gmm":
            parser.error("a gaussian student needs a gmm teacher (on the grid); use --student softmax")
        student = GaussianStudent(args.grid, fixed_sigma=args.fixed_sigma)
        return student, student.init_params(args.student[1], args.student[2])
    student = SoftmaxStudent(n_classes, init=args.student[1], seed=args.seed)
    return student, student.init_params()


def _params(args, parser) -> dict:
    params = {k: getattr(args, k) for k in DIV_PARAMS if getattr(args, k) is not None}
    if "order" in params:
        params["order"] = int(params["order"]) if params["order"] in (1, 2) else params["order"]
    if args.entropic:
        params["entropic"] = True
    for k in params:
        if not any(k in {p.name for p in get_spec(n).params} | set(get_spec(n).flags) for n in args.divergences):
            parser.error(f"--{k} is not a parameter of any of {','.join(args.divergences)}")
    return params


def _clean(values) -> list:
    """Floats for JSON: NaN (a diverged fit's frozen tail) becomes null."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=float).ravel()]


def run_fit(args, parser) -> dict:
    log_p, x, teacher = _teacher(args)
    student, start = _student(args, parser, log_p.shape[-1])
    lr = args.lr if args.lr is not None else DEFAULT_LR[student.kind]
    params = _params(args, parser)
    cfg_kw = {"mu": params["mu"]} if "mu" in params else {}
    config = FitConfig(steps=args.steps, lr=lr, optimizer=args.optimizer, n_frames=2, **cfg_kw)
    res = fit(log_p, student, start, args.divergences, config, x=torch.as_tensor(x), params=params)
    results = {}
    for k, name in enumerate(res.names):
        out = {"loss": _clean(res.loss[k]), "diverged_at": int(res.diverged_at[k])}
        if student.kind == "gaussian":
            d = student.describe(res.final_params[k])
            out["final"] = {"mu": float(d["mu"]), "sigma": float(d["sigma"]), "loss": _clean(res.loss[k, -1:])[0]}
        else:
            out["final"] = {"q": res.final_q[k].tolist(), "loss": _clean(res.loss[k, -1:])[0]}
            out["head_error"] = _clean(res.head_error[k])
            out["tail_error"] = _clean(res.tail_error[k])
            out["head_share_10"] = _clean(res.head_share(10)[k:k + 1])[0]
        results[name] = out
    config_out = {"steps": args.steps, "lr": lr, "optimizer": args.optimizer, "divergences": args.divergences,
                  "params": params, "seed": args.seed}
    if student.kind == "gaussian":
        config_out.update(grid=[args.grid.low, args.grid.high, args.grid.n], fixed_sigma=args.fixed_sigma,
                          student={"kind": "gaussian", "mu0": args.student[1], "sigma0": args.student[2]})
    else:
        config_out["student"] = {"kind": "softmax", "init": args.student[1]}
    return {"teacher": teacher, "config": config_out, "results": results}


def _table(out: dict) -> str:
    gaussian = out["config"]["student"]["kind"] == "gaussian"
    head = f"{'divergence':<13} {'final loss':>12} " + (f"{'mu':>9} {'sigma':>9}" if gaussian
                                                         else f"{'head err':>9} {'tail err':>9}")
    rows = [head, "-" * len(head)]
    for name, r in out["results"].items():
        loss = r["final"]["loss"]
        loss_s = f"{loss:12.6g}" if loss is not None else f"{'diverged':>12}"
        if gaussian:
            rows.append(f"{name:<13} {loss_s} {r['final']['mu']:9.4f} {r['final']['sigma']:9.4f}")
        else:
            rows.append(f"{name:<13} {loss_s} {r['head_error'][-1]:9.4f} {r['tail_error'][-1]:9.4f}")
    t = out["teacher"]
    if t["kind"] == "gmm":
        rows.append(f"teacher mixture: mean {t['mean']:.4f}, std {t['std']:.4f}")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "divergences":
        print(_list_divergences())
        return 0
    fit_parser = parser._subparsers._group_actions[0].choices["fit"]  # errors say "python -m kdviz fit"
    try:
        out = run_fit(args, fit_parser)
    except ValueError as err:  # the library's own checks (ranges, shapes): one line, exit 2
        fit_parser.error(" ".join(str(err).split()))
    print(json.dumps(out) if args.json else _table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
