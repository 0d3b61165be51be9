"""BAMBOO's table, fixtures, prompts and scorers, on the real loader, templates and tokenizer."""

from __future__ import annotations

import json

import pytest

from harness.benchmarks import BENCHMARKS, CAPABILITY
from harness.benchmarks.bamboo import dataset_of, prepare_sample
from harness.metrics import ALL_METRICS, score
from harness.metrics.bamboo import (
    bamboo_altqa_acc,
    bamboo_concordance,
    bamboo_hallu_acc,
    bamboo_pred_acc,
    bamboo_qa_acc,
)
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, fixture_samples, template_text

BENCH = BENCHMARKS["bamboo"]
TASKS = {t.id: t for t in BENCH.tasks}
DATASETS = ("meetingqa", "paperqa", "altqa", "senhallu", "abshallu", "meetingpred", "showspred", "reportsumsort",
            "showssort")
METRIC = {"meetingqa": "bamboo_qa_acc", "paperqa": "bamboo_qa_acc", "altqa": "bamboo_altqa_acc",
          "senhallu": "bamboo_hallu_acc", "abshallu": "bamboo_hallu_acc", "meetingpred": "bamboo_pred_acc",
          "showspred": "bamboo_pred_acc", "reportsumsort": "bamboo_concordance", "showssort": "bamboo_concordance"}


def test_table_is_nine_datasets_at_two_levels_with_templates_and_registered_metrics():
    assert CAPABILITY["bamboo"] == BENCH.capability == "general"
    assert sorted(TASKS) == sorted(f"bamboo_{d}_{level}" for d in DATASETS for level in ("4k", "16k"))
    for task in BENCH.tasks:
        assert (ROOT / "manifests" / "templates" / task.template).is_file(), task.template
        assert set(task.metrics) <= set(BENCH.metrics) <= set(ALL_METRICS), task.id
        assert task.metrics == (METRIC[dataset_of(task.id)],)
        assert task.max_new_tokens == 32
        assert task.dataset["data_files"] == f"datasets/{task.id.removeprefix('bamboo_')}.jsonl"
        assert task.dataset["revision"] is None  # no hub copy seen: never an invented pin


def test_templates_keep_the_official_prompt_text():
    text = template_text(TASKS["bamboo_senhallu_4k"])
    assert text.startswith("You are given an NLP paper and a hypothesis.")
    assert text.endswith('Hypothesis: ```{{ hypothesis }}```\nAnswer ("Yes." or "No."):\n')
    assert template_text(TASKS["bamboo_altqa_4k"]).startswith("{{ context }}\n\nYou should only give an number")


def load(task_id: str) -> list[dict]:
    task = TASKS[task_id]
    return [prepare_sample(s, task.id) for s in fixture_samples("bamboo", task)]


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_fixture_loads_prepares_renders_and_is_cut_in_the_middle(task_id, tok):
    task = TASKS[task_id]
    samples = load(task_id)
    assert 2 <= len(samples) <= 3
    for sample in samples:
        assert len(sample["answers"]) == 1 and isinstance(sample["answers"][0], str)
        text = check_cut_prompt(task, sample, tok)
        if "hypothesis" in sample:
            assert f"Hypothesis: ```{sample['hypothesis']}```" in text
        if "question" in sample:
            assert f"Question: {sample['question']}\nOptions: {sample['options_text']}" in text


def test_prepare_numbers_paragraphs_events_and_options_as_loom_scope_does():
    shows = load("bamboo_showssort_4k")[0]
    assert shows["context"].startswith("[0] ```") and "\n[4] ```" in shows["context"]
    assert shows["answers"] == ["[2, 0, 1, 3, 4]"]
    report = load("bamboo_reportsumsort_4k")[0]
    assert report["events"].split("\n")[0] == "[1] ```The committee met.```"
    assert report["events"].split("\n")[4] == "[5] ```The bell question arose.```"
    qa = load("bamboo_meetingqa_4k")[0]
    assert qa["options_text"] == "A. the clerk\tB. the copper wire budget\tC. the fog bell\tD. the winch"
    assert [s["answers"] for s in load("bamboo_senhallu_16k")] == [["True"], ["False"]]
    for task_id in ("bamboo_showssort_16k", "bamboo_reportsumsort_4k", "bamboo_meetingqa_16k"):
        once = load(task_id)[1]
        assert prepare_sample(once, task_id) == once  # preparing twice changes nothing


