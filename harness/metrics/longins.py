"""LongIns's scorer: F1 between the question numbers a model names in brackets and the wrong ones.

Re-implemented from Ins-Bench/LongIns-Bench ``eval.py`` at commit cf8c59b8ed12c6bb2f0b0c6d77125f32be6d3513
(``extract_numbers``, ``calculate_f1_score`` and the loop that applies them), which LOOM-Scope 0.8
(``benchmarks/Reasoning/LongIns/utils/evaluation/eval.py``) repeats unchanged. Faithful, quirks
included:
- Only numbers inside square brackets count: every ``[...]`` of the response (``\\[(.*?)\\]``, shortest
  match, not across a line break), each distinct bracket text once, every run of digits in it an
  integer ("[3, 12]" gives 3 and 12, "[Q7-8]" gives 7 and 8); digits outside brackets are ignored.
- Predicted and true numbers are compared as sets; with no predicted number or no true number the
  score is 0 (a row whose ``error`` list is empty scores 0 whatever the answer).
- The task score is the mean over its samples (x100 by ``harness.scoring``; LOOM-Scope rounds to 2
  places).

The references are the row's ``error`` list, which reach the scorer as strings (``harness.run``);
each is read back as an integer.
"""

from __future__ import annotations

import re

_BRACKETS = re.compile(r"\[(.*?)\]")
_DIGITS = re.compile(r"\d+")


def bracketed_numbers(response: str) -> set[int]:
    """The integers named inside square brackets in ``response`` (upstream's ``matches`` loop)."""
    numbers: set[int] = set()
    for match in set(_BRACKETS.findall(response)):
        numbers.update(int(n) for n in _DIGITS.findall(match))
    return numbers


def set_f1(predicted: set[int], truth: set[int]) -> float:
    """Upstream ``calculate_f1_score``."""
    tp = len(predicted & truth)
    fp = len(predicted - truth)
    fn = len(truth - predicted)
    if tp + fp == 0 or tp + fn == 0:
        return 0.0
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def longins_f1(prediction: str, references: list[str]) -> float:
    """F1 of the bracketed question numbers against the wrongly answered ones (``references``)."""
    return set_f1(bracketed_numbers(prediction or ""), {int(r) for r in references})


METRICS = {"longins_f1": longins_f1}
