"""Widgets bound to the URL whose URL values a person can type.

Every widget made here has a key and ``bind="query-params"``, so the address bar reproduces the
page. Before a widget is first drawn in a session, its value in the URL is checked:

- an option may be given by its key (``ht_opt=sgd``, ``ht_divs=fkl``) or by its label (``SGD``),
  a box by true/false, 1/0, yes/no or on/off;
- a number must be finite; out of its widget's range it is clamped;
- anything else is dropped.

A value that had to be changed is rewritten in the URL and the page reruns once; a value that was
clamped or dropped gets a note at the top of the page (:func:`show_notes`), never silence.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import streamlit as st

from kdviz.i18n import LANGUAGES, _, display, displayed

_NOTES = "_url_notes"  # session state: notes waiting to be shown
_CHECKED = "_url_checked"  # session state: keys whose URL value has been checked (once per session)
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def show_notes() -> None:
    """The notes about URL values that were changed or dropped, once, at the top of the page."""
    for note in st.session_state.pop(_NOTES, []):
        st.info(_("Link: {note}").format(note=note), icon=":material/link:")


def add_note(note: str) -> None:
    """Keep ``note`` about a link's value for :func:`show_notes` at the top of the page."""
    st.session_state.setdefault(_NOTES, []).append(note)


def _unchecked_url_value(key: str) -> list[str] | None:
    """The URL's values for ``key`` if the widget is new in this session and not yet checked."""
    checked = st.session_state.setdefault(_CHECKED, set())
    if key in checked or key in st.session_state or key not in st.query_params:
        return None
    checked.add(key)
    return st.query_params.get_all(key)


def _rewrite(key: str, value: str | list[str] | None, note: str | None) -> None:
    """Put ``value`` in the URL for ``key`` (None: drop it), keep ``note`` for the page, rerun.
    The rerun seeds the widget from the corrected URL: Streamlit reads it before the widget exists."""
    if note:
        add_note(note)
    if value is None:
        del st.query_params[key]
    else:
        st.query_params[key] = value
    st.rerun()


def _check_number(key: str, lo: float, hi: float, integer: bool) -> None:
    raw = _unchecked_url_value(key)
    if raw is None:
        return
    text = raw[-1] if raw else ""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        _rewrite(key, None, _("`{key}={text}` is not a finite number; the control keeps its default.").format(
            key=key, text=text))
    clamped = min(max(value, lo), hi)
    if integer:
        clamped = int(round(clamped))
    if clamped != value:
        note = (_("`{key}={text}` is outside [{lo:g}, {hi:g}]; set to {value:g}.") if not lo <= value <= hi
                else _("`{key}={text}` is not a whole number; set to {value:g}."))
        _rewrite(key, str(clamped), note.format(key=key, text=text, lo=lo, hi=hi, value=clamped))
    if len(raw) > 1:
        _rewrite(key, text, _("`{key}` was given {n} times; the last value, {text}, is used.").format(
            key=key, n=len(raw), text=text))


def _match(value: str, options: Sequence, fmt: Callable) -> str | None:
    """The label of the option ``value`` names (by its label in any language, its key or an equal
    number), or None: a link copied from a Chinese page works on an English one."""
    for option in options:
        if value == str(option) or value in _labels(option, fmt):
            return str(fmt(option))
    try:
        number = float(value)
    except ValueError:
        return None
    return next((str(fmt(o)) for o in options if isinstance(o, (int, float)) and not isinstance(o, bool)
                 and math.isclose(o, number, rel_tol=1e-9)), None)


def _labels(option, fmt: Callable) -> set[str]:
    """``fmt(option)`` in every language."""
    here = display()
    labels = set()
    for lang in LANGUAGES:
        with displayed(dataclasses.replace(here, lang=lang)):
            labels.add(str(fmt(option)))
    return labels


def _check_options(key: str, options: Sequence, fmt: Callable, multi: bool) -> None:
    raw = _unchecked_url_value(key)
    if raw is None or (multi and raw == [""]):  # ?key= : an empty selection
        return
    labels = [_match(v, options, fmt) for v in raw]
    known = [lab for lab in labels if lab is not None]
    unknown = [v for v, lab in zip(raw, labels) if lab is None]
    if not multi:
        known = known[-1:]
    if not unknown and known == raw:
        return
    choices = ", ".join(f"{o}" if str(o) == str(fmt(o)) else f"{o} ({fmt(o)})" for o in options)
    note = (_("`{key}`: {values} is not an option (options: {choices}).").format(
        key=key, values=", ".join(map(repr, unknown)), choices=choices) if unknown else None)
    _rewrite(key, (known if multi else known[0]) if known else None, note)


def _check_bool(key: str) -> None:
    raw = _unchecked_url_value(key)
    if raw is None:
        return
    text = raw[-1].lower() if raw else ""
    if text in ("true", "false") and len(raw) == 1:
        return
    if text in _TRUE + _FALSE:
        _rewrite(key, "true" if text in _TRUE else "false", None)
    _rewrite(key, None, _("`{key}={text}` is not true or false; the box keeps its default.").format(
        key=key, text=raw[-1] if raw else ""))


def slider(label: str, lo: float, hi: float, value: float, step: float | None = None, *, key: str, **kw):
    """``st.slider`` bound to the URL (a URL value out of [lo, hi] is clamped)."""
    _check_number(key, lo, hi, isinstance(value, int) and isinstance(lo, int))
    return st.slider(label, lo, hi, value, step, key=key, bind="query-params", **kw)


def number(label: str, lo: float, hi: float, value: float, step: float | None = None, *, key: str, **kw):
    """``st.number_input`` bound to the URL (a URL value out of [lo, hi] is clamped)."""
    _check_number(key, lo, hi, isinstance(value, int) and isinstance(lo, int))
    return st.number_input(label, lo, hi, value, step, key=key, bind="query-params", **kw)


def choice(label: str, options: Sequence, *, key: str, widget: Callable = st.radio,
           format_func: Callable = str,
           **kw):
    """One option (``widget``: st.radio, st.selectbox, st.select_slider, st.segmented_control) bound
    to the URL, where it may be named by its key or its label."""
    _check_options(key, options, format_func, multi=False)
    return widget(label, list(options), key=key, bind="query-params", format_func=format_func, **kw)


def choices(label: str, options: Sequence, default: Sequence, *, key: str, widget: Callable = st.multiselect,
            format_func: Callable = str, **kw) -> list:
    """Several options (``widget``: st.multiselect, or st.pills with ``selection_mode="multi"``)
    bound to the URL, each named by its key or its label."""
    _check_options(key, options, format_func, multi=True)
    return widget(label, list(options), default=list(default), key=key, bind="query-params",
                  format_func=format_func, **kw)


def checkbox(label: str, *, key: str, **kw) -> bool:
    """``st.checkbox`` bound to the URL (true/false, also 1/0, yes/no, on/off)."""
    _check_bool(key)
    return st.checkbox(label, key=key, bind="query-params", **kw)
