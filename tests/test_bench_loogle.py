"""LooGLE's table, fixtures, prompts and automatic scorers (BLEU by hand from nltk's definition, ROUGE
recall against the ``rouge`` package itself), on the real loader, templates and tokenizer."""

from __future__ import annotations

import math
import random

import pytest

from harness.benchmarks import BENCHMARKS, CAPABILITY
from harness.metrics import ALL_METRICS, score
from harness.metrics.loogle import METRICS, bleu, rouge_l_recall, rouge_n_recall
from tests.conftest import ROOT
from tests.loombench_tasks import check_cut_prompt, fixture_samples, template_text

BENCH = BENCHMARKS["loogle"]
TASKS = {t.id: t for t in BENCH.tasks}


def test_table_is_three_tasks_with_official_budgets_templates_and_registered_metrics():
    assert CAPABILITY["loogle"] == BENCH.capability == "general"
    assert sorted(TASKS) == ["loogle_longdep_qa", "loogle_shortdep_qa", "loogle_summarization"]
    assert {t: TASKS[t].max_new_tokens for t in TASKS} == {
        "loogle_longdep_qa": 500, "loogle_shortdep_qa": 300, "loogle_summarization": 500}
    for task in BENCH.tasks:
        assert (ROOT / "manifests" / "templates" / task.template).is_file(), task.template
        assert set(task.metrics) <= set(ALL_METRICS), task.id
        assert task.metrics[0] == "loogle_rouge_l"
        assert task.dataset["repo"] == "bigai-nlco/LooGLE" and task.dataset["revision"] is None
        assert task.dataset["config"] == task.id.removeprefix("loogle_")
    assert {t.group for t in BENCH.tasks} == {"long dependency", "short dependency"}


def test_templates_keep_the_official_prompt_text():
    qa = template_text(TASKS["loogle_longdep_qa"])
    assert qa == ("Please answer the question based on the long texts below. \n{{ context }}\n"
                  "Question: {{ question }}\nAnswer: \n")
    assert template_text(TASKS["loogle_shortdep_qa"]) == qa
    assert template_text(TASKS["loogle_summarization"]) == (
        "Please generate a summary of the below paper. \n{{ context }}\n Summarization: \n")


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_fixture_loads_renders_and_is_cut_in_the_middle(task_id, tok):
    task = TASKS[task_id]
    samples = fixture_samples("loogle", task)
    assert 2 <= len(samples) <= 3
    for sample in samples:
        text = check_cut_prompt(task, sample, tok)
        if task_id == "loogle_summarization":
            assert text.endswith("\n Summarization: ")
        else:
            assert text.endswith(f"\nQuestion: {sample['question']}\nAnswer: ")
        assert isinstance(sample["answers"], str)  # one answer per row: the record's one reference


def test_bleu_by_hand():
    # unigrams [the cat the mat] all in [the cat sat on the mat] (the: 2 <= 2): p1 = 1; 4 words for 6:
    # brevity penalty exp(1 - 6/4)
    assert bleu("the cat sat on the mat", "the cat the mat", (1, 0, 0, 0)) == pytest.approx(math.exp(-0.5))
    # no 4-gram match: the unsmoothed order counts as the smallest float, not 0
    tiny = bleu("the cat sat on the mat", "the cat the mat", (0, 0, 0, 1))
    assert 0 < tiny < 1e-300
    # [a b c d x] vs [a b c d e]: p1 = 4/5; 4-grams (a b c d) matched, (b c d x) not: p4 = 1/2; same length: bp 1
    assert bleu("a b c d e", "a b c d x", (1, 0, 0, 0)) == pytest.approx(0.8)
    assert bleu("a b c d e", "a b c d x", (0, 0, 0, 1)) == pytest.approx(0.5)
    assert bleu("a b", "zzz", (1, 0, 0, 0)) == 0.0  # no unigram: 0
    # clipping: [the the the] against [the cat]: 1 of 3; longer than the reference: no penalty
    assert bleu("the cat", "the the the", (1, 0, 0, 0)) == pytest.approx(1 / 3)
    assert bleu("The Cat", "the cat", (1, 0, 0, 0)) == 0.0  # case-sensitive
    # newlines are spaces
    assert bleu("a b c", "a\nb\nc", (1, 0, 0, 0)) == pytest.approx(1.0)


def test_empty_prediction_is_scored_as_the_word_none():
    # "None" against [None of them]: p1 = 1, bp exp(1 - 3/1); ROUGE-1 recall 1/3
    assert score("loogle_bleu1", "", ["None of them"], {}) == pytest.approx(math.exp(-2))
    assert score("loogle_rouge1", "", ["None of them"], {}) == pytest.approx(1 / 3)
    assert score("loogle_rouge_l", "", ["The answer"], {}) == 0.0
    assert score("loogle_rouge_l", "anything", [], {}) == 0.0


def test_rouge_recall_by_hand():
    ref = "The cat sat. The cat ran"
    # distinct unigrams {The cat sat ran}; [the cat] shares only "cat" (case-sensitive)
    assert rouge_n_recall(ref, "the cat", 1) == pytest.approx(1 / 4)
    # bigrams run across sentences: {(The cat) (cat sat) (sat The) (cat ran)}; [The cat ran] has 2
    assert rouge_n_recall(ref, "The cat ran", 2) == pytest.approx(1 / 2)
    assert rouge_n_recall(ref, "sat. The dog", 2) == pytest.approx(1 / 4)  # (sat The) across the '.'
    # LCS [a c d] of [a b c d]: 3 of 4 distinct words
    assert rouge_l_recall("a b c d", "a c d e") == pytest.approx(3 / 4)
    assert rouge_l_recall("a b", "...") == 0.0  # no sentence: the package raises, 0 here
    assert rouge_n_recall("a b", "...", 1) == 0.0


def _rouge_package_recall(reference: str, prediction: str) -> tuple[float, float, float]:
    rouge = pytest.importorskip("rouge")
    got = rouge.Rouge().get_scores(hyps=[prediction], refs=[reference])[0]
    return got["rouge-1"]["r"], got["rouge-2"]["r"], got["rouge-l"]["r"]


def test_rouge_recall_equals_the_rouge_package_on_random_texts():
    rng = random.Random(7)
    words = ["the", "The", "star", "dome", "storm", "1931", "Olin", "a", "of", "clock"]
    for _ in range(200):
        ref = " ".join(rng.choice(words + ["."]) for _ in range(rng.randint(1, 25)))
        hyp = " ".join(rng.choice(words + [".", "\n"]) for _ in range(rng.randint(1, 25)))
        if not ref.replace(".", "").strip() or not hyp.replace(".", "").strip():
            continue
        expected = _rouge_package_recall(ref, hyp)
        ours = (rouge_n_recall(ref, hyp, 1), rouge_n_recall(ref, hyp, 2), rouge_l_recall(ref, hyp))
        assert ours == pytest.approx(expected), (ref, hyp)


def test_long_prediction_without_a_full_stop_is_scored_not_capped():
    ref = " ".join(f"w{i}" for i in range(700))
    hyp = " ".join(f"w{i}" for i in range(0, 1400, 2))
    # LCS: the even words w0..w698 (350 of them) of 700 distinct reference words
    assert rouge_l_recall(ref, hyp) == pytest.approx(0.5)


def test_every_metric_is_registered():
    assert set(METRICS) == set(BENCH.metrics) <= set(ALL_METRICS)
