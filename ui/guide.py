"""The guided "predict, then reveal" path of a lesson and the glossary, in one line per page:
``ui.guide("mode_seeking")`` under the page's title. The steps are data (:mod:`kdviz.guides`), in
English, marked for the catalogue and translated here.

In presentation mode the path is the slide sequence: one row with the previous step, "Step k of n:
title" (a click sets that step's controls) and the next step, and the step's question and answer
folded just under it."""

from __future__ import annotations

import streamlit as st

from kdviz.guides import GLOSSARY, MAIN_CHART, Step
from kdviz.guides import guide as steps_of
from kdviz.i18n import _, display


def md(text: str) -> str:
    """``text`` as literal markdown: the underscores of W_ε stay underscores, not italics."""
    return text.replace("_", r"\_")


def glossary() -> None:
    """A popover with the few words the lessons cannot avoid, in plain words."""
    with st.popover(_("Glossary"), icon=":material/menu_book:"):
        for term, meaning in GLOSSARY.items():
            st.markdown(_("**{term}**: {meaning}").format(term=md(_(term)), meaning=md(_(meaning))))


def _go(lesson: str, index: int, step: Step) -> None:
    """Callback: show step ``index`` and set the page's controls to its state (the widgets are bound
    to the URL, so the address bar follows). Runs before the page reruns, so the rerun uses them."""
    st.session_state[f"guide_{lesson}_step"] = index
    st.session_state[f"guide_{lesson}_set"] = index
    st.session_state.update(step.state)


def _heading(index: int, steps: tuple[Step, ...]) -> str:
    return _("Step {k} of {n}: {title}").format(k=index + 1, n=len(steps), title=_(steps[index].title))


def guide(lesson: str) -> None:
    """The lesson's guided path: one step at a time, each setting the controls in one click, asking
    a question (no answer preselected) and revealing the answer once the student has chosen."""
    steps = steps_of(lesson)
    index = st.session_state.get(f"guide_{lesson}_step", 0)
    ready = st.session_state.get(f"guide_{lesson}_set") == index
    (_slides if display().present else _path)(lesson, steps, index, ready)


def _path(lesson: str, steps: tuple[Step, ...], index: int, ready: bool) -> None:
    """The path in an expander next to the glossary, with its three buttons under the step's title."""
    step = steps[index]
    left, right = st.columns([5, 1], vertical_alignment="top")
    with right:
        glossary()
    title = _("Guided path: predict, then reveal ({n} steps, about 5 minutes)").format(n=len(steps))
    with left.expander(title, icon=":material/school:"):
        st.markdown(f"**{_heading(index, steps)}**")
        prev, here, nxt = st.columns(3)
        _previous_button(prev, lesson, steps, index, _("Previous step"))
        here.button(_("Set the controls") if not ready else _("Set them again"),
                    key=f"guide_{lesson}_apply", type="primary" if not ready else "secondary", on_click=_go,
                    args=(lesson, index, step), icon=":material/tune:")
        _next_button(nxt, lesson, steps, index, _("Next step"))
        if not ready:
            st.caption(_("Press “Set the controls”: the page reruns with this step's settings."))
            return
        _question(lesson, index, step)


def _slides(lesson: str, steps: tuple[Step, ...], index: int, ready: bool) -> None:
    """Presentation mode: previous, "Step k of n: title" (sets the controls), next and the glossary in
    one row; once the controls are set, the question folded under it, its text as the fold's title.
    A presenter's clicker (Page Up / Page Down) moves between the steps."""
    step = steps[index]
    with st.container(horizontal=True, vertical_alignment="center", key="guide_slides"):
        # previous, step, next: one row, on a phone too (ui.display's CSS gives it a minimum width)
        with st.container(horizontal=True, vertical_alignment="center", wrap=False, key="guide_step_row"):
            _previous_button(st, lesson, steps, index, "", help=_("Previous step (Page Up)"),
                             shortcut="PageUp")
            st.button(_heading(index, steps), key=f"guide_{lesson}_apply", on_click=_go,
                      args=(lesson, index, step), type="primary" if not ready else "secondary",
                      icon=":material/school:", width="stretch", help=_("Set the controls to this step"))
            _next_button(st, lesson, steps, index, "", help=_("Next step (Page Down)"), shortcut="PageDown")
        glossary()
    if ready:
        with st.expander(md(_(step.question)), icon=":material/help:"):
            _question(lesson, index, step, label_visibility="collapsed")


def _previous_button(where, lesson: str, steps: tuple[Step, ...], index: int, label: str, **kw) -> None:
    where.button(label, key=f"guide_{lesson}_prev", disabled=index == 0, on_click=_go,
                 args=(lesson, index - 1, steps[index - 1]), icon=":material/arrow_back:", **kw)


def _next_button(where, lesson: str, steps: tuple[Step, ...], index: int, label: str, **kw) -> None:
    after = min(index + 1, len(steps) - 1)
    where.button(label, key=f"guide_{lesson}_next", disabled=index == len(steps) - 1, on_click=_go,
                 args=(lesson, after, steps[after]), icon=":material/arrow_forward:", **kw)


def _question(lesson: str, index: int, step: Step, label_visibility: str = "visible") -> None:
    """The step's question (no answer preselected), then, once answered, the verdict and the reveal."""
    answer = st.radio(md(_(step.question)), range(len(step.options)), index=None,
                      format_func=lambda i: _(step.options[i]), key=f"guide_{lesson}_answer_{index}",
                      label_visibility=label_visibility)
    if answer is None:
        st.caption(_("Predict first: pick an answer, then look at the page."))
        return
    verdict = _("Right: {reveal}") if answer == step.answer else _("Not quite: {reveal}")
    (st.success if answer == step.answer else st.error)(verdict.format(reveal=md(_(step.reveal))))
    st.caption(_("See: {where}.").format(where=where_to_look(step)))


def where_to_look(step: Step) -> str:
    """The step's pointer in the viewer's language: the main chart, or the name the page shows,
    quoted."""
    if step.look_at == MAIN_CHART:
        return _(MAIN_CHART)
    return _("“{name}”, below").format(name=md(_(step.look_at)))
