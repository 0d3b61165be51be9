"""Metrics against hand-worked cases from each official definition."""

from __future__ import annotations

import pytest

from harness.metrics.counting_stars import counting_stars_acquisition
from harness.metrics.text import (
    exact_match,
    multiple_choice_accuracy,
    normalize_answer,
    qa_f1,
    rouge_l,
    string_match_all,
    string_match_part,
)
from harness.scoring import mean_stderr


def test_ruler_string_match():
    assert string_match_all("The numbers are 123 and 456.", ["123", "456", "789"]) == pytest.approx(2 / 3)
    assert string_match_part("the answer is APPLE", ["apple", "pear"]) == 1.0
    assert string_match_part("nothing", ["apple", "pear"]) == 0.0
    assert string_match_all("\x00123\x01", ["123"]) == 1.0


def test_longbench_normalisation_and_f1():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    # pred tokens: eiffel tower in paris; ref: eiffel tower -> p = 2/4, r = 1, f1 = 2/3
    assert qa_f1("The Eiffel Tower in Paris", ["Eiffel Tower"]) == pytest.approx(2 / 3)
    assert qa_f1("x", ["y", "x"]) == 1.0
    assert qa_f1("", ["y"]) == 0.0


def test_rouge_l_f1():
    # LCS of "a b c d" and "a c d e" is "a c d" = 3: p = r = 3/4
    assert rouge_l("a b c d", ["a c d e"]) == pytest.approx(0.75)
    assert rouge_l("", ["a"]) == 0.0


def test_exact_choice_and_stars():
    assert exact_match(" 42 ", ["42"]) == 1.0 and exact_match("42.", ["42"]) == 0.0
    assert multiple_choice_accuracy("The correct answer is (B)", ["B"]) == 1.0
    assert multiple_choice_accuracy("I think C", ["B"]) == 0.0
    assert counting_stars_acquisition('{"little_penguin": [3, 17, 99]}', ["3", "17", "42", "99"],
                                      {"language": "en"}) == 0.75


def test_mean_stderr():
    mean, se = mean_stderr([1.0, 0.0, 1.0, 0.0])
    assert mean == 0.5 and se == pytest.approx((1 / 3) ** 0.5 / 2)


def _records(task: str, values: list[float]) -> list:
    from loomcore.records import Record

    return [Record(id=f"{task}-{i}", task=task, benchmark="ruler", length=1024, depth=None, prompt_sha256=None,
                   prompt_head=None, prompt_tail=None, input_tokens_before=10, input_tokens=10, truncated=False,
                   skipped=False, prediction="x", references=["x"], output_tokens=1, finish_reason="eos",
                   scores={"string_match_all": v}) for i, v in enumerate(values)]


def test_a_benchmark_score_is_loom_scopes_sample_weighted_mean_of_its_tasks():
    """LOOM-Scope weights each task's score by its samples (ConstructResultTable2): a task of 4
    samples all right and one of 1 sample wrong give 4/5 = 80, not the mean of tasks' 50."""
    from harness.scoring import suite_scores
    from loomcore.specs import ModelRef, Suite
    from loomcore.taskspec import Dataset, Generation, Prompt, TaskSpec, Truncation

    def task(task_id: str) -> TaskSpec:
        return TaskSpec(benchmark="ruler", id=task_id, dataset=Dataset("local", path="d.jsonl"),
                        prompt=Prompt("{{ input }}", "0" * 64), truncation=Truncation("middle", 4096),
                        generation=Generation(8), metrics=("string_match_all",))

    records = {"vt": _records("vt", [1.0] * 4), "cwe": _records("cwe", [0.0])}
    scores = suite_scores(records, [task("vt"), task("cwe")], "0" * 64, Suite("s", "1"), ModelRef("m", "0" * 64))
    assert (scores.tasks["vt"].score, scores.tasks["cwe"].score) == (100.0, 0.0)
    assert scores.benchmarks["ruler"].score == 80.0 and scores.benchmarks["ruler"].n_tasks == 2
    assert scores.average == 80.0


def test_a_judged_only_benchmark_is_listed_but_counts_in_no_mean():
    """LongSafety's plain metric (``answered``) is a diagnostic: its task is scored, but neither the
    benchmark, its capability nor the suite average takes it in (its score is the judge's)."""
    from dataclasses import replace

    from harness.benchmarks import BENCHMARKS
    from harness.scoring import capability_scores, suite_scores
    from loomcore.specs import ModelRef, Suite
    from loomcore.taskspec import Dataset, Generation, Prompt, TaskSpec, Truncation

    assert {name for name, b in BENCHMARKS.items() if b.judged_only} == {"longcite", "longsafety"}

    def task(benchmark: str, task_id: str, metric: str) -> TaskSpec:
        return TaskSpec(benchmark=benchmark, id=task_id, dataset=Dataset("local", path="d.jsonl"),
                        prompt=Prompt("{{ input }}", "0" * 64), truncation=Truncation("middle", 4096),
                        generation=Generation(8), metrics=(metric,))

    safety = [replace(r, task="longsafety", benchmark="longsafety", scores={"answered": 1.0})
              for r in _records("longsafety", [1.0] * 3)]
    records = {"vt": _records("vt", [0.0, 1.0]), "longsafety": safety}
    scores = suite_scores(records, [task("ruler", "vt", "string_match_all"), task("longsafety", "longsafety", "answered")],
                          "0" * 64, Suite("s", "1"), ModelRef("m", "0" * 64))
    assert scores.tasks["longsafety"].score == 100.0
    assert list(scores.benchmarks) == ["ruler"] and scores.average == 50.0
    assert capability_scores({k: b.score for k, b in scores.benchmarks.items()}) == {"general": 50.0}
