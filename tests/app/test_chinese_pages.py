"""Every page in Chinese (``?lang=zh``) shows no English sentence: the rendered AppTest text of each
page (headings, text, alerts, widget labels, help and options, expanders, tables, download and link
labels, and the figures' titles, axes, legends, annotations and animation controls) has no run of
two English words once formulas, code and proper names are set aside."""

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kdviz.experiments.paper_results import TABLES

ROOT = Path(__file__).resolve().parents[2]
# The page as app.py runs it: the viewer's display set up first (AppTest's switch_page runs a page
# file without its app.py), then the page.
AS_APP_PY_RUNS_IT = """
import runpy, sys
sys.path.insert(0, {root!r})
from ui.display import setup
setup()
runpy.run_path({page!r}, run_name="__main__")
"""
PAGES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))

# Proper names and technical tokens that stay in English in the Chinese pages (extend with proper
# names only: a common English word here would hide untranslated text).
NAMES = {
    "KL", "FKL", "RKL", "KLD", "FKLD", "RKLD", "JSD", "JS", "TVD", "AKL", "SKL", "SRKL", "OT", "CE", "MSE",
    "Sinkhorn", "Wasserstein", "Jensen", "Shannon", "Adam", "AdamW", "SGD", "softmax", "logits", "logit",
    "MiniLLM", "DistiLLM", "GKD", "SinKD", "TRL", "Liger", "GPT", "LLM", "LLMs", "KD", "POT", "BPE", "ROUGE",
    "GLUE", "BLEU", "Okabe", "Ito", "Paul", "Tol", "et", "al", "kdviz", "Python", "PyTorch", "CSV", "JSON",
    "PNG", "SQLite", "URL", "CPU", "GPU", "English", "Hinton", "Gu", "Wu", "Ko", "Agarwal", "Lin", "Cuturi",
    "Genevay", "Feydy", "Peyré", "Villani", "Zipf", "Gaussian", "token", "tokens", "top", "Fig", "Figure",
    "Table", "Vicuna", "Dolly", "SelfInst", "OpenLLaMA", "LLaMA", "Llama", "Qwen", "OPT", "Dolly", "UnNI",
    "S-NI", "SeqKD", "ImitKD", "SFT", "distinct", "NLL", "ε", "λ", "β", "α", "μ", "σ",
}
RUN = re.compile(r"[A-Za-z]+(?:['’\-][A-Za-z]+)*(?:[\s,;:/()]+[A-Za-z]+(?:['’\-][A-Za-z]+)*)+")
SET_ASIDE = [
    re.compile(r"\$\$.*?\$\$", re.S), re.compile(r"\$[^$]*\$"), re.compile(r"```.*?```", re.S),
    re.compile(r"`[^`]*`"), re.compile(r"https?://\S+"), re.compile(r"<[^>]+>"),
    re.compile(r":material/\w+:"),
    re.compile(r"\\[A-Za-z]+"),  # LaTeX commands outside $...$ (figure labels)
    re.compile(r"\bd[A-Za-z]*/d[A-Za-z]+\b"),  # derivatives: dD/ds
    *(re.compile(re.escape(t.source)) for t in TABLES.values()),  # the papers' titles, as published
]
CODE = re.compile(r"^\s*[A-Za-z_][\w.]*\(")  # a table cell holding a call: kd_loss(...)


def english_runs(text: str) -> list[str]:
    """Runs of two or more English words left in ``text`` after formulas, code, markup and
    :data:`NAMES` (and single letters, the maths' variables) are set aside."""
    if CODE.match(text):
        return []
    for pattern in SET_ASIDE:
        text = pattern.sub(" | ", text)
    words = re.sub(r"[A-Za-z]+(?:['’\-][A-Za-z]+)*",
                   lambda m: m.group() if m.group() not in NAMES and len(m.group()) > 1 else " | ", text)
    return RUN.findall(words)


