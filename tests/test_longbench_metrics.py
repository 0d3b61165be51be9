"""LongBench scorers against hand-worked cases from the official definitions, quirks included."""

from __future__ import annotations

import pytest

from harness.metrics.longbench import (
    classification_score,
    code_sim_score,
    count_score,
    first_line,
    fuzz_ratio,
    normalize_zh,
    qa_f1_zh,
    retrieval_score,
    retrieval_zh_score,
    rouge_l_zh,
)


def test_count_and_retrieval_share_of_numbers():
    assert count_score("There are 12 passages, not 13.", ["12"]) == 0.5
    assert count_score("no idea", ["3"]) == 0.0
    assert retrieval_score("Paragraph 4, maybe Paragraph 7", ["Paragraph 4"]) == 0.5
    assert retrieval_zh_score("答案是段落12", ["段落12"]) == 1.0


def test_code_sim_takes_the_first_plain_line():
    pred = "```python\n# comment\nreturn a + b\nprint(x)"
    assert code_sim_score(pred, ["return a + b"]) == 1.0
    assert fuzz_ratio("abcd", "abce") == 75  # SequenceMatcher: 2*3/8


def test_classification_is_one_over_matches_and_skips_like_upstream():
    classes = ["Animal", "Animal class", "Location", "Person"]
    assert classification_score("Location", "Location", classes) == 1.0
    assert classification_score("Location or Person", "Person", classes) == 0.5
    assert classification_score("nothing", "Person", classes) == 0.0
    # "Animal" is a substring of the answer and is dropped; upstream's removal while iterating then
    # skips "Animal class", which stays in the list: 1/1 here only because the answer is that item.
    assert classification_score("Animal class", "Animal class", classes) == 1.0
    quirk = ["ab", "b", "abc"]
    # matches ["ab", "b", "abc"]: "ab" dropped, "b" skipped (kept although in "abc"), score 1/2
    assert classification_score("abc", "abc", quirk) == 0.5


def test_chinese_f1_and_rouge():
    assert normalize_zh("北京， 清华！") == "北京清华"
    # jieba: 我/来到/北京/清华大学 vs 北京/清华大学 -> precision 2/4, recall 2/2, F1 2/3
    assert qa_f1_zh("我来到北京清华大学", ["北京清华大学"]) == pytest.approx(2 / 3)
    assert rouge_l_zh("我来到北京清华大学", ["我来到北京清华大学"]) == pytest.approx(1.0, abs=1e-7)  # the package's 1e-8


def test_first_line():
    assert first_line("\n\nLocation\nmore text") == "Location"
