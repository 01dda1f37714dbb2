"""A tiny distillation run with the shipped teacher: finite metrics, every student's KL(teacher||student)
falling, the same numbers again for the same seed, on-policy rows, configuration errors; the shipped
teacher's held-out perplexity against its record."""

import math
from dataclasses import replace

import pytest
import torch

from kdviz.lab import data, metrics, teacher, train
from kdviz.lab.model import GPT, GPTConfig, load, save
from kdviz.numerics import torch_threads

TINY = train.LabConfig(students=("fkl", "rkl", "akl"), steps=16, batch_size=4, eval_every=8, eval_windows=4,
                       n_samples=2, sample_len=12)


@pytest.fixture(scope="module")
def tiny_run():
    return train.run_lab(TINY)


def test_shipped_teacher_loads_without_pickle_and_has_its_recorded_held_out_perplexity():
    record = teacher.teacher_record()
    model = teacher.load_teacher()
    assert model.n_params() == record["n_params"] and 0.8e6 < record["n_params"] < 1.5e6
    assert teacher.TEACHER_PATH.stat().st_size < 5e6
    corpus = data.load_corpus()
    assert corpus.sha256 == record["corpus_sha256"], "the corpus is not the one the teacher was measured on"
    ce = teacher.held_out_ce(model, corpus.held_out)
    assert math.exp(ce) == pytest.approx(record["held_out_ppl"], rel=1e-3)
    assert record["held_out_ppl"] < math.exp(record["curve"]["held_out_ce"][0])  # it learned


def test_model_round_trips_through_safetensors_with_its_config(tmp_path):
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=32))
    save(model, tmp_path / "m.safetensors", note="x")
    back = load(tmp_path / "m.safetensors")
    x = torch.randint(0, 32, (2, 8))
    assert back.cfg == model.cfg and torch.equal(back(x), model.eval()(x))


def test_tiny_run_has_finite_metrics_for_teacher_untrained_and_every_student(tiny_run):
    named = {"teacher": tiny_run["teacher"]["metrics"], "untrained": tiny_run["untrained"]["metrics"],
             **{n: r["metrics"] for n, r in tiny_run["results"].items()}}
    for name, m in named.items():
        for key in (*metrics.HELD_OUT_METRICS, *metrics.SAMPLE_METRICS):
            assert math.isfinite(m[key]), (name, key, m[key])
    assert list(tiny_run["results"]) == ["fkl", "rkl", "akl"]
    assert all(len(r["samples"]) == TINY.n_samples for r in tiny_run["results"].values())


def test_every_students_kl_teacher_to_student_falls(tiny_run):
    for name, r in tiny_run["results"].items():
        kl = r["curve"]["fkl"]
        assert r["curve"]["step"] == [0, 8, 16]
        assert kl[-1] < 0.9 * kl[0], (name, kl)


def test_all_students_start_from_the_same_untrained_model(tiny_run):
    firsts = {r["curve"]["fkl"][0] for r in tiny_run["results"].values()}
    assert firsts == {tiny_run["untrained"]["metrics"]["fkl"]}


def test_same_seed_gives_the_same_run_and_another_seed_does_not():
    cfg = replace(TINY, students=("akl",), steps=4, eval_every=2)
    first, again = train.run_lab(cfg), train.run_lab(cfg)
    assert again["results"]["akl"]["metrics"] == first["results"]["akl"]["metrics"]
    assert again["results"]["akl"]["curve"] == first["results"]["akl"]["curve"]
    assert again["results"]["akl"]["samples"] == first["results"]["akl"]["samples"]
    other = train.run_lab(replace(cfg, seed=1))
    assert other["results"]["akl"]["metrics"]["fkl"] != first["results"]["akl"]["metrics"]["fkl"]


def test_on_policy_rows_are_the_students_continuations_of_corpus_prompts():
    cfg = replace(TINY, students=("rkl",), steps=2, on_policy=0.5)
    out = train.run_lab(cfg)
    assert math.isfinite(out["results"]["rkl"]["metrics"]["fkl"])
    model = GPT(train.STUDENT_SIZES["1x64"])
    st = train._Student("rkl", "rkl", {}, model, None, torch.Generator().manual_seed(0))
    batch = data.random_windows(data.load_corpus().train, 4, 64, torch.Generator().manual_seed(0))
    rows, mask = train._on_policy_rows(st, batch, 2, 8)
    assert torch.equal(rows[:2], batch[:2]) and torch.equal(rows[2:, :8], batch[2:, :8])
    assert not torch.equal(rows[2:, 8:], batch[2:, 8:])
    assert mask[:2].all() and not mask[2:, :7].any() and mask[2:, 7:].all()


def test_a_run_uses_its_own_thread_count_whatever_the_callers_and_gives_the_same_numbers():
    cfg = replace(TINY, students=("akl",), steps=2, eval_every=2)
    with torch_threads(2):
        on_two = train.run_lab(cfg)
        assert torch.get_num_threads() == 2  # the caller's count is back
    with torch_threads(1):
        on_one = train.run_lab(cfg)
    assert on_two["torch_threads"] == on_one["torch_threads"] == train.TORCH_THREADS
    assert on_two["results"]["akl"]["metrics"] == on_one["results"]["akl"]["metrics"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(students=()), "at least one"), (dict(students=("fkl", "fkl")), "distinct"),
    (dict(students=("wasserstein",)), "unknown divergence"), (dict(students=("jsd:beta=2",)), "beta"),
    (dict(students=("jsd:gamma=0.1",)), "unknown"), (dict(steps=0), "steps"),
    (dict(on_policy=1.5), "on_policy"),
    (dict(student_size="9x9"), "student_size"), (dict(lr=float("nan")), "lr"), (dict(sample_len=80), "fit"),
])
def test_bad_configuration_raises_value_error_naming_it(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train.LabConfig(**kwargs)


def test_student_specs_parse_their_parameter_and_device_auto_resolves():
    assert train.parse_student("jsd:beta=0.9") == ("jsd", {"beta": 0.9})
    assert train.parse_student("akl") == ("akl", {})
    assert train.resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device"):
        train.resolve_device("tpu")
