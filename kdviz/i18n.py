"""What the viewer sees things in: their language, theme and presentation mode, and the message
catalogue that puts kdviz's English into Chinese.

Every string shown to people is written in English in the code and marked for translation:

- ``_("Fitted in {steps} steps").format(steps=n)`` translates at run time, in the viewer's language;
  placeholders are named (``{steps}``) so a translation can move them;
- ``N_("Forward KL")`` only marks a constant (a registry label, a guide step) for the catalogue: it
  returns its argument, and the code that shows the constant translates it with ``_``.

The catalogues are gettext ``.po`` files, ``kdviz/locale/<lang>/*.po`` (one per lesson area plus
``common.po``; ``scripts/i18n.py`` extracts the marked strings with Babel and files new ones). They
are read with Babel and compiled in memory into the standard library's ``gettext.GNUTranslations``,
once per process. English is the source language and has no catalogue.

The display is a context variable: the app sets it once per rerun (``ui.display.setup``) in the
session's script thread, so library code (takeaways, figures) reads it without knowing about
Streamlit, and a cached run is keyed by it (``ui.cached``).
"""

from __future__ import annotations

import contextvars
import gettext
import io
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LANGUAGES = {"en": "English", "zh": "中文"}
THEMES = ("light", "dark")
LOCALE_DIR = Path(__file__).parent / "locale"


@dataclass(frozen=True)
class Display:
    """How one viewer sees the app: ``lang`` (a key of :data:`LANGUAGES`), ``theme`` ("light" or
    "dark") and ``present`` (presentation mode: large type, one chart per screen)."""

    lang: str = "en"
    theme: str = "light"
    present: bool = False

    def __post_init__(self):
        if self.lang not in LANGUAGES:
            raise ValueError(f"lang must be one of {list(LANGUAGES)}, got {self.lang!r}")
        if self.theme not in THEMES:
            raise ValueError(f"theme must be one of {list(THEMES)}, got {self.theme!r}")


_DISPLAY: contextvars.ContextVar[Display] = contextvars.ContextVar("kdviz_display", default=Display())


def display() -> Display:
    """The current viewer's display (the default, English light, outside the app)."""
    return _DISPLAY.get()


def set_display(value: Display) -> None:
    """Make ``value`` the display of this thread's context (the app: once per rerun)."""
    _DISPLAY.set(value)


@contextmanager
def displayed(value: Display):
    """``with displayed(Display(lang="zh")):`` everything inside sees ``value``."""
    token = _DISPLAY.set(value)
    try:
        yield value
    finally:
        _DISPLAY.reset(token)


def read_catalogue(lang: str):
    """The merged ``babel.messages.Catalog`` of every ``kdviz/locale/<lang>/*.po`` file."""
    from babel.messages.catalog import Catalog  # imported on first use: only Chinese pages need it
    from babel.messages.pofile import read_po

    merged = Catalog(locale=lang, domain="kdviz")
    for path in sorted((LOCALE_DIR / lang).glob("*.po")):
        with path.open("rb") as f:
            for message in read_po(f, locale=lang):
                if message.id:
                    merged[message.id] = message
    return merged


@lru_cache(maxsize=None)
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (English: none, every message stands for itself)."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {list(LANGUAGES)}, got {lang!r}")
    if lang == "en":
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo

    buffer = io.BytesIO()
    write_mo(buffer, read_catalogue(lang))  # fuzzy and empty translations are left out
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _(message: str) -> str:
    """``message`` in the viewer's language."""
    return translations(_DISPLAY.get().lang).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for ``n``, in the viewer's language."""
    return translations(_DISPLAY.get().lang).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it (translate where it is shown)."""
    return message


def sentences(parts) -> str:
    """Sentences joined as the viewer's language writes them: with a space in English, without one
    in Chinese (its sentences end in a full-width stop)."""
    return ("" if _DISPLAY.get().lang == "zh" else " ").join(p for p in parts if p)


def listing(items) -> str:
    """Items of a list in running text: "a, b, c" in English, "a、b、c" in Chinese."""
    return ("、" if _DISPLAY.get().lang == "zh" else ", ").join(items)
