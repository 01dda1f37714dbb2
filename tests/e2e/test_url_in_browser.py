"""URL values typed by hand, in a real browser against a real server: a bad number is dropped
with a note and the address bar loses it; an option given by its key is selected."""

from __future__ import annotations

from urllib.parse import unquote_plus

import pytest

import _browser as B

pytestmark = pytest.mark.e2e


def test_a_first_visit_by_a_hand_typed_link_fixes_the_url_and_says_so(page, app_server):
    B.open_page(page, f"{app_server.url}/gradients?gr_seed=inf&gr_preset=akl_unimodal", timeout=180)
    assert not B.problems(page), B.problems(page)
    body = page.inner_text("body")
    assert "gr_seed=inf" in body and "not a finite number" in body
    url = unquote_plus(page.url)
    assert "gr_seed" not in url and "gr_preset=AKL toy: unimodal" in url  # the key became its label
