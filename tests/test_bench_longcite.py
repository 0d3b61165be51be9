"""LongCite's LongBench-Cite table on real components: the fixture through the real loader, the
benchmark's sentence numbering, template and middle truncation; statements and citations read back
from answers; the correctness and citation judges with scripted judge callables."""

from __future__ import annotations

import pytest

from harness.benchmarks import BENCHMARKS
from harness.judge_run import judge_task, judged_tasks
from harness.metrics import ALL_METRICS, REGISTRY, score
from harness.metrics.longcite import (
    NEED_CITATION_PROMPT,
    QA_PROMPT,
    citation_scores,
    correctness_score,
    dataset_summary,
    numbered_context,
    plain_answer,
    read_rating,
    split_sentences,
    statements,
)
from harness.run import record_meta
from loomcore.records import Record
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, fixture_samples

BENCH = BENCHMARKS["longcite"]
(TASK,) = BENCH.tasks


def test_table_template_metrics_and_judge():
    assert (BENCH.capability, TASK.id, TASK.max_new_tokens, TASK.chat_template) == (
        "faithfulness", "longcite_longbench_cite", 1024, True)
    assert (ROOT / "manifests" / "templates" / TASK.template).is_file()
    assert set(TASK.metrics) == set(BENCH.metrics) == {"answered"} <= set(ALL_METRICS)
    assert BENCH.judge_metrics == ("longcite_correctness", "longcite_citation_recall", "longcite_citation_precision",
                                   "longcite_citation_f1")
    assert not set(BENCH.judge_metrics) & set(REGISTRY) and BENCH.group_fields == ("dataset",)
    assert TASK.dataset["revision"] is None


def test_fixture_is_numbered_by_sentence_rendered_and_cut_in_the_middle(tok):
    samples = [BENCH.prepare(s, TASK.id) for s in fixture_samples("longcite", TASK)]
    assert [s["id"] for s in samples] == ["0", "1", "2"]
    for sample in samples:
        assert sample["context"].startswith("<C0>") and "<C5>" in sample["context"]
        text = check_cut_prompt(TASK, sample, tok)
        assert text.endswith(f"[Question]\n{sample['input']}\n\n[Remind]\nPlease answer the user's question based on "
                             "the given document. When a factual statement S in your response uses information from "
                             "some chunks in the document (i.e., <C{s1}>-<C_{e1}>, <C{s2}>-<C{e2}>, ...), please append "
                             "these chunk numbers to S in the format \"<statement>{S}<cite>[{s1}-{e1}][{s2}-{e2}]..."
                             "</cite></statement>\". For other sentences such as such as introductory sentences, "
                             "summarization sentences, reasoning, and inference, you still need to append "
                             "\"<cite></cite>\" to them to indicate they need no citations. You must answer in the "
                             "same language as the user's question.\n\n[Answer with Citations]\n")
    meta = record_meta("longcite", samples[1])
    assert meta["document"].startswith("Ledger, Orrin Point.\n\nThe lighthouse") and meta["dataset"] == "longbench-chat"
    assert [s["score"] for s in meta["few_shot_scores"]] == [3, 8, 1] and meta["query"] == samples[1]["input"]


def test_sentences_split_at_end_punctuation_chinese_punctuation_then_paragraphs():
    assert split_sentences('A cat sat. "Why?" she asked! (Done.) End') == [
        "A cat sat.", '"Why?"', "she asked!", "(Done.)", "End"]
    assert split_sentences("第一句。第二句；第三句") == ["第一句。", "第二句；", "第三句"]
    assert split_sentences("e.g.,x and 3.5 stay") == ["e.g.,x and 3.5 stay"]  # no space after the periods
    assert split_sentences("one piece only\n\nsecond para") == ["one piece only", "second para"]
    # each tag opens its sentence; the text up to the next sentence (its spaces) goes with it; leading
    # space before the first sentence is dropped, as upstream
    assert numbered_context("  A cat sat.  Then it left. ") == "<C0>A cat sat.  <C1>Then it left. "


CONTEXT = "S zero. S one. S two. S three."


