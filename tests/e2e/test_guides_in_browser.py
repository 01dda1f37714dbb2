"""The guided "predict, then reveal" path of every lesson, driven end to end in one headless
Chromium against `streamlit run`: each step's button sets the controls (the address bar follows),
the question has no answer until one is clicked, and the answer reveals the step's sentence."""

from __future__ import annotations

from urllib.parse import unquote_plus

import pytest

import _browser as B
from kdviz.guides import GUIDES

pytestmark = pytest.mark.e2e
TIMEOUT = 240.0  # s: a cold page or a step's fits on a loaded 2-core machine


def click_and_wait(page, locator) -> None:
    runs = B.script_state(page)["runs"]
    locator.click()
    B.wait_until_idle(page, timeout=TIMEOUT, min_runs=runs + 1)


def test_the_guided_path_runs_end_to_end_on_every_lesson(page, app_server):
    for lesson, steps in GUIDES.items():
        B.open_page(page, f"{app_server.url}/{lesson}", timeout=TIMEOUT)
        page.get_by_text("Guided path: predict, then reveal").click()
        previous_url = ""
        for i, step in enumerate(steps):
            button = "Set the controls" if i == 0 else "Next step"
            click_and_wait(page, page.get_by_role("button", name=button))
            assert f"Step {i + 1} of {len(steps)}: {step.title}" in page.inner_text("body")
            url = unquote_plus(page.url)
            if i and step.state != steps[i - 1].state:  # the controls changed: so did the address bar
                assert url != previous_url, (lesson, step.title, url)
            previous_url = url
            assert step.reveal not in page.inner_text("body"), "revealed before the student answered"
            question = page.locator('[data-testid="stRadio"]').filter(has_text=step.question[:30])
            click_and_wait(page, question.get_by_text(step.options[step.answer], exact=True))
            body = page.inner_text("body")
            assert f"Right: {step.reveal}" in body, (lesson, step.title)
            assert not B.problems(page), (lesson, step.title, B.problems(page))
