"""The seed's three results tables (AKL, DistiLLM, SinKD) as data, and the views the page needs.

Transcribed from the seed slides (``shared/seed/*.txt``), which copy them from the papers:

* AKL: Wu et al. 2024, "Rethinking Kullback-Leibler Divergence in Knowledge Distillation for Large
  Language Models". Mean ± std for two teacher -> student pairs on Dolly, S-NI and UnNI (the
  number in brackets is the size of the test set).
* DistiLLM: Ko et al. 2024, "DistiLLM: Towards Streamlined Distillation for Large Language Models".
  Mean (std) of five losses on five instruction-following benchmarks; the slide marks the skew rows
  with ●.
* SinKD: Cui et al. 2024, "SinKD: Sinkhorn Distance Minimization for Knowledge Distillation",
  Table 4 (f-divergence variants on GLUE) with the time complexity of each loss. MNLI has two
  numbers, matched / mismatched, kept as two columns; no std is reported.

Scores are higher-is-better in every table. ``divergence`` ties a row to the registry when the row
is one of our divergences (its colour and formula then come from there); Teacher, SFT and SeqKD are
reference rows and have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from kdviz.i18n import N_

NAN = float("nan")


@dataclass(frozen=True)
class Row:
    method: str  # as printed in the table
    divergence: str | None  # registry name, None for a non-divergence reference row
    mean: tuple[float, ...]  # one value per column
    std: tuple[float, ...] | None = None  # None: the table reports no std
    note: str = ""  # an extra column of the table (SinKD's complexity) or the slide's mark


@dataclass(frozen=True)
class PaperTable:
    # title, metric, note_header, conclusions and takeaway are in English, marked with N_ (translated
    # where shown); source (the paper's title in “quotes”), settings, benchmarks and methods are the
    # papers' own names
    key: str  # short id, used in URLs
    title: str
    source: str  # paper, authors, year
    metric: str  # what the numbers are
    settings: tuple[str, ...]  # teacher -> student pairs (one entry "" when the table has none)
    benchmarks: tuple[str, ...]  # column headers, the same for every setting
    rows: tuple[Row, ...]
    note_header: str = ""  # header of the `note` column ("" = no such column)
    conclusions: tuple[str, ...] = ()  # the seed's notes on this table
    takeaway: str = ""  # what the chart shows with the default selection (checked by the tests)

    def column(self, setting: str, benchmark: str) -> int:
        """Index into ``Row.mean`` of (setting, benchmark); ValueError if unknown."""
        if setting not in self.settings or benchmark not in self.benchmarks:
            raise ValueError(f"{self.key}: unknown column {setting!r} / {benchmark!r}; settings "
                             f"{list(self.settings)}, benchmarks {list(self.benchmarks)}")
        return self.settings.index(setting) * len(self.benchmarks) + self.benchmarks.index(benchmark)

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(r.method for r in self.rows)

    @property
    def has_std(self) -> bool:
        return all(r.std is not None for r in self.rows)


GPT2 = "GPT2 1.5B → GPT2 120M"
LLAMA = "LLaMA 6.7B → TinyLLaMA 1.1B"

AKL = PaperTable(
    key="akl", title=N_("AKL: forward vs reverse KL and their combinations"),
    source="Wu et al. 2024, “Rethinking Kullback-Leibler Divergence in Knowledge Distillation for Large "
           "Language Models” (AKL)",
    metric=N_("ROUGE-L, mean ± std (higher is better)"),
    settings=(GPT2, LLAMA),
    benchmarks=("Dolly (500)", "S-NI (1694)", "UnNI (10000)"),
    rows=(
        Row("Teacher", None,
            (26.98, 27.25, 31.61, 26.73, 32.75, 34.61), (0.27, 0.16, 0.16, 0.65, 0.24, 0.08)),
        Row("SFT", None, (23.01, 16.48, 18.43, 22.05, 27.79, 25.96), (0.18, 0.28, 0.09, 0.38, 0.20, 0.13)),
        Row("SeqKD", None, (23.30, 16.35, 18.51, 22.67, 26.97, 27.35), (0.38, 0.17, 0.04, 0.57, 0.32, 0.06)),
        Row("FKL", "fkl", (23.46, 16.63, 19.27, 22.24, 28.07, 26.93), (0.56, 0.48, 0.06, 0.38, 0.41, 0.09)),
        Row("RKL", "rkl", (22.62, 17.88, 19.35, 23.95, 28.90, 27.89), (0.34, 0.17, 0.06, 0.53, 0.41, 0.08)),
        Row("SKL", "skl", (23.47, 16.51, 18.46, 23.29, 29.89, 29.15), (0.49, 0.29, 0.08, 0.54, 0.18, 0.20)),
        Row("SRKL", "srkl", (23.25, 17.54, 19.31, 22.09, 29.60, 28.81), (0.22, 0.30, 0.10, 0.22, 0.38, 0.16)),
        Row("FKL+RKL", "fkl_rkl",
            (23.36, 17.83, 20.37, 24.08, 30.98, 30.48), (0.53, 0.23, 0.08, 0.51, 0.31, 0.10)),
        Row("AKL (Ours)", "akl",
            (23.88, 19.15, 21.97, 24.40, 31.37, 31.05), (0.46, 0.21, 0.13, 0.42, 0.23, 0.17)),
    ),
    conclusions=(
        N_("MiniLLM has no experiment comparing forward and reverse KL; this table supplies one."),
        N_("In LLM distillation the two directions each have their strengths (the seed's note says "
           "\"SKL and RKL\"): reverse KL does not dominate, but combining the directions (FKL+RKL, AKL) "
           "works well."),
    ),
    takeaway=N_("AKL has the best student score in all six columns and FKL+RKL is second in four: "
                "combining the two directions beats either one alone, while neither FKL nor RKL wins "
                "everywhere."),
)

DISTILLM = PaperTable(
    key="distillm", title=N_("DistiLLM: skew KL vs KL, reverse KL and generalized JSD"),
    source="Ko et al. 2024, “DistiLLM: Towards Streamlined Distillation for Large Language Models”",
    metric=N_("ROUGE-L, mean (std) (higher is better)"),
    settings=("",),
    benchmarks=("Dolly Eval", "Self-Instruct", "Vicuna Eval", "Super-Natural", "Unnatural"),
    rows=(
        Row("KLD", "fkl", (23.52, 11.23, 15.92, 20.68, 23.38), (0.22, 0.46, 0.41, 0.16, 0.13)),
        Row("RKLD", "rkl", (23.82, 10.90, 16.11, 22.47, 23.03), (0.34, 0.58, 0.46, 0.21, 0.11)),
        Row("Generalized JSD", "jsd", (24.34, 12.01, 15.21, 25.08, 27.54), (0.35, 0.54, 0.61, 0.36, 0.07)),
        Row("SKL", "skl", (24.80, 12.86, 16.20, 26.26, 28.06), (0.12, 0.34, 0.57, 0.41, 0.08), note="●"),
        Row("SRKL", "srkl", (25.21, 12.98, 15.77, 25.83, 28.62), (0.27, 0.24, 0.39, 0.15, 0.10), note="●"),
    ),
    note_header=N_("marked"),
    conclusions=(
        N_("SKL and SRKL improve clearly over KLD and RKLD."),
        N_("As with forward and reverse KL before them, SKL and SRKL have no clear advantage over each "
           "other."),
    ),
    takeaway=N_("SKL beats KLD and RKLD on all five benchmarks and SRKL on four, while SKL and SRKL split "
                "the wins between them (SRKL 3, SKL 2)."),
)

SINKD = PaperTable(
    key="sinkd", title=N_("SinKD: Sinkhorn distance vs f-divergences on GLUE"),
    source="Cui et al. 2024, “SinKD: Sinkhorn Distance Minimization for Knowledge Distillation” (Table 4)",
    metric=N_("GLUE dev score: MCC for COLA, F1 for MRPC, accuracy otherwise (higher is better)"),
    settings=("",),
    benchmarks=("COLA (MCC)", "SST-2 (ACC)", "MNLI-m (ACC)", "MNLI-mm (ACC)", "MRPC (F1)", "RTE (ACC)",
                "QNLI (ACC)", "QQP (ACC)"),
    rows=(
        Row("RKL", "rkl", (53.9, 91.6, 82.9, 83.4, 90.5, 67.1, 90.1, 91.1), note="O(bd)"),
        Row("JS", "jsd", (54.2, 92.2, 83.1, 83.7, 90.7, 68.9, 90.3, 91.2), note="O(bd)"),
        Row("TVD", "tvd", (54.1, 92.1, 83.3, 83.8, 90.9, 70.0, 90.2, 91.2), note="O(bd)"),
        Row("SinKD", "sinkhorn", (60.2, 93.1, 83.8, 84.2, 91.3, 71.1, 90.5, 91.3), note="O(b^2(d+T))"),
    ),
    note_header=N_("complexity"),
    conclusions=(
        N_("SinKD applies the Sinkhorn distance to distillation and beats the f-divergences on every GLUE "
           "task here, by a wide margin only on COLA."),
        N_("The gain has a price: the cost matrix compares every pair of samples in a batch, O(b²(d+T)) "
           "instead of O(bd) for RKL, JS and TVD (b: batch size, d: output dimension, T: Sinkhorn "
           "iterations)."),
    ),
    takeaway=N_("SinKD is best in every column, by six points on COLA and by at most about one point "
                "elsewhere, at a cost quadratic in the batch size."),
)

TABLES: dict[str, PaperTable] = {t.key: t for t in (AKL, DISTILLM, SINKD)}


def get_table(key: str) -> PaperTable:
    if key not in TABLES:
        raise ValueError(f"unknown table {key!r}; expected one of {sorted(TABLES)}")
    return TABLES[key]


@dataclass
class PaperView:
    """One table restricted to a setting, some benchmarks and some methods (rows x columns)."""

    table: str
    setting: str
    benchmarks: list[str]  # (B,)
    methods: list[str]  # (M,)
    divergences: list[str | None]  # (M,) registry name or None
    notes: list[str]  # (M,)
    mean: np.ndarray  # (M, B)
    std: np.ndarray | None  # (M, B); None when the table reports no std
    baseline: str | None  # method the differences are taken against
    diff: np.ndarray | None  # (M, B) mean - mean[baseline]
    diff_std: np.ndarray | None  # (M, B) sqrt(std^2 + std_baseline^2): independent runs assumed
    best: np.ndarray  # (M, B) bool: best student score of the column (reference rows excluded)


def paper_view(table: str, setting: str | None = None, benchmarks: Sequence[str] | None = None,
               methods: Sequence[str] | None = None, baseline: str | None = None) -> PaperView:
    """Select (setting, benchmarks, methods) of a table; differences to ``baseline`` if given.

    ``None`` selects the first setting, every benchmark, every method. "Best" is computed over
    all rows of the setting that are divergences (Teacher/SFT/SeqKD excluded), whatever is selected.
    """
    t = get_table(table)
    setting = t.settings[0] if setting is None else setting
    benchmarks = list(t.benchmarks if benchmarks is None else benchmarks)
    methods = list(t.methods if methods is None else methods)
    unknown = [m for m in [*methods, *([baseline] if baseline else [])] if m not in t.methods]
    if unknown:
        raise ValueError(f"{table}: unknown methods {unknown}; expected some of {list(t.methods)}")
    cols = [t.column(setting, b) for b in benchmarks]
    by_name = {r.method: r for r in t.rows}
    rows = [by_name[m] for m in methods]
    mean = np.array([[r.mean[c] for c in cols] for r in rows], dtype=float).reshape(len(rows), len(cols))
    std = (np.array([[r.std[c] for c in cols] for r in rows], dtype=float).reshape(len(rows), len(cols))
           if t.has_std else None)
    students = np.array([[r.mean[c] for c in cols] for r in t.rows if r.divergence], dtype=float)
    is_student = np.array([r.divergence is not None for r in rows])
    best = np.isclose(mean, students.max(0)[None, :]) & is_student[:, None]
    diff = diff_std = None
    if baseline:
        b = by_name[baseline]
        diff = mean - np.array([b.mean[c] for c in cols])[None, :]
        if std is not None:
            diff_std = np.sqrt(std**2 + np.array([b.std[c] for c in cols])[None, :] ** 2)
    return PaperView(table, setting, benchmarks, methods, [r.divergence for r in rows],
                     [r.note for r in rows], mean, std, baseline, diff, diff_std, best)


def long_format(table: str) -> dict[str, list]:
    """Every number of a table as columns (setting, benchmark, method, divergence, mean, std, note)."""
    t = get_table(table)
    out: dict[str, list] = {k: [] for k in ("table", "setting", "benchmark", "method", "divergence",
                                            "mean", "std", t.note_header or "note")}
    for s in t.settings:
        for b in t.benchmarks:
            c = t.column(s, b)
            for r in t.rows:
                for k, v in zip(out, (t.key, s, b, r.method, r.divergence or "", r.mean[c],
                                      r.std[c] if r.std else "", r.note)):
                    out[k].append(v)
    return out
