"""A lab run as a table, a takeaway computed from its numbers, and CSV / JSON exports (labels,
column titles and the takeaway in the viewer's language, :mod:`kdviz.i18n`).

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
from kdviz.i18n import N_, _, sentences

N_SE = 2.0  # a difference is claimed beyond two combined standard errors
DISTINCT_MARGIN = 0.02  # distinct-n is pooled over samples (no standard error): an absolute margin
TABLE_COLUMNS = {  # metric -> (column title, marked with N_ and translated where shown; lower is better?)
    "ce": (N_("CE (nats)"), True), "ppl": (N_("perplexity"), True),
    "fkl": (N_("KL(t‖s)"), True), "rkl": (N_("KL(s‖t)"), True),
    "top1": (N_("top-1 agree"), False), "entropy": (N_("entropy"), None), "head_err": (N_("head err"), True),
    "tail_err": (N_("tail err"), True), "distinct2": (N_("distinct-2"), None),
    "distinct3": (N_("distinct-3"), None), "teacher_nll": (N_("teacher NLL of samples"), True),
}


def column_title(metric: str) -> str:
    """The title of ``metric``'s column (and axis) in the viewer's language."""
    return _(TABLE_COLUMNS[metric][0])


def student_label(name: str) -> str:
    """``"jsd:beta=0.9"`` -> ``"JSD (beta=0.9)"`` (the label in the viewer's language)."""
    div, __, params = name.partition(":")
    return get_spec(div).display_label + (f" ({params})" if params else "")


def run_label(row: dict) -> str:
    """One line naming a stored run (a row of ``RunStore.list_runs``): id, label, students, steps,
    seed and start time."""
    cfg = row["config"]
    return _("#{id} {label}{students} x {steps} steps, seed {seed} ({created})").format(
        id=row["id"], label=f"{row['label']}: " if row["label"] else "", students=", ".join(cfg["students"]),
        steps=cfg["steps"], seed=cfg["seed"], created=row["created"][:16])


def rows(run: dict) -> list[dict]:
    """One row per model: the teacher, the untrained student, then each student; metrics and ``ppl``."""
    named = [("teacher", _("Teacher"), run["teacher"]["metrics"]),
             ("untrained", _("Untrained student"), run["untrained"]["metrics"])]
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
    """``what`` (a translated phrase) and who leads on ``metric``, with every student's value."""
    best, ties = _leader(run, metric, lowest)
    vals = _(", ").join(f"{student_label(n)} {fmt.format(r['metrics'][metric])}"
                        for n, r in run["results"].items())
    if len(run["results"]) < 2:
        return _("{what}: {values}.").format(what=what, values=vals)
    if len(ties) == len(run["results"]) - 1:
        return _("{what}: no student stands out ({values}; all within the margin).").format(what=what,
                                                                                              values=vals)
    if ties:
        tied = _(", ").join(student_label(t) for t in ties)
        return _("{what}: **{best}**, tied with {ties} ({values}).").format(
            what=what, best=student_label(best), ties=tied, values=vals)
    return _("{what}: **{best}** ({values}).").format(what=what, best=student_label(best), values=vals)


def takeaway(run: dict) -> str:
    """What the numbers of ``run`` show, claiming differences only beyond the stated margins."""
    t = run["teacher"]["metrics"]
    parts = [
        _claim(run, "fkl", True, _("Closest to the teacher, KL(t‖s)")),
        _claim(run, "ce", True, _("Best held-out cross-entropy")),
        _claim(run, "entropy", True, _("Most confident, lowest entropy (teacher {value:.2f})").format(
            value=t["entropy"]), "{:.2f}"),
        _claim(run, "teacher_nll", True, _("Samples the teacher likes most, lowest teacher NLL (teacher's "
                                           "own {value:.2f})").format(value=t["teacher_nll"]), "{:.2f}"),
        _claim(run, "distinct2", False, _("Most diverse samples, distinct-2 (teacher {value:.2f})").format(
            value=t["distinct2"]), "{:.2f}"),
    ]
    margins = _("Margins: {n_se:g} combined standard errors (over the held-out windows, or the samples for "
                "NLL); {margin:g} for distinct-n.").format(n_se=N_SE, margin=DISTINCT_MARGIN)
    return sentences([*parts, margins])


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
