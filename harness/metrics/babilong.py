"""BABILong's scorer: the label-set match on the first sentence of the answer (``compare_answers``).

Re-implemented from booydar/babilong ``babilong/metrics.py`` at commit
93d7bfe67ad008b5825b56e728ecf0fbec60a6b0 (LOOM-Scope 0.8 ``benchmarks/Reasoning/babilong/utils/
evaluation/metrics.py`` is the same code): the answer is lower-cased and cut at its first '.', then at
'<context>' and '<example>'; the task's labels found in it, less those the question names, must be
exactly the target (for qa8-style targets "a,b", exactly those labels).

Quirk kept: upstream also cuts at 'Question', after lower-casing, so that cut never happens.

The label set belongs to the qa task. A record does not carry its task, so the set is the one of
``TASK_LABELS`` that contains the target: the sets of qa1-qa4 (locations) and qa5 (names and
objects) are disjoint, so for LOOMBench's qa1-qa5 the choice is exact. A target found in no set, or
in two different ones, is refused rather than guessed.
"""

from __future__ import annotations

from typing import Any

from loomcore.errors import InputError

LOCATIONS = frozenset({"bathroom", "bedroom", "garden", "hallway", "kitchen", "office"})
TASK_LABELS: dict[str, frozenset[str]] = {
    "qa1": LOCATIONS,
    "qa2": LOCATIONS,
    "qa3": LOCATIONS,
    "qa4": LOCATIONS,
    "qa5": frozenset({"Bill", "Fred", "Jeff", "Mary", "apple", "football", "milk"}),
}
_LABEL_SETS = tuple({labels for labels in TASK_LABELS.values()})


def first_sentence(output: str) -> str:
    """Upstream ``preprocess_output``: lower-case, keep what comes before the first '.', '<context>'
    and '<example>' ('Question' is also a cut upstream, but never matches lower-cased text)."""
    text = output.lower().split(".")[0]
    text = text.split("<context>")[0]
    text = text.split("<example>")[0]
    return text.split("Question")[0]


def compare_answers(target: str, output: str, question: str, task_labels: frozenset[str]) -> bool:
    """Upstream ``compare_answers``: the labels named in the answer (not in the question) are
    exactly the target's."""
    answer = first_sentence(output)
    target = target.lower()
    labels = {label.lower() for label in task_labels}
    in_question = {label for label in labels if label in question.lower()}
    in_answer = {label for label in labels if label in answer} - in_question
    if "," in target and len(target) > 3:
        parts = target.split(",")
        return all(part in in_answer for part in parts) and len(in_answer) == len(parts)
    return target in in_answer and len(in_answer) == 1


def labels_for(target: str) -> frozenset[str]:
    """The qa task's label set that contains ``target`` (see the module note)."""
    matches = [labels for labels in _LABEL_SETS if target.lower() in {label.lower() for label in labels}]
    if len(matches) != 1:
        raise InputError(f"babilong: target {target!r} is in {len(matches)} of the qa1-qa5 label sets, not one — "
                         "only qa1-qa5 are scored by babilong_label_match")
    return matches[0]


def label_match(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    """1 if the answer's first sentence names exactly the target label (``meta['question']`` is the
    sample's question, whose labels never count)."""
    if "question" not in meta:
        raise InputError("babilong_label_match: the record has no meta.question — keep 'question' in the "
                         "benchmark's meta_fields")
    return max(1.0 if compare_answers(ref, prediction, meta["question"], labels_for(ref)) else 0.0
               for ref in references)


CONTEXT_METRICS = {"babilong_label_match": label_match}
