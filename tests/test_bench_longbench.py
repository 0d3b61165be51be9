"""LongBench and LongBench-v2 task tables on real components: every task's fixture (upstream row
format) through the real loader, its official template, middle truncation with the shipped
tokenizer, and the official scorers on hand-worked cases."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.benchmarks import BENCHMARKS
from harness.metrics import ALL_METRICS, score
from harness.metrics.longbench import FIRST_LINE_TASKS
from harness.metrics.longbench_v2 import extract_choice
from harness.prompts import PromptBuilder, render
from harness.run import record_meta
from harness.scoring import score_sample, task_scores
from loomcore.errors import InputError
from loomcore.records import Record
from tests.conftest import ROOT
from tests.helpers import load_samples

TEMPLATES = ROOT / "manifests" / "templates"
LONGBENCH, LONGBENCH_V2 = BENCHMARKS["longbench"], BENCHMARKS["longbench_v2"]
ALL_TASKS = [(bench, task) for bench in (LONGBENCH, LONGBENCH_V2) for task in bench.tasks]
ROOM = 32  # context tokens left after the template, the question and the answer's budget
MARK = "\u0000CONTEXT\u0000"


def fixture_path(bench, task) -> Path:
    return Path("tests") / "data" / "loombench" / bench.name / f"{task.id}.jsonl"


def load_fixture(bench, task, tok) -> list[dict]:
    spec = {"source": "local", "path": str(fixture_path(bench, task)), "format": "jsonl",
            "fields": task.fields, "sha256": None}
    return load_samples(spec, ROOT, lambda: tok)


def template_of(task) -> str:
    return (TEMPLATES / task.template).read_text(encoding="utf-8")


# --- the tables -------------------------------------------------------------------------------

def test_every_task_has_a_template_a_fixture_and_registered_metrics():
    for bench, task in ALL_TASKS:
        assert (TEMPLATES / task.template).is_file(), task.template
        assert (ROOT / fixture_path(bench, task)).is_file(), task.id
        assert set(task.metrics) <= set(ALL_METRICS), task.metrics
        assert set(task.metrics) <= set(bench.metrics)
    for bench in (LONGBENCH, LONGBENCH_V2):
        assert set(bench.metrics) == {m for t in bench.tasks for m in t.metrics}
        assert set(bench.group_fields) <= set(bench.meta_fields)
    fixtures = {p.stem for p in (ROOT / "tests" / "data" / "loombench" / "longbench").glob("*.jsonl")}
    assert fixtures == {t.id for t in LONGBENCH.tasks}


def test_longbench_table_follows_the_official_configuration():
    tasks = {t.id.removeprefix("longbench_"): t for t in LONGBENCH.tasks}
    assert len(tasks) == 21
    groups = {}
    for name, task in tasks.items():
        groups.setdefault(task.group, set()).add(name)
    assert {g: len(n) for g, n in groups.items()} == {
        "Single-Document QA": 4, "Multi-Document QA": 4, "Summarization": 4, "Few-shot Learning": 4,
        "Synthetic Tasks": 3, "Code Completion": 2}
    # pred.py: no chat template for these six; eval.py: first line only for these four
    assert {n for n, t in tasks.items() if not t.chat_template} == {
        "trec", "triviaqa", "samsum", "lsht", "lcc", "repobench-p"}
    first_line_metrics = {"qa_f1_first_line", "rouge_l_first_line", "longbench_classification"}
    assert {n for n, t in tasks.items() if set(t.metrics) & first_line_metrics} == set(FIRST_LINE_TASKS)
    assert tasks["samsum"].stop == ("\n",)
    assert (tasks["gov_report"].max_new_tokens, tasks["hotpotqa"].max_new_tokens) == (512, 32)
    for task in tasks.values():
        assert task.dataset["data_files"] == f"LongBench/{task.id.removeprefix('longbench_')}.jsonl"
        revision = task.dataset["revision"]
        assert revision is None or (len(revision) == 40 and int(revision, 16) >= 0)


def test_longbench_v2_keeps_its_sub_split_fields():
    assert LONGBENCH_V2.group_fields == ("difficulty", "length")
    assert set(LONGBENCH_V2.meta_fields) == {"difficulty", "length", "domain"}
    (task,) = LONGBENCH_V2.tasks
    assert task.max_new_tokens == 128 and task.chat_template and task.fields["answers"] == "answer"


# --- loader, template, truncation: every task -------------------------------------------------

@pytest.mark.parametrize(("bench", "task"), ALL_TASKS, ids=[t.id for _, t in ALL_TASKS])
def test_fixture_loads_renders_and_is_cut_in_the_middle(bench, task, tok):
    samples = load_fixture(bench, task, tok)
    assert 2 <= len(samples) <= 3
    template = template_of(task)
    unlimited = PromptBuilder(template=template, tokenizer=tok, policy="middle", budget_tokens=10**6,
                              max_new_tokens=task.max_new_tokens)
    for sample in samples:
        assert sample["id"] == sample["_id"] and sample["answers"]
        budget = unlimited.overhead(sample) + task.max_new_tokens + ROOM
        out = replace(unlimited, budget_tokens=budget).build(sample)
        assert out["truncated"] and out["tokens_before"] > out["tokens_after"]
        assert out["tokens_after"] <= budget - task.max_new_tokens
        assert out["tokens_after"] == tok.count(out["text"])
        # everything but the context is intact: instruction before it, question and cue after it
        prefix, suffix = render(template, {**sample, "context": MARK}).split(MARK)
        assert out["text"].startswith(prefix) and out["text"].endswith(suffix)
        if str(sample["input"]).strip():
            assert str(sample["input"]).strip() in out["text"]
        # the context lost its middle and kept both ends
        kept = out["text"][len(prefix): len(out["text"]) - len(suffix)].strip()
        context = sample["context"].strip()
        assert 0 < len(kept) < len(context)
        assert kept[0] == context[0] and kept[-1] == context[-1]
        assert context[len(context) // 2 - 12: len(context) // 2 + 12] not in kept


def test_official_prompts_render_byte_for_byte(tok):
    tasks = {t.id: t for t in LONGBENCH.tasks}
    trec = load_fixture(LONGBENCH, tasks["longbench_trec"], tok)[0]
    assert render(template_of(tasks["longbench_trec"]), trec) == (
        "Please determine the type of the question below. Here are some examples of questions.\n\n"
        + trec["context"] + "\n" + trec["input"])
    lcc = load_fixture(LONGBENCH, tasks["longbench_lcc"], tok)[0]
    # the official prompt ends with a newline, which Jinja would drop without the template's extra one
    assert render(template_of(tasks["longbench_lcc"]), lcc) == (
        "Please complete the code given below. \n" + lcc["context"] + "Next line of code:\n")
    zh = load_fixture(LONGBENCH, tasks["longbench_multifieldqa_zh"], tok)[0]
    assert render(template_of(tasks["longbench_multifieldqa_zh"]), zh).endswith(f"问题：{zh['input']}\n回答：")
    (v2_task,) = LONGBENCH_V2.tasks
    item = {**load_fixture(LONGBENCH_V2, v2_task, tok)[0], "context": "  the document \n", "question": " Why? "}
    text = render(template_of(v2_task), item)
    assert text.startswith("Please read the following text and answer the question below.\n\n<text>\nthe document\n"
                           "</text>\n\nWhat is the correct answer to this question: Why?\nChoices:\n(A) ")
    assert text.endswith(f"(D) {item['choice_D']}\n\nFormat your response as follows: "
                         "\"The correct answer is (insert answer here)\".")


# --- LongBench scorers ------------------------------------------------------------------------

def test_first_line_qa_f1_with_punctuation_and_several_references():
    pred = "Paris, France.\nQuestion: In which city is the Louvre?"
    # first line "Paris, France." -> [paris, france]; vs "Paris" F1 = 2*(1/2*1)/(1/2+1) = 2/3,
    # vs "Paris, France" F1 = 1; the best reference counts
    assert score("qa_f1_first_line", pred, ["Paris", "Paris, France"], {}) == 1.0
    assert score("qa_f1_first_line", pred, ["Paris"], {}) == pytest.approx(2 / 3)
    # the whole text: [paris, france, question, in, which, city, is, louvre] vs [paris, france]
    # -> precision 2/8, recall 1, F1 = 2*(1/4)/(5/4) = 0.4
    assert score("qa_f1", pred, ["Paris, France"], {}) == pytest.approx(0.4)
    assert score("qa_f1_first_line", "\n\nShakespeare\n", ["William Shakespeare"], {}) == pytest.approx(2 / 3)


def test_first_line_rouge_l():
    # first line [amanda, baked, cookies] vs [amanda, baked, cookies, for, jerry]: LCS 3,
    # P 1, R 3/5, F1 = 2*0.6/1.6 = 0.75
    pred = "Amanda baked cookies\nJerry: thanks"
    assert score("rouge_l_first_line", pred, ["Amanda baked cookies for Jerry"], {}) == pytest.approx(0.75)
    # the whole text: 5 tokens ("jerry:" is not "jerry"), LCS 3 -> P 3/5, R 3/5, F1 0.6
    assert score("rouge_l", pred, ["Amanda baked cookies for Jerry"], {}) == pytest.approx(0.6)


@pytest.mark.parametrize("name", ["qa_f1_first_line", "rouge_l_first_line", "qa_f1_zh", "rouge_l_zh",
                                  "longbench_count", "longbench_retrieval", "longbench_code_sim"])
def test_empty_prediction_scores_zero(name):
    assert score(name, "", ["Paragraph 3"], {}) == 0.0


def test_classification_reads_all_classes_from_the_records_meta(tok):
    trec_task = next(t for t in LONGBENCH.tasks if t.id == "longbench_trec")
    sample = load_fixture(LONGBENCH, trec_task, tok)[0]  # answer "City"
    meta = record_meta("longbench", sample)
    assert meta == {"all_classes": sample["all_classes"]}
    # first line "City": classes found [City] -> 1/1
    assert score_sample(["longbench_classification"], "City\nQuestion: Who wrote it?\nType: Individual",
                        sample["answers"], meta) == {"longbench_classification": 1.0}
    # one line naming two classes: [Individual, City] found, the answer among them -> 1/2
    assert score("longbench_classification", "City or Individual", ["City"], meta) == 0.5
    assert score("longbench_classification", "", ["City"], meta) == 0.0
    with pytest.raises(InputError, match="all_classes"):
        score("longbench_classification", "City", ["City"], {})


def test_chinese_classification_and_qa(tok):
    lsht_task = next(t for t in LONGBENCH.tasks if t.id == "longbench_lsht")
    meta = record_meta("longbench", load_fixture(LONGBENCH, lsht_task, tok)[0])
    assert score("longbench_classification", "科技\n新闻：……", ["科技"], meta) == 1.0
    # 财经 and 科技 both named: 1/2; a class not named at all: 0
    assert score("longbench_classification", "这条新闻涉及财经和科技", ["科技"], meta) == 0.5
    assert score("longbench_classification", "这条新闻涉及财经和科技", ["体育"], meta) == 0.0
    # jieba cuts "最多五本书。" as 最多/五/本书/。 (the full stop normalises away) and "五本" as 五/本:
    # one common token, P 1/3, R 1/2, F1 = 2*(1/6)/(5/6) = 0.4; vs "最多五本书" (最多/五/本书) -> 1
    assert score("qa_f1_zh", "最多五本书。", ["五本"], {}) == pytest.approx(0.4)
    assert score("qa_f1_zh", "最多五本书。", ["五本", "最多五本书"], {}) == 1.0
    assert score("longbench_retrieval_zh", "摘要出自段落2。", ["段落2"], {}) == 1.0


# --- LongBench-v2 -----------------------------------------------------------------------------

@pytest.mark.parametrize(("response", "choice"), [
    ("The correct answer is (B)", "B"),
    ("**The correct answer is (B)**", "B"),               # markdown bold: asterisks go first
    ("The correct answer is C.", "C"),                    # the bare-letter fall-back
    ("The correct answer is (A), not (B).", "A"),
    ("The correct answer is D, or maybe The correct answer is (B)", "B"),  # parenthesised form wins
    ("The correct answer is Apple", "A"),                 # no word boundary upstream
    ("I think the answer is (B).", None),                 # the fixed phrase is required
    ("the correct answer is (B)", None),                  # case-sensitive
    ("The correct answer is (E)", None),
    ("", None),
])
def test_longbench_v2_answer_extraction(response, choice):
    assert extract_choice(response) == choice
    assert score("longbench_v2_accuracy", response, ["B"], {}) == (1.0 if choice == "B" else 0.0)


def _record(index: int, sample: dict, prediction: str) -> Record:
    meta = record_meta("longbench_v2", sample)
    return Record(id=f"s{index}", task="longbench_v2", benchmark="longbench_v2", length=None, depth=None,
                  prompt_sha256=None, prompt_head=None, prompt_tail=None, input_tokens_before=0, input_tokens=0,
                  truncated=False, skipped=False, prediction=prediction, references=[sample["answer"]],
                  output_tokens=0, finish_reason="stop",
                  scores=score_sample(["longbench_v2_accuracy"], prediction, [sample["answer"]], meta), meta=meta)


def test_longbench_v2_scores_by_difficulty_and_length(tok):
    (task,) = LONGBENCH_V2.tasks
    base = load_fixture(LONGBENCH_V2, task, tok)[0]
    cases = [("easy", "short", "The correct answer is (C)"),      # right
             ("easy", "short", "**The correct answer is (C)**"),  # right
             ("easy", "long", "I think the answer is (C)."),      # no phrase: wrong
             ("hard", "medium", "The correct answer is C"),       # right
             ("hard", "long", "The correct answer is (A)")]       # wrong
    records = [_record(i, {**base, "difficulty": d, "length": n}, p) for i, (d, n, p) in enumerate(cases)]
    assert all(r.meta["domain"] == base["domain"] for r in records)
    out = task_scores(records, list(task.metrics), LONGBENCH_V2.group_fields)
    # overall 3/5; easy 2/3, hard 1/2; short 2/2, medium 1/1, long 0/2 (x100)
    assert out["score"] == pytest.approx(60.0)
    groups = out["metrics"]["longbench_v2_accuracy"]["by_group"]
    assert {k: v["score"] for k, v in groups["difficulty"].items()} == pytest.approx({"easy": 200 / 3, "hard": 50.0})
    assert {k: v["score"] for k, v in groups["length"].items()} == {"long": 0.0, "medium": 100.0, "short": 100.0}
    assert {k: v["n"] for k, v in groups["length"].items()} == {"long": 2, "medium": 1, "short": 2}
