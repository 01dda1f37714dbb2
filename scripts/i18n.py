"""The message catalogues: find every marked string in the code and file new ones.

    python scripts/i18n.py check     # what is missing, untranslated, obsolete or has other placeholders
    python scripts/i18n.py update    # file new messages (empty translation) and drop obsolete ones

Marked strings are the arguments of ``_``, ``N_`` and ``ngettext`` (see :mod:`kdviz.i18n`) in
``app.py``, ``pages/``, ``ui/`` and ``kdviz/``, extracted with Babel. Each message lives in one
catalogue, ``kdviz/locale/zh/<area>.po``: a message used only by one lesson's files
(``pages/<lesson>.py``, ``kdviz/experiments/<lesson>.py``, ``kdviz/plots/<lesson>.py``; the lab's
``kdviz/lab/``) lives in ``<lesson>.po``, any other in ``common.po``. Translators edit the ``.po``
files; ``tests/test_i18n.py`` fails on any message this script would report.
"""

from __future__ import annotations

import re
import string
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["app.py", "pages", "ui", "kdviz"]
LOCALE = ROOT / "kdviz" / "locale"
LANGS = ("zh",)
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
HEADER = "# kdviz's messages in Chinese. Edit the translations; scripts/i18n.py files the messages."
STAMP = datetime(2026, 11, 29)  # fixed: the files change only when their messages do
LESSONS = sorted(p.stem for p in (ROOT / "pages").glob("*.py"))


def source_files() -> list[Path]:
    files = []
    for entry in SOURCES:
        path = ROOT / entry
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def area(path: Path) -> str:
    """The catalogue a message used only in ``path`` belongs to."""
    rel = path.relative_to(ROOT)
    if rel.parts[:2] == ("kdviz", "lab"):
        return "lab"
    lesson_file = rel.parts[0] == "pages" or rel.parts[:2] in (("kdviz", "experiments"), ("kdviz", "plots"))
    if lesson_file and rel.stem in LESSONS:
        return rel.stem
    return "common"


def extract() -> dict[str | tuple, dict]:
    """msgid (a tuple for plurals) -> {"areas": set, "locations": [(file, line)]}."""
    found: dict = defaultdict(lambda: {"areas": set(), "locations": []})
    for path in source_files():
        for line, message, _comments, _context in extract_from_file("python", str(path), keywords=KEYWORDS):
            msgid = message if isinstance(message, str) else tuple(message)
            if not (msgid if isinstance(msgid, str) else msgid[0]):
                continue
            found[msgid]["areas"].add(area(path))
            found[msgid]["locations"].append((str(path.relative_to(ROOT)), line))
    return dict(found)


def home(info: dict) -> str:
    areas = info["areas"]
    return next(iter(areas)) if len(areas) == 1 else "common"


def catalogues(lang: str) -> dict[str, Catalog]:
    out = {}
    for path in sorted((LOCALE / lang).glob("*.po")):
        with path.open("rb") as f:
            out[path.stem] = read_po(f, locale=lang)
    return out


def placeholders(text: str) -> list[str]:
    """The named ``{fields}`` of a format string (sorted, with repeats), or the %-style ones."""
    try:
        fields = [f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None]
    except ValueError:
        return ["<unbalanced braces>"]
    return sorted(fields + re.findall(r"%\(\w+\)[sdfgr]|%[sdfgr]", text))


def problems(lang: str) -> list[str]:
    """Every reason the ``lang`` catalogues are not complete and correct, one line each."""
    found, cats = extract(), catalogues(lang)
    out = []
    seen: dict = {}
    for name, cat in cats.items():
        for m in cat:
            if not m.id:
                continue
            if m.id in seen:
                out.append(f"{name}.po and {seen[m.id]}.po both hold {m.id!r}")
            seen[m.id] = name
            if m.id not in found:
                out.append(f"{name}.po: obsolete (no longer in the code): {m.id!r}")
                continue
            if home(found[m.id]) != name:
                out.append(f"{name}.po: {m.id!r} belongs in {home(found[m.id])}.po")
            ids = m.id if isinstance(m.id, tuple) else (m.id,)
            strs = m.string if isinstance(m.string, tuple) else (m.string,)
            if not all(strs) or m.fuzzy:
                out.append(f"{name}.po: untranslated{' (fuzzy)' if m.fuzzy else ''}: {m.id!r}")
                continue
            for s in strs:
                if placeholders(s) != placeholders(ids[-1]) and placeholders(s) != placeholders(ids[0]):
                    out.append(f"{name}.po: placeholders differ: {m.id!r} {placeholders(ids[0])} -> "
                               f"{s!r} {placeholders(s)}")
    for msgid, info in found.items():
        if msgid not in seen:
            where = ", ".join(f"{f}:{n}" for f, n in info["locations"][:3])
            out.append(f"missing from {home(info)}.po: {msgid!r} ({where})")
    return out


def update(lang: str) -> None:
    """File every extracted message in its catalogue (new ones with an empty translation, moved ones
    with theirs) and drop messages no longer in the code."""
    found, cats = extract(), catalogues(lang)
    known = {m.id: m for cat in cats.values() for m in cat if m.id}
    fresh: dict[str, Catalog] = {}
    for msgid, info in sorted(found.items(), key=lambda kv: kv[1]["locations"][0]):
        name = home(info)
        cat = fresh.setdefault(name, Catalog(locale=lang, domain="kdviz", project="kdviz", version="1",
                                             header_comment=HEADER, creation_date=STAMP,
                                             revision_date=STAMP, fuzzy=False))
        old = known.get(msgid)
        cat.add(msgid, old.string if old else ("", "") if isinstance(msgid, tuple) else "",
                locations=info["locations"], flags=old.flags if old else ())
    (LOCALE / lang).mkdir(parents=True, exist_ok=True)
    for name in set(cats) - set(fresh):
        (LOCALE / lang / f"{name}.po").unlink()
    for name, cat in fresh.items():
        with (LOCALE / lang / f"{name}.po").open("wb") as f:
            write_po(f, cat, width=100, omit_header=False, sort_output=False, include_lineno=False)


def main(argv: list[str]) -> int:
    if argv not in (["check"], ["update"]):
        print(__doc__)
        return 2
    for lang in LANGS:
        if argv == ["update"]:
            update(lang)
        report = problems(lang)
        for line in report:
            print(f"[{lang}] {line}")
        print(f"[{lang}] {len(report)} problem(s)", file=sys.stderr)
    return 0 if argv == ["update"] or not report else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
