"""BABILong's task table on real components: each task's fixture (RMT-team/babilong rows) through the
real loader, its official template and middle truncation with the shipped tokenizer, and the
official label-set scorer on hand-worked answers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.benchmarks import BENCHMARKS
from harness.metrics import ALL_METRICS, score
from harness.prompts import PromptBuilder, render
from harness.run import record_meta
from loomcore.errors import InputError
from tests.conftest import ROOT
from tests.loombench_tasks import fixture_path, fixture_samples

TEMPLATES = ROOT / "manifests" / "templates"
BABILONG = BENCHMARKS["babilong"]
ROOM = 24  # context tokens left after the template, the question and the answer's budget
MARK = "\u0000CONTEXT\u0000"

QA1_PROMPT = (
    "I will give you context with the facts about positions of different persons hidden in some random text "
    "and a question. You need to answer the question based only on the information from the facts. "
    "If a person was in different locations, use the latest location to answer the question.\n\n"
    "<example>\nCharlie went to the hallway. Judith come back to the kitchen. Charlie travelled to balcony. "
    "Where is Charlie?\nAnswer: The most recent location of Charlie is balcony.\n</example>\n\n"
    "<example>\nAlan moved to the garage. Charlie went to the beach. Alan went to the shop. Rouse "
    "travelled to balcony. Where is Alan?\nAnswer: The most recent location of Alan is shop.\n</example>\n\n"
    "Always return your answer in the following format: The most recent location of ’person’ is ’location’. "
    "Do not write anything else after that.\n\n<context>\n{context}\n</context>\n\nQuestion: {question}")


def load_fixture(task, tok) -> list[dict]:
    return fixture_samples("babilong", task)


def test_table_covers_qa1_to_qa5_at_every_length_with_templates_fixtures_and_metrics():
    ids = {t.id for t in BABILONG.tasks}
    assert len(ids) == 45 == len(BABILONG.tasks)
    assert "babilong_qa1_0k" in ids and "babilong_qa5_128k" in ids
    for task in BABILONG.tasks:
        qa, length = task.id.split("_")[1:]
        assert task.template == f"babilong/{qa}.j2" and (TEMPLATES / task.template).is_file()
        assert (ROOT / fixture_path("babilong", task)).is_file()
        assert task.metrics == ("babilong_label_match",) and set(task.metrics) <= set(ALL_METRICS)
        assert task.max_new_tokens == 20 and task.chat_template and task.group == qa
        assert task.dataset["data_files"] == f"babilong/{qa}_{length}.jsonl"
        assert len(task.dataset["revision"]) == 40 and int(task.dataset["revision"], 16) >= 0
    assert BABILONG.meta_fields == ("question",)
    fixtures = {p.stem for p in (ROOT / "tests" / "data" / "loombench" / "babilong").glob("*.jsonl")}
    assert fixtures == ids


@pytest.mark.parametrize("task", BABILONG.tasks, ids=[t.id for t in BABILONG.tasks])
def test_fixture_loads_renders_and_is_cut_in_the_middle(task, tok):
    samples = load_fixture(task, tok)
    assert 2 <= len(samples) <= 3
    template = (TEMPLATES / task.template).read_text(encoding="utf-8")
    unlimited = PromptBuilder(template=template, tokenizer=tok, policy="middle", budget_tokens=10**6,
                              max_new_tokens=task.max_new_tokens)
    for sample in samples:
        # upstream "input" is the context, "question" the question, "target" the answer
        assert len(sample["context"]) > 200 and sample["question"] not in sample["context"]
        assert sample["input"] == sample["question"] and sample["answers"] == sample["target"]
        budget = unlimited.overhead(sample) + task.max_new_tokens + ROOM
        out = replace(unlimited, budget_tokens=budget).build(sample)
        assert out["truncated"] and out["tokens_after"] <= budget - task.max_new_tokens
        prefix, suffix = render(template, {**sample, "context": MARK}).split(MARK)
        assert out["text"].startswith(prefix) and out["text"].endswith(suffix)
        assert suffix == f"\n</context>\n\nQuestion: {sample['question']}"
        context = sample["context"].strip()
        kept = out["text"][len(prefix): len(out["text"]) - len(suffix)]
        assert 0 < len(kept) < len(context) and kept[0] == context[0] and kept[-1] == context[-1]


def test_qa1_prompt_is_the_official_text_with_a_stripped_context(tok):
    task = next(t for t in BABILONG.tasks if t.id == "babilong_qa1_4k")
    sample = {**load_fixture(task, tok)[0], "context": "\n  Mary went home.  \n"}
    text = render((TEMPLATES / task.template).read_text(encoding="utf-8"), sample)
    assert text == QA1_PROMPT.format(context="Mary went home.", question=sample["question"])
    qa5 = render((TEMPLATES / "babilong" / "qa5.j2").read_text(encoding="utf-8"), sample)
    assert ("Your answer should contain only one word. Do not write anything else after that. "
            "Do not explain your answer.\n\n<context>\nMary went home.\n</context>") in qa5


def label_match(prediction: str, target: str, question: str) -> float:
    return score("babilong_label_match", prediction, [target], {"question": question})


def test_label_match_takes_the_first_sentence_and_exactly_one_label():
    # qa1: "office" is the only label in the first sentence -> 1
    assert label_match("The most recent location of Mary is office.", "office", "Where is Mary?") == 1.0
    # two labels in the first sentence -> 0, even though the target is among them
    assert label_match("Mary went from the kitchen to the office.", "office", "Where is Mary?") == 0.0
    # only the first sentence counts: "it is unclear" names no label -> 0
    assert label_match("It is unclear. Mary is in the office.", "office", "Where is Mary?") == 0.0
    # the text after '<example>' is dropped: "office" alone -> 1
    assert label_match("office<example>kitchen", "office", "Where is Mary?") == 1.0
    assert label_match("", "office", "Where is Mary?") == 0.0


def test_labels_named_in_the_question_never_count():
    # qa4: answer labels {bathroom, bedroom} less the question's {bathroom} = {bedroom} -> 1
    assert label_match("The bathroom is east of the bedroom.", "bedroom", "What is the bathroom east of?") == 1.0
    # without that rule the answer would name two labels
    assert label_match("The bathroom is east of the bedroom.", "bedroom", "What is west?") == 0.0


def test_case_is_ignored_and_the_question_cut_is_a_no_op_as_upstream():
    # qa5 labels are matched lower-cased: "BILL" -> "bill" -> 1
    assert label_match("BILL", "Bill", "Who received the milk?") == 1.0
    # upstream cuts at 'Question' after lower-casing, so never: {office, kitchen} -> 0
    assert label_match("office Question: is it the kitchen", "office", "Where is Mary?") == 0.0


def test_the_label_set_comes_from_the_target_and_the_question_from_the_records_meta(tok):
    # "apple" belongs to qa5's set only, where "Fred" is a label too: {fred, apple} -> 0; when the
    # question names Fred, {apple} is left -> 1
    assert label_match("Fred gave the apple", "apple", "What was given?") == 0.0
    assert label_match("Fred gave the apple", "apple", "What did Fred give?") == 1.0
    with pytest.raises(InputError, match="label sets"):
        label_match("a dog", "dog", "Which animal?")
    with pytest.raises(InputError, match="meta.question"):
        score("babilong_label_match", "office", ["office"], {})
    task = next(t for t in BABILONG.tasks if t.id == "babilong_qa2_1k")
    sample = load_fixture(task, tok)[0]
    meta = record_meta("babilong", sample)
    assert meta == {"question": "Where is the football?"}
    assert score("babilong_label_match", "The football is in the bedroom.", [sample["answers"]], meta) == 1.0