def test_qa_reads_the_first_character_of_the_first_line():
    assert bamboo_qa_acc("B", ["B"]) == 1.0
    assert bamboo_qa_acc("  b. the copper wire\nA", ["B"]) == 1.0
    assert bamboo_qa_acc("[B]", ["B"]) == 0.0  # first character "[": upstream's "[B" test never fires
    assert bamboo_qa_acc("Answer: B", ["B"]) == 0.0  # read as A
    assert bamboo_qa_acc("Answer: B", ["A"]) == 1.0
    assert bamboo_qa_acc("", ["A"]) == 0.0  # upstream raises IndexError
    assert bamboo_qa_acc("E", ["E"]) == 0.0  # not a letter A-D: "F"


def test_exact_answers_ignore_case_outer_dots_and_whitespace():
    assert bamboo_altqa_acc(" 1964. ", ["1964"]) == 1.0
    assert bamboo_altqa_acc("1964\nbecause", ["1964"]) == 0.0  # altqa compares the whole output
    assert bamboo_pred_acc("janet finch-saunders am.\nShe said", ["Janet Finch-Saunders AM"]) == 1.0
    assert bamboo_pred_acc("Janet", ["Janet Finch-Saunders AM"]) == 0.0
    assert bamboo_pred_acc("", ["Diane"]) == 0.0
    assert bamboo_altqa_acc("1964", []) == 0.0


def test_hallucination_reads_yes_in_the_first_three_characters():
    assert bamboo_hallu_acc("Yes.", ["True"]) == 1.0
    assert bamboo_hallu_acc("  YES, it is", ["True"]) == 1.0
    assert bamboo_hallu_acc("No.", ["False"]) == 1.0
    assert bamboo_hallu_acc("The answer is yes", ["True"]) == 0.0  # "yes" not in "The"
    assert bamboo_hallu_acc("", ["False"]) == 1.0  # no yes: a no
    assert bamboo_hallu_acc("Yes", ["False"]) == 0.0


def test_concordance_index_by_hand():
    ref = [json.dumps([2, 0, 1, 3, 4])]
    assert bamboo_concordance("[2] > [0] > [1] > [3] > [4]", ref) == 1.0
    # reversed: none of the 10 ordered pairs agree
    assert bamboo_concordance("[4] > [3] > [1] > [0] > [2]", ref) == 0.0
    # [0] [2] [1] [3] [4]: pairs of the reference (2,0) (2,1) (0,1) fail/hold: (2,0) lost, (2,1) kept,
    # (0,1) kept, the 7 with 3 or 4 kept -> 9/10
    assert bamboo_concordance("[0] > [2] > [1] > [3] > [4]", ref) == pytest.approx(0.9)
    # four numbers for five: a format error, 0
    assert bamboo_concordance("[2] > [0] > [1] > [3]", ref) == 0.0
    assert bamboo_concordance("", ref) == 0.0
    # numbered from 1 (reportsumsort's events): lowered by one when the smallest is 1
    assert bamboo_concordance("[5] > [4] > [3] > [2] > [1]", [json.dumps([4, 3, 2, 1, 0])]) == 1.0
    # 3 1 2 4 5 -> 2 0 1 3 4
    assert bamboo_concordance("3, 1, 2, 4, 5", ref) == 1.0


def test_registry_scores_through_the_names():
    assert score("bamboo_concordance", "2 0 1 3 4", ["[2, 0, 1, 3, 4]"], {}) == 1.0
    assert score("bamboo_hallu_acc", "no", ["True"], {}) == 0.0
