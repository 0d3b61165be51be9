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
    assert counting_stars_acquisition("[3, 17, 99]", ["3", "17", "42", "99"]) == 0.75


def test_mean_stderr():
    mean, se = mean_stderr([1.0, 0.0, 1.0, 0.0])
    assert mean == 0.5 and se == pytest.approx((1 / 3) ** 0.5 / 2)