def test_statements_keep_outside_text_merge_adjacent_spans_and_keep_three():
    answer = ("statement>Lead.<cite>[0-0]</cite></statement>Intro text here. "
              "<statement>Fixed.<cite>[1-1][2-3]</cite></statement><statement>Short</statement>"
              "<statement>Odd.<cite>[9-9][3-1][2-99]</cite></statement>"
              "<statement>Many.<cite>[0-0][2-2][0-0][3-3]</cite></statement>tail")
    found = statements(answer, CONTEXT)
    assert [s["statement"] for s in found] == ["Lead.", "Intro text here.", "Fixed.", "Short", "Odd.", "Many."]
    assert [c["cite"] for c in found[0]["citation"]] == ["S zero. "]
    assert found[1]["citation"] == []  # text outside the tags, over 5 characters
    # [1-1] then [2-3] starts right after: one citation, sentences 1-3
    assert [(c["st_sent"], c["ed_sent"], c["cite"]) for c in found[2]["citation"]] == [(1, 3, "S one. S two. S three.")]
    assert found[3]["citation"] == []
    # [9-9] is past the last sentence and [3-1] ends before it starts: dropped; [2-99] is clamped
    assert [(c["st_sent"], c["ed_sent"]) for c in found[4]["citation"]] == [(2, 3)]
    # four citations, none adjacent to the one before: the first three kept ("tail" is 4 characters: dropped)
    assert [(c["st_sent"], c["ed_sent"]) for c in found[5]["citation"]] == [(0, 0), (2, 2), (0, 0)]
    assert plain_answer("<statement>A.<cite>[0-0]</cite></statement> B") == "A. B"


def test_rating_is_the_first_integer_in_the_last_double_brackets():
    assert read_rating("Rating: [[2]] then [[3]]") == 3
    assert read_rating("[[Rating 2 of 3]]") == 2
    assert read_rating("[[2.5]]") is None and read_rating("3") is None and read_rating("") is None


class Replies:
    """A judge answering by the first rule whose text is in the prompt; counts calls."""

    def __init__(self, *rules: tuple[str, str], default: str = "no rating"):
        self.rules, self.default, self.prompts = rules, default, []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return next((reply for needle, reply in self.rules if needle in prompt), self.default)

    def session(self, sample_id):
        self.replies, self.calls = [], 0
        return self


def test_correctness_per_dataset_scale_best_reference_and_fallback():
    judge = Replies(("[Reference answer]\nright", "[[3]]"), ("[Reference answer]\nhalf", "[[2]]"))
    # QA scale 1-3 -> (r - 1) / 2; the best of the references; citations and tags removed before judging
    assert correctness_score("hotpotqa", "Q?", "<statement>A<cite>[0-0]</cite></statement>", ["half", "right"],
                             [], judge) == 1.0
    assert judge.prompts[0] == QA_PROMPT.replace("$Q$", "Q?").replace("$A$", "half").replace("$P$", "A")
    assert correctness_score("dureader", "问", "答", ["half"], [], judge) == 0.5
    # no rating in 5 tries: 0.5
    silent = Replies()
    assert correctness_score("multifieldqa_zh", "Q", "A", ["x"], [], silent) == 0.5 and len(silent.prompts) == 5
    assert correctness_score("gov_report", "", "S", ["ref"], [], Replies(("[Reference summary]", "[[5]]"))) == 1.0
    assert correctness_score("gov_report", "", "S", ["ref"], [], Replies(("[Reference summary]", "[[2]]"))) == 0.25
    # longbench-chat: 1-10 -> r / 10, two tries, the answer on one line after the three scored examples
    chat = Replies(("Rating: [[1]]\n\nPlease rate", "[[7]]"))
    shots = [{"answer": "a1", "score": 3}, {"answer": "a2", "score": 8}, {"answer": "a3", "score": 1}]
    assert correctness_score("longbench-chat", "Q", " line one\nline two ", ["ref"], shots, chat) == 0.7
    assert "[Assistant's answer begins]\nline one line two\n[Assistant's answer ends]\n\nRating: " in chat.prompts[0]
    assert "a2\n[Assistant's answer ends]\n\nRating: [[8]]" in chat.prompts[0]
    once = Replies()
    assert correctness_score("longbench-chat", "Q", "A", ["r"], shots, once) == 0.5 and len(once.prompts) == 2
    assert correctness_score("hotpotqa", "Q", "A", [], [], Replies()) == 0.0  # no reference: upstream's max from 0


