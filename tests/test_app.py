"""The whole app under AppTest: it starts, every page of the navigation runs with its defaults,
home's catalogue is the registry, and the URL (query parameters) restores a page's controls.
Per-page behaviour is tested in tests/app/."""

import ast
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kdviz.divergences import DIVERGENCES
from kdviz.experiments.paper_results import TABLES
from kdviz.losses import call_example

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TIMEOUT = 300  # s: a page's first (uncached) fit on a loaded 2-core machine

# The navigation the brief asks for, in order.
EXPECTED = [
    ("Start", "pages/home.py", "Home"),
    ("Lessons", "pages/mode_seeking.py", "Mode seeking vs mean seeking"),
    ("Lessons", "pages/head_tail.py", "Head vs tail (AKL)"),
    ("Lessons", "pages/gradients.py", "Gradients"),
    ("Lessons", "pages/outliers.py", "Outliers and TVD"),
    ("Lessons", "pages/overlap.py", "Overlap, JSD and Wasserstein"),
    ("Lessons", "pages/optimal_transport.py", "Optimal transport and Sinkhorn"),
    ("Lessons", "pages/llm_logits.py", "From toys to LLM logits"),
    ("Papers", "pages/paper_results.py", "Results from the papers"),
    ("Lab", "pages/playground.py", "Playground"),
    ("Lab", "pages/lab.py", "Distillation lab"),
]


def app_pages() -> list[tuple[str, str, str, str]]:
    """``PAGES`` as written in app.py (section, file, title, icon), read without running the app
    (``N_("x")``, the catalogue's mark, read as ``"x"``)."""
    tree = ast.parse((ROOT / "app.py").read_text())
    node = next(n for n in tree.body
                if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PAGES")

    class Unmark(ast.NodeTransformer):
        def visit_Call(self, call):
            return call.args[0] if getattr(call.func, "id", "") == "N_" else call

    return ast.literal_eval(Unmark().visit(node.value))


def test_navigation_lists_every_page_in_order_with_icons_and_every_file_exists():
    pages = app_pages()
    assert [(s, f, t) for s, f, t, _ in pages] == EXPECTED
    assert all(icon.startswith(":material/") for *_, icon in pages)
    missing = [f for _, f, _ in EXPECTED if not (ROOT / f).exists()]
    assert not missing, f"pages not written yet: {missing}"


def test_app_starts_on_home_with_wide_layout_and_no_exception():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value.startswith("kdviz")


@pytest.mark.parametrize("path", [f for _, f, _ in EXPECTED[1:]])
def test_every_page_of_the_navigation_runs_with_its_defaults_without_exception_or_error(path):
    if not (ROOT / path).exists():
        pytest.fail(f"{path} does not exist yet")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(path).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title, "the page has no title"
    assert at.get("plotly_chart") or at.get("table") or at.get("dataframe"), "the page shows nothing"


def test_home_catalogue_has_one_row_per_registry_divergence_in_registry_order():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    table = at.table[0].value
    assert list(table.index) == [s.label for s in DIVERGENCES.values()]
    assert list(table["as a KD loss"]) == [call_example(n) for n in DIVERGENCES]
    assert "None" not in table.to_string() and "kdviz.divergences" not in table.to_string()


def test_home_links_every_existing_lesson_page():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    linked = {el.proto.page for el in at.get("page_link")}
    existing = {f for _, f, _ in EXPECTED[1:] if (ROOT / f).exists()}
    assert existing and {Path(p).stem for p in linked} == {Path(p).stem for p in existing}


def _chart(at: AppTest, key: str) -> dict:
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, key
    return json.loads(found[0].proto.spec)


def test_paper_results_figure_follows_the_table_selection():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("pages/paper_results.py").run()
    before = _chart(at, "pr_chart")
    assert [t["name"] for t in before["data"]] == list(TABLES["akl"].methods)
    at.button_group(key="pr_table").set_value("distillm").run()
    after = _chart(at, "pr_chart")
    assert [t["name"] for t in after["data"]] == list(TABLES["distillm"].methods)
    assert after["data"][0]["x"] == list(TABLES["distillm"].benchmarks)


def test_playground_runs_with_defaults_and_with_non_default_settings():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("pages/playground.py").run()
    assert not at.exception and _chart(at, "pg_anim")["frames"]
    at.radio(key="pg_student").set_value("softmax").run()
    at.slider(key="pg_steps").set_value(60).run()
    assert not at.exception and _chart(at, "pg_headtail")
    at.multiselect(key="pg_divs").set_value(["tvd", "skl"]).run()
    at.slider(key="pg_skl_alpha").set_value(0.5).run()
    assert not at.exception and not at.error
    assert [t["name"] for t in _chart(at, "pg_loss")["data"]] == ["TVD", "Skew KL"]


def test_url_query_parameters_restore_a_pages_controls():
    at = AppTest.from_file(str(ROOT / "pages" / "paper_results.py"), default_timeout=TIMEOUT)
    at.query_params.update(
        {"pr_table": "SinKD", "pr_view": "difference to a baseline", "pr_sinkd_base": "JS"})
    at.run()
    assert not at.exception
    assert at.button_group(key="pr_table").value == "sinkd"
    assert at.radio(key="pr_view").value == "difference to a baseline"
    assert at.selectbox(key="pr_sinkd_base").value == "JS"
    assert "JS" in _chart(at, "pr_chart")["layout"]["yaxis"]["title"]["text"]
