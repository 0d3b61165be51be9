"""Ada-LEval's table, fixtures, prompts (BestAnswer built from its candidates by ``prepare_sample``) and
the BestAnswer / TSort scorers, on the real loader, templates and tokenizer."""

from __future__ import annotations

import pytest

from harness.benchmarks import BENCHMARKS, CAPABILITY, prepared
from harness.benchmarks.ada_leval import prepare_sample
from harness.metrics import ALL_METRICS, REGISTRY, score
from harness.metrics.ada_leval import (
    ada_leval_bestanswer_accuracy,
    ada_leval_tsort_accuracy,
    ada_leval_tsort_exact,
    extract_designation,
    extract_order,
)
from harness.prompts import PromptBuilder
from harness.run import record_meta
from loomcore.errors import InputError
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, fixture_samples, template_text

BENCH = BENCHMARKS["ada_leval"]
TASKS = {t.id: t for t in BENCH.tasks}
STACK = ("1k", "2k", "4k", "6k", "8k", "12k", "16k", "32k", "64k", "128k")
SORT = ("1k", "2k", "4k", "8k", "16k", "32k", "64k", "128k")
TAIL = ("\nNow the answers are over, please decide which answer is the most helpful one to the question. \n"
        "You must give me only the designation of the MOST helpful answer.\n")


def load(task):
    return prepared(fixture_samples("ada_leval", task), "ada_leval", task.id)


def upstream_prompt(question: str, all_answers: list[str]) -> str:
    """Ada-LEval ``StackSelect.build_prompt`` after its meta prompt, step by step."""
    prompt = "The question is given below.\n" + question + "\n\n" + "Possible answers are given below.\n"
    for j in range(1, len(all_answers) + 1):
        prompt += "A" + str(j) + ":\n\n" + all_answers[j - 1] + "\n\n"
    return prompt + TAIL


def test_table_is_upstream_settings_with_templates_metrics_and_sample_counts():
    assert CAPABILITY["ada_leval"] == BENCH.capability == "reasoning"
    assert sorted(TASKS) == sorted([f"ada_leval_stackselect_{s}" for s in STACK] +
                                   [f"ada_leval_textsort_{s}" for s in SORT])
    for task in BENCH.tasks:
        assert (ROOT / "manifests" / "templates" / task.template).is_file(), task.template
        assert set(task.metrics) <= set(BENCH.metrics) <= set(ALL_METRICS)
        assert task.dataset["data_files"] == f"Ada_LEval/{task.id.removeprefix('ada_leval_')}.jsonl"
        assert task.dataset["repo"] == "AmamiSora/LOOM_Data" and task.dataset["revision"] is None
        assert task.max_new_tokens == 1024
    assert TASKS["ada_leval_stackselect_16k"].samples == 1000 and TASKS["ada_leval_stackselect_32k"].samples == 200
    assert TASKS["ada_leval_textsort_8k"].samples == 1000 and TASKS["ada_leval_textsort_128k"].samples == 200
    assert TASKS["ada_leval_stackselect_6k"].group == "BestAnswer" and TASKS["ada_leval_textsort_1k"].group == "TSort"
    assert TASKS["ada_leval_stackselect_1k"].metrics == ("ada_leval_bestanswer_accuracy",)
    # LOOM-Scope's whole-list rule first (the suite's number), upstream's (the paper's) beside it
    assert TASKS["ada_leval_textsort_1k"].metrics == ("ada_leval_tsort_exact", "ada_leval_tsort_accuracy")
    assert REGISTRY["ada_leval_bestanswer_accuracy"].needs_meta
    assert not REGISTRY["ada_leval_tsort_accuracy"].needs_meta


def test_bestanswer_prompt_is_upstreams_build_prompt_byte_for_byte(tok):
    task = TASKS["ada_leval_stackselect_4k"]
    sample = load(task)[0]
    text = PromptBuilder(template=template_text(task), tokenizer=tok, policy="middle", budget_tokens=10**7,
                         max_new_tokens=task.max_new_tokens).build(sample)["text"]
    assert text.startswith("\nYou are an AI assistant. Your job is to find out the most helpful answer to a given "
                           "question.\n")
    assert "Sample Output (format only): \n\nAnswer: The designation of the most helpful answer.(e.g. A4 means " \
           "answer 4 is the most helpful answer) \n\n\n" in text
    meta_end = text.index("answer 4 is the most helpful answer) \n\n\n") + len("answer 4 is the most helpful answer) \n\n\n")
    assert text[meta_end:] == upstream_prompt(sample["question"], sample["all_answers"])
    assert sample["num_choice"] == len(sample["all_answers"]) == 6


def test_textsort_prompt_is_the_rows_prompt(tok):
    task = TASKS["ada_leval_textsort_2k"]
    sample = load(task)[0]
    out = PromptBuilder(template=template_text(task), tokenizer=tok, policy="middle", budget_tokens=10**7,
                        max_new_tokens=task.max_new_tokens).build(sample)
    assert out["text"] == sample["prompt"] and not out["truncated"]


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_fixture_loads_renders_and_is_cut_in_the_middle(task_id, tok):
    task = TASKS[task_id]
    samples = load(task)
    assert 2 <= len(samples) <= 3
    assert [s["id"] for s in samples] == [f"{i:06d}" for i in range(len(samples))]
    for sample in samples:
        text = check_cut_prompt(task, sample, tok)
        if task.group == "BestAnswer":
            assert text.endswith(TAIL) and sample["input"] in text
            assert sample["answers"].startswith("A")
        else:
            assert sorted(sample["answers"]) == [1, 2, 3, 4]


