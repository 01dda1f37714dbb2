"""A lab run as a table, a takeaway computed from its numbers, and CSV / JSON exports.

The takeaway claims that one student beats another on a metric only when the gap exceeds
:data:`N_SE` combined standard errors (over the held-out windows, or over the samples for the
teacher's NLL of samples), and for distinct-n only beyond :data:`DISTINCT_MARGIN`; otherwise it
says the students are within noise.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from kdviz.divergences import get_spec

N_SE = 2.0  # a difference is claimed beyond two combined standard errors
DISTINCT_MARGIN = 0.02  # distinct-n is pooled over samples (no standard error): an absolute margin
TABLE_COLUMNS = {  # metric -> (column title, lower is better?)
    "ce": ("CE (nats)", True), "ppl": ("perplexity", True),
    "fkl": ("KL(t‖s)", True), "rkl": ("KL(s‖t)", True),
    "top1": ("top-1 agree", False), "entropy": ("entropy", None), "head_err": ("head err", True),
    "tail_err": ("tail err", True), "distinct2": ("distinct-2", None), "distinct3": ("distinct-3", None),
    "teacher_nll": ("teacher NLL of samples", True),
}


def student_label(name: str) -> str:
    """``"jsd:beta=0.9"`` -> ``"JSD (beta=0.9)"``."""
    div, _, params = name.partition(":")
    return get_spec(div).label + (f" ({params})" if params else "")


def run_label(row: dict) -> str:
    """One line naming a stored run (a row of ``RunStore.list_runs``): id, label, students, steps,
    seed and start time."""
    cfg = row["config"]
    label = f"{row['label']}: " if row["label"] else ""
    return (f"#{row['id']} {label}{', '.join(cfg['students'])} x {cfg['steps']} steps, seed {cfg['seed']} "
            f"({row['created'][:16]})")


def rows(run: dict) -> list[dict]:
    """One row per model: the teacher, the untrained student, then each student; metrics and ``ppl``."""
    named = [("teacher", "Teacher", run["teacher"]["metrics"]),
             ("untrained", "Untrained student", run["untrained"]["metrics"])]
    named += [(n, student_label(n), r["metrics"]) for n, r in run["results"].items()]
    out = []
    for key, label, m in named:
        row = {"model": key, "label": label, **{k: m.get(k) for k in TABLE_COLUMNS if k != "ppl"}}
        row["ppl"] = math.exp(m["ce"])
        out.append(row)
    return out


def _separated(a: dict, b: dict, metric: str) -> bool:
    """Whether students ``a`` and ``b`` differ on ``metric`` beyond the stated margin."""
    gap = abs(a[metric] - b[metric])
    if metric.startswith("distinct"):
        return gap > DISTINCT_MARGIN
    return gap > N_SE * math.hypot(a.get(f"{metric}_se", 0.0), b.get(f"{metric}_se", 0.0))


def _leader(run: dict, metric: str, lowest: bool) -> tuple[str, list[str]]:
    """The best student on ``metric`` and the students it is *not* separated from."""
    ms = {n: r["metrics"] for n, r in run["results"].items()}
    best = (min if lowest else max)(ms, key=lambda n: ms[n][metric])
    ties = [n for n in ms if n != best and not _separated(ms[best], ms[n], metric)]
    return best, ties


def _claim(run: dict, metric: str, lowest: bool, what: str, fmt: str = "{:.3f}") -> str:
    best, ties = _leader(run, metric, lowest)
    vals = ", ".join(f"{student_label(n)} {fmt.format(r['metrics'][metric])}"
                     for n, r in run["results"].items())
    if len(run["results"]) < 2:
        return f"{what}: {vals}."
    if len(ties) == len(run["results"]) - 1:
        return f"{what}: no student stands out ({vals}; all within the margin)."
    tie_text = f", tied with {', '.join(student_label(t) for t in ties)}" if ties else ""
    return f"{what}: **{student_label(best)}**{tie_text} ({vals})."


def takeaway(run: dict) -> str:
    """What the numbers of ``run`` show, claiming differences only beyond the stated margins."""
    t = run["teacher"]["metrics"]
    parts = [
        _claim(run, "fkl", True, "Closest to the teacher, KL(t‖s)"),
        _claim(run, "ce", True, "Best held-out cross-entropy"),
        _claim(run, "entropy", True, f"Most confident, lowest entropy (teacher {t['entropy']:.2f})",
               "{:.2f}"),
        _claim(run, "teacher_nll", True, f"Samples the teacher likes most, lowest teacher NLL (teacher's own "
                                         f"{t['teacher_nll']:.2f})", "{:.2f}"),
        _claim(run, "distinct2", False, f"Most diverse samples, distinct-2 (teacher {t['distinct2']:.2f})",
               "{:.2f}"),
    ]
    return " ".join(parts) + (f" Margins: {N_SE:g} combined standard errors (over the held-out windows, "
                              f"or the "
                              f"samples for NLL); {DISTINCT_MARGIN:g} for distinct-n.")


def to_csv(run: dict) -> str:
    """The results table, one row per model, plus the run's id and configuration summary columns."""
    table = rows(run)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["run", *table[0].keys()])
    writer.writeheader()
    for row in table:
        writer.writerow({"run": run.get("id", ""), **{k: (f"{v:.6g}" if isinstance(v, float) else v)
                                                       for k, v in row.items()}})
    return buf.getvalue()


def curves_csv(run: dict) -> str:
    """Long format: run, student, metric, step, value."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["run", "student", "metric", "step", "value"])
    for name, r in run["results"].items():
        for metric, vals in r["curve"].items():
            if metric != "step":
                writer.writerows([run.get("id", ""), name, metric, s, f"{v:.6g}"]
                                 for s, v in zip(r["curve"]["step"], vals))
    return buf.getvalue()


def to_json(run: dict) -> str:
    return json.dumps(run, indent=1, allow_nan=False)


DEFAULT_RUN_PATH = Path(__file__).resolve().parent / "assets" / "default_run.json"


def shipped_default_run() -> dict | None:
    """The default run (``LabConfig()``) measured when the teacher was built, shipped so that the lab
    page shows results on a first visit without training anything (``scripts/build_lab_default_run.py``)."""
    if not DEFAULT_RUN_PATH.exists():
        return None
    return json.loads(DEFAULT_RUN_PATH.read_text())
