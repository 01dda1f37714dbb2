"""The guided "predict, then reveal" path of a lesson and the glossary, in one line per page:
``ui.guide("mode_seeking")`` under the page's title. The steps are data (:mod:`kdviz.guides`)."""

from __future__ import annotations

import streamlit as st

from kdviz.guides import GLOSSARY, Step
from kdviz.guides import guide as steps_of


def md(text: str) -> str:
    """``text`` as literal markdown: the underscores of W_ε stay underscores, not italics."""
    return text.replace("_", r"\_")


def glossary() -> None:
    """A popover with the few words the lessons cannot avoid, in plain words."""
    with st.popover("Glossary", icon=":material/menu_book:"):
        for term, meaning in GLOSSARY.items():
            st.markdown(f"**{term}**: {meaning}")


def _go(lesson: str, index: int, step: Step) -> None:
    """Callback: show step ``index`` and set the page's controls to its state (the widgets are bound
    to the URL, so the address bar follows). Runs before the page reruns, so the rerun uses them."""
    st.session_state[f"guide_{lesson}_step"] = index
    st.session_state[f"guide_{lesson}_set"] = index
    st.session_state.update(step.state)


def guide(lesson: str) -> None:
    """The lesson's guided path: one step at a time, each setting the controls in one click, asking
    a question (no answer preselected) and revealing the answer once the student has chosen."""
    steps = steps_of(lesson)
    index = st.session_state.get(f"guide_{lesson}_step", 0)
    step = steps[index]
    left, right = st.columns([5, 1], vertical_alignment="top")
    with right:
        glossary()
    with left.expander(f"Guided path: predict, then reveal ({len(steps)} steps, about 5 minutes)",
                       icon=":material/school:"):
        st.markdown(f"**Step {index + 1} of {len(steps)}: {step.title}**")
        ready = st.session_state.get(f"guide_{lesson}_set") == index
        prev, here, nxt = st.columns(3)
        prev.button("Previous step", key=f"guide_{lesson}_prev", disabled=index == 0, on_click=_go,
                    args=(lesson, index - 1, steps[index - 1]), icon=":material/arrow_back:")
        here.button("Set the controls" if not ready else "Set them again", key=f"guide_{lesson}_apply",
                    type="primary" if not ready else "secondary", on_click=_go, args=(lesson, index, step),
                    icon=":material/tune:")
        nxt.button("Next step", key=f"guide_{lesson}_next", disabled=index == len(steps) - 1, on_click=_go,
                   args=(lesson, min(index + 1, len(steps) - 1), steps[min(index + 1, len(steps) - 1)]),
                   icon=":material/arrow_forward:")
        if not ready:
            st.caption("Press “Set the controls”: the page reruns with this step's settings.")
            return
        answer = st.radio(md(step.question), range(len(step.options)), index=None,
                          format_func=lambda i: step.options[i], key=f"guide_{lesson}_answer_{index}")
        if answer is None:
            st.caption("Predict first: pick an answer, then look at the page.")
            return
        verdict = st.success if answer == step.answer else st.error
        verdict(f"{'Right' if answer == step.answer else 'Not quite'}: {md(step.reveal)}")
        st.caption(f"See: {step.look_at}, below.")
