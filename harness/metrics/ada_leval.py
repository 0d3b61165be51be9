"""Ada-LEval's scorers: BestAnswer's designation accuracy and TSort's order accuracy.

Re-implemented from open-compass/Ada-LEval ``ada_leval/dataset.py`` at commit
2154258d5fa3969ac5429b3132d505570ef8a57a (``StackSelect.evaluate`` and ``TextSort.evaluate``). Faithful,
quirks included:
- BestAnswer (``ada_leval_bestanswer_accuracy``, reads ``num_choice`` from the record's ``meta``): the
  designations ``A1`` ... ``A<n>`` are looked for anywhere in the response (plain substring search, so
  "A12" also contains "A1"); when any is found the one with the highest number wins, not the first
  written. When none is, the bare numbers ``1`` ... ``n`` are looked for the same way (digits anywhere,
  "10" also contains "1"), the highest found read as ``A<k>``. Nothing found gives "???". The score is
  1 when the result equals the row's ``answer`` exactly.
- TSort, upstream's rule (``ada_leval_tsort_accuracy``): the text after the first "Answer:" (up to a second one) is
  stripped and read as JSON; when it is no JSON, every order of 1-4 is tried as a subsequence of its
  characters and the one order found, if exactly one is, is taken, else [0, 0, 0, 0]. The prediction
  matches when it agrees with the right order at every position both have (upstream ``zip``): a shorter
  list agreeing on its positions, and an empty list or JSON ``""`` / ``{}``, match.

- TSort, LOOM-Scope's rule (``ada_leval_tsort_exact``): LOOM-Scope 0.8
  (``benchmarks/Reasoning/Ada_LEval/utils/evaluation/eval.py``, ``evaluate``) extracts as upstream but
  scores 1 only when the whole extracted value equals the right order (``extracted != answers`` → 0): a
  shorter or empty list, or a JSON number, scores 0. LOOM-Scope's Ada-LEval numbers are made with it, so
  the TSort tasks of the full LOOM-Scope suite take it as their primary metric (their score, the
  benchmark's and the suite's); upstream's rule, the paper's, is the second metric of every TSort task,
  listed beside it in scores.json. The two differ only on replies that give fewer than four positions.

Not matched exactly:
- A TSort response whose JSON is a number, ``true``/``false`` or ``null`` stops upstream's evaluation
  (``zip`` of a non-iterable); ``ada_leval_tsort_accuracy`` scores it 0 (as LOOM-Scope's rule does).

References reach a scorer as strings (``harness.run``): TSort's ``answer`` list [2, 1, 4, 3] arrives as
``["2", "1", "4", "3"]`` and a JSON string "[2, 1, 4, 3]" as one reference; both are read back as the list
(upstream: ``json.loads(x) if isinstance(x, str) else x``).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

NO_ANSWER = "???"
ORDERS = tuple("".join(str(x) for x in p) for p in itertools.permutations(range(1, 5)))


def extract_designation(response: str, num_choice: int) -> str:
    """Upstream ``StackSelect.evaluate.extract``: the highest-numbered designation found, else the
    highest bare number found (as ``A<k>``), else "???"."""
    for prefix in ("A", ""):
        cands = [f"{prefix}{i}" for i in range(1, num_choice + 1)]
        found = [i for i, cand in enumerate(cands, start=1) if response.find(cand) >= 0]
        if found:
            return f"A{found[-1]}"
    return NO_ANSWER


def ada_leval_bestanswer_accuracy(prediction: str, references: list[str], meta: dict[str, Any]) -> float:
    """1 when the extracted designation is the row's ``answer`` (its first reference)."""
    if not references:
        return 0.0
    return float(extract_designation(prediction or "", int(meta["num_choice"])) == references[0])


def _is_subsequence(needle: str, haystack: str) -> bool:
    position = 0
    for char in needle:
        position = haystack.find(char, position) + 1
        if position == 0:
            return False
    return True


def extract_order(response: str) -> Any:
    """Upstream ``TextSort.evaluate.extract``: the JSON after "Answer:", else the single order of 1-4
    written as a subsequence, else [0, 0, 0, 0]."""
    if "Answer:" in response:
        response = response.split("Answer:")[1].strip()
    try:
        return json.loads(response)
    except (ValueError, RecursionError):
        found = [order for order in ORDERS if _is_subsequence(order, response)]
        if len(found) == 1:
            return [int(c) for c in found[0]]
        return [0, 0, 0, 0]


def answer_order(references: list[str]) -> list[Any]:
    """The right order from the references (one JSON list, or one reference per position)."""
    values = [json.loads(r) for r in references]
    if len(values) == 1 and isinstance(values[0], list):
        return values[0]
    return values


def ada_leval_tsort_accuracy(prediction: str, references: list[str]) -> float:
    """1 when the extracted order agrees with the right one wherever both have a position."""
    extracted = extract_order(prediction or "")
    try:
        pairs = list(zip(answer_order(references), extracted))
    except TypeError:  # a JSON number, boolean or null: upstream's zip raises
        return 0.0
    return float(all(a == e for a, e in pairs))


def ada_leval_tsort_exact(prediction: str, references: list[str]) -> float:
    """LOOM-Scope's rule: 1 when the extracted value is the right order, whole."""
    return float(extract_order(prediction or "") == answer_order(references))


METRICS = {"ada_leval_tsort_accuracy": ada_leval_tsort_accuracy, "ada_leval_tsort_exact": ada_leval_tsort_exact}
CONTEXT_METRICS = {"ada_leval_bestanswer_accuracy": ada_leval_bestanswer_accuracy}
