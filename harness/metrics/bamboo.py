"""BAMBOO's scorers (multiple-choice letter, answer and speaker accuracy, yes/no hallucination
detection, concordance index of a reordering), from its definitions.

Re-implemented from RUCAIBox/BAMBOO ``evaluate.py`` at commit f230f206148396c12774ef3a632df291d96dc6ab
(``qa_accuracy``, ``altqa_accuracy``, ``pred_accuracy``, ``concordinary_index``, the senhallu/abshallu
branch) and LOOM-Scope 0.8's copy (``benchmarks/General/BAMBOO/utils/evaluation/matrics.py``, the same
functions; its ``BAMBOO.postprocess`` turns a sort answer into the integers ``re.findall(r"\\d+")``
finds). The reference is the row's ``answer`` as ``harness.benchmarks.bamboo.prepare_sample`` writes it:
the letter, number or name; ``True``/``False`` for the hallucination sets; the JSON list of the
original order for the sort sets. Faithful, quirks included:
- ``bamboo_qa_acc`` (meetingqa, paperqa): the *first character* of the stripped prediction's first
  line decides: ``a``/``b``/``c``/``d`` (either case) is that letter, anything else is wrong (upstream's
  ``"[A" in pred`` test sees one character and never fires; "Answer: B" counts as A).
- ``bamboo_altqa_acc`` (altqa): the whole stripped prediction, outer dots stripped, lowercased, equals
  the reference treated alike.
- ``bamboo_pred_acc`` (meetingpred, showspred): the same on the prediction's first line only.
- ``bamboo_concordance`` (showssort, reportsumsort): the integers of the prediction in order; when
  their smallest is 1 each is lowered by 1 (reportsumsort numbers its events from 1); the share of the
  reference's ordered pairs (i before j) that the prediction also orders so. A prediction with another
  count of integers than the reference is a format error and scores 0, still counted (upstream adds
  nothing for it but divides by every row).
- ``bamboo_hallu_f1`` (senhallu, abshallu; a task-level metric, ``harness.metrics.CorpusMetric``): the
  prediction says yes when ``yes`` is in its first three stripped characters, lowercased (each record
  keeps that decision, 1.0 for yes, as its value); the task's score is the F1 of the ``True`` class over
  the task's records, as upstream's ``calculate_metrics`` (sklearn ``f1_score(y_true, y_pred)``, binary,
  positive label True): 2 TP / (2 TP + FP + FN), and 0 when that is 0/0 (no True predicted nor
  referenced: sklearn's ``zero_division="warn"`` gives 0). Its length buckets and groups are the F1 of
  their records alone.
- ``bamboo_hallu_acc``: the per-sample accuracy of the same decision (whether it equals the reference),
  kept as the hallucination tasks' second metric; BAMBOO does not report it.

Not matched exactly:
- The hallucination F1 is over the task's scored records: a skipped or failed sample has no value and
  is not counted (upstream has neither); a reference other than ``True`` counts as False, a missing one
  as False too (upstream always has a boolean). Its standard error is the jackknife's
  (``harness.scoring.summarise_corpus``); upstream reports none.
- An empty prediction raises ``IndexError`` in upstream's ``qa_accuracy``; here it scores 0.
- No reference scores 0 (upstream always has one).
"""

from __future__ import annotations

import json
import re
from typing import Any

from harness.metrics import CorpusMetric


def _first(references: list[str]) -> str | None:
    return references[0] if references else None


def _plain(text: str) -> str:
    return text.strip().strip(".").lower()


def qa_letter(prediction: str) -> str:
    """The option letter upstream reads from a prediction (``F``: none)."""
    lines = prediction.strip().split("\n")
    head = lines[0].strip(" ")[:1].lower()
    return head.upper() if head in ("a", "b", "c", "d") else "F"


def bamboo_qa_acc(prediction: str, references: list[str]) -> float:
    ref = _first(references)
    return float(ref is not None and qa_letter(prediction) == ref)


def bamboo_altqa_acc(prediction: str, references: list[str]) -> float:
    ref = _first(references)
    return float(ref is not None and _plain(prediction) == _plain(ref))


def bamboo_pred_acc(prediction: str, references: list[str]) -> float:
    ref = _first(references)
    return float(ref is not None and _plain(prediction.split("\n")[0]) == _plain(ref))


def says_yes(prediction: str) -> bool:
    return "yes" in prediction.strip()[:3].lower()


def bamboo_hallu_acc(prediction: str, references: list[str]) -> float:
    ref = _first(references)
    return float(ref is not None and says_yes(prediction) == (ref.strip() == "True"))


def hallu_says_yes(prediction: str, references: list[str]) -> float:
    """The value a record keeps for ``bamboo_hallu_f1``: 1.0 when the prediction says yes."""
    return float(says_yes(prediction))


def hallu_f1(values: list[float], references: list[list[str]], metas: list[dict[str, Any]]) -> float:
    """F1 of the ``True`` class: predicted True is a value of 1, referenced True a first reference ``True``."""
    truth = [bool(refs) and refs[0].strip() == "True" for refs in references]
    tp = sum(v == 1.0 and t for v, t in zip(values, truth))
    fp = sum(v == 1.0 and not t for v, t in zip(values, truth))
    fn = sum(v != 1.0 and t for v, t in zip(values, truth))
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def _pairs(order: list[int]) -> set[tuple[int, int]]:
    return {(order[i], order[j]) for i in range(len(order) - 1) for j in range(i + 1, len(order))}


def concordance(pred: list[int], right: list[int]) -> float:
    """``concordinary_index`` with its format error folded in: 0 when the counts differ."""
    if len(pred) != len(right) or len(right) < 2:
        return 0.0
    if min(pred) == 1:
        pred = [p - 1 for p in pred]
    right_pairs = _pairs(right)
    return len(right_pairs & _pairs(pred)) / len(right_pairs)


def bamboo_concordance(prediction: str, references: list[str]) -> float:
    ref = _first(references)
    if ref is None:
        return 0.0
    right = [int(x) for x in json.loads(ref)]
    return concordance([int(x) for x in re.findall(r"\d+", prediction)], right)


METRICS = {
    "bamboo_qa_acc": bamboo_qa_acc,
    "bamboo_altqa_acc": bamboo_altqa_acc,
    "bamboo_pred_acc": bamboo_pred_acc,
    "bamboo_hallu_acc": bamboo_hallu_acc,
    "bamboo_concordance": bamboo_concordance,
}

CORPUS_METRICS = {
    "bamboo_hallu_f1": CorpusMetric(per_sample=hallu_says_yes, aggregate=hallu_f1),
}