def test_citation_recall_precision_f1_from_the_judges_levels():
    answer = ("Some introduction text. <statement>Fact one.<cite>[0-0]</cite></statement>"
              "<statement>Fact two.<cite>[1-1][3-3]</cite></statement>")
    judge = Replies(("<statement>\nFact one.\n</statement>\n\n<snippet>\nS zero.", "Rating: [[Fully supported]]"),
                    ("<statement>\nFact two.\n</statement>\n\n<snippet>\nS one. \n\nS three.",
                     "[[Partially supported]]"),
                    ("Need Citation", "Need Citation: [[No]]"),
                    ("<snippet>\nS three.\n</snippet>", "[[Unrelevant]]"),
                    ("key information", "[[Relevant]]"))
    found = citation_scores("Q?", answer, CONTEXT, judge)
    # recall: intro needs no citation (1 - 0), Fact one fully (1), Fact two partially (0.5): 2.5 / 3
    # precision: three citations relevant, relevant, unrelevant: 2 / 3
    assert found["recall"] == pytest.approx(2.5 / 3) and found["precision"] == pytest.approx(2 / 3)
    assert found["f1"] == pytest.approx(2 * (2.5 / 3) * (2 / 3) / (2.5 / 3 + 2 / 3))
    need = next(p for p in judge.prompts if "Need Citation" in p)
    assert need == NEED_CITATION_PROMPT.format(
        "<question>\nQ?\n</question>\n\n<response>\nSome introduction text. Fact one.Fact two.\n</response>\n\n"
        "<sentence>\nSome introduction text.\n</sentence>")
    # "[[Yes]]" for a statement without citation: recall 0; no citation anywhere: precision 0, F1 0
    assert citation_scores("Q", "A sentence without any tags.", CONTEXT, Replies(default="[[Yes]]")) == {
        "recall": 0.0, "precision": 0.0, "f1": 0.0}
    assert citation_scores("Q", "", CONTEXT, Replies()) == {"recall": 0.0, "precision": 0.0, "f1": 0.0}
    # a judgment that never parses drops the sample (upstream raises)
    assert citation_scores("Q", answer, CONTEXT, Replies()) is None


def _record(prediction: str | None, dataset: str = "hotpotqa") -> Record:
    return Record(id="7", task="longcite_longbench_cite", benchmark="longcite", length=None, depth=None,
                  prompt_sha256=None, prompt_head=None, prompt_tail=None, input_tokens_before=0, input_tokens=0,
                  truncated=False, skipped=prediction is None, prediction=prediction, references=["right"],
                  output_tokens=0, finish_reason="stop", scores={},
                  meta={"dataset": dataset, "query": "Q?", "few_shot_scores": [], "document": CONTEXT})


def test_judge_task_scores_correctness_and_citations_and_skips_unparsed_citations():
    (plan,) = judged_tasks([type("T", (), {"benchmark": "longcite", "id": "longcite_longbench_cite"})()])
    judge = Replies(("[Reference answer]", "[[3]]"), ("Need Citation", "[[No]]"), ("snippet", "[[Fully supported]]"))
    answered = _record("<statement>Fact.<cite>[0-0]</cite></statement>")
    rows, scores = judge_task(plan[0], plan[1], [answered, _record(None)], judge)
    assert rows[0]["scores"] == {"longcite_correctness": 1.0, "longcite_citation_recall": 1.0,
                                 "longcite_citation_precision": 1.0, "longcite_citation_f1": 1.0}
    assert not rows[1]["judged"] and scores["metrics"]["longcite_correctness"]["n_judged"] == 1
    assert rows[0]["dataset"] == "hotpotqa" and scores["average"]["citation_f1"] == 100.0
    # the relevance judge's replies never parse: no citation score, correctness still counts
    no_relevance = Replies(("[Reference answer]", "[[1]]"), ("following scale", "[[Fully supported]]"))
    rows, scores = judge_task(plan[0], plan[1], [answered], no_relevance)
    assert rows[0]["scores"] == {"longcite_correctness": 0.0}
    assert scores["metrics"]["longcite_citation_f1"]["n_judged"] == 0


def test_dataset_summary_is_upstreams_report():
    rows = [{"dataset": "multifieldqa_en", "scores": {"longcite_correctness": 1.0, "longcite_citation_f1": 0.5}},
            {"dataset": "multifieldqa_zh", "scores": {"longcite_correctness": 0.0}},
            {"dataset": "hotpotqa", "scores": {"longcite_correctness": 0.5, "longcite_citation_f1": 0.25}},
            {"dataset": "hotpotqa", "scores": {}}]  # unjudged: left out
    out = dataset_summary(rows)
    assert out["datasets"] == {"multifieldqa_en": {"correctness": 100.0, "citation_f1": 50.0},
                               "multifieldqa_zh": {"correctness": 0.0},
                               "multifieldqa": {"correctness": 50.0, "citation_f1": 50.0},  # en and zh together
                               "hotpotqa": {"correctness": 50.0, "citation_f1": 25.0}}
    # mean over multifieldqa (the union) and hotpotqa; _en/_zh are not counted again
    assert out["average"] == {"correctness": 50.0, "citation_f1": 37.5}
    assert dataset_summary([]) == {"datasets": {}, "average": {}}


def test_nonempty_metric():
    assert score("answered", "答", [], {}) == 1.0 and score("answered", "  ", [], {}) == 0.0
