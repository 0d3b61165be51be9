"""ROUGE-L against the package the official scorers call: ``rouge`` 1.0.1 (pltrdy), as LongBench's
``rouge_score`` wraps it (``Rouge().get_scores([p], [r], avg=True)["rouge-l"]["f"]``, 0 on any
exception). The package is a test dependency only (locks/host.txt); the harness carries its own
implementation (``harness.metrics.text.rouge_l_score``), so images need nothing more."""

from __future__ import annotations

import random

import pytest
from rouge import Rouge

from harness.metrics.longbench import rouge_l_zh
from harness.metrics.text import rouge_l, rouge_l_score


def upstream(prediction: str, reference: str) -> float:
    """LongBench metrics.py ``rouge_score``, verbatim in behaviour."""
    try:
        scores = Rouge().get_scores([prediction], [reference], avg=True)
    except Exception:
        return 0.0
    return scores["rouge-l"]["f"]


@pytest.mark.parametrize("prediction, reference, expected", [
    ("Über", "über", 0.0),  # case-sensitive: the project's old scorer gave 1
    ("42", "42.0", 2 / 3),  # '.' splits sentences: "42" and "0"
    ("", "anything", 0.0),  # empty hypothesis raises upstream: 0
    ("...", "a b", 0.0),  # only dots: no sentence
])
def test_the_cases_named_in_the_fidelity_issue(prediction, reference, expected):
    assert rouge_l_score(prediction, reference) == upstream(prediction, reference)
    assert rouge_l_score(prediction, reference) == pytest.approx(expected, abs=1e-7)


def test_repeated_words_count_once():
    """Distinct words (the package's exclusive n-grams): 'dog dog dog' against 'dog' is ~1, not 0.5."""
    assert rouge_l_score("dog dog dog", "dog") == upstream("dog dog dog", "dog") == pytest.approx(1.0, abs=1e-7)


WORDS = ["the", "The", "cat", "sat", "on", "mat", "dog", "42", "42.0", "a", "b", "Über", "über", "x.y", ".", "..",
         " ", "  ", "\n", "1", "report", "said", "said.", "year", "2020", "—", "é"]


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 40))) + rng.choice(["", ".", " ", ". "])


def test_random_pairs_score_exactly_as_the_package():
    rng = random.Random(20261201)
    pairs = [(_text(rng), _text(rng)) for _ in range(3000)]
    differing = [(p, r, rouge_l_score(p, r), upstream(p, r)) for p, r in pairs if rouge_l_score(p, r) != upstream(p, r)]
    assert differing == []
    assert sum(upstream(p, r) > 0 for p, r in pairs) > 1000  # the comparison is not all zeros


def test_summaries_of_realistic_length_score_exactly_as_the_package():
    rng = random.Random(7)
    vocabulary = [f"w{i}" for i in range(300)]

    def summary() -> str:
        return " ".join(" ".join(rng.choice(vocabulary) for _ in range(rng.randint(5, 30))) + "."
                        for _ in range(rng.randint(3, 20)))

    for _ in range(40):
        prediction, reference = summary(), summary()
        assert rouge_l_score(prediction, reference) == upstream(prediction, reference)


def test_a_sentence_pair_too_long_for_the_packages_recursion_scores_0_as_upstream():
    """No '.' in 1,500 words: the package's LCS backtrack passes Python's recursion limit and the
    wrapper scores 0; so does this implementation (far from the threshold, so the test does not
    depend on the caller's stack depth)."""
    rng = random.Random(3)
    long = " ".join(rng.choice(["a", "b", "c", "d"]) for _ in range(1500))
    assert upstream(long, long) == 0.0
    assert rouge_l_score(long, long) == 0.0
    short = " ".join(long.split()[:300])
    assert rouge_l_score(short, short) == upstream(short, short) > 0.99


def test_the_best_reference_counts_and_zh_goes_through_jieba():
    assert rouge_l("the cat sat", ["a dog", "the cat sat"]) == pytest.approx(1.0, abs=1e-7)
    assert rouge_l("anything", []) == 0.0
    import jieba

    prediction, reference = "今天天气很好，我们去公园散步。", "今天天气不错，我们去公园。"
    joined = (" ".join(jieba.cut(prediction, cut_all=False)), " ".join(jieba.cut(reference, cut_all=False)))
    assert rouge_l_zh(prediction, [reference]) == upstream(*joined)