def figure_texts(spec: dict) -> list[str]:
    """The words a figure shows: titles, axis titles, trace names, annotations, legend title,
    colour-bar titles, animation buttons and slider labels."""
    out = []

    def title(node):
        if isinstance(node, dict):
            node = node.get("text", "")
        if isinstance(node, str):
            out.append(node)

    layout = spec.get("layout", {})
    title(layout.get("title"))
    for key, value in layout.items():
        if re.fullmatch(r"[xy]axis\d*|coloraxis", key) and isinstance(value, dict):
            title(value.get("title"))
            title(value.get("colorbar", {}).get("title"))
    title(layout.get("legend", {}).get("title"))
    out += [a.get("text", "") for a in layout.get("annotations", [])]
    for menu in layout.get("updatemenus", []):
        out += [b.get("label", "") for b in menu.get("buttons", [])]
    for slider in layout.get("sliders", []):
        out.append(slider.get("currentvalue", {}).get("prefix", ""))
    for trace in spec.get("data", []):
        if trace.get("showlegend", True) is not False:
            out.append(str(trace.get("name", "")))
        title(trace.get("colorbar", {}).get("title"))
    return out


def page_texts(at: AppTest) -> list[tuple[str, str]]:
    """(element type, text) of everything on the page that a person reads."""
    out = []
    for node in at._tree:
        kind = getattr(node, "type", "")
        if kind in ("latex", "code", "exception", "html", "json"):
            continue
        proto = getattr(node, "proto", None)
        if kind == "plotly_chart":
            out += [(kind, t) for t in figure_texts(json.loads(proto.spec))]
            continue
        if kind in ("dataframe", "table"):
            frame = node.value
            out += [(kind, str(c)) for c in frame.columns]
            out += [(kind, str(i)) for i in frame.index if isinstance(i, str)]
            out += [(kind, v) for col in frame.columns for v in frame[col] if isinstance(v, str)]
            continue
        for attr in ("label", "help", "placeholder"):
            value = _safe(node, attr)
            if isinstance(value, str):
                out.append((kind, value))
        if kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error",
                    "success", "text", "toast"):
            out.append((kind, str(node.value)))
        options = _safe(node, "options")
        if isinstance(options, (list, tuple)):
            out += [(kind, str(o)) for o in options]
        if kind == "button_group":
            out += [(kind, o.content) for o in proto.options]
        for sub in ("expandable", "tab", "popover"):
            if proto is not None and hasattr(proto, "HasField") and _has(proto, sub):
                out.append((sub, getattr(proto, sub).label))
    return out


def _safe(node, attr):
    try:
        return getattr(node, attr, None)
    except Exception:  # a property that needs state this node does not have
        return None


def _has(proto, field: str) -> bool:
    try:
        return proto.HasField(field)
    except ValueError:
        return False


@pytest.mark.parametrize("text, runs", [
    ("学生 (student) 覆盖所有峰", []),
    ("forward KL covers every mode", ["forward | covers every mode"]),
    ("正向KL $\\mathrm{KL}(p\\|q)$ 与 `kd_loss(s, t, \"fkl\")`", []),
    ("Sinkhorn divergence 的偏差", []),
    ("MiniLLM (Gu et al. 2023) 图2", []),
    ("What you should see: 学生", ["What you should see"]),
    ("Loss axis", ["Loss axis"]),
    ("teacher p 与 student q", []),
    ('kd_loss(student_logits, teacher_logits, "fkl", labels=labels)', []),
    ("梯度 dD/ds 的大小", []),
])
def test_english_runs_finds_sentences_and_sets_aside_formulas_code_and_names(text, runs):
    found = english_runs(text)
    assert bool(found) == bool(runs), found


@pytest.mark.parametrize("path", PAGES)
def test_the_chinese_page_shows_no_english_sentence_outside_formulas_code_and_names(path):
    script = AS_APP_PY_RUNS_IT.format(root=str(ROOT), page=str(ROOT / path))
    at = AppTest.from_string(script, default_timeout=300)
    at.query_params["lang"] = "zh"  # a link to the page: /<page>?lang=zh
    at.run()
    assert not at.exception, at.exception
    texts = page_texts(at)
    assert len(texts) > 10, "the page's text was not found"
    english = sorted({(kind, text[:120]) for kind, text in texts if english_runs(text)})
    assert not english, f"{len(english)} English texts on {path} in Chinese:\n" + "\n".join(
        f"  [{kind}] {text}" for kind, text in english[:60])