def test_prepare_refuses_a_bestanswer_row_without_candidates_and_leaves_tsort_alone():
    with pytest.raises(InputError, match="all_answers"):
        prepare_sample({"id": "0", "question": "q", "answer": "A1"}, "ada_leval_stackselect_1k")
    row = {"id": "0", "prompt": "p", "answer": [1, 2, 3, 4]}
    assert prepare_sample(row, "ada_leval_textsort_1k") is row


def test_bestanswer_extraction_from_the_official_definition():
    assert extract_designation("Answer: A3", 6) == "A3"
    # the highest-numbered designation found wins, not the first written
    assert extract_designation("A5 is better than A2", 6) == "A5"
    # substring search: "A12" contains "A1" and "A12"; with 12 choices A12, with 6 the A1 inside it
    assert extract_designation("A12", 12) == "A12"
    assert extract_designation("A12", 6) == "A1"
    # no designation: bare numbers, the highest found ("answer 4" -> A4); "a4" is no designation
    assert extract_designation("I pick answer 4", 6) == "A4"
    assert extract_designation("a4", 6) == "A4"
    assert extract_designation("number 9", 6) == "???"
    assert extract_designation("", 6) == "???"
    meta = {"num_choice": 6}
    assert ada_leval_bestanswer_accuracy("Answer: A3", ["A3"], meta) == 1.0
    assert ada_leval_bestanswer_accuracy("A3, not A2", ["A2"], meta) == 0.0
    assert ada_leval_bestanswer_accuracy("", ["A2"], meta) == 0.0


def test_bestanswer_num_choice_reaches_the_scorer_through_record_meta():
    task = TASKS["ada_leval_stackselect_1k"]
    sample = load(task)[0]
    meta = record_meta("ada_leval", sample)
    assert meta == {"num_choice": 6}
    refs = [str(sample["answers"])]
    assert score(task.metrics[0], f"Answer: {sample['answers']}", refs, meta) == 1.0
    other = "A1" if sample["answers"] != "A1" else "A2"
    assert score(task.metrics[0], other, refs, meta) == 0.0


def test_tsort_extraction_from_the_official_definition():
    assert extract_order("Answer: [2, 1, 4, 3]") == [2, 1, 4, 3]
    assert extract_order("[3,1,2,4]") == [3, 1, 2, 4]
    # no JSON: the one order of 1-4 that is a subsequence of the text
    assert extract_order("Answer: 2, then 1, then 4, then 3.") == [2, 1, 4, 3]
    assert extract_order("2 1 4 3 or 1 2 3 4") == [0, 0, 0, 0]  # several orders fit
    assert extract_order("") == [0, 0, 0, 0]
    # only the text between the first and a second "Answer:" counts
    assert extract_order("Answer: [4, 3, 2, 1] Answer: [1, 2, 3, 4]") == [4, 3, 2, 1]
    assert extract_order('Answer: "1234"') == "1234"


def test_tsort_accuracy_is_agreement_where_both_have_positions():
    refs = ["2", "1", "4", "3"]  # a list answer, as a record carries it
    assert ada_leval_tsort_accuracy("Answer: [2, 1, 4, 3]", refs) == 1.0
    assert ada_leval_tsort_accuracy("Answer: [2, 1, 3, 4]", refs) == 0.0
    assert ada_leval_tsort_accuracy("Answer: [2, 1, 4, 3]", ["[2, 1, 4, 3]"]) == 1.0  # a JSON-string answer
    # upstream zip: a shorter agreeing list and an empty one match (LOOM-Scope's eval.py would give 0)
    assert ada_leval_tsort_accuracy("Answer: [2, 1]", refs) == 1.0
    assert ada_leval_tsort_accuracy("Answer: []", refs) == 1.0
    assert ada_leval_tsort_accuracy('Answer: ["2", "1", "4", "3"]', refs) == 0.0  # strings are not integers
    assert ada_leval_tsort_accuracy("Answer: 2143", refs) == 0.0  # a JSON number: upstream's zip raises
    assert ada_leval_tsort_accuracy("", refs) == 0.0  # [0, 0, 0, 0]
    assert ada_leval_tsort_accuracy("first 2, then 1, 4 and finally 3", refs) == 1.0


def test_tsort_exact_is_loom_scopes_whole_list_rule():
    """LOOM-Scope 0.8 eval.py: ``extracted != answers`` scores 0 — hand-computed on the cases where it and
    upstream's positional rule part ways, and on those where they agree."""
    refs = ["2", "1", "4", "3"]
    cases = {"Answer: [2, 1, 4, 3]": 1.0, "Answer: [2, 1, 3, 4]": 0.0, "first 2, then 1, 4 and finally 3": 1.0,
             "Answer: [2, 1]": 0.0, "Answer: []": 0.0, 'Answer: ""': 0.0, "Answer: {}": 0.0, "Answer: 2143": 0.0,
             'Answer: ["2", "1", "4", "3"]': 0.0, "Answer: [2, 1, 4, 3, 5]": 0.0, "": 0.0,
             "Answer: [2.0, 1, 4, 3]": 1.0}  # JSON 2.0 == 2 in Python, as in eval.py
    assert {reply: ada_leval_tsort_exact(reply, refs) for reply in cases} == cases
    assert ada_leval_tsort_exact("Answer: [2, 1, 4, 3]", ["[2, 1, 4, 3]"]) == 1.0  # a JSON-string answer
    differ = [reply for reply in cases if ada_leval_tsort_exact(reply, refs) != ada_leval_tsort_accuracy(reply, refs)]
    assert differ == ["Answer: [2, 1]", "Answer: []", 'Answer: ""', "Answer: {}", "Answer: [2, 1, 4, 3, 5]"]
