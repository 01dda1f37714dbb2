"""Streamlit code shared by the pages (the only UI code outside pages/; kdviz/ never imports this).

- :mod:`ui.cache`: the one caching pattern, ``@ui.cached``: a run's ``(result, figures)`` shared
  read-only by every session, memory bounded in bytes;
- :mod:`ui.url`: widgets bound to the URL, whose URL values a person can type;
- :mod:`ui.controls`: the controls several pages share (teachers, optimiser, divergence picker);
- :mod:`ui.page`: header, takeaway and downloads of a lesson;
- :mod:`ui.display`: the viewer's language, theme and presentation mode, and the page parts that
  change with it (main controls and chart, secondary panels);
- :mod:`ui.guide`: a lesson's guided "predict, then reveal" path and the glossary;
- :mod:`ui._internals`: the one Streamlit internal the app relies on.
"""

from ui import url
from ui._internals import leave_pages_directory_mode
from ui.cache import cached
from ui.controls import (
    discrete_teacher,
    divergence_picker,
    mixture_teacher,
    optimiser,
    teacher_upload,
    warn_lr,
)
from ui.display import main_chart, main_controls, secondary
from ui.guide import glossary, guide
from ui.page import downloads, lesson_header, takeaway

__all__ = ["cached", "discrete_teacher", "divergence_picker", "downloads", "glossary", "guide",
           "lesson_header", "main_chart", "main_controls", "mixture_teacher", "optimiser", "secondary",
           "takeaway", "teacher_upload", "url", "warn_lr"]

leave_pages_directory_mode()  # every page imports ui: a first visitor's page goes through app.py
