"""The browser-test machinery itself (no browser needed): when the tests skip or fail without
Chromium, and how the pages app.py declares are read."""

from __future__ import annotations

from pathlib import Path

import _browser as B


def test_missing_chromium_skips_only_outside_ci():
    assert B.missing_browser_outcome(None, {}) == "skip"
    assert B.missing_browser_outcome(None, {"CI": ""}) == "skip"
    assert B.missing_browser_outcome(None, {"CI": "false"}) == "skip"
    assert B.missing_browser_outcome(None, {"CI": "1"}) == "fail"
    assert B.missing_browser_outcome(None, {"CI": "true"}) == "fail"
    assert B.missing_browser_outcome("/usr/bin/chromium", {"CI": "1"}) is None
    assert B.missing_browser_outcome("/usr/bin/chromium", {}) is None


def test_declared_pages_reads_literal_and_looped_st_page_entries(tmp_path: Path):
    (tmp_path / "pages").mkdir()
    for stem in ("home", "a", "b", "c_01"):
        (tmp_path / "pages" / f"{stem}.py").write_text("")
    (tmp_path / "app.py").write_text(
        "import streamlit as st\n"
        "PAGES = [('pages/home.py', 'Home'), ('pages/a.py', 'A'), ('pages/missing.py', 'M')]\n"
        "pages = [st.Page(p, title=t, default=p == 'pages/home.py') for p, t in PAGES]\n"
        "pages.append(st.Page('pages/b.py', title='B', url_path='bee'))\n"
        "pages.append(st.Page('pages/c_01.py', title='C'))\n"
        "st.navigation(pages).run()\n")
    declared = B.declared_pages(tmp_path / "app.py")
    assert [(d.path, d.url_path, d.default) for d in declared] == [
        ("pages/home.py", "home", True), ("pages/a.py", "a", False),
        ("pages/b.py", "bee", False), ("pages/c_01.py", "c_01", False)]


def test_every_page_file_is_declared_in_app_py():
    files = sorted(f"pages/{p.name}" for p in (B.REPO / "pages").glob("*.py") if not p.name.startswith("_"))
    declared = {d.path for d in B.declared_pages()}
    assert files, "pages/ holds no page"
    assert not [f for f in files if f not in declared], "page files that app.py does not navigate to"
