"""The message catalogues (kdviz.i18n, scripts/i18n.py): every marked message has a Chinese
translation with the same placeholders, each lives in exactly one catalogue, and the display
(language, theme, presentation) reaches library code, the job queue and the shared cache."""

import importlib.util
import threading
from pathlib import Path

import pytest

from kdviz.i18n import N_, Display, _, display, displayed, translations
from kdviz.jobs import JobQueue

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
catalogue_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(catalogue_tool)


def test_every_marked_message_has_a_chinese_translation_with_the_same_placeholders_in_one_catalogue():
    problems = catalogue_tool.problems("zh")
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} in all; run scripts/i18n.py update)"


def test_the_extractor_finds_marked_messages_and_files_lesson_messages_in_their_lessons_catalogue():
    found = catalogue_tool.extract()
    assert "Presentation mode" in found  # ui/display.py
    assert catalogue_tool.area(ROOT / "pages" / "mode_seeking.py") == "mode_seeking"
    assert catalogue_tool.area(ROOT / "kdviz" / "plots" / "mode_seeking.py") == "mode_seeking"
    assert catalogue_tool.area(ROOT / "kdviz" / "lab" / "train.py") == "lab"
    assert catalogue_tool.area(ROOT / "ui" / "page.py") == "common"


@pytest.mark.parametrize("text, expected", [
    ("{a} and {b}", ["a", "b"]), ("{x:.2f} of {x}", ["x", "x"]), ("100%", []), ("%(n)s items", ["%(n)s"]),
    ("{", ["<unbalanced braces>"])])
def test_placeholders_are_read_as_the_format_fields_a_translation_must_keep(text, expected):
    assert catalogue_tool.placeholders(text) == expected


def test_a_message_is_chinese_under_lang_zh_and_itself_in_english_and_n_marks_without_translating():
    assert _("Presentation mode") == "Presentation mode"
    with displayed(Display(lang="zh")):
        zh = translations("zh").gettext("Presentation mode")
        assert _("Presentation mode") == zh != "Presentation mode"
        assert N_("Presentation mode") == "Presentation mode"
        assert _("a message nobody marked") == "a message nobody marked"
    assert display() == Display()


@pytest.mark.parametrize("kwargs", [dict(lang="fr"), dict(theme="sepia")])
def test_a_display_refuses_an_unknown_language_or_theme(kwargs):
    with pytest.raises(ValueError, match="must be one of"):
        Display(**kwargs)


def test_the_display_is_per_thread_and_a_queued_job_sees_its_submitters_display():
    seen = {}
    other = threading.Thread(target=lambda: seen.setdefault("thread", display()))
    queue = JobQueue(heartbeat_s=None)
    with displayed(Display(lang="zh", theme="dark", present=True)):
        other.start()
        other.join()
        job = queue.submit(lambda token: display())
        job.finished.wait(10)
    assert seen["thread"] == Display()  # a new thread starts from the default
    assert job.result == Display(lang="zh", theme="dark", present=True)


def test_sentences_and_lists_join_with_spaces_and_commas_in_english_and_without_in_chinese():
    from kdviz.i18n import listing, sentences

    assert sentences(["One.", "", "Two."]) == "One. Two." and listing(["a", "b"]) == "a, b"
    with displayed(Display(lang="zh")):
        assert sentences(["一。", "二。"]) == "一。二。" and listing(["甲", "乙"]) == "甲、乙"
